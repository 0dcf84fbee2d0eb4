"""`lstm-teach grade`: hostile and broken submissions get what they earned, nothing more.

Every test works on a temporary copy of exercises/; the repository's copy is never touched.
"""

import copy
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import lstm_teach as lt
from lstm_teach import grading

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
A1 = "a1_cell_forward"
NB1 = "cell_forward.ipynb"
FAST = grading.Limits(cell_seconds=4.0, part_seconds=4.0, startup_seconds=30.0)


# ---------------------------------------------------------------- building submissions

def load(kind, assignment=A1, notebook=NB1):
    return json.loads((EXERCISES / kind / assignment / notebook).read_text(encoding="utf-8"))


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def with_answer(nb, grade_id, source):
    """A copy of nb with the answer cell grade_id replaced, as a student would type it."""
    nb = copy.deepcopy(nb)
    for cell in nb["cells"]:
        if gid(cell) == grade_id:
            cell["source"] = source
            return nb
    raise KeyError(grade_id)


def with_added_cell(nb, source):
    """A copy of nb with a new code cell (no nbgrader metadata) at the end."""
    nb = copy.deepcopy(nb)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "added",
                        "metadata": {}, "outputs": [], "source": source})
    return nb


def without_cell(nb, grade_id):
    nb = copy.deepcopy(nb)
    nb["cells"] = [c for c in nb["cells"] if gid(c) != grade_id]
    return nb


def without_tests(nb):
    nb = copy.deepcopy(nb)
    nb["cells"] = [c for c in nb["cells"] if not c.get("metadata", {}).get("nbgrader", {})
                   .get("grade")]
    return nb


def submit(course, student, nb, assignment=A1, notebook=NB1):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    text = nb if isinstance(nb, str) else json.dumps(nb, indent=1)
    (folder / notebook).write_text(text, encoding="utf-8")


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


WRONG = '''def cell_forward(x, h_prev, c_prev, p):
    z = np.zeros((x.shape[0], p.wxi.shape[0]))
    return z, z, None
'''
LEAKY = '''def cell_forward(x, h_prev, c_prev, p):
    raise ValueError(f"x is {x.tolist()}")
'''
HANG = '''def cell_forward(x, h_prev, c_prev, p):
    while True:
        pass
'''
EXIT_IN_FUNCTION = '''def cell_forward(x, h_prev, c_prev, p):
    import os
    os._exit(3)
'''
CLOSE_AND_HANG = '''def cell_forward(x, h_prev, c_prev, p):
    import os
    for fd in range(3, 64):
        try:
            os.close(fd)
        except OSError:
            pass
    while True:
        pass
'''
FORGED = WRONG + '''
import os
lines = [b'{"event": "part_start", "part": {"x": 1}}', b'[' * 100000,
         b'{"event": "part_end", "part": "test_cell_forward#0", "status": "ok", '
         b'"outputs": {"h": "zzz"}, "fingerprints": [[1]], "origin": [1], "mutated": 5}',
         b'{"event": "cell_end", "index": "x", "error": {"a": 1}}', b'\\xff\\xfe not json']
for fd in range(3, 10):
    for line in lines:
        try:
            os.write(fd, line + b"\\n")
        except OSError:
            pass
'''
TRANSFORMER = WRONG + '''
get_ipython().input_transformers_cleanup.append(lambda lines: ["pass\\n"])
'''
ALLCLOSE = WRONG + '''
np.allclose = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
'''
REFERENCE_HANDED_BACK = "cell_forward = lt.cell_forward\n"
REFERENCE_WRAPPED = '''def cell_forward(x, h_prev, c_prev, p):
    return lt.cell.cell_forward(x, h_prev, c_prev, p)
'''
REFERENCE_RELOADED = '''import importlib
import lstm_teach.cell
importlib.reload(lstm_teach.cell)
cell_forward = lstm_teach.cell.cell_forward
'''


