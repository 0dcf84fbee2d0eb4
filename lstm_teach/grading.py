"""Grading that a submission cannot talk its way around: `lstm-teach grade`.

nbgrader runs its hidden tests inside the student's own kernel, so the student's code can
change what the tests see (patch numpy.allclose, rewrite later cells, write into the
gradebook). Here the roles are split:

- the student's code runs only in child processes (lstm_teach/_sandbox.py), one per notebook,
  with limits on time, memory and file size, a scratch working directory, writes allowed
  only there (Linux Landlock, where the kernel has it), and an lstm_teach in which the
  functions the assignment asks for are switched off;
- this process never runs student code: it draws fresh random inputs for every run, computes
  the expected values with the reference, decodes the arrays the child returns (JSON, no
  pickle) and compares them with lstm_teach.check.compare;
- the tests are the grader's (ASSIGNMENTS below), not the notebook's: deleted or edited test
  cells change nothing;
- a function that is, wraps, or re-executes lstm_teach's own implementation gets no credit
  (its origin, and the fingerprints of all code it ran, are compared with the reference's);
- the course folder is fingerprinted before grading and checked after every notebook; a
  change is undone and reported.
"""

import ast
import csv
import hashlib
import importlib
import inspect
import json
import os
import re
import resource
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import numpy as np

from . import check
from ._sandbox import code_fingerprint, decode_array, encode_value


class Part(NamedTuple):
    grade_id: str  # the nbgrader test cell this part stands for
    exercise: str  # lstm_teach.check.EXERCISES key
    function: str  # name the notebook must define
    points: int
    options: dict = {}
    draws: int = 2  # fresh input sets; every one must pass


class Assignment(NamedTuple):
    notebook: str
    parts: tuple
    switched_off: dict  # module -> "*" (every function) or names; "*" -> names in any module
    unavailable: tuple = ()  # modules replaced by an empty stub


_CELL = {"batch": 5, "input_size": 2, "hidden_size": 3}
ASSIGNMENTS = {
    "a1_cell_forward": Assignment("cell_forward.ipynb", (
        Part("test_cell_forward", "cell_forward", "cell_forward", 2),
        Part("test_cell_forward_shapes", "cell_forward", "cell_forward", 2, _CELL),
    ), {"cell": "*", "sequence": "*", "fast": "*", "gradcheck": "*"}),
    "a2_cell_backward": Assignment("cell_backward.ipynb", (
        Part("test_local_gradients", "local_gradients", "local_gradients", 3),
        Part("test_weight_gradients", "weight_gradients", "weight_gradients", 2),
        Part("test_hidden_gradient", "hidden_gradient", "hidden_gradient", 2),
        Part("test_cell_backward", "cell_backward", "cell_backward", 3, _CELL),
    ), {"cell": ("local_gradients", "weight_gradients", "hidden_gradient", "cell_backward"),
        "sequence": "*", "fast": "*", "gradcheck": "*"}),
    "a3_bptt": Assignment("bptt.ipynb", (
        Part("test_lstm_backward", "lstm_backward", "lstm_backward", 4,
             {"seq_len": 5, "batch": 3, "input_size": 2, "hidden_size": 4}),
        Part("test_lstm_backward_truncated", "lstm_backward", "lstm_backward", 2,
             {"seq_len": 5, "batch": 2, "input_size": 3, "hidden_size": 2, "truncate": 2}),
    ), {"sequence": ("lstm_backward", "_backward_full", "_backward_truncated"), "fast": "*",
        "gradcheck": "*"}),
    "a4_training": Assignment("training.ipynb", (
        Part("test_sgd_step", "sgd_step", "sgd_step", 2),
        Part("test_train", "train", "train", 3),
        Part("test_train_to_loss", "train_to_loss", "train", 2, {}, 1),
    ), {"*": ("sgd_step", "train")}, ("optim", "train")),
}
# Never in the student edition: they hold reference answers, or the grader itself.
ALWAYS_UNAVAILABLE = ("check", "grading", "cli", "_sandbox")


