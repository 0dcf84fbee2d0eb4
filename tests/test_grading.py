"""`lstm-teach grade`: hostile and broken submissions get what they earned, nothing more.

Every test works on a temporary copy of exercises/; the repository's copy is never touched.
HOSTILE is the hostile-submission suite: README's attack table is generated from it
(tools/grading_attack_table.py), and README's promises name the tests below.
"""

import copy
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from lstm_teach import check, grading
from lstm_teach.grading import runner

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"
A1, NB1 = "a1_cell_forward", "cell_forward.ipynb"
FAST = grading.Limits(cell_seconds=3.0, part_seconds=3.0, startup_seconds=20.0)


def load(kind, assignment=A1, notebook=NB1):
    return json.loads((EXERCISES / kind / assignment / notebook).read_text(encoding="utf-8"))


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def answer(source):
    """The release notebook with cell_forward's answer cell replaced."""
    nb = copy.deepcopy(load("release"))
    for cell in nb["cells"]:
        if gid(cell) == "cell_forward":
            cell["source"] = source
            return nb
    raise KeyError("cell_forward")


def added(nb, source):
    nb = copy.deepcopy(nb)
    nb["cells"].append({"cell_type": "code", "execution_count": None, "id": "added",
                        "metadata": {}, "outputs": [], "source": source})
    return nb


def solution():
    for cell in load("source")["cells"]:
        if gid(cell) == "cell_forward":
            return "".join(cell["source"])
    raise KeyError("cell_forward")


def good_then(source):
    """The right answer, then a cell of the student's own."""
    return added(load("source"), source)


