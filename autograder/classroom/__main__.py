"""``python -m autograder.classroom``: grade a whole class (see ``cli.py``)."""

import sys

from autograder.classroom.cli import main

sys.exit(main())
