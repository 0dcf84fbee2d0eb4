"""The instructor's grader, `lstm-teach grade`: marks that a submission cannot talk around.

- sandbox.py: bubblewrap isolation and deadlines kept by the parent;
- child.py: the script that runs a notebook's code inside the sandbox;
- edition.py: the student edition of lstm_teach, and reference use judged from the source;
- runner.py: specs (exercises/grading/<assignment>.toml), scoring, feedback, the class run;
- export.py: nbgrader's gradebook and a Moodle grade-import CSV.
"""

from .runner import (
    TOL,
    Part,
    Spec,
    cells_to_run,
    default_out,
    grade,
    grade_student,
    grade_submission,
    load_specs,
    read_rows,
)
from .sandbox import Limits, SandboxUnavailable, find_bwrap

__all__ = ["TOL", "Limits", "Part", "SandboxUnavailable", "Spec", "cells_to_run", "default_out",
           "find_bwrap", "grade", "grade_student", "grade_submission", "load_specs",
           "read_rows"]
