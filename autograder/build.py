"""Regenerate the learner notebooks in ``notebooks/`` from the nbgrader source in ``solutions/``.

    python -m autograder.build           # rewrite notebooks/ (commit the result)
    python -m autograder.build --check   # exit 1, listing what differs, if notebooks/ is stale

``notebooks/`` is exactly what ``nbgrader generate_assignment`` makes from
``solutions/``, byte for byte. It runs with a scratch gradebook and release
folder, so an instructor's ``gradebook.db`` is never touched.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.grading import nbgrader
from autograder.paths import NOTEBOOKS, REPO, assignments

__all__ = ["generate", "differences", "main"]


def generate(target: Path, names: list[str] | None = None) -> list[str]:
    """Write the release of each assignment into ``target/NAME/``; returns the names."""
    names = names or assignments()
    with tempfile.TemporaryDirectory(prefix="course-build-") as scratch:
        release = Path(scratch) / "release"
        for name in names:
            nbgrader(["generate_assignment", name, "--force", f"--db=sqlite:///{scratch}/gradebook.db",
                      f"--CourseDirectory.release_directory={release}"], cwd=REPO, timeout=300)
            shutil.rmtree(target / name, ignore_errors=True)
            shutil.copytree(release / name, target / name)
    return names


def differences(target: Path = NOTEBOOKS) -> list[str]:
    """What in ``target`` differs from a fresh generation (empty when in sync)."""
    with tempfile.TemporaryDirectory(prefix="course-check-") as fresh:
        fresh_root = Path(fresh)
        names = generate(fresh_root)
        problems = []
        present = sorted(p.name for p in target.iterdir() if p.is_dir()) if target.exists() else []
        for extra in sorted(set(present) - set(names)):
            problems.append(f"{target.name}/{extra}/ has no source in solutions/")
        for name in names:
            problems += _compare(fresh_root / name, target / name, f"{target.name}/{name}")
        return problems


def _compare(expected: Path, actual: Path, label: str) -> list[str]:
    if not actual.exists():
        return [f"{label}/ is missing"]
    comparison = filecmp.dircmp(expected, actual, ignore=[".ipynb_checkpoints", "__pycache__"])
    problems = [f"{label}/{f} is missing" for f in comparison.left_only]
    problems += [f"{label}/{f} should not be there" for f in comparison.right_only]
    for f in comparison.common_files:
        if (expected / f).read_bytes() != (actual / f).read_bytes():
            problems.append(f"{label}/{f} differs from what solutions/ generates")
    for sub in comparison.common_dirs:
        problems += _compare(expected / sub, actual / sub, f"{label}/{sub}")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.build", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether notebooks/ is up to date")
    args = parser.parse_args(argv)
    if args.check:
        problems = differences()
        for problem in problems:
            print(problem)
        print("notebooks/ is up to date" if not problems else
              "notebooks/ is stale: run `python -m autograder.build` and commit the result")
        return 1 if problems else 0
    NOTEBOOKS.mkdir(exist_ok=True)
    names = generate(NOTEBOOKS)
    for name in names:
        print(f"notebooks/{name}/ regenerated from solutions/{name}/")
    for folder in sorted(NOTEBOOKS.iterdir()):
        if folder.is_dir() and folder.name not in names:
            shutil.rmtree(folder)
            print(f"notebooks/{folder.name}/ removed: it has no source in solutions/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
