"""The project as a new user meets it: set-up files that agree, notebooks stored fresh."""

import json
import pathlib
import re
import tomllib

import pytest
import yaml
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

ROOT = pathlib.Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(/(root|tmp)/|/(home|Users)/\w|\b[A-Z]:\\)")
COURSE = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_SOURCES = sorted((ROOT / "exercises" / "source").rglob("*.ipynb"))


def pyproject():
    with open(ROOT / "pyproject.toml", "rb") as fh:
        return tomllib.load(fh)


def lock_pins(name):
    """{package: version} of requirements/<name>; a package pinned twice (by Python version)
    maps to the set of its versions."""
    pins = {}
    for package, version in re.findall(r"^([A-Za-z0-9_.-]+)==(\S+)",
                                       (ROOT / "requirements" / name).read_text(), re.M):
        pins.setdefault(canonicalize_name(package), set()).add(version)
    return pins


def environment_yml_dependencies():
    """The conda dependencies of environment.yml, without python and pip."""
    data = yaml.safe_load((ROOT / "environment.yml").read_text())
    return [d for d in data["dependencies"]
            if isinstance(d, str) and not d.startswith(("python", "pip"))]


def requirements_of(extras=()):
    """pyproject's requirements: the base ones and those of the named extras, recursively."""
    meta = pyproject()["project"]
    todo, seen, out = list(extras), set(), [Requirement(r) for r in meta["dependencies"]]
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for line in meta["optional-dependencies"][extra]:
            req = Requirement(line)
            if canonicalize_name(req.name) == "lstm-teach":
                todo += sorted(req.extras)
            else:
                out.append(req)
    return out


@pytest.mark.parametrize("lock, extras", [("lab.lock", ()), ("test.lock", ("test",))])
def test_every_requirement_is_pinned_in_its_lock_within_its_range(lock, extras):
    pins = lock_pins(lock)
    for req in requirements_of(extras):
        name = canonicalize_name(req.name)
        if name == "torch":
            continue  # installed apart from the lock, by version (Makefile)
        assert name in pins, f"{req} is not in requirements/{lock}: run make lock"
        assert all(v in req.specifier for v in pins[name]), (req, pins[name])


def test_the_locks_agree_and_carry_hashes():
    lab, test = lock_pins("lab.lock"), lock_pins("test.lock")
    assert {k: v for k, v in test.items() if k in lab} == lab, "lab.lock and test.lock differ"
    for name in ("lab.lock", "test.lock"):
        text = (ROOT / "requirements" / name).read_text()
        blocks = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("==", 1)[1])
        assert all("--hash=sha256:" in b for b in blocks), f"{name}: a pin without a hash"
    # The learner's set-up is light: no test tools, no grader, no torch.
    assert not {"torch", "pytest", "nbval", "nbgrader", "jupyter-book"} & set(lab)
    assert "torch" not in test and not [n for n in test if n.startswith(("nvidia", "triton"))]


def test_torch_is_pinned_by_version_where_the_makefile_installs_it():
    torch = [r for r in requirements_of(("torch",)) if canonicalize_name(r.name) == "torch"]
    assert [str(r.specifier) for r in torch] == ["==2.13.0"]
    assert "TORCH       ?= torch==2.13.0" in (ROOT / "Makefile").read_text()


def test_environment_yml_names_the_versions_of_the_lab_lock():
    pins = lock_pins("lab.lock")
    conda = dict(re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", d).groups()
                 for d in environment_yml_dependencies())
    base = {canonicalize_name(Requirement(r).name) for r in pyproject()["project"]["dependencies"]}
    assert set(map(canonicalize_name, conda)) == base
    for package, version in conda.items():
        assert {version} == pins[canonicalize_name(package)], package
    python = [d for d in yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
              if isinstance(d, str) and d.startswith("python")]
    assert python and all(SpecifierSet(pyproject()["project"]["requires-python"]).contains(
        d.split("=")[-1] + ".0") for d in python), python


def test_the_venv_holds_the_locked_versions():
    """What `make test` installed is the lock: every pinned package that applies here."""
    from importlib.metadata import PackageNotFoundError, version

    lock = (ROOT / "requirements" / "test.lock").read_text()
    wrong = {}
    for package, pinned, marker in re.findall(
            r"^([A-Za-z0-9_.-]+)==(\S+)(?: ; (.*?))?(?: \\)?$", lock, re.M):
        if marker and not Marker(marker).evaluate():
            continue
        try:
            installed = version(package)
        except PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong[package] = (pinned, installed)
    assert wrong == {}, "the venv is not the lock: rm -rf .venv && make test"


