"""Regenerate README.md's table of attacks from the hostile-submission suite.

    python tools/grading_attack_table.py          # rewrite the table in README.md
    python tools/grading_attack_table.py --check  # exit 1 if README.md is out of date

Each row is one submission of tests/test_grading.py's HOSTILE, with the score and status flag
that test_hostile_submission_scores_what_it_deserves asserts for it.
"""

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- attack-table:start -->", "<!-- attack-table:end -->"


def table() -> str:
    spec = importlib.util.spec_from_file_location("hostile", ROOT / "tests" / "test_grading.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    lines = ["| attack class | submission (`a1_cell_forward`, 4 points) | score | status flag |",
             "|---|---|---|---|"]
    for student, (klass, _, score, flag, what) in module.HOSTILE.items():
        lines.append(f"| {klass} | {what} (`{student}`) | {score} | {flag or 'any'} |")
    return "\n".join(lines)


def main(argv) -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, _, rest = text.partition(START)
    _, _, tail = rest.partition(END)
    new = f"{head}{START}\n{table()}\n{END}{tail}"
    if "--check" in argv:
        return 0 if new == text else 1
    readme.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