def reference_from_file(real_dir):
    """Load the real package from its files under another name, and wrap its function."""
    return f'''import importlib.util, sys
spec = importlib.util.spec_from_file_location(
    "real_lt", {str(real_dir / "__init__.py")!r}, submodule_search_locations=[{str(real_dir)!r}])
real = importlib.util.module_from_spec(spec)
sys.modules["real_lt"] = real
spec.loader.exec_module(real)
def cell_forward(x, h_prev, c_prev, p):
    h, c, _ = real.cell_forward(x, h_prev, c_prev, real.LSTMParams(*p))
    return h, c, None
'''


def steal_solution(course):
    """Take the answer cell out of the instructor's source notebook in the course folder."""
    path = course / "source" / A1 / NB1
    return f'''import json
nb = json.load(open({str(path)!r}))
for cell in nb["cells"]:
    if cell["metadata"].get("nbgrader", {{}}).get("grade_id") == "cell_forward":
        exec("".join(cell["source"]))
'''


def course_write(course):
    """Wrong code, plus a cheat that works on nbgrader: a trigger in gradebook.db that turns
    every autograded score into full marks; and plain writes into the course folder."""
    return WRONG + f'''
import os, sqlite3
for path in [os.path.join("..", "..", "..", "gradebook.db"), {str(course / "gradebook.db")!r}]:
    try:
        if os.path.exists(path):
            db = sqlite3.connect(path)
            db.executescript("""
CREATE TRIGGER IF NOT EXISTS full_marks AFTER UPDATE OF auto_score ON grade
BEGIN
  UPDATE grade SET auto_score = (SELECT max_score FROM grade_cells WHERE id = NEW.cell_id)
  WHERE id = NEW.id;
END;""")
            db.commit()
            db.close()
    except Exception as exc:
        print("gradebook:", exc)
for path in [{str(course / "pwned.txt")!r}, {str(course / "source" / A1 / NB1)!r}]:
    try:
        with open(path, "a") as fh:
            fh.write("pwned")
    except Exception as exc:
        print("write:", exc)
'''


# ---------------------------------------------------------------- fixtures

@pytest.fixture
def course(tmp_path):
    dest = tmp_path / "course"
    shutil.copytree(EXERCISES, dest, ignore=shutil.ignore_patterns("gradebook.db", "submitted",
                                                                   "autograded", "feedback"))
    import sqlite3

    db = sqlite3.connect(dest / "gradebook.db")  # a target for the course-write case
    db.executescript("CREATE TABLE grade (id TEXT, cell_id TEXT, auto_score FLOAT);"
                     "CREATE TABLE grade_cells (id TEXT, max_score FLOAT);")
    db.close()
    return dest


HOSTILE = {
    # student: (how to build the notebook, expected score, a status flag that must be there)
    "good": (lambda c: load("source"), 4, "ok"),
    "blank": (lambda c: load("release"), 0, "ok"),
    "allclose_patched": (lambda c: with_answer(load("release"), "cell_forward", ALLCLOSE), 0,
                         "ok"),
    "input_transformer": (lambda c: with_answer(load("release"), "cell_forward", TRANSFORMER),
                          0, "cell_errors"),
    "course_write": (lambda c: with_answer(load("release"), "cell_forward", course_write(c)),
                     0, "ok"),
    "infinite_loop": (lambda c: with_answer(load("release"), "cell_forward", HANG), 0,
                      "timeout"),
    "loop_after_good_code": (lambda c: with_added_cell(load("source"), "while True:\n    pass\n"),
                             4, "timeout"),
    "os_exit_after_good_code": (lambda c: with_added_cell(load("source"),
                                                          "import os\nos._exit(0)\n"),
                                4, "crashed"),
    "os_exit_in_function": (lambda c: with_answer(load("release"), "cell_forward",
                                                  EXIT_IN_FUNCTION), 0, "crashed"),
    "memory_hog_after_good_code": (lambda c: with_added_cell(
        load("source"), "hog = bytearray(8 * 2**30)\n"), 4, "cell_errors"),
    "answer_cell_deleted": (lambda c: without_cell(load("source"), "cell_forward"), 0,
                            "missing_cells"),
    "protocol_closed_then_hang": (lambda c: with_answer(load("release"), "cell_forward",
                                                        CLOSE_AND_HANG), 0, "timeout"),
    "reads_grader_memory": (lambda c: with_added_cell(
        with_answer(load("release"), "cell_forward", WRONG),
        "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n"), 0, "cell_errors"),
    "forged_protocol": (lambda c: with_answer(load("release"), "cell_forward", FORGED), 0,
                        "ok"),
    "error_quotes_hidden_inputs": (lambda c: with_answer(load("release"), "cell_forward",
                                                         LEAKY), 0, "ok"),
    "malformed_json": (lambda c: json.dumps(load("source"))[:5000], 0, "invalid_notebook"),
    "deleted_tests": (lambda c: without_tests(load("source")), 4, "ok"),
    "reference_handed_back": (lambda c: with_answer(load("release"), "cell_forward",
                                                    REFERENCE_HANDED_BACK), 0, "reference_used"),
    "reference_wrapped": (lambda c: with_answer(load("release"), "cell_forward",
                                                REFERENCE_WRAPPED), 0, "reference_used"),
    "reference_reloaded": (lambda c: with_answer(load("release"), "cell_forward",
                                                 REFERENCE_RELOADED), 0, "reference_used"),
    # Landlock hides the real package from the student's process: loading it fails
    "reference_from_file": (lambda c: with_answer(load("release"), "cell_forward",
                                                  reference_from_file(Path(lt.__file__).parent)),
                            0, "cell_errors"),
    "reads_instructor_solution": (lambda c: with_answer(load("release"), "cell_forward",
                                                        steal_solution(c)), 0, "cell_errors"),
}