def test_python_range_is_what_readme_says():
    requires = pyproject()["project"]["requires-python"]
    assert requires == ">=3.11"
    assert "Python 3.11" in (ROOT / "README.md").read_text()
    assert "3.10" not in (ROOT / "README.md").read_text()


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+", text, flags=re.M)
    assert commands[:2] == ["make test", "make lab"]


def test_ci_runs_what_the_readme_gives_users():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    # the learner's entry point installs the light lock only; the test one everything
    assert re.search(r"^lab: \$\(LAB_STAMP\)$", makefile, flags=re.M)
    assert re.search(r"^test: \$\(TEST_STAMP\)$", makefile, flags=re.M)
    for target in ("html site", "check-site", "check-lab", "bench", "lint", "generate", "autograde",
                   "feedback", "export"):
        assert re.search(rf"^{target}: \$\((TOOLS|TEST)_STAMP\)", makefile, flags=re.M), target


def test_notebooks_carry_the_kernelspec_jupyterlab_writes():
    """Stored otherwise, JupyterLab marks a notebook modified as soon as it opens it."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    for path in COURSE:
        stored = json.loads(path.read_text(encoding="utf-8"))["metadata"]["kernelspec"]
        assert stored == {"display_name": spec.display_name, "language": spec.language,
                          "name": "python3"}, path.name


def test_nothing_reads_outside_the_project():
    """A user's clone has no shared/ folder beside it: the course quotes the seed itself."""
    outside = ".." + "/shared"
    offenders = []
    for folder in ("lstm_teach", "notebooks", "exercises", "tests", "tools", "benchmarks"):
        for path in (ROOT / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".ipynb", ".cfg", ".md", ".txt"}:
                if outside in path.read_text(encoding="utf-8", errors="replace"):
                    offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def text_of(value):
    return "".join(value) if isinstance(value, list) else str(value or "")


def test_there_are_at_least_twelve_course_notebooks():
    assert len(COURSE) >= 12, [p.name for p in COURSE]


@pytest.mark.parametrize("path", COURSE, ids=lambda p: p.name)
def test_course_notebook_is_stored_fresh(path):
    code = [c for c in cells(path) if c["cell_type"] == "code"]
    assert [c["execution_count"] for c in code] == list(range(1, len(code) + 1)), \
        "run it top to bottom in a fresh kernel: make notebooks"
    for n, cell in enumerate(cells(path)):
        assert not MACHINE_PATH.search(text_of(cell["source"])), f"cell {n} names a machine path"
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"cell {n} stored an error"
            texts = [text_of(out.get("text"))] + [
                text_of(v) for k, v in out.get("data", {}).items() if k.startswith("text/")]
            assert not any(MACHINE_PATH.search(t) for t in texts), f"cell {n} output has a path"
            assert "image/svg+xml" not in out.get("data", {}), "SVG output: nbval cannot compare"
            assert len(json.dumps(out)) < 1_000_000, f"cell {n} output over 1 MB"


@pytest.mark.parametrize("path", EXERCISE_SOURCES, ids=lambda p: p.parent.name + "/" + p.name)
def test_exercise_sources_hold_no_outputs(path):
    for cell in cells(path):
        if cell["cell_type"] == "code":
            assert cell.get("outputs", []) == [] and cell.get("execution_count") is None


def test_instructor_targets_run_nbgrader_without_an_activated_venv(tmp_path):
    """nbgrader runs `alembic` from PATH when it creates gradebook.db: the Makefile puts the
    venv first on PATH, so `make generate` works from a shell that never activated it."""
    import os
    import shutil
    import subprocess

    for name in ("Makefile", "pyproject.toml"):
        shutil.copy2(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "requirements", tmp_path / "requirements")
    shutil.copytree(ROOT / "exercises", tmp_path / "exercises",
                    ignore=shutil.ignore_patterns("gradebook.db", "submitted", "autograded"))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    run = subprocess.run(["make", "generate", "ASSIGNMENT=a1_cell_forward"], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "Installing" not in run.stdout, "the target re-installed the venv"
    assert (tmp_path / "exercises" / "gradebook.db").exists()
    released = tmp_path / "exercises" / "release" / "a1_cell_forward" / "cell_forward.ipynb"
    assert [c["source"] for c in cells(released)] == [
        c["source"] for c in cells(ROOT / "exercises/release/a1_cell_forward/cell_forward.ipynb")]