def tree_hash(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        h.update(str(path.relative_to(root)).encode())
        if path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def sandbox_pids() -> set:
    """Processes in a PID namespace other than ours: what a sandbox leaves running."""
    mine = os.readlink("/proc/self/ns/pid")
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.readlink(f"/proc/{entry}/ns/pid") != mine:
                    out.add(int(entry))
            except OSError:
                pass
    return out


WRONG = '''def cell_forward(x, h_prev, c_prev, p):
    z = np.zeros((x.shape[0], p.wxi.shape[0]))
    return z, z, None
'''
SOL = solution()


def _pasted(names) -> str:
    """The reference's functions as a student might paste them: docstrings dropped and
    every argument and local renamed."""
    import ast
    import inspect

    from lstm_teach import cell

    out = []
    for name in names:
        fn = ast.parse(inspect.getsource(getattr(cell, name))).body[0]
        fn.body = fn.body[1:] if ast.get_docstring(fn) else fn.body
        local = {a.arg for a in ast.walk(fn) if isinstance(a, ast.arg)} | {
            n.id for n in ast.walk(fn) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for node in ast.walk(fn):
            if isinstance(node, ast.arg) and node.arg in local:
                node.arg, node.annotation = f"my_{node.arg}", None
            elif isinstance(node, ast.Name) and node.id in local:
                node.id = f"my_{node.id}"
        fn.returns = None
        out.append(ast.unparse(fn))
    return "\n\n".join(out) + "\n"


REFERENCE_PASTED = _pasted(["_check_state", "cell_forward"])
HELPER = '''def cell_forward(x, h_prev, c_prev, p):
    from lstm_teach.cell import gate_preactivation as pre
    i = 1 / (1 + np.exp(-pre(x, h_prev, p.wxi, p.whi, p.bi)))
    g = np.tanh(pre(x, h_prev, p.wxg, p.whg, p.bg))
    f = 1 / (1 + np.exp(-pre(x, h_prev, p.wxf, p.whf, p.bf)))
    o = 1 / (1 + np.exp(-pre(x, h_prev, p.wxo, p.who, p.bo)))
    c = f * c_prev + i * g
    return o * np.tanh(c), c, None
'''
SQUEEZED = SOL.replace("return h, c,", "return h.squeeze(), c.squeeze(),")
STALL = '''def cell_forward(x, h_prev, c_prev, p):
    import os, time
    for _ in range(40):
        for fd in range(1, 12):
            try:
                os.write(fd, b"P 0\\nC 0\\nD\\n")
            except OSError:
                pass
        time.sleep(1)
    z = np.zeros((x.shape[0], p.wxi.shape[0]))
    return z, z, None
'''
FLOOD = '''def cell_forward(x, h_prev, c_prev, p):
    import os
    line = b"R " + b"x" * (1 << 20)
    for fd in range(3, 12):
        try:
            for _ in range(200):
                os.write(fd, line)
        except OSError:
            pass
'''
DAEMON = '''import os, signal, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        while True:  # every process it can name but its own sandbox's first three
            for pid in range(4, 4000):
                if pid != os.getpid():
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            time.sleep(0.2)
    os._exit(0)
'''
LEAK_NAME = '''def cell_forward(x, h_prev, c_prev, p):
    letters = "".join("abcdefghij"[int(abs(v) * 10) % 10] for v in x.ravel()[:8])
    raise type("Leak_" + letters, (Exception,), {})("x is " + str(x.tolist()))
'''
THREAD_REF = '''import threading
box = {}
def cell_forward(x, h_prev, c_prev, p):
    t = threading.Thread(target=lambda: box.update(r=lt.cell_forward(x, h_prev, c_prev, p)))
    t.start(); t.join()
    return box["r"]
'''
FORGED = WRONG + '''
import os, json
for fd in range(1, 12):
    for rec in (b'R {"part": 0, "status": "ok", '
                b'"ret": {"l": [{"a": "<f8", "s": [1], "d": "AAAAAAAA8D8="}]}}',
                b'[' * 100000, b'\\xff\\xfe', b'R {"cell": "x", "exc": {"a": 1}}'):
        try:
            os.write(fd, rec + b"\\n")
        except OSError:
            pass
'''


def steal(path_code):
    return WRONG.replace("    z = np.zeros", f"    {path_code}\n    z = np.zeros")


def probe(code):
    """Wrong code, plus an added cell that must raise (the sandbox refuses what it tries)."""
    return added(answer(WRONG), code)


HOSTILE = {
    # student: (attack class, notebook, score, flag that must be in status, what happens)
    "a_good": ("baseline", lambda c: load("source"), 4, "ok", "the solution"),
    "a_blank": ("baseline", lambda c: load("release"), 0, "ok", "the unchanged release"),
    "allclose_patched": ("tests in the kernel", lambda c: answer(
        WRONG + "np.allclose = lambda *a, **k: True\n"), 0, "ok",
        "wrong code that patches numpy.allclose"),
    "input_transformer": ("tests in the kernel", lambda c: answer(
        WRONG + "get_ipython().input_transformers_cleanup.append(lambda l: ['pass'])\n"), 0,
        "cell_errors", "wrong code that registers an IPython input transformer"),
    "deleted_tests": ("tests in the kernel", lambda c: [
        nb := load("source"), {**nb, "cells": [x for x in nb["cells"]
                                              if not x["metadata"].get("nbgrader", {})
                                              .get("grade")]}][1], 4, "ok",
        "the solution with its test cells deleted"),
    "answer_cell_deleted": ("broken notebook", lambda c: {
        **load("source"), "cells": [x for x in load("source")["cells"]
                                    if gid(x) != "cell_forward"]}, 0, "missing_cells",
        "the answer cell deleted"),
    "malformed_json": ("broken notebook", lambda c: json.dumps(load("source"))[:3000], 0,
                       "invalid_notebook", "not valid JSON"),
    "infinite_loop": ("stall", lambda c: answer("def cell_forward(*a):\n    while True:\n"
                                                "        pass\n"), 0, "timeout",
                      "cell_forward loops forever"),
    "loop_after_good_code": ("stall", lambda c: good_then("while True:\n    pass\n"), 4,
                             "timeout", "the solution, then a cell that loops forever"),
    "stall_with_progress": ("stall", lambda c: answer(STALL), 0, "timeout",
                            "progress lines written every second to reset the deadline"),
    "flood_channel": ("stall", lambda c: answer(FLOOD), 0, "crashed",
                      "200 MB written to the result channel"),
    "sleep_in_cell": ("stall", lambda c: good_then("import time\ntime.sleep(60)\n"), 4,
                      "timeout", "the solution, then a cell that sleeps 60 s"),
    "kill_parent": ("stop everyone", lambda c: good_then(
        "import os\nos.kill(os.getppid(), 9)\nos.kill(1, 9)\n"), 4, "ok",
        "SIGKILL to its parent and to PID 1"),
    "stop_parent": ("stop everyone", lambda c: good_then(
        "import os, signal\nfor pid in range(1, 500):\n    try:\n        os.kill(pid, "
        "signal.SIGSTOP)\n    except OSError:\n        pass\n"), 4, "",
        "SIGSTOP to every PID it can name"),
    "kill_in_function": ("stop everyone", lambda c: answer(
        "def cell_forward(*a):\n    import os\n    os.kill(os.getppid(), 9)\n"), 0, "",
        "cell_forward kills its parent"),
    "os_exit_after_good_code": ("stop everyone", lambda c: good_then("import os\nos._exit(0)\n"),
                                4, "crashed", "the solution, then os._exit(0)"),
    "os_exit_in_function": ("stop everyone", lambda c: answer(
        "def cell_forward(*a):\n    import os\n    os._exit(3)\n"), 0, "crashed",
        "cell_forward calls os._exit"),
    "daemon": ("outlive the sandbox", lambda c: good_then(DAEMON), 4, "cell_errors",
               "fork, setsid, and a daemon that SIGKILLs every PID it can name, forever"),
    "fork_then_exit": ("outlive the sandbox", lambda c: answer(
        "import os\nif os.fork() == 0:\n    import time\n    time.sleep(30)\n" + WRONG), 0,
        "cell_errors", "a child process left sleeping"),
    "fork_bomb": ("resources", lambda c: good_then(
        "import os\nwhile True:\n    os.fork()\n"), 4, "cell_errors",
        "the solution, then a fork bomb"),
    "spawn_in_function": ("outlive the sandbox", lambda c: answer(
        "def cell_forward(*a):\n    import subprocess\n    subprocess.Popen(['sleep', '60'])\n"),
        0, "", "cell_forward starts a process"),
    "memory_hog": ("resources", lambda c: good_then("hog = bytearray(8 * 2**30)\n"), 4,
                   "cell_errors", "the solution, then 8 GB allocated"),
    "disk_fill": ("resources", lambda c: good_then(
        "with open('big', 'wb') as fh:\n    fh.write(b'0' * 2**29)\n"), 4, "cell_errors",
        "the solution, then a 512 MB file written"),
    "read_git": ("read the solutions", lambda c: probe(
        f"open({str(ROOT / '.git' / 'HEAD')!r}).read()\n"), 0, "cell_errors",
        "reads the repository's .git"),
    "read_course_source": ("read the solutions", lambda c: probe(
        f"open({str(c / 'source' / A1 / NB1)!r}).read()\n"), 0, "cell_errors",
        "reads the solution notebook in the course folder"),
    "read_other_students": ("read the solutions", lambda c: probe(
        f"import os\nos.listdir({str(c / 'submitted')!r})\n"), 0, "cell_errors",
        "lists the other students' submissions"),
    "read_feedback": ("read the solutions", lambda c: probe(
        f"import os\nos.listdir({str(c.parent / 'out')!r})\n"), 0, "cell_errors",
        "reads earlier feedback files"),
    "read_real_package": ("read the solutions", lambda c: probe(
        f"open({str(ROOT / 'lstm_teach' / 'cell.py')!r}).read()\n"), 0, "cell_errors",
        "reads the real lstm_teach's source"),
    "read_grader_environ": ("read the grader", lambda c: probe(
        "import os\nassert any(b'PYTEST_CURRENT_TEST' in open(f'/proc/{p}/environ', 'rb')"
        ".read() for p in os.listdir('/proc') if p.isdigit())\n"), 0, "cell_errors",
        "reads the grader's /proc/<pid>/environ"),
    "read_grader_memory": ("read the grader", lambda c: probe(
        "import os\nopen(f'/proc/{os.getppid()}/mem', 'rb').read(1)\n"), 0, "cell_errors",
        "reads its parent's memory"),
    "network": ("read the grader", lambda c: probe(
        "import socket\nsocket.create_connection(('127.0.0.1', 22), timeout=1)\n"), 0,
        "cell_errors", "opens a TCP connection"),
    "import_torch": ("course's own code", lambda c: probe("import torch\n"), 0, "cell_errors",
                     "imports torch (autograd)"),
    "import_sympy": ("course's own code", lambda c: probe("import sympy\n"), 0, "cell_errors",
                     "imports sympy"),
    "reference_handed_back": ("course's own code", lambda c: answer(
        "cell_forward = lt.cell_forward\n"), 0, "reference_used",
        "cell_forward = lt.cell_forward"),
    "reference_wrapped": ("course's own code", lambda c: answer(
        "def cell_forward(x, h, c, p):\n    return lt.cell.cell_forward(x, h, c, p)\n"), 0,
        "reference_used", "a wrapper around lt.cell.cell_forward"),
    "reference_in_thread": ("course's own code", lambda c: answer(THREAD_REF), 0,
                            "reference_used", "the reference called in a thread"),
    "reference_reloaded": ("course's own code", lambda c: answer(
        "import importlib, lstm_teach.cell\nimportlib.reload(lstm_teach.cell)\n"
        "def cell_forward(*a):\n    return lstm_teach.cell.cell_forward(*a)\n"), 0,
        "reference_used", "importlib.reload, then the reference"),
    "reference_pasted": ("course's own code", lambda c: answer(
        "from lstm_teach.cell import *\nfrom lstm_teach.cell import CellCache, "
        "gate_preactivation\nfrom lstm_teach.activations import sigmoid, tanh\n"
        + REFERENCE_PASTED), 0,
        "reference_used", "the reference's code pasted, docstring and names changed"),
    "public_helper": ("course's own code", lambda c: answer(HELPER), 4, "ok",
                      "its own cell_forward built on the public lt.cell.gate_preactivation"),
    "squeezed": ("narrow tests", lambda c: answer(SQUEEZED), 0, "ok",
                 "h and c squeezed: wrong for batch 1"),
    "forged_results": ("forged results", lambda c: answer(FORGED), 0, "ok",
                       "writes fake result lines and garbage to every fd"),
    "leak_in_exception": ("feedback", lambda c: answer(LEAK_NAME), 0, "ok",
                          "hidden inputs spelled into an exception's class name and message"),
    "course_write": ("the course folder", lambda c: probe(
        f"open({str(c / 'pwned.txt')!r}, 'w').write('x')\n"), 0, "cell_errors",
        "writes into the course folder"),
    "z_honest_1": ("baseline", lambda c: load("source"), 4, "ok", "an honest student"),
    "z_honest_2": ("baseline", lambda c: answer(HELPER), 4, "ok", "an honest student"),
}


def submit(course, student, nb, assignment=A1, notebook=NB1):
    folder = course / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    (folder / notebook).write_text(nb if isinstance(nb, str) else json.dumps(nb),
                                   encoding="utf-8")


@pytest.fixture
def course(tmp_path):
    dest = tmp_path / "course"
    shutil.copytree(EXERCISES, dest, ignore=shutil.ignore_patterns(
        "gradebook.db", "submitted", "autograded", "feedback"))
    return dest


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory):
    """The whole hostile suite, graded once, two at a time."""
    tmp = tmp_path_factory.mktemp("hostile")
    c = tmp / "course"
    shutil.copytree(EXERCISES, c, ignore=shutil.ignore_patterns("submitted"))
    for student, (_, build, _, _, _) in HOSTILE.items():
        submit(c, student, build(c))
    before, pids = tree_hash(c), sandbox_pids()
    (tmp / "out").mkdir()
    rows = grading.grade(c, A1, out=tmp / "out", limits=FAST, workers=2, log=lambda *a: None)
    for _ in range(50):  # the kernel tears a PID namespace down in the background
        if not sandbox_pids() - pids:
            break
        time.sleep(0.1)
    return {"rows": {r["student"]: r for r in rows}, "course_before": before,
            "course_after": tree_hash(c), "left": sandbox_pids() - pids, "out": tmp / "out"}


@pytest.mark.parametrize("student", list(HOSTILE))
def test_hostile_submission_scores_what_it_deserves(hostile_run, student):
    _, _, score, flag, _ = HOSTILE[student]
    row = hostile_run["rows"][student]
    assert float(row["score"]) == score, (student, row)
    if flag:
        assert flag in row["status"].split(";"), (student, row["status"])


def test_hostile_suite_harms_no_one(hostile_run):
    """Honest students graded after every attack get full marks; no process survives; the
    course folder is unchanged; feedback holds no hidden value."""
    assert len(HOSTILE) >= 40
    rows = hostile_run["rows"]
    assert set(rows) == set(HOSTILE)
    for honest in ("z_honest_1", "z_honest_2", "a_good"):
        assert rows[honest]["score"] == "4" and rows[honest]["status"] == "ok", rows[honest]
    assert hostile_run["left"] == set()
    assert hostile_run["course_after"] == hostile_run["course_before"]
    for row in rows.values():
        assert not re.search(r"\d\.\d", row["feedback"]), row
        assert "Leak_" not in row["feedback"] and "x is" not in row["feedback"]
    assert "an exception" in rows["leak_in_exception"]["feedback"]
    assert "is a copy of lstm_teach's cell.cell_forward" in rows["reference_pasted"]["feedback"]
    fb = hostile_run["out"] / "feedback" / "infinite_loop" / f"{A1}.txt"
    assert "did not finish in time" in fb.read_text()


def test_outputs_never_inside_the_course(course):
    submit(course, "s", load("source"))
    with pytest.raises(ValueError, match="inside the course folder"):
        grading.grade(course, A1, out=course / "grades", limits=FAST, log=lambda *a: None)


def test_refuses_to_grade_for_marks_without_the_sandbox(course, tmp_path, monkeypatch):
    submit(course, "s", load("source"))
    monkeypatch.setenv("LSTM_TEACH_BWRAP", str(tmp_path / "no-bwrap-here"))
    with pytest.raises(grading.SandboxUnavailable, match="--practice"):
        grading.grade(course, A1, out=tmp_path / "out", limits=FAST, log=lambda *a: None)
    rows = grading.grade(course, A1, out=tmp_path / "out", limits=FAST, practice=True,
                         log=lambda *a: None)
    assert rows[0]["score"] == "4" and "practice" in rows[0]["status"]


def test_killing_the_grader_loses_one_student_and_a_rerun_resumes(course, tmp_path):
    for k in range(6):
        submit(course, f"s{k}", load("source") if k != 3 else answer(
            "def cell_forward(*a):\n    while True:\n        pass\n"))
    out = tmp_path / "out"
    code = ("import sys; from pathlib import Path; from lstm_teach import grading\n"
            f"grading.grade(Path({str(course)!r}), {A1!r}, out=Path({str(out)!r}), workers=1,"
            " limits=grading.Limits(part_seconds=30, cell_seconds=30))\n")
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True,
                            start_new_session=True)
    for line in proc.stdout:  # s3 hangs for 30 s: kill the grader while it waits
        if line.startswith("s2"):
            time.sleep(1.0)
            os.killpg(proc.pid, signal.SIGKILL)
            break
    proc.wait()
    first = grading.read_rows(out / "grades.csv")
    assert [r["student"] for r in first] == ["s0", "s1", "s2"]
    assert (out / "feedback" / "s2" / f"{A1}.txt").is_file()
    rows = grading.grade(course, A1, out=out, limits=FAST, log=lambda *a: None)
    assert sorted(r["student"] for r in rows) == [f"s{k}" for k in range(6)]
    assert [r["score"] for r in sorted(rows, key=lambda r: r["student"])] == [
        "4", "4", "4", "0", "4", "4"]
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"lstm-teach-grade-{proc.pid}-*"))


