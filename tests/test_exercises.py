"""exercises/ is an nbgrader course: the pipeline runs, release/ is current, scores are right.

nbgrader runs on a temporary copy of exercises/ (it writes gradebook.db, autograded/ and
grades.csv next to the course); the repository's copy is never touched.
"""

import ast
import csv
import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lstm_teach as lt
from lstm_teach import check, grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
NAMES = list(grading.ASSIGNMENTS)


def notebook(kind, name):
    path = EXERCISES / kind / name / grading.ASSIGNMENTS[name].notebook
    return json.loads(path.read_text(encoding="utf-8"))


def nbg(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def run_nbgrader(course, *args):
    # nbgrader calls the `alembic` command when it creates gradebook.db: it must be on PATH
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}"
                                f"{os.environ.get('PATH', '')}")
    out = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=course, env=env,
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "| ERROR]" not in out.stderr, out.stderr
    return out


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """generate_assignment, then autograde the source (as a student), the same with its test
    cells deleted, and the bare release, then export: once for all four assignments."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(EXERCISES / "source", course / "source")
    shutil.copy2(EXERCISES / "nbgrader_config.py", course)
    for name in NAMES:
        run_nbgrader(course, "generate_assignment", name, "--force")
        nb = grading.ASSIGNMENTS[name].notebook
        for student, kind in (("source_as_student", "source"), ("release_unchanged", "release"),
                              ("tests_deleted", "source")):
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            data = json.loads((course / kind / name / nb).read_text(encoding="utf-8"))
            if student == "tests_deleted":
                data["cells"] = [c for c in data["cells"] if not nbg(c).get("grade")]
            (folder / nb).write_text(json.dumps(data), encoding="utf-8")
        run_nbgrader(course, "autograde", name, "--create")
    run_nbgrader(course, "export")
    with open(course / "grades.csv", newline="", encoding="utf-8") as fh:
        grades = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    return course, grades


@pytest.mark.parametrize("name", NAMES)
def test_release_is_up_to_date_with_source(pipeline, name):
    course, _ = pipeline
    nb = grading.ASSIGNMENTS[name].notebook
    fresh = json.loads((course / "release" / name / nb).read_text(encoding="utf-8"))
    committed = json.loads((EXERCISES / "release" / name / nb).read_text(encoding="utf-8"))
    assert fresh == committed, (f"exercises/release/{name} is stale: run nbgrader "
                                f"generate_assignment {name} --force in exercises/")


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_full_marks_for_source_zero_for_release(pipeline, name):
    _, grades = pipeline
    max_score = sum(p.points for p in grading.ASSIGNMENTS[name].parts)
    good = grades[("source_as_student", name)]
    blank = grades[("release_unchanged", name)]
    assert float(good["max_score"]) == max_score
    assert float(good["score"]) == max_score, good
    assert float(blank["score"]) == 0.0, blank
    # OverwriteCells.add_missing_cells puts deleted tests back
    assert float(grades[("tests_deleted", name)]["score"]) == max_score


@pytest.mark.parametrize("name", NAMES)
def test_autograded_source_cells_raised_nothing(pipeline, name):
    """Not a single test cell of the solution wrote an error (or anything to stderr)."""
    course, _ = pipeline
    nb = grading.ASSIGNMENTS[name].notebook
    graded = json.loads((course / "autograded" / "source_as_student" / name / nb).read_text())
    for cell in graded["cells"]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (nbg(cell).get("grade_id"), out)
            assert out.get("name") != "stderr", (nbg(cell).get("grade_id"), out)


@pytest.mark.parametrize("name", NAMES)
def test_source_notebooks_are_clean_and_match_the_grader(name):
    nb = notebook("source", name)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells)
    tests = {nbg(c)["grade_id"]: c for c in cells if nbg(c).get("grade")}
    parts = {p.grade_id: p for p in grading.ASSIGNMENTS[name].parts}
    assert set(tests) == set(parts)
    for grade_id, cell in tests.items():
        assert nbg(cell)["points"] == parts[grade_id].points
        assert nbg(cell)["locked"] is True
        text = source(cell)
        assert "### BEGIN HIDDEN TESTS" in text and "### END HIDDEN TESTS" in text
        assert "print(result.report)" in text  # the student sees the diagnosis
    answers = [c for c in cells if nbg(c).get("solution")]
    assert answers and all("### BEGIN SOLUTION" in source(c) for c in answers)
    release = notebook("release", name)
    assert "BEGIN SOLUTION" not in json.dumps(release)
    assert "HIDDEN TESTS" not in json.dumps(release)


REFERENCE = {
    "cell_forward": lt.cell_forward, "local_gradients": lt.cell.local_gradients,
    "weight_gradients": lt.cell.weight_gradients, "hidden_gradient": lt.cell.hidden_gradient,
    "cell_backward": lt.cell_backward, "lstm_backward": lt.lstm_backward,
    "sgd_step": check._sgd_step, "train": check._train,
}


@pytest.mark.parametrize("name", NAMES)
def test_exercise_functions_keep_the_reference_names_and_signatures(name):
    nb = notebook("source", name)
    defined = {}
    for cell in nb["cells"]:
        if nbg(cell).get("solution"):
            for node in ast.parse(source(cell)).body:
                if isinstance(node, ast.FunctionDef):
                    defined[node.name] = [a.arg for a in node.args.args]
    for part in grading.ASSIGNMENTS[name].parts:
        ref = [n for n in inspect.signature(REFERENCE[part.function]).parameters if n != "m"]
        assert defined[part.function] == ref, part.function
