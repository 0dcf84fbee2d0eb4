"""Write requirements/test.lock and requirements/lab.lock from pyproject.toml (make lock).

    make lock        # installs uv into .venv, then runs this

Both locks are universal (every OS and CPU; one version per package where the Pythons allow)
and carry the hashes of every file, so `pip install --require-hashes` installs exactly these.
test.lock is resolved first; lab.lock is constrained to it, so a learner's venv has the same
numpy, matplotlib and JupyterLab as the one the stored outputs were made with. torch is left
out of test.lock (the Makefile installs it by version) and so are its CUDA libraries.
Then every Python that pyproject.toml admits is resolved once more with every extra, so the
declared range is one that installs.
"""

import pathlib
import re
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
REQ = ROOT / "requirements"
PYTHONS = ("3.11", "3.12", "3.13", "3.14")
COMMON = ["--universal", "--fork-strategy", "fewest", "--generate-hashes",
          "--python-version", PYTHONS[0], "--no-header", "--quiet"]


def uv(*args):
    exe = shutil.which("uv")
    if exe is None:
        sys.exit("uv is not on PATH: run `make lock`, which installs it into .venv")
    subprocess.run([exe, "pip", "compile", *args], cwd=ROOT, check=True)


def main() -> int:
    test_inputs = ["pyproject.toml", "requirements/build.in", "--extra", "test",
                   "--extra", "torch", "--excludes", "requirements/cuda-excludes.txt",
                   "--no-emit-package", "torch"]
    uv(*test_inputs, *COMMON, "-o", "requirements/test.lock")
    uv("pyproject.toml", "requirements/build.in", "-c", "requirements/test.lock", *COMMON,
       "-o", "requirements/lab.lock")
    for version in PYTHONS[1:]:
        with tempfile.NamedTemporaryFile(suffix=".txt") as out:
            uv(*test_inputs, "--fork-strategy", "fewest", "--python-version", version,
               "--quiet", "-o", out.name)
        print(f"Python {version}: every extra resolves")
    for name in ("lab.lock", "test.lock"):
        pins = re.findall(r"^[A-Za-z0-9_.-]+==\S+", (REQ / name).read_text(), re.M)
        print(f"requirements/{name}: {len(pins)} pinned packages")
    return 0


if __name__ == "__main__":
    sys.exit(main())
