"""Where things are in the repository."""

from __future__ import annotations

from pathlib import Path

__all__ = ["REPO", "SOLUTIONS", "NOTEBOOKS", "assignments", "assignment_notebooks"]

REPO = Path(__file__).resolve().parent.parent
SOLUTIONS = REPO / "solutions"
NOTEBOOKS = REPO / "notebooks"


def assignment_notebooks(folder: Path) -> list[Path]:
    """The notebooks of one assignment folder, sorted, without Jupyter's checkpoints."""
    return sorted(p for p in Path(folder).glob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def assignments() -> list[str]:
    """The assignments in ``solutions/`` (one per chapter), in course order."""
    return sorted(p.name for p in SOLUTIONS.iterdir() if p.is_dir() and assignment_notebooks(p))
