"""Find a class's submissions: nbgrader's ``submitted/`` tree, or an LMS download (zip or folder).

An LMS download is read with nbgrader's own ``FileNameCollectorPlugin`` and the course's
``FileNameCollectorPlugin.named_regexp`` (or ``--pattern``), the conventions of
``nbgrader zip_collect``; each notebook is then placed at ``submitted/STUDENT/ASSIGNMENT/``, as
``zip_collect`` would, so stock nbgrader commands keep working on the same course. Archives are
read defensively: no path outside the target, no links, no oversized members.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from autograder.classroom.integrity import Finding

__all__ = ["Submission", "from_submitted", "from_download", "fingerprint"]

MAX_MEMBER = 50 * 1024 * 1024


@dataclass
class Submission:
    """One student's submission of one assignment, in the course's ``submitted/`` tree."""

    student: str
    assignment: str
    path: Path
    findings: list[Finding] = field(default_factory=list)


def from_submitted(submitted: Path, assignments: list[str]) -> list[Submission]:
    """Every ``submitted/STUDENT/ASSIGNMENT/`` folder of the given assignments."""
    found = []
    if not submitted.is_dir():
        return found
    for student in sorted(p for p in submitted.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for assignment in assignments:
            folder = student / assignment
            if folder.is_dir():
                found.append(Submission(student.name, assignment, folder))
    return found


def fingerprint(folder: Path) -> str:
    """A hash of a submission folder's regular files (names and contents): what "already graded" means."""
    digest = hashlib.sha256()
    if folder.is_dir():
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            for name in sorted(filenames):
                path = Path(dirpath) / name
                if stat.S_ISREG(os.lstat(path).st_mode):
                    digest.update(str(path.relative_to(folder)).encode() + b"\0")
                    with open(path, "rb") as f:
                        for chunk in iter(lambda: f.read(1 << 20), b""):
                            digest.update(chunk)
    return digest.hexdigest()


def _members(download: Path, staging: Path) -> tuple[list[Path], list[str]]:
    """The notebook files of a zip (extracted safely into ``staging``) or of a folder."""
    problems: list[str] = []
    if download.is_dir():
        files = [p for p in sorted(download.rglob("*")) if p.is_file() and not p.is_symlink()]
    elif zipfile.is_zipfile(download):
        files = []
        with zipfile.ZipFile(download) as archive:
            for info in archive.infolist():
                name = info.filename
                is_link = stat.S_ISLNK(info.external_attr >> 16)
                if info.is_dir() or is_link or name.startswith("/") or ".." in Path(name).parts:
                    if not info.is_dir():
                        problems.append(f"{name}: skipped (a link or a path outside the archive)")
                    continue
                if info.file_size > MAX_MEMBER:
                    problems.append(f"{name}: skipped ({info.file_size // 2**20} MB is too large)")
                    continue
                target = staging / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with archive.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
                files.append(target)
    else:
        raise ValueError(f"{download} is neither a folder nor a zip archive")
    notebooks = []
    for path in files:
        if path.suffix == ".zip":  # LMSs nest archives (one per student)
            inner, more = _members(path, path.with_suffix(".d"))
            notebooks += inner
            problems += more
        elif path.suffix == ".ipynb":
            notebooks.append(path)
        else:
            problems.append(f"{path.name}: skipped (not a notebook)")
    return notebooks, problems


def from_download(download: Path, staging: Path, submitted: Path, assignments: dict[str, list[str]],
                  pattern: str, config=None) -> tuple[list[Submission], list[str]]:
    """Place an LMS download's notebooks in ``submitted/`` and return the submissions.

    ``assignments`` maps each assignment to its notebook file names; a file is assigned by its
    name (exactly, else the closest one when unambiguous, flagged). The latest file wins when a
    student handed in the same notebook twice (an LMS resubmission).
    """
    from nbgrader.plugins import FileNameCollectorPlugin
    from rapidfuzz import fuzz

    plugin = FileNameCollectorPlugin(config=config, named_regexp=pattern)
    notebooks, problems = _members(Path(download), staging)
    chosen: dict[tuple[str, str, str], tuple[Path, object]] = {}
    findings: dict[tuple[str, str], list[Finding]] = {}
    for path in notebooks:
        info = plugin.collect(str(path))
        if not info:
            problems.append(f"{path.name}: the file name does not match the pattern {pattern!r}; not graded")
            continue
        student, file_id = info["student_id"], os.path.basename(info["file_id"])
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._@-]*", student):
            problems.append(f"{path.name}: student id {student!r} is not a safe folder name; not graded")
            continue
        assignment = next((a for a, names in assignments.items() if file_id in names), None)
        if assignment is None:
            if len(assignments) == 1:
                assignment = next(iter(assignments))
            else:
                scored = sorted((fuzz.ratio(file_id, n), a) for a, names in assignments.items() for n in names)
                if scored and scored[-1][0] >= 70 and (len(scored) < 2 or scored[-2][0] < scored[-1][0]):
                    assignment = scored[-1][1]
                    findings.setdefault((student, assignment), []).append(
                        Finding("review", file_id, f"matched to assignment {assignment} by its name"))
                else:
                    problems.append(f"{path.name}: cannot tell which assignment '{file_id}' belongs to; not graded")
                    continue
        key = (student, assignment, file_id)
        stamp = info.get("timestamp") or None
        if isinstance(stamp, str):
            from nbgrader.utils import parse_utc

            stamp = parse_utc(stamp)
        if key not in chosen or (stamp is not None and (chosen[key][1] is None or stamp > chosen[key][1])):
            chosen[key] = (path, stamp)
    result: dict[tuple[str, str], Submission] = {}
    for (student, assignment, file_id), (path, stamp) in sorted(chosen.items()):
        folder = submitted / student / assignment
        if (student, assignment) not in result:
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
            result[(student, assignment)] = Submission(student, assignment, folder,
                                                       findings.get((student, assignment), []))
        shutil.copyfile(path, folder / file_id)
        if stamp is not None:
            (folder / "timestamp.txt").write_text(str(stamp))
    return list(result.values()), problems
