"""The course's nbgrader configuration, loaded as ``nbgrader`` itself would load it.

``nbgrader autograde`` run in the course folder reads ``nbgrader_config.py`` from Jupyter's config
path and from that folder. The batch grader reads the same files, so timeouts, ``add_missing_cells``,
``IgnorePattern``, late-submission plugins and the LMS file-name pattern are the course's own,
then points ``CourseDirectory`` at a worker's scratch copy when a worker grades.
"""

from __future__ import annotations

import os
from pathlib import Path

from jupyter_core.paths import jupyter_config_path
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

__all__ = ["load_course_config", "course_directory"]


def load_course_config(root: Path) -> Config:
    """Every ``nbgrader_config.py`` nbgrader would read when run in ``root``, merged in its order."""
    config = Config()
    folders = list(reversed(jupyter_config_path())) + [str(root)]
    here = os.getcwd()
    os.chdir(root)  # config files may use relative paths or os.getcwd()
    try:
        for folder in folders:
            path = Path(folder) / "nbgrader_config.py"
            if path.is_file():
                config.merge(PyFileConfigLoader(path.name, path=str(path.parent)).load_config())
    finally:
        os.chdir(here)
    config.CourseDirectory.root = str(root)
    return config


def course_directory(config: Config, **overrides: str):
    """nbgrader's ``CourseDirectory`` for ``config``, with trait ``overrides``."""
    from nbgrader.coursedir import CourseDirectory

    coursedir = CourseDirectory(config=config)
    for name, value in overrides.items():
        setattr(coursedir, name, value)
    return coursedir