def test_inputs_are_fresh_each_run_and_seedable(course, monkeypatch, tmp_path):
    submit(course, "good", load("source"))
    sent = []

    def fake(ctx, units, cells, deadline, flags, notes, skips):
        sent.append([c["job"]["args"] for u in units for c in u.calls])

    monkeypatch.setattr(runner, "_run_units", fake)
    for k, seed in enumerate((None, None, 5, 5)):
        grading.grade(course, A1, out=tmp_path / f"o{k}", limits=FAST, seed=seed,
                      log=lambda *a: None)
    assert sent[0] != sent[1] and sent[2] == sent[3]


def test_batch_one_and_every_truncation_are_tested():
    specs = grading.load_specs(EXERCISES)
    for spec in specs.values():
        batches = {d.get("batch", 3) for p in spec.parts for d in p.draws}
        if spec.name != "a4_training":
            assert 1 in batches and len(batches) >= 3, spec.name
    draws = [d for p in specs["a3_bptt"].parts for d in p.draws]
    truncs = {(d.get("truncate"), d.get("seq_len")) for d in draws}
    assert {k for k, _ in truncs} >= {None, 1, 2}
    assert any(k == T - 1 for k, T in truncs if k) and any(k == T for k, T in truncs if k)
    assert any(k > T for k, T in truncs if k)