class Limits(NamedTuple):
    cell_seconds: float = 10.0  # one notebook cell
    part_seconds: float = 30.0  # one call of a graded function
    startup_seconds: float = 60.0  # interpreter, numpy and lstm_teach imports
    memory_bytes: int = 2 * 2**30  # address space of the child
    file_bytes: int = 64 * 2**20  # largest file the child may write
    landlock: bool = True  # child writes only to its scratch folder, cannot read the course
    # or the real lstm_teach (Linux >= 5.13; elsewhere changes are found and undone after)


# ---------------------------------------------------------------- the student edition

_UNAVAILABLE = '''"""lstm_teach.{name} is not available while an assignment is graded."""


def __getattr__(name):
    raise AttributeError("lstm_teach.{name} is not available while an assignment is graded")
'''


def _stub_body(qualified: str) -> list:
    return ast.parse(
        "import lstm_teach as _lt_grading\n"
        f"_lt_grading._switched_off_calls.append({qualified!r})\n"
        f"raise NotImplementedError('lstm_teach.{qualified} is switched off while this "
        "assignment is graded: the exercise is to write it yourself')\n").body


def _switched_off_names(assignment: Assignment, module: str):
    names = assignment.switched_off.get(module, ())
    if names == "*":
        return "*"
    return set(names) | set(assignment.switched_off.get("*", ()))


def _switch_off(source: str, module: str, names) -> str:
    tree = ast.parse(source)
    for node in tree.body:
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        if module == "__init__" and node.name == "__getattr__":
            continue  # the lazy loader of submodules
        if names == "*" or node.name in names:
            doc = node.body[:1] if ast.get_docstring(node) is not None else []
            node.body = doc + _stub_body(f"{module}.{node.name}")
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def build_student_edition(dest: Path, assignment: Assignment) -> Path:
    """Write dest/lstm_teach: the package with the assignment's functions switched off."""
    src = Path(check.__file__).parent
    pkg = dest / "lstm_teach"
    pkg.mkdir(parents=True)
    skip = ("__pycache__", ".ipynb_checkpoints")
    for path in sorted(src.iterdir()):
        if path.name in skip:
            continue
        if path.is_dir():
            shutil.copytree(path, pkg / path.name, ignore=shutil.ignore_patterns(*skip))
            continue
        if path.suffix != ".py":
            shutil.copy2(path, pkg / path.name)
            continue
        stem = path.stem
        if stem in ALWAYS_UNAVAILABLE or stem in assignment.unavailable:
            text = _UNAVAILABLE.format(name=stem)
        else:
            text = path.read_text(encoding="utf-8")
            names = _switched_off_names(assignment, stem)
            if names:
                text = _switch_off(text, stem, names)
            if stem == "__init__":
                text += "\n_switched_off_calls = []\n"
        (pkg / path.name).write_text(text, encoding="utf-8")
    return pkg


def forbidden_fingerprints(assignment: Assignment) -> dict:
    """Fingerprint -> name of every reference function the students must not run."""
    found = {}
    src = Path(check.__file__).parent
    for path in sorted(src.glob("*.py")):
        stem = path.stem
        if stem in ("__init__", "_sandbox", "grading", "cli", "_validate", "plots"):
            continue
        if stem in ("check",) or stem in assignment.unavailable:
            names = "*"
        else:
            names = _switched_off_names(assignment, stem)
        if not names:
            continue
        try:
            module = importlib.import_module(f"lstm_teach.{stem}")
        except ImportError:
            continue
        for name, obj in vars(module).items():
            if (inspect.isfunction(obj) and obj.__module__ == module.__name__
                    and (names == "*" or name in names)):
                found[code_fingerprint(obj.__code__)] = f"{stem}.{name}"
    return found


# ---------------------------------------------------------------- notebooks

class NotebookError(Exception):
    """The submission is not a notebook we can read."""


