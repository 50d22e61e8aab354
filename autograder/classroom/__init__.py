"""Grade a whole class: every submission, in parallel, each kernel sandboxed, on top of nbgrader.

    python -m autograder.classroom 00-start-here --from canvas-download.zip

See ``cli.py`` for the options and the README's "For instructors" section for what it writes.
"""