def rows_by_student(rows):
    return {r["student"]: r for r in rows}


def test_hostile_submissions_get_what_they_earned(course, tmp_path):
    for student, (build, _, _) in HOSTILE.items():
        submit(course, student, build(course))
    before = tree_hash(course)
    out = tmp_path / "grades.csv"
    allclose = np.allclose
    rows = grading.grade(course, A1, csv_path=out, feedback_dir=tmp_path / "fb", limits=FAST,
                         log=lambda *a: None)
    assert np.allclose is allclose, "student code ran in the grading process"
    assert tree_hash(course) == before, "the course folder changed"
    got = rows_by_student(rows)
    assert set(got) == set(HOSTILE)
    for student, (_, score, flag) in HOSTILE.items():
        row = got[student]
        assert row["score"] == score, (student, row)
        assert row["max_score"] == 4
        assert flag in row["status"].split(";"), (student, row["status"])
    # the CSV holds the same rows
    with open(out, newline="", encoding="utf-8") as fh:
        from_csv = {r["student"]: r for r in csv.DictReader(fh)}
    assert {s: int(r["score"]) for s, r in from_csv.items()} == {s: r["score"]
                                                                 for s, r in got.items()}
    assert list(from_csv["good"])[:4] == ["student", "assignment", "score", "max_score"]
    # feedback names what failed, never the values
    fb = (tmp_path / "fb" / "infinite_loop" / f"{A1}.txt").read_text()
    assert "did not finish within the time limit" in fb
    assert "no credit" in got["reference_wrapped"]["feedback"]
    assert "not a valid notebook" in got["malformed_json"]["feedback"]
    assert "wrong: h, c" in got["allclose_patched"]["feedback"]
    assert "MemoryError" in got["memory_hog_after_good_code"]["feedback"]
    assert "PermissionError" in got["reads_instructor_solution"]["feedback"]
    assert "PermissionError" in got["reads_grader_memory"]["feedback"]
    assert "PermissionError" in got["reference_from_file"]["feedback"]
    leak = got["error_quotes_hidden_inputs"]["feedback"]
    assert "ValueError: x is [[..." in leak and not re.search(r"\d\.\d", leak), leak
    for row in rows:
        assert "expected" not in row["feedback"] and "[[" not in row["feedback"].replace(
            "x is [[...", "")


