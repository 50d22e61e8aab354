"""nbgrader configuration for this course (used by instructors and by `python -m autograder.build`).

Run every nbgrader command from the repository's root folder, where this file is.
"""

import os

c = get_config()  # noqa: F821 - provided by nbgrader

c.CourseDirectory.course_id = "asgi-course"
c.CourseDirectory.root = os.path.dirname(os.path.abspath(__file__))
# The nbgrader source (solutions and hidden tests) and the learner release that
# `nbgrader generate_assignment` writes, committed so a clone and Binder have it.
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"

# What a learner sees in place of a solution. Tests turn NotImplementedError into
# "`name` is not written yet", so keep the exception type.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}

# No cell in these notebooks should take more than a few seconds: every test bounds
# its own waits at a few seconds, so this only catches code that ignores them.
c.Execute.timeout = 20
# Each kernel gets a generous but finite start-up time on a busy 2-core machine.
c.Execute.startup_timeout = 60

# A learner who deletes a test cell gets it back (and is graded on it) instead of
# silently scoring 0 for it.
c.OverwriteCells.add_missing_cells = True

# `nbgrader zip_collect`: how to read a student id and a notebook name out of an LMS
# download's file names. This matches Canvas-style names such as
#   ada_12345_67890_start-here.ipynb   or   ada_LATE_12345_67890_start-here.ipynb
# Change it to match your LMS; it is matched against the file's full path.
c.FileNameCollectorPlugin.named_regexp = (
    r".*/(?P<student_id>[^/_]+)(?:_LATE)?_\d+_\d+_(?P<file_id>[^/]+\.ipynb)$"
)
