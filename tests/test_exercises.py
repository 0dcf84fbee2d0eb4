"""exercises/ is an nbgrader course: the pipeline runs, release/ is current, scores are right.

nbgrader runs on a temporary copy of exercises/ (it writes gradebook.db, autograded/ and
grades.csv next to the course); the repository's copy is never touched.
"""

import ast
import csv
import inspect
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import lstm_teach as lt
from lstm_teach import check, grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
NAMES = sorted(p.name for p in (EXERCISES / "source").iterdir() if p.is_dir())


def notebook_name(name):
    (path,) = (EXERCISES / "source" / name).glob("*.ipynb")
    return path.name


def notebook(kind, name):
    path = EXERCISES / kind / name / notebook_name(name)
    return json.loads(path.read_text(encoding="utf-8"))


def nbg(cell):
    return cell.get("metadata", {}).get("nbgrader", {})


def source(cell):
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def points(name) -> dict:
    """grade_id -> points of every test cell of the source notebook."""
    return {nbg(c)["grade_id"]: nbg(c)["points"] for c in notebook("source", name)["cells"]
            if nbg(c).get("grade")}


# One honest mistake per assignment, made in the solution: (old text, new text, the test
# cells it must fail). Each function is graded on the reference's upstream values, so only
# the cells of the function with the mistake lose their points.
ONE_BUG = {
    "a1_cell_forward": ("h = o * tanh_c", "h = o * c", {"test_cell_forward",
                                                         "test_cell_forward_shapes"}),
    "a2_cell_backward": ("df = dc_total * cache.c_prev", "df = dc_total * cache.c",
                         {"test_local_gradients"}),
    # truncate >= T is full BPTT, so the hidden tests of truncated dxs see it too
    "a3_bptt": ("return lt.LSTMParams(*total), dxs, dh_next, dc_next",
                "return lt.LSTMParams(*total), dxs[::-1], dh_next, dc_next",
                {"test_lstm_backward_dxs", "test_lstm_backward_truncated_dxs"}),
    "a4_training": ("a - lr * g", "a + lr * g", {"test_sgd_step"}),
    "a5_gru": ("dh_prev = dh * z + d_zr", "dh_prev = d_zr", {"test_gru_dh_prev"}),
}


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
    cells deleted, the bare release, and the source with one mistake, then export: once for
    all assignments."""
    course = tmp_path_factory.mktemp("nbgrader") / "course"
    shutil.copytree(EXERCISES / "source", course / "source")
    shutil.copy2(EXERCISES / "nbgrader_config.py", course)
    for name in NAMES:
        run_nbgrader(course, "generate_assignment", name, "--force")
        nb = notebook_name(name)
        for student, kind in (("source_as_student", "source"), ("release_unchanged", "release"),
                              ("tests_deleted", "source"), ("one_bug", "source")):
            folder = course / "submitted" / student / name
            folder.mkdir(parents=True)
            text = (course / kind / name / nb).read_text(encoding="utf-8")
            data = json.loads(text)
            if student == "tests_deleted":
                data["cells"] = [c for c in data["cells"] if not nbg(c).get("grade")]
            if student == "one_bug":
                old, new, _ = ONE_BUG[name]
                hits = [c for c in data["cells"] if nbg(c).get("solution") and old in source(c)]
                assert len(hits) == 1, (name, old)
                hits[0]["source"] = source(hits[0]).replace(old, new)
            (folder / nb).write_text(json.dumps(data), encoding="utf-8")
        run_nbgrader(course, "autograde", name, "--create")
    run_nbgrader(course, "export")
    with open(course / "grades.csv", newline="", encoding="utf-8") as fh:
        grades = {(r["student_id"], r["assignment"]): r for r in csv.DictReader(fh)}
    return course, grades


def test_every_assignment_has_a_release_and_the_expected_set():
    assert NAMES == ["a1_cell_forward", "a2_cell_backward", "a3_bptt", "a4_training", "a5_gru"]
    released = sorted(p.name for p in (EXERCISES / "release").iterdir() if p.is_dir())
    assert released == NAMES
    assert set(ONE_BUG) == set(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_release_is_up_to_date_with_source(pipeline, name):
    course, _ = pipeline
    nb = notebook_name(name)
    fresh = json.loads((course / "release" / name / nb).read_text(encoding="utf-8"))
    committed = json.loads((EXERCISES / "release" / name / nb).read_text(encoding="utf-8"))
    assert fresh == committed, (f"exercises/release/{name} is stale: run nbgrader "
                                f"generate_assignment {name} --force in exercises/")


@pytest.mark.parametrize("name", NAMES)
def test_nbgrader_full_marks_for_source_zero_for_release(pipeline, name):
    _, grades = pipeline
    max_score = sum(points(name).values())
    good = grades[("source_as_student", name)]
    blank = grades[("release_unchanged", name)]
    assert float(good["max_score"]) == max_score
    assert float(good["score"]) == max_score, good
    assert float(blank["score"]) == 0.0, blank
    # OverwriteCells.add_missing_cells puts deleted tests back
    assert float(grades[("tests_deleted", name)]["score"]) == max_score


@pytest.mark.parametrize("name", NAMES)
def test_one_mistake_costs_only_the_points_of_its_own_quantity(pipeline, name):
    """Credit per quantity, and functions graded on the reference's upstream values: one
    mistake in one function loses exactly the points of the test cells named in ONE_BUG."""
    course, grades = pipeline
    _, _, failing = ONE_BUG[name]
    table = points(name)
    assert failing <= set(table)
    expected = sum(table.values()) - sum(table[g] for g in failing)
    assert float(grades[("one_bug", name)]["score"]) == expected, grades[("one_bug", name)]
    nb = notebook_name(name)
    graded = json.loads((course / "autograded" / "one_bug" / name / nb).read_text())
    failed = {nbg(c)["grade_id"] for c in graded["cells"] if nbg(c).get("grade")
              and any(o["output_type"] == "error" for o in c.get("outputs", []))}
    assert failed == failing


@pytest.mark.parametrize("name", NAMES)
def test_autograded_source_cells_raised_nothing(pipeline, name):
    """Not a single cell of the solution wrote an error (or anything to stderr)."""
    course, _ = pipeline
    nb = notebook_name(name)
    graded = json.loads((course / "autograded" / "source_as_student" / name / nb).read_text())
    for cell in graded["cells"]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", (nbg(cell).get("grade_id"), out)
            assert out.get("name") != "stderr", (nbg(cell).get("grade_id"), out)


@pytest.mark.parametrize("name", NAMES)
def test_source_notebooks_are_clean(name):
    nb = notebook("source", name)
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells)
    tests = [c for c in cells if nbg(c).get("grade")]
    assert tests
    for cell in tests:
        text = source(cell)
        assert nbg(cell)["locked"] is True
        assert "### BEGIN HIDDEN TESTS" in text and "### END HIDDEN TESTS" in text
        assert "print(result.report)" in text  # the student sees the diagnosis
        first = text.splitlines()[0]
        k = nbg(cell)["points"]
        assert f"({k} point{'s' if k > 1 else ''}" in first, first
    answers = [c for c in cells if nbg(c).get("solution")]
    assert answers and all("### BEGIN SOLUTION" in source(c) for c in answers)
    release = notebook("release", name)
    assert "BEGIN SOLUTION" not in json.dumps(release)
    assert "HIDDEN TESTS" not in json.dumps(release)


@pytest.mark.parametrize("name", NAMES)
def test_notebook_states_its_points_and_credit_scheme(name):
    """The title's total is the sum of the test cells' points, and the scheme is stated."""
    nb = notebook("source", name)
    intro = source(nb["cells"][0])
    total = sum(points(name).values())
    assert re.match(rf"# Exercise \d: .* \({total} points\)", intro), intro.splitlines()[0]
    assert "**How credit is given.**" in intro
    for cell in nb["cells"]:  # a table of test cells, where there is one, matches them
        for grade_id, pts in re.findall(r"^\| `(test_\w+)` \|.*\| (\d+) \|$", source(cell),
                                        re.M):
            assert points(name)[grade_id] == int(pts), grade_id


def test_readme_grading_table_matches_the_notebooks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Grading"):]
    rows = dict(re.findall(r"^\| `(a\d_\w+)` \|.*\| (\d+) \|$", section, re.M))
    assert rows == {name: str(sum(points(name).values())) for name in NAMES}


@pytest.mark.parametrize("name", NAMES)
def test_grading_spec_matches_the_notebook(name):
    """lstm-teach grade's spec (exercises/grading/<name>.toml) grades the same test cells
    for the same points as nbgrader, with exercises the checks know."""
    specs = grading.load_specs(EXERCISES)
    assert name in specs, f"exercises/grading/{name}.toml is missing"
    spec = specs[name]
    assert spec.notebook == notebook_name(name)
    by_cell = {}
    for part in spec.parts:
        assert part.exercise in check.EXERCISES
        by_cell[part.grade_id] = by_cell.get(part.grade_id, 0) + part.points
    assert by_cell == points(name)


REFERENCE = {
    "cell_forward": lt.cell_forward, "local_gradients": lt.cell.local_gradients,
    "weight_gradients": lt.cell.weight_gradients, "hidden_gradient": lt.cell.hidden_gradient,
    "input_gradient": lt.cell.input_gradient, "cell_backward": lt.cell_backward,
    "lstm_backward": lt.lstm_backward, "sgd_step": check._sgd_step, "train": check._train,
    "gru_cell_backward": lt.gru.gru_cell_backward, "gru_backward": lt.gru.gru_backward,
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
    assert defined
    for function, args in defined.items():
        ref = [n for n in inspect.signature(REFERENCE[function]).parameters if n != "m"]
        assert args == ref, function


def test_reference_upstream_knows_every_function_a_test_cell_replaces():
    for name in NAMES:
        for cell in notebook("source", name)["cells"]:
            for call in re.findall(r"reference_upstream\(globals\(\), ([^)]*)\)", source(cell)):
                names = re.findall(r'"(\w+)"', call)
                with check.reference_upstream({}, *names):
                    pass