def test_tolerance_separates_honest_code_from_finite_differences():
    """Honest float64 code written another way passes; central differences through the
    forward pass, with the best step, do not (the gap is stated in README)."""
    ex = check.EXERCISES["local_gradients"]
    rng = np.random.default_rng(3)
    honest, numeric = [], []
    for _ in range(3):
        inputs = ex.make_inputs(rng)
        want = ex.reference(inputs, None)
        cache, dh, dc = inputs["cache"], inputs["dh"], inputs["dc"]
        # honest: the same mathematics in another order
        tc = np.tanh(cache.c)
        dct = dh * cache.o - dh * cache.o * tc * tc + dc
        honest.append(np.max(np.abs(dct - want["dc"])) / np.max(np.abs(want["dc"])))
        # numeric: dE/dc_t with E = sum(dh * h) + sum(dc * c), c_t perturbed
        best = np.inf
        for eps in (1e-4, 1e-5, 1e-6, 1e-7):
            def energy(c, dh=dh, dc=dc, o=cache.o):
                return np.sum(dh * o * np.tanh(c)) + np.sum(dc * c)
            num = np.zeros_like(cache.c)
            for idx in np.ndindex(cache.c.shape):
                up, down = cache.c.copy(), cache.c.copy()
                up[idx] += eps
                down[idx] -= eps
                num[idx] = (energy(up) - energy(down)) / (2 * eps)
            best = min(best, np.max(np.abs(num - want["dc"])) / np.max(np.abs(want["dc"])))
        numeric.append(best)
    assert max(honest) < grading.TOL / 10, honest
    assert min(numeric) > grading.TOL * 10, numeric
    assert runner._strict_ok(want["dc"] * (1 + 1e-15), want["dc"])
    assert not runner._strict_ok(want["dc"] * (1 + 1e-9), want["dc"])


