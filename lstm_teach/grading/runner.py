"""Grading a class: specs, one sandboxed child per student, scores, feedback.

The parent never runs student code. For every submission it draws fresh inputs, computes the
expected values with the reference, runs the child (grading/child.py) inside the sandbox, one
phase per group of each assignment's spec (a student's assignments one after the other, in
one child while no function is graded after an edition that held it), and compares the
arrays that come back quantity by quantity, with a tolerance that honest float64 code meets
and finite differences do not. Rows and feedback files are written as each student
finishes, so a run that is stopped loses at most the students in progress, and running it
again resumes.
"""

import ast
import base64
import builtins
import csv
import io
import json
import os
import re
import secrets
import tempfile
import threading
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .. import check
from .._returns import UnpackError, unpack
from . import edition as ed
from .sandbox import Limits, Sandbox, SandboxUnavailable, check_engine, find_bwrap

# A quantity passes when max|got - expected| <= TOL * max(|expected|), on every draw. Measured
# (tests/test_grading.py::test_tolerance_separates_honest_code_from_finite_differences):
# honest float64 code in other orders of summation stays below 1e-14, central differences
# through the forward pass with the best step stay above 1e-10.
TOL = 1e-12
FIELDS = ["student", "assignment", "score", "max_score", "status", "parts", "feedback"]
_BUILTIN_ERRORS = {name for name, obj in vars(builtins).items()
                   if isinstance(obj, type) and issubclass(obj, BaseException)}


class Part(NamedTuple):
    grade_id: str  # the nbgrader test cell this part stands for
    exercise: str  # lstm_teach.check.EXERCISES key
    function: str  # the name the notebook defines
    points: float
    draws: tuple  # option dicts for exercise.make_inputs; fresh inputs for each
    quantities: tuple = ()  # quantity or group names this part grades (empty: all)

    def wanted(self) -> list:
        """The quantity names this part grades, groups (e.g. "params") expanded."""
        groups = check.EXERCISES[self.exercise].groups
        out = []
        for q in self.quantities:
            out += [n for n in groups.get(q, (q,)) if n not in out]
        return out


class Group(NamedTuple):
    remove: tuple
    provide: str
    parts: tuple


class Spec(NamedTuple):
    name: str
    notebook: str
    keep: tuple
    groups: tuple
    hide: tuple = ()  # "module.function"s left out of every edition, but not graded

    @property
    def parts(self):
        return [p for g in self.groups for p in g.parts]

    @property
    def max_score(self):
        return sum(p.points for p in self.parts)


def load_specs(course: Path) -> dict:
    """assignment -> Spec, from course/grading/<assignment>.toml."""
    out = {}
    for path in sorted((Path(course) / "grading").glob("*.toml")):
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
        groups = []
        for g in raw.get("group", []):
            parts = []
            for p in g.get("part", []):
                if p["exercise"] not in check.EXERCISES:
                    raise ValueError(f"{path.name}: exercise {p['exercise']!r} is not one of "
                                     f"lstm_teach.check.EXERCISES")
                parts.append(Part(p["grade_id"], p["exercise"], p["function"],
                                  float(p["points"]), tuple(p.get("draws", [{}])),
                                  tuple(p.get("quantities", ()))))
            groups.append(Group(tuple(g.get("remove", [])), g.get("provide", ""), tuple(parts)))
        out[path.stem] = Spec(path.stem, raw["notebook"], tuple(raw["keep"]), tuple(groups),
                              tuple(raw.get("hide", ())))
    return out


# ---------------------------------------------------------------- notebooks

class NotebookError(Exception):
    """The submission is not a notebook we can read."""


def read_notebook(path: Path) -> dict:
    try:
        if path.stat().st_size > 20 * 2**20:
            raise NotebookError("the notebook file is larger than 20 MB")
        nb = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise NotebookError(f"not a valid notebook file ({type(exc).__name__})") from None
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