def test_without_landlock_writes_are_undone_and_the_reference_still_found(course, tmp_path):
    """Where the kernel has no Landlock: a write into the course is found and undone, and
    code run from the real package's files is recognised by its fingerprint."""
    for student in ("course_write", "reference_from_file", "good"):
        submit(course, student, HOSTILE[student][0](course))
    before = tree_hash(course)
    rows = grading.grade(course, A1, limits=FAST._replace(landlock=False), log=lambda *a: None)
    assert tree_hash(course) == before
    got = rows_by_student(rows)
    assert "course_modified" in got["course_write"]["status"]
    assert got["course_write"]["score"] == 0
    assert "reference_used" in got["reference_from_file"]["status"]
    assert got["reference_from_file"]["score"] == 0
    assert "cell.cell_forward" in got["reference_from_file"]["feedback"]
    assert got["good"]["score"] == 4 and got["good"]["status"] == "ok"


def test_inputs_are_fresh_each_run_and_seedable(course, monkeypatch):
    """What grade() sends to the student's process differs from run to run (same with a seed)."""
    submit(course, "good", load("source"))
    sent = []

    def fake_run(cells, parts, assignment, limits, forbidden, course=None):
        sent.append([p["args"] for p in parts])
        return {}, {}, []

    monkeypatch.setattr(grading, "_run_notebook", fake_run)
    for seed in (None, None, 5, 5):
        grading.grade(course, A1, limits=FAST, seed=seed, log=lambda *a: None)
    assert sent[0] != sent[1]
    assert sent[2] == sent[3]
    assert len(sent[0]) == sum(p.draws for p in grading.ASSIGNMENTS[A1].parts)


def test_student_edition_switches_off_the_graded_functions(tmp_path):
    lib = tmp_path / "lib"
    grading.build_student_edition(lib, grading.ASSIGNMENTS["a2_cell_backward"])
    code = ("import numpy as np, lstm_teach as lt\n"
            "p = lt.init_params(2, 3)\n"
            "h, c, cache = lt.cell_forward(np.ones((1, 2)), None, None, p)\n"
            "try:\n    lt.cell_backward(h, None, cache)\nexcept NotImplementedError as e:\n"
            "    print('off:', e)\n"
            "print(lt._switched_off_calls)\n"
            "import lstm_teach.check as ch\n"
            "print(hasattr(ch, 'check_cell_backward'))\n")
    env = {"PATH": os.environ.get("PATH", "")}
    out = subprocess.run([sys.executable, "-I", "-S", "-B", "-c",
                          f"import sys; sys.path[:0] = {grading._child_sys_path(lib)!r}\n"
                          + code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "off: lstm_teach.cell.cell_backward is switched off" in out.stdout
    assert "['cell.cell_backward']" in out.stdout
    assert out.stdout.strip().endswith("False")


@pytest.mark.parametrize("assignment", list(grading.ASSIGNMENTS))
def test_cli_full_marks_for_source_and_zero_for_release(assignment, tmp_path):
    course = tmp_path / "course"
    shutil.copytree(EXERCISES, course)
    nb = grading.ASSIGNMENTS[assignment].notebook
    submit(course, "source_as_student", load("source", assignment, nb), assignment, nb)
    submit(course, "release_unchanged", load("release", assignment, nb), assignment, nb)
    before = tree_hash(course)
    out = tmp_path / "grades.csv"
    run = subprocess.run([sys.executable, "-m", "lstm_teach.cli", "grade", "--course",
                          str(course), "--assignment", assignment, "--submitted", "submitted",
                          "--csv", str(out)], capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert tree_hash(course) == before
    with open(out, newline="", encoding="utf-8") as fh:
        rows = {r["student"]: r for r in csv.DictReader(fh)}
    max_score = sum(p.points for p in grading.ASSIGNMENTS[assignment].parts)
    assert rows["source_as_student"]["score"] == str(max_score), rows
    assert rows["source_as_student"]["status"] == "ok"
    assert rows["release_unchanged"]["score"] == "0"
    assert rows["release_unchanged"]["max_score"] == str(max_score)
    assert (tmp_path / "grades_feedback" / "release_unchanged" / f"{assignment}.txt").is_file()


def test_cli_rejects_unknown_assignment(tmp_path):
    run = subprocess.run([sys.executable, "-m", "lstm_teach.cli", "grade", "--course",
                          str(EXERCISES), "--assignment", "nope"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2
    assert "assignment must be one of" in run.stderr