def test_partial_credit_per_quantity_and_no_cascade():
    """Each part grades its own quantities, all or nothing: a transposed h costs
    test_cell_forward's points, and a wrong dxs costs only the dxs parts of a3."""
    ex = check.EXERCISES["cell_forward"]
    part = grading.Part("t", "cell_forward", "cell_forward", 2, ({},))
    inputs = ex.make_inputs(np.random.default_rng(0))
    want = ex.reference(inputs, None)
    good = {"part": 0, "status": "ok", "mutated": [],
            "ret": {"l": [runner.encode(want["h"]), runner.encode(want["c"]), None]}}
    right, names, text = runner.judge(part, inputs, good)
    assert right == set(names) == {"h", "c"} and text == ""
    bad = copy.deepcopy(good)
    bad["ret"]["l"][0] = runner.encode(want["h"].T.copy())
    right, names, text = runner.judge(part, inputs, bad)
    assert right == {"c"} and "expected shape" in text
    assert "weight gradient" not in text and "transposed" in text
    specs = grading.load_specs(EXERCISES)
    a3 = specs["a3_bptt"]
    calls, part_calls = runner._draw_calls(a3.groups[0], np.random.default_rng(1))
    assert len(calls) == 3 + 2 + 5  # parts on the same draws share their calls
    unit = runner._Unit("a3_bptt", 0, SimpleNamespace(spec=a3), calls, part_calls)
    lstm = check.EXERCISES["lstm_backward"]
    for i, call in enumerate(calls):
        ref = lstm.reference(call["inputs"], None)
        ret = [{"nt": list(check.PARAM_NAMES), "v": [runner.encode(ref[n])
                                                      for n in check.PARAM_NAMES]},
               runner.encode(ref["dxs"][::-1].copy()), runner.encode(ref["dh0"]),
               runner.encode(ref["dc0"])]
        unit.records[i] = {"part": i, "status": "ok", "mutated": [], "ret": {"l": ret}}
    scores, lines = runner._score(unit, {}, set())
    assert scores == {"test_lstm_backward": 2, "test_lstm_backward_dxs": 0,
                      "test_lstm_backward_initial_state": 1,
                      "test_lstm_backward_final_state": 1, "test_lstm_backward_truncated": 2,
                      "test_lstm_backward_truncated_dxs": 0}, scores
    assert "in the order the steps were visited" in lines[1], lines[1]
    assert "dxs" not in lines[0] and lines[0].endswith("2 / 2")
    a4 = specs["a4_training"]
    assert a4.groups[1].provide and "sgd_step" in a4.groups[1].provide


