"""Time `lstm-teach grade --assignment all` on a simulated class.

    python benchmarks/grading_class.py --students 60
    python benchmarks/grading_class.py --students 300 --workers 2

Builds N students x every assignment of exercises/ in a temporary course: a third submit the
solutions, the others one catalogued mistake per assignment (an edit of the solution), so the
grader also runs its diagnosis. Prints wall-clock seconds per student with the load average
before and after, and the projection for 300 students. With --cpu it grades the class a
second time with --practice (the same child code without bubblewrap, whose sandboxed
processes the kernel does not account to the grader) to measure the CPU seconds per student,
which give the time on idle cores whatever the load. The temporary course is removed
afterwards.
"""

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXERCISES = ROOT / "exercises"

# (assignment, answer cell, text in the solution, the mistake's text): catalogued mistakes
MISTAKES = [
    ("a1_cell_forward", "cell_forward", "c = f * c_prev + i * g", "c = f * h_prev + i * g"),
    ("a1_cell_forward", "cell_forward", "h = o * tanh_c", "h = o * c"),
    ("a2_cell_backward", "local_gradients", "dc_total = dc + dh", "dc_total = dh"),
    ("a2_cell_backward", "weight_gradients", "dwx = dz.T @ x", "dwx = x.T @ dz"),
    ("a2_cell_backward", "hidden_gradient", "dh_prev = dh_prev + local.dzf @ p.whf\n", ""),
    ("a2_cell_backward", "input_gradient", "local.dzo @ p.wxo", "local.dzo @ p.who"),
    ("a3_bptt", "lstm_backward", "total = [a + b for a, b in zip(total, step)]\n        return",
     "total = list(step)\n        return"),
    ("a3_bptt", "lstm_backward", "dxs[s] = dxs[s] + dx", "dxs[s] = dx"),
    ("a4_training", "sgd_step", "a - lr * g", "a + lr * g"),
    ("a5_gru", "gru_cell_backward", "d_z = dh * (h_prev - n)", "d_z = dh * (n - h_prev)"),
    ("a5_gru", "gru_cell_backward", "dh_prev = dh * z + ", "dh_prev = "),
]


def gid(cell):
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def build(course: Path, n: int) -> list:
    specs = {p.stem: p for p in (EXERCISES / "grading").glob("*.toml")}
    assignments = sorted(specs)
    notebooks = {}
    for a in assignments:
        (nb_path,) = list((EXERCISES / "source" / a).glob("*.ipynb"))
        notebooks[a] = (nb_path.name, json.loads(nb_path.read_text(encoding="utf-8")))
    for k in range(n):
        for a in assignments:
            name, nb = notebooks[a]
            mine = [m for m in MISTAKES if m[0] == a]
            if k % 3 and mine:
                _, cell_id, old, new = mine[k % len(mine)]
                nb = json.loads(json.dumps(nb))
                for cell in nb["cells"]:
                    if gid(cell) == cell_id:
                        source = "".join(cell["source"])
                        assert old in source, (a, cell_id, old)
                        cell["source"] = source.replace(old, new, 1)
            folder = course / "submitted" / f"s{k:03d}" / a
            folder.mkdir(parents=True)
            (folder / name).write_text(json.dumps(nb), encoding="utf-8")
    return assignments


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=60)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--cpu", action="store_true",
                        help="also measure CPU seconds (a second run, with --practice)")
    args = parser.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="lstm-teach-bench-"))
    try:
        course = tmp / "course"
        shutil.copytree(EXERCISES, course, ignore=shutil.ignore_patterns("submitted"))
        assignments = build(course, args.students)
        print(f"{args.students} students x {len(assignments)} assignments, "
              f"{os.cpu_count()} cores")
        for practice in (False, True) if args.cpu else (False,):
            cmd = [sys.executable, "-m", "lstm_teach.cli", "grade", "--course", str(course),
                   "--assignment", "all", "--out", str(tmp / f"out-{practice}")]
            cmd += ["--workers", str(args.workers)] if args.workers else []
            cmd += ["--practice"] if practice else []
            load_before = os.getloadavg()
            before, t0 = os.times(), time.perf_counter()
            run = subprocess.run(cmd, capture_output=True, text=True)
            wall, after = time.perf_counter() - t0, os.times()
            load_after = os.getloadavg()
            if run.returncode != 0:
                print(run.stderr, file=sys.stderr)
                return run.returncode
            with open(tmp / f"out-{practice}" / "grades.csv", encoding="utf-8") as fh:
                rows = list(csv.DictReader(fh))
            assert len(rows) == args.students * len(assignments), len(rows)
            for row in rows:  # a timing of a grader that fails the solutions is worthless
                if int(row["student"][1:]) % 3 == 0:
                    assert row["score"] == row["max_score"], row
                assert "timeout" not in row["status"] and "crashed" not in row["status"], row
            per = wall / args.students
            print(f"{'practice (no sandbox)' if practice else 'sandboxed'}: load average "
                  f"{load_before[0]:.1f} before, {load_after[0]:.1f} after; wall {wall:.1f} s, "
                  f"{per:.2f} s per student -> 300 students in {300 * per / 60:.1f} min at "
                  "this load")
            if practice:
                cpu = (after.children_user - before.children_user
                       + after.children_system - before.children_system)
                cores = os.cpu_count() or 1
                print(f"CPU {cpu:.1f} s, {cpu / args.students:.2f} s per student -> 300 "
                      f"students in {300 * cpu / args.students / cores / 60:.1f} min on "
                      f"{cores} idle cores")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
