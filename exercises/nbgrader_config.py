"""nbgrader configuration of the lstm-teach exercises. Run nbgrader from this folder."""

c = get_config()  # noqa: F821  (nbgrader provides get_config)

c.CourseDirectory.course_id = "lstm-teach"

# Every answer cell starts as this stub in release/.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# A cell that runs longer than this is stopped; the training test needs a few seconds.
c.Execute.timeout = 60
c.Execute.interrupt_on_timeout = True

# Tests and read-only cells come from the instructor's copy: a deleted test cell is put back.
c.OverwriteCells.add_missing_cells = True