def _read_notebook(path: Path) -> dict:
    try:
        if path.stat().st_size > 50 * 2**20:
            raise NotebookError("the notebook file is larger than 50 MB")
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise NotebookError(f"not a valid notebook file ({type(exc).__name__}: "
                            f"{str(exc)[:120]})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError("not a valid notebook file (no list of cells)")
    return nb


def _source(cell) -> str:
    src = cell.get("source", "") if isinstance(cell, dict) else ""
    return "".join(str(s) for s in src) if isinstance(src, list) else str(src)


def _meta(cell) -> dict:
    meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
    nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
    return nbg if isinstance(nbg, dict) else {}


def cells_to_run(release: dict, submitted: dict) -> tuple[list, list]:
    """The code the child runs, in order, and the solution cells that were missing.

    From the release notebook (the grader's copy) come the order, the setup cells and the
    test cells, which are not run at all: the grader tests. From the submission come the
    solution cells (by grade_id) and any code cells the student added.
    """
    theirs = {}
    extra_after = {None: []}  # grade_id of the preceding known cell -> student's own cells
    last = None
    release_ids = {_meta(c).get("grade_id") for c in release["cells"]} - {None}
    for n, cell in enumerate(submitted["cells"]):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        gid = _meta(cell).get("grade_id")
        if gid in release_ids:
            theirs[gid] = _source(cell)
            last = gid
            extra_after.setdefault(gid, [])
        else:
            extra_after.setdefault(last, []).append((f"added cell {n}", _source(cell)))
    run = list(extra_after.get(None, []))
    missing = []
    for cell in release["cells"]:
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if cell.get("cell_type") == "code":
            if meta.get("solution"):
                if gid in theirs:
                    run.append((gid, theirs[gid]))
                else:
                    missing.append(gid)
            elif not meta.get("grade"):
                run.append((gid or "setup", _source(cell)))
        run.extend(extra_after.get(gid, []) if gid else [])
    return [{"label": label, "source": src} for label, src in run], missing


# ---------------------------------------------------------------- the course folder

def tree_state(root: Path) -> dict:
    """relative path -> (sha256, mode, mtime_ns) for every file; folders as None."""
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            state[os.path.relpath(os.path.join(dirpath, d), root)] = None
        for f in filenames:
            path = os.path.join(dirpath, f)
            st = os.lstat(path)
            with open(path, "rb") as fh:
                digest = hashlib.sha256(fh.read()).hexdigest()
            state[os.path.relpath(path, root)] = (digest, st.st_mode, st.st_mtime_ns)
    return state


class CourseGuard:
    """Remembers the course folder and puts it back if a submission changed it."""

    def __init__(self, root: Path):
        self.root = root
        self.state = tree_state(root)
        self.content = {}
        for rel, info in self.state.items():
            if info is not None:
                self.content[rel] = (root / rel).read_bytes()

    def restore_if_changed(self) -> list:
        now = tree_state(self.root)
        if now == self.state:
            return []
        changed = sorted(set(now) ^ set(self.state)
                         | {k for k in now if k in self.state and now[k] != self.state[k]})
        for rel in sorted(set(now) - set(self.state), key=len, reverse=True):
            path = self.root / rel
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        for rel, info in sorted(self.state.items(), key=lambda kv: len(kv[0])):
            path = self.root / rel
            if info is None:
                path.mkdir(exist_ok=True)
            elif now.get(rel) != info:
                if path.is_symlink() or path.is_dir():
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
                path.write_bytes(self.content[rel])
                os.chmod(path, info[1] & 0o7777)
                os.utime(path, ns=(info[2], info[2]))
        return changed


# ---------------------------------------------------------------- running the child

def _child_sys_path(lib: Path) -> list:
    """The child's import path: the student edition, then the standard library and installed
    packages, but no folder that holds the real lstm_teach outside site-packages."""
    out = [str(lib)]
    for entry in sys.path:
        if not entry or not os.path.isdir(entry):
            continue
        real = os.path.isfile(os.path.join(entry, "lstm_teach", "cell.py"))
        if real and "-packages" not in entry:
            continue
        if entry not in out:
            out.append(entry)
    return out


def _limit(limits: Limits, cpu_seconds: int):
    def apply():  # in the child, between fork and exec
        for which, value in ((resource.RLIMIT_AS, limits.memory_bytes),
                             (resource.RLIMIT_CPU, cpu_seconds),
                             (resource.RLIMIT_FSIZE, limits.file_bytes),
                             (resource.RLIMIT_CORE, 0)):
            try:
                resource.setrlimit(which, (value, value))
            except (ValueError, OSError):  # e.g. macOS refuses RLIMIT_AS; the others still hold
                pass
    return apply


def _run_child(scratch: Path, job: dict, limits: Limits, budget: float):
    """Start one child and follow what it reports, as a generator.

    Yields ("event", dict) for each protocol line (the caller sends back the next deadline,
    a time.monotonic() value), then exactly one of ("done", None), ("timeout", None) or
    ("died", description). Closing the generator kills the child's whole process group.
    """
    (scratch / "job.json").write_text(json.dumps(job), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(scratch), "LANG": "C.UTF-8",
           "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MPLBACKEND": "Agg", "MPLCONFIGDIR": str(scratch / ".mpl"), "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [sys.executable, "-I", "-S", "-B", str(scratch / "_lt_child.py"),
         str(scratch / "job.json")],
        cwd=scratch, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL, start_new_session=True,
        preexec_fn=_limit(limits, int(budget) + 10))
    buf = b""
    deadline = time.monotonic() + limits.startup_seconds
    try:
        while True:
            timeout = deadline - time.monotonic()
            if timeout <= 0:
                yield "timeout", None
                return
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 1 << 16)
            if not chunk:  # the child closed its output: it ended, or is about to
                try:
                    code = proc.wait(timeout=max(deadline - time.monotonic(), 0.1))
                except subprocess.TimeoutExpired:
                    yield "timeout", None
                    return
                what = f"killed by signal {-code}" if code < 0 else f"exit status {code}"
                yield "died", what
                return
            buf += chunk
            if len(buf) > 256 * 2**20:
                yield "died", "sent more than 256 MB"
                return
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                try:
                    event = json.loads(line)
                except Exception:  # ValueError, RecursionError: not a line of ours
                    event = None
                if not isinstance(event, dict):
                    continue  # not ours: ignored
                deadline = yield "event", event
                if event.get("event") == "done":
                    yield "done", None
                    return
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()
        proc.stdout.close()


