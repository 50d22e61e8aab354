"""Check that this Python has what the course needs, and say what to do if not."""

from __future__ import annotations

import re
import shutil
import sys
from importlib import metadata

from autograder.paths import REPO

__all__ = ["check_environment", "pinned_versions"]

# The packages a learner's notebooks import, by distribution name.
CORE = ["jupyterlab", "nbgrader", "uvicorn", "fastapi", "starlette", "httpx", "nest-asyncio", "matplotlib",
        "websockets", "ipykernel"]

FIX = "from the repository's root folder run:  python -m pip install -r requirements.txt"


def pinned_versions() -> dict[str, str]:
    """``name == version`` pins from the repository's requirements.txt (names normalized)."""
    path = REPO / "requirements.txt"
    if not path.exists():
        return {}
    pins = {}
    for line in path.read_text().splitlines():
        match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*==\s*([^\s;#]+)", line)
        if match:
            pins[_normal(match.group(1))] = match.group(2)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def check_environment(verbose: bool = True) -> list[str]:
    """Print the versions that matter and return a list of problems (empty when all is well)."""
    problems = []
    rows = [("python", sys.version.split()[0], ">= 3.11")]
    if sys.version_info < (3, 11):
        problems.append(f"Python {sys.version.split()[0]} is too old: the course needs Python 3.11 or newer")
    pins = pinned_versions()
    for name in CORE:
        wanted = pins.get(_normal(name), "")
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "missing"
            problems.append(f"{name} is not installed")
        else:
            if wanted and installed != wanted:
                problems.append(f"{name} {installed} is installed, the course is tested with {wanted}")
        rows.append((name, installed, f"== {wanted}" if wanted else ""))
    curl = shutil.which("curl")
    rows.append(("curl (optional)", curl or "not found", "used in a few demos"))
    if verbose:
        width = max(len(r[0]) for r in rows)
        for name, have, want in rows:
            print(f"{name:<{width}}  {have:<12} {want}")
        print()
        if problems:
            print("Something is not right:")
            for problem in problems:
                print(f"  - {problem}")
            print(f"To fix it, {FIX}")
        else:
            print("All good: everything the course needs is installed.")
    return problems
