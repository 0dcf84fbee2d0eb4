"""The `lstm-teach` command line.

    lstm-teach grade --course exercises --assignment a1_cell_forward --csv grades.csv
"""

import argparse
import sys
from pathlib import Path


def _grade(args) -> int:
    from .grading import ASSIGNMENTS, Limits, grade

    names = list(ASSIGNMENTS) if args.assignment == "all" else [args.assignment]
    feedback = Path(args.feedback) if args.feedback else (
        Path(args.csv).with_name(Path(args.csv).stem + "_feedback") if args.csv else None)
    limits = Limits(cell_seconds=args.cell_timeout, part_seconds=args.timeout,
                    memory_bytes=int(args.memory * 2**20))
    rows = []
    for name in names:
        rows += grade(Path(args.course), name, Path(args.submitted) if args.submitted else None,
                      None, feedback, limits, seed=args.seed)
    if args.csv:
        import csv

        with open(args.csv, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=["student", "assignment", "score",
                                                    "max_score", "status", "feedback"])
            writer.writeheader()
            writer.writerows(rows)
        print(f"wrote {len(rows)} rows to {args.csv}"
              + (f"; feedback in {feedback}" if feedback else ""))
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="lstm-teach", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    g = sub.add_parser("grade", help="grade nbgrader submissions in sandboxed processes")
    g.add_argument("--course", required=True, help="the nbgrader course folder (exercises/)")
    g.add_argument("--assignment", required=True,
                   help="assignment name, e.g. a1_cell_forward, or 'all'")
    g.add_argument("--submitted", help="folder of <student>/<assignment>/*.ipynb, a path or a "
                                       "sub-folder of COURSE (default: COURSE/submitted)")
    g.add_argument("--csv", help="write student, assignment, score, max_score, status, "
                                 "feedback here")
    g.add_argument("--feedback", help="folder for one feedback file per student and "
                                      "assignment (default: next to the CSV)")
    g.add_argument("--timeout", type=float, default=30.0,
                   help="seconds for one call of a graded function (default 30)")
    g.add_argument("--cell-timeout", type=float, default=10.0,
                   help="seconds for one notebook cell (default 10)")
    g.add_argument("--memory", type=float, default=2048,
                   help="memory limit of a student's process in MB (default 2048)")
    g.add_argument("--seed", type=int, default=None,
                   help="seed for the test inputs (default: fresh ones every run)")
    args = parser.parse_args(argv)
    try:
        return _grade(args)
    except ValueError as exc:
        print(f"lstm-teach grade: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