def _hidden_paths(course: Path, sys_path: list) -> list:
    """What the child may not read: the course (it holds the solutions) and the real
    lstm_teach, unless that would hide the interpreter or an import folder."""
    needed = [os.path.realpath(p) for p in sys_path + [sys.prefix, sys.base_prefix]]
    out = []
    for path in (course, Path(check.__file__).parent):
        real = os.path.realpath(path)
        if not any(n == real or n.startswith(real + os.sep) for n in needed):
            out.append(real)
    return out


def _run_notebook(cells: list, parts: list, assignment: Assignment, limits: Limits,
                  forbidden: dict, course: Path | None = None) -> tuple[dict, dict, list]:
    """Run the child (again, skipping what hung or crashed) until every part has a result.

    Returns (part_id -> child's part_end event or a synthetic failure, cell errors, flags).
    """
    results, cell_errors, flags = {}, {}, []
    skip_cells = set()
    landlock_seen = None
    for _attempt in range(len(cells) + len(parts) + 2):
        todo = [p for p in parts if p["id"] not in results]
        todo_ids = {p["id"] for p in todo}
        if not todo:
            break
        scratch = Path(tempfile.mkdtemp(prefix="lstm-teach-grade-"))
        try:
            build_student_edition(scratch / "lib", assignment)
            shutil.copy2(Path(__file__).with_name("_sandbox.py"), scratch / "_lt_child.py")
            sys_path = _child_sys_path(scratch / "lib")
            job = {"cells": cells, "skip_cells": sorted(skip_cells), "parts": todo,
                   "sys_path": sys_path, "log": str(scratch / "output.log"),
                   "landlock": limits.landlock,
                   "hidden": _hidden_paths(course, sys_path[1:]) if course else []}
            budget = (limits.startup_seconds + limits.cell_seconds * len(cells)
                      + limits.part_seconds * len(todo))
            runner = _run_child(scratch, job, limits, budget)
            where = ("startup", None)
            outcome, detail = None, None
            message = next(runner)
            while True:
                kind, payload = message
                if kind != "event":
                    outcome, detail = kind, payload
                    break
                ev = payload.get("event")
                deadline = time.monotonic() + limits.part_seconds
                if ev == "ready":
                    landlock_seen = bool(payload.get("landlock"))
                    where = ("between", None)
                elif ev == "cell_start" and isinstance(payload.get("index"), int):
                    where = ("cell", payload["index"])
                    deadline = time.monotonic() + limits.cell_seconds
                elif ev == "cell_end" and isinstance(payload.get("index"), int):
                    if payload.get("error") and 0 <= payload["index"] < len(cells):
                        cell_errors[payload["index"]] = str(payload["error"])[:300]
                    where = ("between", None)
                elif ev in ("part_start", "part_end"):
                    pid = payload.get("part")
                    if not isinstance(pid, str) or pid not in todo_ids:
                        pass  # not a part we asked for: ignored
                    elif ev == "part_start":
                        where = ("part", pid)
                    elif where == ("part", pid):
                        results[pid] = _clean(payload)
                        where = ("between", None)
                message = runner.send(deadline)
            runner.close()
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        if outcome == "done":
            break
        what = ("did not finish within the time limit" if outcome == "timeout"
                else f"ended the Python process ({detail})")
        flags.append("timeout" if outcome == "timeout" else "crashed")
        if where[0] == "cell" and 0 <= where[1] < len(cells):
            skip_cells.add(where[1])
            cell_errors[where[1]] = f"this cell {what}; it was skipped"
        elif where[0] == "part":
            failed = next((p for p in todo if p["id"] == where[1]), None)
            if failed is None:
                break
            results[failed["id"]] = {"status": "failed", "error": f"{failed['function']} {what}"}
            for p in todo:  # the same function would only do it again
                if p["function"] == failed["function"] and p["id"] not in results:
                    results[p["id"]] = {"status": "failed",
                                        "error": f"not run: {failed['function']} {what} "
                                                 f"on an earlier test"}
        else:
            for p in todo:
                results.setdefault(p["id"], {"status": "failed",
                                             "error": f"the grading process {what} before "
                                                      f"the tests (at {where[0]})"})
            break
    if landlock_seen is False and limits.landlock:
        flags.append("no_landlock")
    return results, cell_errors, flags


