"""The instructor section of the README, command by command, on a copy of the repository.

generate_assignment -> db student import -> zip_collect (an LMS download) -> autograde ->
generate_feedback -> export, all with stock nbgrader and the checked-in nbgrader_config.py.
"""

from __future__ import annotations

import csv
import shutil
import zipfile
from pathlib import Path

import nbformat
import pytest

from autograder.grading import nbgrader
from autograder.paths import REPO
from tests.submissions import filled

ASSIGNMENT = "00-start-here"
NOTEBOOK = "start-here.ipynb"


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("instructor") / "course"
    shutil.copytree(REPO, root, ignore=shutil.ignore_patterns(".git", ".venv*", "__pycache__", "*.egg-info",
                                                              "gradebook.db", ".pytest_cache"))
    return root


@pytest.mark.xdist_group("instructor")
def test_readme_instructor_commands_grade_an_lms_download(course: Path):
    run = lambda *args: nbgrader(list(args), cwd=course, timeout=300)  # noqa: E731

    run("generate_assignment", ASSIGNMENT, "--force")
    (course / "students.csv").write_text("id,first_name,last_name,email\nada,Ada,Lovelace,ada@example.org\n"
                                        "grace,Grace,Hopper,grace@example.org\n")
    run("db", "student", "import", "students.csv")

    release = nbformat.read(course / "notebooks" / ASSIGNMENT / NOTEBOOK, as_version=4)
    solution = nbformat.read(course / "solutions" / ASSIGNMENT / NOTEBOOK, as_version=4)
    archive = course / "downloaded" / ASSIGNMENT / "archive"
    archive.mkdir(parents=True)
    with zipfile.ZipFile(archive / "submissions.zip", "w") as zf:  # Canvas-style file names
        zf.writestr(f"ada_12345_67890_{NOTEBOOK}", nbformat.writes(filled(release, solution)))
        zf.writestr(f"grace_LATE_12346_67891_{NOTEBOOK}", nbformat.writes(release))
    run("zip_collect", ASSIGNMENT)
    assert (course / "submitted" / "ada" / ASSIGNMENT / NOTEBOOK).exists()
    assert (course / "submitted" / "grace" / ASSIGNMENT / NOTEBOOK).exists()

    run("autograde", ASSIGNMENT)
    run("generate_feedback", ASSIGNMENT)
    assert (course / "feedback" / "ada" / ASSIGNMENT / NOTEBOOK.replace(".ipynb", ".html")).exists()

    run("export")
    with open(course / "grades.csv") as f:
        rows = {row["student_id"]: row for row in csv.DictReader(f) if row["assignment"] == ASSIGNMENT}
    assert float(rows["ada"]["score"]) == float(rows["ada"]["max_score"]) > 0
    assert float(rows["grace"]["score"]) == 0
