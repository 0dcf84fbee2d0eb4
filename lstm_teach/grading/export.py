"""Scores out of grades.csv: into nbgrader's gradebook (Formgrader), or a Moodle CSV."""

import csv
from pathlib import Path

from .runner import read_rows


def _latest(csv_path: Path) -> dict:
    """(student, assignment) -> the last row written for it."""
    return {(r["student"], r["assignment"]): r for r in read_rows(Path(csv_path))}


def to_moodle(csv_path: Path, dest: Path) -> int:
    """Moodle's grade import (Grades > Import > CSV file): one row per student, a column
    `username` to map onto the user field, one column of points per assignment."""
    rows = _latest(csv_path)
    assignments = sorted({a for _, a in rows})
    students = sorted({s for s, _ in rows})
    with open(dest, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["username"] + assignments)
        for s in students:
            writer.writerow([s] + [rows[(s, a)]["score"] if (s, a) in rows else ""
                                   for a in assignments])
    return len(students)


def to_gradebook(csv_path: Path, course: Path) -> int:
    """Write each part's score as the auto_score of its nbgrader test cell in
    course/gradebook.db, adding students and submissions as needed (the assignments must
    have been released with `nbgrader generate_assignment`, which records their cells)."""
    from nbgrader.api import Gradebook, MissingEntry

    rows = _latest(csv_path)
    n = 0
    with Gradebook(f"sqlite:///{Path(course).resolve() / 'gradebook.db'}") as gb:
        for (student, assignment), row in sorted(rows.items()):
            try:
                gb.find_student(student)
            except MissingEntry:
                gb.add_student(student)
            try:
                sub = gb.find_submission(assignment, student)
            except MissingEntry:
                sub = gb.add_submission(assignment, student)
            scores = dict(p.split("=", 1) for p in row["parts"].split(";") if "=" in p)
            for nb in sub.notebooks:
                for grade in nb.grades:
                    if grade.name in scores:
                        grade.auto_score = float(scores[grade.name])
                        n += 1
        gb.db.commit()
    return n