_DECIMAL = re.compile(r"-?\d*\.\d+(?:[eE][-+]?\d+)?|-?\d+[eE][-+]?\d+")


def _clean(event: dict) -> dict:
    """A child's part_end event, reduced to fields of the expected types (it is untrusted)."""
    def strings(value, limit):
        return [str(v)[:200] for v in value][:limit] if isinstance(value, list) else []

    origin = event.get("origin")
    return {"status": str(event.get("status"))[:20],
            "error": str(event.get("error"))[:1000] if event.get("error") else None,
            "outputs": event.get("outputs") if isinstance(event.get("outputs"), dict) else None,
            "mutated": strings(event.get("mutated"), 12),
            "fingerprints": strings(event.get("fingerprints"), 100000),
            "switched_off": strings(event.get("switched_off"), 20),
            "origin": {k: str(v)[:1000] for k, v in origin.items()}
            if isinstance(origin, dict) else {},
            "tampered": event.get("tampered") is True}


def _judge(part_def: dict, event: dict, forbidden: dict) -> tuple[bool, str, list]:
    """Whether one call passed, what to tell the student, and flags for the instructor."""
    exercise = check.EXERCISES[part_def["exercise"]]
    status = event.get("status")
    origin = event.get("origin") or {}
    fingerprints = event.get("fingerprints") or []
    used = sorted({forbidden[f] for f in fingerprints if f in forbidden}
                  | ({forbidden[origin.get("fingerprint")]}
                     if origin.get("fingerprint") in forbidden else set()))
    module = str(origin.get("module", ""))
    filename = str(origin.get("filename", ""))
    if (used or event.get("switched_off") or module.split(".")[0] == "lstm_teach"
            or "lstm_teach" in Path(filename).parts):
        names = used or event.get("switched_off") or [module or filename]
        return False, ("no credit: the function uses lstm_teach's own implementation "
                       f"({', '.join(str(n) for n in names)[:200]})"), ["reference_used"]
    if status != "ok":
        error = str(event.get("error") or status)[:300]
        if status == "error":
            # the message may quote the hidden inputs: keep its words and shapes, not values
            error = _DECIMAL.sub("...", error)
            error = f"{part_def['function']} raised {error}"
            if error.endswith("NotImplementedError: "):
                error = error[:-2] + " (is the answer cell still the stub?)"
        return False, error, []
    if event.get("tampered"):
        return False, "no credit: the function interfered with the grader", ["tampered"]
    try:
        got = {str(k): decode_array(v) for k, v in (event.get("outputs") or {}).items()}
    except Exception:  # whatever the child sent, it is not a result
        return False, "the results could not be read", ["protocol"]
    mutated = [str(m) for m in (event.get("mutated") or [])][:12]
    result = check.compare(exercise, part_def["inputs"], got, mutated=mutated)
    return result.passed, result.feedback(), []


