"""The `lstm-teach` command line.

    lstm-teach grade --course exercises --assignment all
    lstm-teach export --course exercises --moodle grades-moodle.csv
"""

import argparse
import sys
from pathlib import Path


def _grade(args) -> int:
    from .grading import Limits, SandboxUnavailable, grade

    limits = Limits(cell_seconds=args.cell_timeout, part_seconds=args.timeout,
                    memory_bytes=int(args.memory * 2**20))
    try:
        rows = grade(Path(args.course), args.assignment,
                     Path(args.submitted) if args.submitted else None,
                     Path(args.out) if args.out else None, limits, seed=args.seed,
                     workers=args.workers, practice=args.practice, regrade=args.regrade)
    except SandboxUnavailable as exc:
        print(f"lstm-teach grade: {exc}", file=sys.stderr)
        return 3
    from .grading import default_out

    out = Path(args.out) if args.out else default_out(Path(args.course))
    print(f"{len(rows)} rows in {out / 'grades.csv'}; feedback in {out / 'feedback'}")
    return 0


def _export(args) -> int:
    from .grading import default_out
    from .grading.export import to_gradebook, to_moodle

    out = Path(args.out) if args.out else default_out(Path(args.course))
    if args.moodle:
        n = to_moodle(out / "grades.csv", Path(args.moodle))
        print(f"wrote {n} students to {args.moodle}")
    if args.gradebook:
        n = to_gradebook(out / "grades.csv", Path(args.course))
        print(f"wrote {n} scores into {Path(args.course) / 'gradebook.db'}")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lstm-teach", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade nbgrader submissions, each in its own sandbox")
    g.add_argument("--course", required=True, help="the nbgrader course folder (exercises/)")
    g.add_argument("--assignment", required=True,
                   help="assignment name, e.g. a1_cell_forward, or 'all'")
    g.add_argument("--submitted", help="folder of <student>/<assignment>/*.ipynb, a path or a "
                                       "sub-folder of COURSE (default: COURSE/submitted)")
    g.add_argument("--out", help="folder for grades.csv and feedback/ (default: "
                                 "COURSE-grades next to the course; never inside it)")
    g.add_argument("--timeout", type=float, default=30.0,
                   help="seconds for one call of a graded function (default 30)")
    g.add_argument("--cell-timeout", type=float, default=10.0,
                   help="seconds for one notebook cell (default 10)")
    g.add_argument("--memory", type=float, default=2048,
                   help="memory limit of each process in the sandbox, MB (default 2048)")
    g.add_argument("--workers", type=int, default=None,
                   help="students graded at once (default: one per core)")
    g.add_argument("--seed", type=int, default=None,
                   help="seed for the test inputs (default: fresh ones every run)")
    g.add_argument("--regrade", action="store_true",
                   help="start again instead of resuming the rows already in grades.csv")
    g.add_argument("--practice", action="store_true",
                   help="grade WITHOUT the sandbox where bubblewrap cannot run: for practice "
                        "only, never for marks (every row is flagged 'practice')")
    e = sub.add_parser("export", help="scores into nbgrader's gradebook or a Moodle CSV")
    e.add_argument("--course", required=True)
    e.add_argument("--out", help="the folder `grade` wrote (default: COURSE-grades)")
    e.add_argument("--moodle", help="write a Moodle grade-import CSV here")
    e.add_argument("--gradebook", action="store_true",
                   help="write the scores into COURSE/gradebook.db (nbgrader's Formgrader)")
    args = parser.parse_args(argv)
    try:
        return _grade(args) if args.command == "grade" else _export(args)
    except ValueError as exc:
        print(f"lstm-teach {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
