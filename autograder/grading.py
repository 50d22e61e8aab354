"""Grade notebooks with stock nbgrader in a scratch course folder, and read the results.

This is what the test suite uses to prove that a solution earns full marks, an
untouched release earns zero, and a wrong answer loses the right points: the
real ``nbgrader generate_assignment`` and ``nbgrader autograde`` commands, run on
a copy of ``solutions/``, never on the instructor's own gradebook.

    course = Course.create(tmp_path, ["01-blocking-sockets"])
    course.submit("alice", "01-blocking-sockets", notebook)
    course.autograde("01-blocking-sockets")
    course.scores("01-blocking-sockets", "alice")   # {"test_parse_request": (2.0, 2.0), ...}
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from autograder.paths import REPO, assignment_notebooks

__all__ = ["Course", "GradingError", "Score"]


class GradingError(RuntimeError):
    """An nbgrader command failed or did not finish in time."""


@dataclass(frozen=True)
class Score:
    """The score of one graded cell."""

    score: float
    max_score: float


def nbgrader(args: list[str], *, cwd: Path, timeout: float) -> subprocess.CompletedProcess[str]:
    """Run an nbgrader command with this interpreter, failing clearly on error or timeout."""
    command = [sys.executable, "-m", "nbgrader", *args]
    # nbgrader runs `alembic` from PATH: make this interpreter's scripts folder visible
    # even when its virtual environment is not activated.
    scripts = str(Path(sys.executable).parent)
    env = dict(os.environ, PYTHONWARNINGS="ignore", PATH=scripts + os.pathsep + os.environ.get("PATH", ""))
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        raise GradingError(f"`nbgrader {' '.join(args)}` did not finish within {timeout} s") from exc
    if done.returncode != 0:
        raise GradingError(f"`nbgrader {' '.join(args)}` failed (exit {done.returncode}):\n"
                           f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


class Course:
    """A scratch nbgrader course folder: ``source/``, ``release/``, ``submitted/``, ``autograded/``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    @classmethod
    def create(cls, root: Path, assignments: list[str], *, timeout: float = 120) -> "Course":
        """Copy the assignments' sources from ``solutions/`` and run ``nbgrader generate_assignment``."""
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        course = cls(root)
        config = (REPO / "nbgrader_config.py").read_text()
        config += ("\n# A scratch course for grading tests\n"
                   f"c.CourseDirectory.root = {str(root)!r}\n"
                   "c.CourseDirectory.source_directory = 'source'\n"
                   "c.CourseDirectory.release_directory = 'release'\n")
        (root / "nbgrader_config.py").write_text(config)
        for name in assignments:
            shutil.copytree(REPO / "solutions" / name, root / "source" / name,
                            ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
            nbgrader(["generate_assignment", name, "--force"], cwd=root, timeout=timeout)
        return course

    def release_notebook(self, assignment: str, name: str | None = None) -> NotebookNode:
        """The learner version of a notebook, as ``generate_assignment`` made it."""
        return nbformat.read(self._one(self.root / "release" / assignment, name), as_version=4)

    def source_notebook(self, assignment: str, name: str | None = None) -> NotebookNode:
        """The solution notebook, as in ``solutions/``."""
        return nbformat.read(self._one(self.root / "source" / assignment, name), as_version=4)

    def submit(self, student: str, assignment: str, notebook: NotebookNode, name: str | None = None) -> Path:
        """Place a notebook where ``nbgrader autograde`` looks for a student's submission."""
        filename = self._one(self.root / "source" / assignment, name).name
        folder = self.root / "submitted" / student / assignment
        folder.mkdir(parents=True, exist_ok=True)
        nbformat.write(notebook, folder / filename)
        return folder / filename

    def autograde(self, assignment: str, *, timeout: float = 600) -> str:
        """Autograde every submission of ``assignment`` in one nbgrader run; returns its log."""
        done = nbgrader(["autograde", assignment, "--force"], cwd=self.root, timeout=timeout)
        return done.stdout + done.stderr

    def scores(self, assignment: str, student: str, name: str | None = None) -> dict[str, Score]:
        """Each graded cell's score for a student, by grade id (autograded test cells only)."""
        from nbgrader.api import Gradebook

        notebook_id = self._one(self.root / "source" / assignment, name).stem
        with Gradebook(f"sqlite:///{self.root / 'gradebook.db'}") as gb:
            submission = gb.find_submission_notebook(notebook_id, assignment, student)
            return {grade.name: Score(float(grade.score), float(grade.max_score))
                    for grade in submission.grades if grade.cell_type == "code"}

    def autograded_notebook(self, assignment: str, student: str, name: str | None = None) -> NotebookNode:
        filename = self._one(self.root / "source" / assignment, name).name
        return nbformat.read(self.root / "autograded" / student / assignment / filename, as_version=4)

    def cell_output(self, assignment: str, student: str, grade_id: str, name: str | None = None) -> str:
        """All text a cell of the autograded notebook printed or raised, joined."""
        notebook = self.autograded_notebook(assignment, student, name)
        for cell in notebook.cells:
            if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
                return output_text(cell)
        raise KeyError(f"no cell {grade_id!r} in {student}'s {assignment}")

    @staticmethod
    def _one(folder: Path, name: str | None) -> Path:
        if name is not None:
            return folder / (name if name.endswith(".ipynb") else name + ".ipynb")
        found = assignment_notebooks(folder)
        if len(found) != 1:
            raise GradingError(f"{folder} has {len(found)} notebooks; say which one")
        return found[0]


def output_text(cell: NotebookNode) -> str:
    """The text of a code cell's outputs: streams, results and errors (ANSI colours removed)."""
    import re

    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n" + "\n".join(output.traceback))
        elif "data" in output and "text/plain" in output.data:
            parts.append(output.data["text/plain"])
    return re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(parts))