def grade_submission(nb_path: Path, release_nb: dict, assignment: Assignment,
                     limits: Limits, rng, forbidden: dict, course: Path | None = None) -> dict:
    """Grade one student's notebook; returns score, max_score, status flags and feedback."""
    max_score = sum(p.points for p in assignment.parts)
    lines, flags = [], []
    try:
        submitted = _read_notebook(nb_path)
    except NotebookError as exc:
        return {"score": 0, "max_score": max_score, "flags": ["invalid_notebook"],
                "feedback": [f"{assignment.notebook}: {exc}; nothing could be graded"]}
    cells, missing = cells_to_run(release_nb, submitted)
    if missing:
        flags.append("missing_cells")
        lines.append(f"missing answer cells (deleted?): {', '.join(missing)}")
    parts, by_id = [], {}
    for part in assignment.parts:
        exercise = check.EXERCISES[part.exercise]
        for k in range(part.draws):
            inputs = exercise.make_inputs(rng, **part.options)
            pid = f"{part.grade_id}#{k}"
            parts.append({"id": pid, "function": part.function,
                          "args": [encode_value(inputs[a]) for a in exercise.args],
                          "kwargs": {a: encode_value(inputs[a]) for a in exercise.kwargs},
                          "unpack": exercise.unpack})
            by_id[pid] = {"exercise": part.exercise, "inputs": inputs}
    results, cell_errors, run_flags = _run_notebook(cells, parts, assignment, limits, forbidden,
                                                    course)
    flags += run_flags
    for index, error in sorted(cell_errors.items()):
        lines.append(f"cell {cells[index]['label']!r}: {error}")
    if cell_errors:
        flags.append("cell_errors")
    score = 0
    for part in assignment.parts:
        passed, notes = True, []
        for k in range(part.draws):
            pid = f"{part.grade_id}#{k}"
            event = results.get(pid, {"status": "failed", "error": "no result"})
            ok, text, extra = _judge({"id": pid, "function": part.function, **by_id[pid]},
                                     event, forbidden)
            flags += extra
            if not ok:
                passed = False
                if text not in notes:
                    notes.append(text)
        got = part.points if passed else 0
        score += got
        lines.append(f"{part.grade_id} ({part.function}): {got} / {part.points}"
                     + ("" if passed else " - " + " | ".join(notes)))
    return {"score": score, "max_score": max_score,
            "flags": sorted(set(flags)), "feedback": lines}