def test_student_edition_holds_no_assigned_function(tmp_path):
    from lstm_teach.grading import edition

    pkg = edition.build_edition(tmp_path, ["_validate", "params", "activations", "cell",
                                           "losses", "sequence"], ["sequence.lstm_backward"])
    text = (pkg / "sequence.py").read_text()
    assert "def lstm_backward" not in text and "_backward_full" not in text
    assert "def lstm_forward" in text
    assert "def " not in (pkg / "check.py").read_text().replace("def __getattr__", "")
    assert "def " not in (pkg / "fast.py").read_text().replace("def __getattr__", "")


def test_specs_are_not_released():
    for spec in grading.load_specs(EXERCISES).values():
        assert not list((EXERCISES / "release").rglob("*.toml"))
        assert (EXERCISES / "release" / spec.name / spec.notebook).is_file()


def test_cli_rejects_unknown_assignment(tmp_path):
    run = subprocess.run([sys.executable, "-m", "lstm_teach.cli", "grade", "--course",
                          str(EXERCISES), "--assignment", "nope", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "assignment must be one of" in run.stderr


def test_moodle_export(hostile_run, tmp_path):
    from lstm_teach.grading.export import to_moodle

    dest = tmp_path / "moodle.csv"
    assert to_moodle(hostile_run["out"] / "grades.csv", dest) == len(HOSTILE)
    lines = dest.read_text().splitlines()
    assert lines[0] == f"username,{A1}" and "a_good,4" in lines


def test_readme_attack_table_is_generated_from_this_suite():
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "grading_attack_table.py"),
                          "--check"], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, "README's attack table is stale: run tools/grading_attack_table.py"


# ---------------------------------------------------------------- every assignment, and a5

A5, NB5 = "a5_gru", "gru_backward.ipynb"
ALL = {"a1_cell_forward": ("cell_forward.ipynb", 4),
       "a2_cell_backward": ("cell_backward.ipynb", 12),
       "a3_bptt": ("bptt.ipynb", 8), "a4_training": ("training.ipynb", 7), A5: (NB5, 13)}


def with_answer(kind, assignment, notebook, grade_id, edit):
    """A notebook of kind with the answer cell grade_id's source passed through edit."""
    nb = copy.deepcopy(load(kind, assignment, notebook))
    for cell in nb["cells"]:
        if gid(cell) == grade_id:
            cell["source"] = edit("".join(cell["source"]))
            return nb
    raise KeyError(grade_id)


