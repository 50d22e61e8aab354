"""Realistic wrong answers, one module per assignment, each graded by nbgrader in the suite.

A module defines ``ASSIGNMENT`` (the folder name in ``solutions/``) and
``WRONG_ANSWERS``, a list of ``WrongAnswer``, and may define ``RIGHT_ANSWERS``,
a list of ``RightAnswer``: correct answers written differently, which must get full marks. The suite builds each one as a
learner would submit it (the release notebook, every answer cell filled in from
the solution, then ``replaces`` applied), autogrades it with nbgrader, and checks
that every test cell in ``fails`` scores 0 with a message matching its pattern. Mistakes in
exercises that cannot see each other are graded in one submission (``tests/packing.py``).
"""

from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class WrongAnswer:
    """One realistic mistake."""

    name: str                #: a slug, used as the fake student's id
    replaces: dict[str, str]  #: answer-cell grade id -> the wrong source for that cell
    fails: dict[str, str]     #: test-cell grade id -> regex its failure output must match
    alone: bool = False       #: graded in a submission of its own (for a mistake that upsets the kernel)


@dataclass(frozen=True)
class RightAnswer:
    """A correct answer written differently from the solution: it must get full marks."""

    name: str                #: a slug, used as the fake student's id
    replaces: dict[str, str]  #: answer-cell grade id -> the source for that cell


def modules() -> list[ModuleType]:
    """Every module of wrong answers in this package."""
    return [importlib.import_module(f"{__name__}.{info.name}") for info in pkgutil.iter_modules(__path__)]
