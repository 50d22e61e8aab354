"""Build the notebooks a learner would hand in: the release, with answer cells filled in."""

from __future__ import annotations

import copy

from nbformat import NotebookNode


def grade_id(cell: NotebookNode) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def answer_cells(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """The answer cells of a notebook, by grade id."""
    return {grade_id(c): c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("solution")}


def graded_cells(notebook: NotebookNode) -> dict[str, NotebookNode]:
    """The autograded test cells of a notebook, by grade id."""
    return {grade_id(c): c for c in notebook.cells if c.metadata.get("nbgrader", {}).get("grade")}


def filled(release: NotebookNode, solution: NotebookNode, replaces: dict[str, str] | None = None) -> NotebookNode:
    """The release notebook with every answer cell written as in the solution, then ``replaces`` applied."""
    notebook = copy.deepcopy(release)
    answers = {gid: cell.source for gid, cell in answer_cells(solution).items()}
    unknown = set(replaces or {}) - set(answers)
    if unknown:
        raise KeyError(f"no answer cell with grade id {sorted(unknown)}; answer cells are {sorted(answers)}")
    answers.update(replaces or {})
    for gid, cell in answer_cells(notebook).items():
        cell.source = answers[gid]
    return notebook