def gru_source(grade_id, edit=lambda s: s):
    return with_answer("source", A5, NB5, grade_id, edit)


A5_REFERENCE = '''def gru_cell_backward(dh, cache):
    return gru.gru_cell_backward(dh, cache)
'''
A5_REFERENCE_SEQ = '''def gru_backward(dhs, cache, dhT=None):
    return gru.gru_backward(dhs, cache, dhT=dhT)
'''


def _a5_reference_used():
    nb = with_answer("release", A5, NB5, "gru_cell_backward", lambda s: A5_REFERENCE)
    for cell in nb["cells"]:
        if gid(cell) == "gru_backward":
            cell["source"] = A5_REFERENCE_SEQ
    return nb


# a2's local_gradients that announces the end of its phase early and reads every fd for the
# next phase, whose edition holds the reference's local_gradients (for cell_backward's test)
PHASE_THIEF = '''import json, os, threading, time
stolen = {}
def _thief():
    for _ in range(100):
        for fd in range(1, 12):
            try:
                os.write(fd, b"E 0\\nE 1\\nD\\n")
            except OSError:
                pass
        for fd in range(3, 12):
            try:
                os.set_blocking(fd, False)
                data = os.read(fd, 1 << 22)
            except OSError:
                continue
            for line in data.split(b"\\n"):
                try:
                    msg = json.loads(line)
                    source = msg["modules"]["cell.py"]
                except (ValueError, KeyError, TypeError):
                    continue
                if "def local_gradients" in source:
                    stolen["source"] = source
        time.sleep(0.02)
threading.Thread(target=_thief, daemon=True).start()
def local_gradients(dh, dc, cache):
    for _ in range(100):
        if "source" in stolen:
            import lstm_teach.cell
            ns = dict(vars(lstm_teach.cell))
            exec(stolen["source"].replace("from .", "from lstm_teach."), ns)
            return ns["local_gradients"](dh, dc, cache)
        time.sleep(0.02)
    raise RuntimeError("nothing to steal")
'''

# the catalogued mistake gru_dz_sign: dE/dz with its sign flipped
DZ_SIGN = ("d_z = dh * (h_prev - n)", "d_z = dh * (n - h_prev)")
CLASS = {
    # student: assignment -> notebook (None: every assignment's solution / release)
    "all_solutions": {a: load("source", a, nb) for a, (nb, _) in ALL.items()},
    "all_releases": {a: load("release", a, nb) for a, (nb, _) in ALL.items()},
    "gru_reference": {A5: _a5_reference_used()},
    "gru_dz_sign": {A5: gru_source("gru_cell_backward", lambda s: s.replace(*DZ_SIGN))},
    "phase_thief": {"a2_cell_backward": with_answer(
        "source", "a2_cell_backward", "cell_backward.ipynb", "local_gradients",
        lambda s: PHASE_THIEF)},
}


@pytest.fixture(scope="module")
def class_run(tmp_path_factory):
    """Every assignment's solution and release, and a5's reference use and mistake."""
    tmp = tmp_path_factory.mktemp("class")
    c = tmp / "course"
    shutil.copytree(EXERCISES, c, ignore=shutil.ignore_patterns("submitted"))
    for student, notebooks in CLASS.items():
        for assignment, nb in notebooks.items():
            submit(c, student, nb, assignment, ALL[assignment][0])
    # a4's train to the target loss takes 150 steps: the default limits, not FAST's
    rows = grading.grade(c, "all", out=tmp / "out", workers=2, log=lambda *a: None)
    return {"rows": {(r["student"], r["assignment"]): r for r in rows}, "out": tmp / "out",
            "course": c}


def test_solutions_score_full_marks_and_releases_nothing(class_run):
    rows = class_run["rows"]
    assert set(grading.load_specs(EXERCISES)) == set(ALL)
    for assignment, (_, points) in ALL.items():
        good = rows[("all_solutions", assignment)]
        assert float(good["score"]) == points == float(good["max_score"]), good
        assert good["status"] == "ok", good
        blank = rows[("all_releases", assignment)]
        assert float(blank["score"]) == 0 and "NotImplementedError" in blank["feedback"], blank
    assert DZ_SIGN[0] in "".join("".join(c["source"]) for c in load("source", A5, NB5)["cells"]
                                 if gid(c) == "gru_cell_backward")


def test_gru_reference_use_scores_nothing(class_run):
    row = class_run["rows"][("gru_reference", A5)]
    assert row["score"] == "0" and "reference_used" in row["status"].split(";"), row
    assert "names lstm_teach's gru_cell_backward" in row["feedback"]