def cells_to_run(release: dict, submitted: dict) -> tuple:
    """(cells the child runs in order, the student's own sources, missing answer cells).

    Order, setup cells and read-only cells come from the release notebook; answer cells (by
    grade_id) and cells the student added come from the submission; test cells are not run.
    """
    theirs, extra_after, last = {}, {None: []}, None
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
    own = [src for _, src in run]
    missing = []
    for cell in release["cells"]:
        meta = _meta(cell)
        gid = meta.get("grade_id")
        if cell.get("cell_type") == "code":
            if meta.get("solution"):
                if gid in theirs:
                    run.append((gid, theirs[gid]))
                    own.append(theirs[gid])
                else:
                    missing.append(gid)
            elif not meta.get("grade"):
                run.append((gid or "setup", _source(cell)))
        if gid:
            run.extend(extra_after.get(gid, []))
            own.extend(src for _, src in extra_after.get(gid, []))
    return [{"label": label, "source": src} for label, src in run], own, missing


# ---------------------------------------------------------------- values to and from the child

def encode(v):
    if isinstance(v, np.ndarray):
        a = np.ascontiguousarray(v)
        return {"a": a.dtype.str, "s": list(a.shape), "d": base64.b64encode(a.tobytes()).decode()}
    if isinstance(v, tuple) and hasattr(v, "_fields"):
        return {"nt": type(v).__name__, "f": {k: encode(x) for k, x in zip(v._fields, v)}}
    if isinstance(v, (list, tuple)):
        return {"l": [encode(x) for x in v]}
    if isinstance(v, np.generic):
        return v.item()
    return v


class Opaque:
    """Something the child could not send as data (its type name is not kept: it could spell
    out the hidden inputs)."""