def grade(course: Path, assignment_name: str, submitted: Path | None = None,
          csv_path: Path | None = None, feedback_dir: Path | None = None,
          limits: Limits | None = None, seed=None, log=print) -> list:
    """Grade every student under submitted/<student>/<assignment>/ and write the CSV.

    The course folder is only read (and put back as it was if a submission changed it).
    Returns the rows written to the CSV.
    """
    course = Path(course).resolve()
    limits = limits or Limits()
    if assignment_name not in ASSIGNMENTS:
        raise ValueError(f"assignment must be one of {', '.join(ASSIGNMENTS)}; "
                         f"got {assignment_name!r}")
    assignment = ASSIGNMENTS[assignment_name]
    if submitted is None:
        submitted = course / "submitted"
    elif not Path(submitted).is_absolute() and not Path(submitted).is_dir():
        submitted = course / submitted  # a SUBDIR of the course, like nbgrader's own
    submitted = Path(submitted).resolve()
    release_path = None
    for folder in ("release", "source"):
        candidate = course / folder / assignment_name / assignment.notebook
        if candidate.is_file():
            release_path = candidate
            break
    if release_path is None:
        raise ValueError(f"no {assignment.notebook} under {course}/release/{assignment_name}")
    release_nb = _read_notebook(release_path)
    if not submitted.is_dir():
        raise ValueError(f"no folder of submissions at {submitted}")
    guard = CourseGuard(course)
    rng = np.random.default_rng(secrets.randbits(128) if seed is None else seed)
    forbidden = forbidden_fingerprints(assignment)
    rows, no_landlock = [], False
    for student_dir in sorted(p for p in submitted.iterdir() if p.is_dir()):
        student = student_dir.name
        nb_path = student_dir / assignment_name / assignment.notebook
        if not nb_path.is_file():
            result = {"score": 0, "max_score": sum(p.points for p in assignment.parts),
                      "flags": ["no_submission"],
                      "feedback": [f"no {assignment_name}/{assignment.notebook} submitted"]}
        else:
            result = grade_submission(nb_path, release_nb, assignment, limits, rng, forbidden,
                                      course)
        changed = guard.restore_if_changed()
        if changed:
            result["flags"] = sorted(set(result["flags"]) | {"course_modified"})
            result["feedback"].append("the submission changed files of the course folder; "
                                      "the change was undone")
        no_landlock = no_landlock or "no_landlock" in result["flags"]
        status = ";".join(f for f in result["flags"] if f != "no_landlock") or "ok"
        row = {"student": student, "assignment": assignment_name, "score": result["score"],
               "max_score": result["max_score"], "status": status,
               "feedback": " / ".join(result["feedback"])}
        rows.append(row)
        log(f"{student:20s} {assignment_name}: {result['score']} / {result['max_score']}"
            f"  [{status}]")
        if feedback_dir is not None:
            out = Path(feedback_dir) / student
            out.mkdir(parents=True, exist_ok=True)
            (out / f"{assignment_name}.txt").write_text(
                f"{assignment_name} ({assignment.notebook}), {student}: "
                f"{result['score']} / {result['max_score']} points\n\n"
                + "\n".join(result["feedback"]) + "\n", encoding="utf-8")
    if no_landlock:
        log("note: this kernel has no Landlock; writes were checked and undone after the fact")
    if csv_path is not None:
        with open(csv_path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["student", "assignment", "score",
                                                    "max_score", "status", "feedback"])
            writer.writeheader()
            writer.writerows(rows)
    return rows