def test_gru_mistake_costs_only_the_quantities_it_touches(class_run):
    """gru_dz_sign changes the update gate's gradients, dx and dh_prev: the reset gate and
    the candidate keep their points, and gru_backward (on the reference's step) all of its."""
    row = class_run["rows"][("gru_dz_sign", A5)]
    parts = dict(p.split("=") for p in row["parts"].split(";"))
    assert parts == {"test_gru_reset_gate": "2", "test_gru_update_gate": "0",
                     "test_gru_candidate": "2", "test_gru_dx": "0", "test_gru_dh_prev": "0",
                     "test_gru_backward_params": "1", "test_gru_backward_dxs": "1",
                     "test_gru_backward_dh0": "1", "test_gru_backward_final_state": "1"}, parts
    assert row["score"] == "8" and row["status"] == "ok"
    assert check.MISTAKES["gru_dz_sign"].cause in row["feedback"]
    assert not re.search(r"\d\.\d", row["feedback"])


# nbgrader's own add_submission warns that it builds objects outside its session
@pytest.mark.filterwarnings("ignore:Object of type")
def test_gradebook_export_is_read_back_by_nbgrader(class_run, tmp_path, monkeypatch):
    """export --gradebook into a fresh gradebook.db made by nbgrader's API; nbgrader's
    Gradebook then reads each test cell's score and each submission's total back."""
    from nbgrader.api import Gradebook

    from lstm_teach.grading.export import to_gradebook

    # nbgrader calls `alembic` when it creates a gradebook: the venv's bin must be on PATH
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent) + os.pathsep
                       + os.environ.get("PATH", ""))
    course = tmp_path / "course"
    course.mkdir()
    url = f"sqlite:///{course / 'gradebook.db'}"
    with Gradebook(url) as gb:  # what `nbgrader generate_assignment` records
        for assignment, (notebook, _) in ALL.items():
            gb.add_assignment(assignment)
            name = notebook.removesuffix(".ipynb")
            gb.add_notebook(name, assignment)
            for cell in load("source", assignment, notebook)["cells"]:
                meta = cell["metadata"].get("nbgrader", {})
                if meta.get("grade"):
                    gb.add_grade_cell(meta["grade_id"], name, assignment,
                                      max_score=meta["points"], cell_type="code")
    rows = class_run["rows"]
    n = to_gradebook(class_run["out"] / "grades.csv", course)
    assert n == sum(len([p for p in r["parts"].split(";") if p]) for r in rows.values())
    with Gradebook(url) as gb:
        assert {s.id for s in gb.students} == {s for s, _ in rows}
        for (student, assignment), row in rows.items():
            sub = gb.find_submission(assignment, student)
            assert sub.score == pytest.approx(float(row["score"])), (student, assignment)
            assert sub.max_score == pytest.approx(float(row["max_score"]))
            name = ALL[assignment][0].removesuffix(".ipynb")
            for part in filter(None, row["parts"].split(";")):
                grade_id, score = part.split("=")
                grade = gb.find_grade(grade_id, name, assignment, student)
                assert grade.auto_score == pytest.approx(float(score))
        assert gb.find_submission(A5, "gru_dz_sign").score == pytest.approx(8)


def test_a_later_phase_reveals_nothing_early(class_run):
    """The reference's helpers reach the sandbox (for cell_backward's tests on them) only
    after every result of the helpers' own tests is in: announcing the end of a phase early
    and reading every fd for the next one earns local_gradients nothing, and the rest of the
    notebook is graded as usual."""
    row = class_run["rows"][("phase_thief", "a2_cell_backward")]
    parts = dict(p.split("=") for p in row["parts"].split(";"))
    assert parts.pop("test_local_gradients") == "0", row
    assert set(parts.values()) != {"0"} and row["score"] == "9", row


def test_one_sandbox_per_student_unless_an_edition_held_a_graded_function(tmp_path):
    """All of a student's assignments share a child; without a1's `hide`, a1's edition
    would hold a2's functions, and a2 then starts a new child."""
    specs = grading.load_specs(EXERCISES)

    def units(spec_map, where):
        out = []
        for name, spec in spec_map.items():
            a = runner.prepare(name, spec, {}, tmp_path / where)
            out += [runner._Unit(name, gi, a, [], {}) for gi in range(len(spec.groups))]
        return out

    every = units(specs, "all")
    assert runner._chunk(every, 0) == len(every) == 8
    bare = units({"a1_cell_forward": specs["a1_cell_forward"]._replace(hide=()),
                  "a2_cell_backward": specs["a2_cell_backward"]}, "bare")
    assert runner._chunk(bare, 0) == 1 and runner._chunk(bare, 1) == 3
