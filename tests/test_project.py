"""The project as a new user meets it: set-up files that agree, notebooks stored fresh."""

import json
import pathlib
import re

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
MACHINE_PATH = re.compile(r"(/(root|tmp)/|/(home|Users)/\w|\b[A-Z]:\\)")
COURSE = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXERCISE_SOURCES = sorted((ROOT / "exercises" / "source").rglob("*.ipynb"))


def requirement_names(requirements):
    return {re.split(r"[<>=!~ ]", r, maxsplit=1)[0].strip().lower(): r.replace(" ", "")
            for r in requirements}


def environment_yml_dependencies():
    """The conda dependencies of environment.yml (a flat list: no YAML library needed)."""
    deps, in_deps = [], False
    for line in (ROOT / "environment.yml").read_text().splitlines():
        if line.startswith("dependencies:"):
            in_deps = True
        elif in_deps and re.match(r"^  - [^:]+$", line):
            deps.append(line.strip()[2:].strip())
        elif in_deps and line and not line.startswith(" "):
            in_deps = False
    return [d for d in deps if not d.startswith(("python", "pip"))]


def test_environment_yml_names_the_same_dependencies_as_pyproject():
    # a regex rather than tomllib, which Python 3.10 lacks
    block = re.search(r"^dependencies = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(),
                      flags=re.M | re.S).group(1)
    pyproject = re.findall(r'"([^"]+)"', block)
    assert len(pyproject) >= 4
    assert requirement_names(environment_yml_dependencies()) == requirement_names(pyproject)


def test_readme_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text()
    commands = re.findall(r"^make \w+", text, flags=re.M)
    assert commands[:2] == ["make test", "make lab"]


def test_ci_runs_what_the_readme_gives_users():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    makefile = (ROOT / "Makefile").read_text()
    for target in ("test:", "lab:", "html:", "bench:"):
        assert re.search(rf"^{target} \$\(STAMP\)", makefile, flags=re.M), target


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