_DTYPES = {"<f8", "<f4", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8", "|b1"}


def decode(v, depth=0):
    """A returned value from the child's plain data; anything malformed becomes Opaque."""
    if depth > 8:
        return Opaque()
    if isinstance(v, dict):
        if "a" in v:
            shape = v.get("s")
            if (v.get("a") not in _DTYPES or not isinstance(shape, list) or len(shape) > 6
                    or not all(isinstance(n, int) and 0 <= n < 2**31 for n in shape)
                    or not isinstance(v.get("d"), str)):
                return Opaque()
            try:
                raw = base64.b64decode(v["d"], validate=True)
                return np.frombuffer(raw, dtype=np.dtype(v["a"])).reshape(shape).copy()
            except (ValueError, TypeError):
                return Opaque()
        if "nt" in v and isinstance(v["nt"], list) and isinstance(v.get("v"), list):
            names = [str(n) for n in v["nt"]]
            if len(names) != len(v["v"]) or not all(n.isidentifier() for n in names):
                return Opaque()
            from collections import namedtuple

            try:
                cls = namedtuple("Returned", names)
            except ValueError:
                return Opaque()
            return cls(*[decode(x, depth + 1) for x in v["v"]])
        if "l" in v and isinstance(v["l"], list):
            return [decode(x, depth + 1) for x in v["l"]]
        if "m" in v and isinstance(v["m"], dict):
            return {str(k): decode(x, depth + 1) for k, x in v["m"].items()}
        return Opaque()
    if v is None or isinstance(v, (bool, int, float)):
        return v
    return Opaque()


def parse_channel(buf: bytes) -> tuple:
    """(part index -> record, cell index -> (exception type, line)) from the child's output."""
    parts, cells = {}, {}
    for line in buf.split(b"\n"):
        if not line.startswith(b"R "):
            continue
        try:
            rec = json.loads(line[2:])
        except (ValueError, RecursionError):
            continue
        if not isinstance(rec, dict):
            continue
        if isinstance(rec.get("part"), int):  # the first record counts: later code may
            parts.setdefault(rec["part"], rec)  # see the reference's upstream functions
        elif isinstance(rec.get("cell"), int):
            cells[rec["cell"]] = (_error_name(rec.get("exc")), _line(rec.get("line")))
    return parts, cells


def _error_name(name) -> str:
    return name if isinstance(name, str) and name in _BUILTIN_ERRORS else "an exception"


def _line(line) -> int:
    return line if isinstance(line, int) and 0 < line < 100000 else 0


# ---------------------------------------------------------------- judging one call

def _strict_ok(have, want) -> bool:
    have = np.asarray(have)
    if have.shape != want.shape or have.dtype.kind not in "fiu":
        return False
    have = have.astype(np.float64)
    if not np.all(np.isfinite(have)):
        return False
    scale = float(np.max(np.abs(want))) if want.size else 0.0
    return want.size == 0 or float(np.max(np.abs(have - want))) <= TOL * max(scale, 1e-300)


def _cause_texts(name, keys) -> list:
    out = []
    for key in keys:
        if key == "weight_gradient_transposed" and not name.startswith("w"):
            text = "transposed: rows and columns swapped"
        else:
            text = check.MISTAKES[key].cause if key in check.MISTAKES else None
        if text and text not in out:
            out.append(text)
    return out


def _diagnosis(memo, exercise, inputs, got):
    """check.compare's result (the catalogue run on these inputs), once per call."""
    if "result" not in memo:
        with np.errstate(all="ignore"):
            memo["result"] = check.compare(exercise, inputs, got)
    return memo["result"]


def judge(part: Part, inputs: dict, record, memo: dict | None = None) -> tuple:
    """(set of quantities right, the quantities the part grades, feedback text or "") for
    one draw. memo keeps the reference's values and the diagnosis of this call for the
    other parts judged on it."""
    memo = {} if memo is None else memo
    exercise = check.EXERCISES[part.exercise]
    setting = exercise.setting(inputs)
    if "expected" not in memo:
        with np.errstate(all="ignore"):
            memo["expected"] = (exercise.reference(inputs, None) if exercise.reference else
                                {"final loss": np.zeros(())})
    expected = memo["expected"]
    wanted = part.wanted()
    names = [n for n in expected if not wanted or n in wanted]
    if record is None:
        return set(), names, f"{setting}: no result"
    status = record.get("status")
    if status == "missing":
        return set(), names, f"no function named {part.function} was defined"
    if status != "ok":
        line = _line(record.get("line"))
        return set(), names, (f"{setting}: {part.function} raised {_error_name(record.get('exc'))}"
                              + (f" (line {line} of its cell)" if line else ""))
    try:
        if "got" not in memo:
            memo["got"] = unpack(exercise.unpack, decode(record.get("ret")))
        got = memo["got"]
    except UnpackError as exc:
        return set(), names, f"{setting}: {part.function}'s result: {exc}"
    except Exception:  # noqa: BLE001 - whatever came back, it is not a result
        return set(), names, f"{setting}: {part.function}'s result could not be read"
    mutated = [str(m)[:40] for m in record.get("mutated") or [] if isinstance(m, str)][:12]
    if exercise.reference is None:  # judged by its effect, e.g. the loss reached
        result = _diagnosis(memo, exercise, inputs, got)
        ok = result.passed and not mutated
        text = "" if ok else f"{setting}: " + ("; ".join(
            f"{n}: {result.details.get(n, '')}" for n in result.wrong)
            or "changed the arrays it was given")
        return ({"final loss"} if ok else set()), names, text
    right = {n for n in names if n in got and _strict_ok(got[n], np.asarray(expected[n]))}
    if mutated:
        right = set()
    if right == set(names):
        return right, names, ""
    wrong = [n for n in names if n not in right]
    result = _diagnosis(memo, exercise, inputs, got)
    notes = []
    for n in wrong:
        want = np.asarray(expected[n])
        have = got.get(n)
        if have is None:
            notes.append(f"{n}: missing")
            continue
        have = np.asarray(have)
        what = (f"{n}: expected shape {want.shape}, got {have.shape}" if have.shape != want.shape
                else f"{n} (shape {want.shape}) differs")
        causes = _cause_texts(n, result.causes.get(n, []))
        if not causes and n not in result.wrong:
            causes = ["close but not to float64 precision (a numerical approximation, or "
                      "float32?)"]
        notes.append(what + (" - likely cause: " + "; or ".join(causes) if causes else ""))
    if mutated:
        notes.append("changed arrays it was given (" + ", ".join(mutated) + "): no credit")
    return right, names, f"{setting}: " + "; ".join(notes)


# ---------------------------------------------------------------- one submission

class Assignment(NamedTuple):
    """What grading one assignment needs, prepared once per run."""
    spec: Spec
    release: dict
    editions: tuple  # per group: {relative path: source} of the student edition
    graded: tuple  # per group: names that must not exist before it (removed, or graded)
    revealed: tuple  # per group: names its edition and provided code define
    fingerprints: dict


class Context(NamedTuple):
    assignments: dict  # name -> Assignment
    sandbox: Sandbox
    limits: Limits


# lstm_teach's types the child rebuilds from the inputs ("module:Name", "" = the package)
TYPES = ("LSTMParams", "CellCache", "CellGrads", "SeqCache", "StepGrads", "SeqGrads",
         "gru:GRUParams", "gru:GRUCache", "gru:GRUSeqCache", "gru:GRUStepGrads",
         "gru:GRUSeqGrads")


def _types():
    return [t if ":" in t else f":{t}" for t in TYPES]


def _defined(source: str) -> set:
    """Top-level names a module or code snippet defines."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    out = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            out.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            out.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.Assign):
            out.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return out


def prepare(name: str, spec: Spec, release: dict, work: Path) -> Assignment:
    editions, graded, revealed, removed = [], [], [], []
    for gi, group in enumerate(spec.groups):
        pkg = ed.build_edition(work / f"{name}-{gi}", list(spec.keep),
                               list(group.remove) + list(spec.hide))
        files = {str(f.relative_to(pkg)): f.read_text(encoding="utf-8")
                 for f in sorted(pkg.rglob("*.py")) if "__pycache__" not in f.parts}
        editions.append(next((e for e in editions if e == files), files))
        names = set()
        for source in files.values():
            names |= {n for n in _defined(source) if not n.startswith("__")}
        revealed.append(frozenset(names | _defined(group.provide)))
        graded.append(frozenset({r.partition(".")[2] for r in group.remove}
                                | {p.function for p in group.parts}))
        removed += list(group.remove)
    return Assignment(spec, release, tuple(editions), tuple(graded), tuple(revealed),
                      ed.reference_fingerprints(removed))


class _Unit:
    """One group of one assignment for one student: its edition, provided code and calls."""

    def __init__(self, name, gi, assignment, calls, part_calls):
        self.name, self.gi, self.a = name, gi, assignment
        self.group = assignment.spec.groups[gi]
        self.calls = calls  # [{"inputs", "function", "job"}]
        self.part_calls = part_calls  # grade_id -> call indices
        self.records = {}  # call index -> record (or {"status": "failed", "text"})


def _draw_calls(group: Group, rng) -> tuple:
    """Fresh inputs for each draw; parts that test the same function on the same draws
    share the calls (each judges its own quantities of the same results)."""
    calls, part_calls, seen = [], {}, {}
    for part in group.parts:
        exercise = check.EXERCISES[part.exercise]
        key = (part.exercise, part.function, json.dumps(part.draws, sort_keys=True))
        if key not in seen:
            seen[key] = []
            for opts in part.draws:
                inputs = exercise.make_inputs(rng, **opts)
                seen[key].append(len(calls))
                calls.append({"inputs": inputs, "function": part.function, "job": {
                    "function": part.function,
                    "args": [encode(inputs[a]) for a in exercise.args],
                    "kwargs": {a: encode(inputs[a]) for a in exercise.kwargs
                               if inputs.get(a) is not None}}})
        part_calls[part.grade_id] = seen[key]
    return calls, part_calls


def _chunk(units, start) -> int:
    """End of the longest run of units from start that one child may grade: no unit's
    graded names exist in an edition (or provided code) of an earlier unit in the run."""
    seen, end = set(), start
    while end < len(units):
        if end > start and units[end].a.graded[units[end].gi] & seen:
            break
        seen |= units[end].a.revealed[units[end].gi]
        end += 1
    return end


def _run_units(ctx: Context, units: list, cells: dict, deadline: float, flags: dict,
               cell_notes: dict, skips: dict):
    """Run the children until every call of every unit has a record or has failed."""
    lim, sandbox = ctx.limits, ctx.sandbox
    header = json.dumps({"sys_path": sandbox.sys_path, "types": _types()}).encode()
    start, retried = 0, set()
    budget = sum(len(cells[u.name]) + len(u.calls) + 1 for u in units) + 2
    while start < len(units) and budget > 0:
        budget -= 1
        pending = {k: [i for i in range(len(u.calls)) if i not in u.records]
                   for k, u in enumerate(units)}
        if time.monotonic() >= deadline:
            for k in range(start, len(units)):
                for i in pending[k]:
                    units[k].records[i] = {"status": "failed", "text": "not run: the time for "
                                           "this student was used up"}
            break
        end = _chunk(units, start)
        phases, cell_ids, call_ids, phase_calls = [], {}, {}, []
        for k in range(start, end):
            # every unit runs the notebook afresh on its own edition: objects of an earlier
            # edition (its LSTMParams class, say) never meet this one's
            u = units[k]
            msg_cells = []
            for c, cell in enumerate(cells[u.name]):
                if c not in skips[u.name]:
                    cell_ids[len(cell_ids)] = (k, c)
                    msg_cells.append({"id": len(cell_ids) - 1, "source": cell["source"]})
            msg_calls = []
            for i in pending[k]:
                call_ids[len(call_ids)] = (k, i)
                msg_calls.append({"id": len(call_ids) - 1, **u.calls[i]["job"]})
            phase_calls.append({c["id"] for c in msg_calls})
            same = k > start and units[k - 1].a.editions[units[k - 1].gi] is u.a.editions[u.gi]
            phases.append(json.dumps({
                "phase": k - start, "modules": None if same else u.a.editions[u.gi],
                "new_ns": True,
                "cells": msg_cells, "provide": u.group.provide, "calls": msg_calls}).encode())

        def complete(results, p, phase_calls=phase_calls):
            return phase_calls[p] <= results

        outcome, buf, where, finished = sandbox.run(header, phases, deadline, lim.part_seconds,
                                                    lim.cell_seconds, complete)
        got, cell_errs = parse_channel(buf)
        for cid, rec in got.items():
            if cid in call_ids and (outcome == "done" or where != ("part", cid)):
                k, i = call_ids[cid]
                units[k].records.setdefault(i, rec)
        for cid, (exc, line) in cell_errs.items():
            if cid in cell_ids:
                k, c = cell_ids[cid]
                cell_notes[units[k].name][c] = f"raised {exc}" + (f" at line {line}"
                                                                   if line else "")
        if outcome == "done":
            start = end
            continue
        what = {"timeout": "did not finish in time", "too_much_output":
                "sent more output than allowed"}.get(outcome, "ended the Python process")
        at = start + finished  # the unit the child was in
        if where[0] == "cell" and where[1] in cell_ids:
            at, c = cell_ids[where[1]]
            skips[units[at].name].add(c)
            cell_notes[units[at].name][c] = f"{what}; it was skipped"
        elif where[0] == "part" and where[1] in call_ids:
            at, i = call_ids[where[1]]
            u = units[at]
            bad = u.calls[i]["function"]
            for j in pending[at]:
                if j >= i and u.calls[j]["function"] == bad and j not in u.records:
                    u.records[j] = {"status": "failed", "text": f"{bad} {what}"}
        elif where[0] == "phase" and start < at < len(units) and at not in retried:
            retried.add(at)  # it ended between two phases: the next child starts there
        else:
            at = min(at, len(units) - 1)
            for j in pending[at]:
                units[at].records.setdefault(j, {
                    "status": "failed",
                    "text": f"the notebook {what} before the tests could run"})
        flags[units[at].name].add("timeout" if outcome == "timeout" else "crashed")
        # the next child starts at the first unit with calls left; the units before it
        # keep their records
        start = at
        while start < len(units) and len(units[start].records) == len(units[start].calls):
            start += 1
    for u in units:
        for i in range(len(u.calls)):
            u.records.setdefault(i, {"status": "failed", "text": "not run"})


def _score(u: _Unit, copied: dict, flags: set) -> tuple:
    """(grade_id -> score, feedback lines) for one unit: a part's points when every quantity
    it grades is right on every draw, else 0."""
    scores, lines = {}, []
    for part in u.group.parts:
        right, names, notes = None, [], []
        for i in u.part_calls[part.grade_id]:
            rec = u.records.get(i)
            if rec is not None and rec.get("status") == "failed":
                ok, text = set(), rec["text"]
                names = names or part.wanted()
            else:
                ok, names, text = judge(part, u.calls[i]["inputs"], rec,
                                        u.calls[i].setdefault("memo", {}))
            right = ok if right is None else right & ok
            if text and text not in notes:
                notes.append(text)
        score = part.points if names and set(names) <= (right or set()) else 0.0
        if part.function in copied:
            score = 0.0
            flags.add("reference_used")
            notes = [f"no credit: {part.function} {copied[part.function]}"]
        scores[part.grade_id] = score
        head = f"{part.grade_id} ({part.function}): {score:g} / {part.points:g}"
        lines.append(head + ("" if not notes else " - " + " | ".join(notes[:4])))
    return scores, lines


def grade_student(ctx: Context, nb_paths: dict, rng_for) -> dict:
    """assignment -> result ({score, flags, parts, feedback}) for one student; nb_paths maps
    each assignment to the submitted notebook; rng_for(assignment) gives its generator."""
    results, units, cells, own_copied, lines, flags = {}, [], {}, {}, {}, {}
    seconds = 0.0
    lim = ctx.limits
    for name, nb_path in nb_paths.items():
        a = ctx.assignments[name]
        spec = a.spec
        flags[name], lines[name] = set(), []
        try:
            submitted = read_notebook(nb_path)
        except NotebookError as exc:
            results[name] = {"score": 0, "flags": {"invalid_notebook"}, "parts": {},
                             "feedback": [f"{spec.notebook}: {exc}; nothing could be graded"]}
            continue
        run, own, missing = cells_to_run(a.release, submitted)
        if missing:
            flags[name].add("missing_cells")
            lines[name].append(f"missing answer cells (deleted?): {', '.join(map(str, missing))}")
        removed = [r for g in spec.groups for r in g.remove]
        own_copied[name] = ed.reference_use(own, sorted({p.function for p in spec.parts}),
                                            removed, a.fingerprints)
        cells[name] = run
        rng = rng_for(name)
        n_calls = 0
        for gi, group in enumerate(spec.groups):
            calls, part_calls = _draw_calls(group, rng)
            units.append(_Unit(name, gi, a, calls, part_calls))
            n_calls += len(calls)
        seconds += (len(spec.groups) * (lim.startup_seconds + lim.cell_seconds * len(run))
                    + lim.part_seconds * n_calls)
    cell_notes = {name: {} for name in cells}
    skips = {name: set() for name in cells}
    if units:
        _run_units(ctx, units, cells, time.monotonic() + seconds, flags, cell_notes, skips)
    for name in cells:
        scores = {}
        for u in units:
            if u.name == name:
                s, more = _score(u, own_copied[name], flags[name])
                scores.update(s)
                lines[name] += more
        for k in sorted(cell_notes[name]):
            lines[name].append(f"cell {cells[name][k]['label']!r}: {cell_notes[name][k]}")
        if cell_notes[name]:
            flags[name].add("cell_errors")
        results[name] = {"score": round(sum(scores.values()), 2), "flags": flags[name],
                         "parts": scores, "feedback": lines[name]}
    return {name: results[name] for name in nb_paths}


def grade_submission(ctx: Context, name: str, nb_path: Path, rng) -> dict:
    """One assignment of one student (see grade_student)."""
    return grade_student(ctx, {name: nb_path}, lambda _: rng)[name]


# ---------------------------------------------------------------- the class

def _inside(path: Path, folder: Path) -> bool:
    path, folder = Path(os.path.realpath(path)), Path(os.path.realpath(folder))
    return path == folder or folder in path.parents


def course_state(course: Path) -> dict:
    """relative path -> (size, mtime_ns) of every file: enough to see a change."""
    state = {}
    for dirpath, _, filenames in os.walk(course):
        for f in filenames:
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            state[os.path.relpath(p, course)] = (st.st_size, st.st_mtime_ns)
    return state


def default_out(course: Path) -> Path:
    course = Path(course).resolve()
    return course.parent / f"{course.name}-grades"


def _write_atomic(path: Path, text: str):
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def read_rows(csv_path: Path) -> list:
    """The rows of a grades CSV; a last line cut short by a killed run is dropped."""
    if not csv_path.is_file():
        return []
    data = csv_path.read_text(encoding="utf-8")
    if data and not data.endswith("\n"):
        data = data[:data.rfind("\n") + 1]
        with open(csv_path, "w", encoding="utf-8", newline="") as fh:
            fh.write(data)
    rows = list(csv.DictReader(io.StringIO(data)))
    return [r for r in rows if r.get("feedback") is not None]


class _Writer:
    """Appends one CSV row per finished student (one write each) and its feedback file."""

    def __init__(self, out: Path):
        self.csv = out / "grades.csv"
        self.feedback = out / "feedback"
        self.lock = threading.Lock()
        out.mkdir(parents=True, exist_ok=True)
        if not self.csv.is_file() or self.csv.stat().st_size == 0:
            _write_atomic(self.csv, ",".join(FIELDS) + "\r\n")

    def add(self, row: dict, feedback_text: str):
        _write_atomic(self.feedback / row["student"] / f"{row['assignment']}.txt",
                      feedback_text)
        text = io.StringIO()
        csv.DictWriter(text, fieldnames=FIELDS).writerow(row)
        with self.lock:
            fd = os.open(self.csv, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, text.getvalue().encode("utf-8"))
            finally:
                os.close(fd)


_SAFE_NAME = re.compile(r"^[A-Za-z0-9_.@+-]{1,100}$")


def grade(course: Path, assignments, submitted: Path | None = None, out: Path | None = None,
          limits: Limits | None = None, seed=None, workers: int | None = None,
          practice: bool = False, regrade: bool = False, log=print) -> list:
    """Grade every student under submitted/<student>/<assignment>/ for the given assignments.

    Writes out/grades.csv and out/feedback/<student>/<assignment>.txt as each student
    finishes; rows already in out/grades.csv are kept (a rerun resumes) unless regrade.
    Returns all rows of the CSV for these assignments.
    """
    course = Path(course).resolve()
    limits = limits or Limits()
    specs = load_specs(course)
    if isinstance(assignments, str):
        assignments = list(specs) if assignments == "all" else [assignments]
    for name in assignments:
        if name not in specs:
            raise ValueError(f"assignment must be one of {', '.join(specs) or '(none)'} "
                             f"(the specs in {course / 'grading'}); got {name!r}")
    submitted = Path(submitted) if submitted else course / "submitted"
    if not submitted.is_absolute() and not submitted.is_dir():
        submitted = course / submitted
    submitted = submitted.resolve()
    if not submitted.is_dir():
        raise ValueError(f"no folder of submissions at {submitted}")
    out = Path(out).resolve() if out else default_out(course)
    if _inside(out, course):
        raise ValueError(f"the output folder {out} lies inside the course folder {course}; "
                         f"choose one outside it (default: {default_out(course)})")
    bwrap = None
    if not practice:
        try:
            bwrap = check_engine(find_bwrap())
        except SandboxUnavailable as exc:
            raise SandboxUnavailable(f"refusing to grade for marks without the sandbox: {exc}."
                                     " For practice grading without isolation, use "
                                     "--practice.") from None
    if regrade and (out / "grades.csv").is_file():
        (out / "grades.csv").unlink()
    done = {(r["student"], r["assignment"]) for r in read_rows(out / "grades.csv")}
    writer = _Writer(out)
    before = course_state(course)
    rng_seed = secrets.randbits(128) if seed is None else seed
    work = Path(tempfile.mkdtemp(prefix=f"lstm-teach-grade-{os.getpid()}-"))
    _clean_stale(work.parent)
    child = Path(__file__).with_name("child.py")
    try:
        prepared = {}
        for name in assignments:
            spec = specs[name]
            release = None
            for folder in ("release", "source"):
                p = course / folder / name / spec.notebook
                if p.is_file():
                    release = read_notebook(p)
                    break
            if release is None:
                raise ValueError(f"no {spec.notebook} under {course}/release/{name}")
            prepared[name] = prepare(name, spec, release, work)
        ctx = Context(prepared, Sandbox(bwrap, child, limits), limits)
        jobs = []
        students = sorted(p for p in submitted.iterdir() if p.is_dir())
        for k, student_dir in enumerate(students):
            todo = [name for name in assignments if (student_dir.name, name) not in done]
            if todo:
                jobs.append((k, student_dir, todo))

        def one(job):
            k, student_dir, todo = job
            student = student_dir.name
            results, paths = {}, {}
            for name in todo:
                nb_path = student_dir / name / specs[name].notebook
                if not _SAFE_NAME.match(student):
                    results[name] = {"score": 0, "flags": {"invalid_student_name"},
                                     "parts": {}, "feedback": ["the student folder's name is "
                                                               "not a plain name"]}
                elif not nb_path.is_file():
                    results[name] = {"score": 0, "flags": {"no_submission"}, "parts": {},
                                     "feedback": [f"no {name}/{specs[name].notebook} "
                                                  "submitted"]}
                else:
                    paths[name] = nb_path
            if paths:
                results.update(grade_student(ctx, paths, lambda name: np.random.default_rng(
                    [rng_seed, k, assignments.index(name)])))
            if not _SAFE_NAME.match(student):
                student = re.sub(r"[^A-Za-z0-9_.@+-]", "_", student)[:100] or "_"
            rows = []
            for name in todo:
                result, spec = results[name], specs[name]
                if practice:
                    result["flags"].add("practice")
                status = ";".join(sorted(result["flags"])) or "ok"
                row = {"student": student, "assignment": name,
                       "score": f"{result['score']:g}", "max_score": f"{spec.max_score:g}",
                       "status": status,
                       "parts": ";".join(f"{g}={s:g}" for g, s in result["parts"].items()),
                       "feedback": " / ".join(result["feedback"])}
                text = (f"{name} ({spec.notebook}), {student}: {result['score']:g} / "
                        f"{spec.max_score:g} points\n\n" + "\n".join(result["feedback"])
                        + "\n")
                writer.add(row, text)
                log(f"{student:20s} {name}: {row['score']} / {row['max_score']}  [{status}]")
                rows.append(row)
            return rows

        n = workers or max(1, min(len(jobs), os.cpu_count() or 1))
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(one, jobs))
    finally:
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    after = course_state(course)
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        log(f"note: the course folder changed while grading ({len(changed)} files, e.g. "
            f"{', '.join(changed[:5])}); submissions cannot reach it, so no student is flagged, "
            "and nothing was undone")
    return [r for r in read_rows(out / "grades.csv") if r["assignment"] in assignments]


def _clean_stale(tmp: Path):
    """Remove work folders of earlier runs whose grader no longer exists (killed with -9)."""
    for path in tmp.glob("lstm-teach-grade-*-*"):
        try:
            pid = int(path.name.split("-")[3])
        except (ValueError, IndexError):
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            import shutil

            shutil.rmtree(path, ignore_errors=True)
