"""The course gradebook, written by one process only, and the journal that makes a batch resumable.

nbgrader's gradebook is SQLAlchemy over SQLite: one writer at a time. So workers grade against
their own copy of a :func:`snapshot` taken when the batch starts, and the batch process alone
:func:`merge` s each result into the course gradebook, one transaction per submission. A merge
*sets* the rows of that submission (nbgrader's ``update_or_create_submission``, then each
grade's ``auto_score``), so merging the same submission twice changes nothing: a batch that is
interrupted and run again never double-counts.

The :class:`Journal` (one JSON line per merged submission, appended after the gradebook commit)
remembers which version of each submission (:func:`~autograder.classroom.collect.fingerprint`)
was graded, with its findings; a rerun skips exactly those.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

from nbgrader.api import Gradebook, MissingEntry

__all__ = ["Journal", "ensure_assignment", "merge", "snapshot", "sqlite_path"]


def sqlite_path(db_url: str) -> Path:
    """The file behind a ``sqlite:///`` URL; other databases are not supported (yet)."""
    if not db_url.startswith("sqlite:///"):
        raise ValueError(f"the batch grader needs a SQLite gradebook; this course uses {db_url.split(':')[0]}")
    return Path(db_url[len("sqlite:///"):])


def snapshot(db_url: str, target: Path) -> None:
    """A consistent copy of the gradebook (SQLite's online backup), for workers to grade against."""
    source = sqlite3.connect(sqlite_path(db_url))
    try:
        dest = sqlite3.connect(target)
        with dest:
            source.backup(dest)
        dest.close()
    finally:
        source.close()


def ensure_assignment(course_root: Path, db_url: str, assignment: str, scratch: Path) -> str:
    """Make sure ``nbgrader generate_assignment`` has recorded the assignment; returns what was done.

    When the gradebook does not know it yet, runs ``generate_assignment`` with its release folder
    redirected into ``scratch``, so the committed release is left exactly as it is.
    """
    if sqlite_path(db_url).exists():
        with Gradebook(db_url) as gb:
            try:
                if gb.find_assignment(assignment).notebooks:
                    return ""
            except MissingEntry:
                pass
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ, PATH=scripts + os.pathsep + os.environ.get("PATH", ""))
    command = [sys.executable, "-m", "nbgrader", "generate_assignment", assignment, "--force",
               f"--CourseDirectory.release_directory={scratch / 'release'}"]
    done = subprocess.run(command, cwd=course_root, capture_output=True, text=True, timeout=600, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"`nbgrader generate_assignment {assignment}` failed:\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return f"registered {assignment} in the gradebook (nbgrader generate_assignment, release written to scratch)"


def merge(gb: Gradebook, student: str, assignment: str, scores: dict[str, Any]) -> None:
    """Write one worker's autograde results for a submission into the course gradebook."""
    if not scores:
        return
    with warnings.catch_warnings():  # nbgrader's own SQLAlchemy "not in session" warnings
        warnings.simplefilter("ignore")
        _merge(gb, student, assignment, scores)


def _merge(gb: Gradebook, student: str, assignment: str, scores: dict[str, Any]) -> None:
    gb.update_or_create_student(student)
    if scores.get("timestamp"):
        gb.update_or_create_submission(assignment, student, timestamp=datetime.fromisoformat(scores["timestamp"]))
    else:
        gb.update_or_create_submission(assignment, student)
    for notebook, data in scores["notebooks"].items():
        submitted = gb.find_submission_notebook(notebook, assignment, student)
        submitted.late_submission_penalty = data["late_submission_penalty"]
        for name, values in data["grades"].items():
            grade = gb.find_grade(name, notebook, assignment, student)
            grade.auto_score = values["auto_score"]
            grade.needs_manual_grade = bool(values["needs_manual_grade"] or grade.manual_score is not None)
        for name, text in data["comments"].items():
            gb.find_comment(name, notebook, assignment, student).auto_comment = text
    gb.db.commit()


class Journal:
    """Append-only record of merged submissions: ``{student, assignment, hash, status, ...}`` per line."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def entries(self) -> dict[tuple[str, str], dict[str, Any]]:
        """The latest entry per (student, assignment); a torn last line (a crash mid-write) is ignored."""
        latest: dict[tuple[str, str], dict[str, Any]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    latest[(entry["student"], entry["assignment"])] = entry
                except (ValueError, KeyError):
                    continue
        return latest

    def append(self, entry: dict[str, Any]) -> None:
        entry = {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), **entry}
        with open(self.path, "a") as f:
            f.write(json.dumps(entry, default=str) + "\n")
            f.flush()
            os.fsync(f.fileno())
