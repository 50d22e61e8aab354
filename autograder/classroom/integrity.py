"""What a submission changed that it should not have: reported, so nothing is scored 0 in silence.

nbgrader quietly repairs much of this (a locked cell's source and a test's points are restored
from the gradebook, a deleted test cell is re-added when ``add_missing_cells`` is on) and quietly
scores the rest (a misnamed notebook is skipped, so it scores 0). :func:`inspect_submission`
compares each submitted notebook with what the gradebook recorded at ``generate_assignment`` and
says, in words an instructor can act on, what was deleted, edited, reordered, renamed, or made
invalid; :func:`tampering` reads the learner's own cells for code that rewrites what the tests
rely on (the kit's checks, builtins, imported modules).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbformat import NotebookNode

__all__ = ["Finding", "inspect_submission", "repair", "tampering", "release_source"]

BEGIN_HIDDEN, END_HIDDEN = "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"


@dataclass
class Finding:
    """One thing worth an instructor's attention. ``severity``: ``info``, ``review`` or ``error``."""

    severity: str
    notebook: str
    message: str
    cell: str | None = None

    def __str__(self) -> str:
        where = f"{self.notebook}" + (f" [{self.cell}]" if self.cell else "")
        return f"{where}: {self.message}"


@dataclass
class SourceNotebook:
    """What the gradebook knows about one notebook of the assignment."""

    name: str
    cells: list[dict] = field(default_factory=list)  #: in source order: name, cell_type, locked, source, grade, points, solution


def release_source(source: str) -> str:
    """A locked cell's source as learners received it: hidden test regions removed."""
    lines, hidden = [], False
    for line in source.split("\n"):
        if BEGIN_HIDDEN in line:
            hidden = True
        elif END_HIDDEN in line:
            hidden = False
        elif not hidden:
            lines.append(line)
    return "\n".join(lines)


def _norm(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


def _meta(cell: NotebookNode) -> dict:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta if isinstance(meta, dict) else {}


def inspect_submission(folder: Path, expected: list[SourceNotebook]) -> tuple[list[Finding], dict[str, str]]:
    """Findings for a submission folder, and renames ``{found file: expected file}`` to apply.

    A notebook with the wrong name is graded under the right one when that is unambiguous
    (one notebook expected and one unknown notebook submitted).
    """
    findings: list[Finding] = []
    submitted = sorted(p.name for p in folder.glob("*.ipynb"))
    wanted = [f"{nb.name}.ipynb" for nb in expected]
    unknown = [n for n in submitted if n not in wanted]
    missing = [n for n in wanted if n not in submitted]
    renames: dict[str, str] = {}
    if len(missing) == 1 and len(unknown) == 1:
        renames[unknown[0]] = missing[0]
        findings.append(Finding("review", missing[0], f"submitted as '{unknown[0]}'; graded as '{missing[0]}'"))
        missing, unknown = [], []
    for name in missing:
        findings.append(Finding("error", name, "notebook missing from the submission: scored 0"
                                + (f" (found instead: {', '.join(unknown)})" if unknown else "")))
    for name in unknown:
        findings.append(Finding("review", name, "unexpected notebook, not graded"))
    for nb in expected:
        filename = f"{nb.name}.ipynb"
        original = next((k for k, v in renames.items() if v == filename), filename)
        path = folder / original
        if path.exists():
            findings += inspect_notebook(path, nb)
    return findings, renames


def inspect_notebook(path: Path, source: SourceNotebook) -> list[Finding]:
    """Findings for one submitted notebook against its source."""
    name = f"{source.name}.ipynb"
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return [Finding("error", name, f"cannot read the file: {exc}")]
    if len(raw) > 50 * 1024 * 1024:
        return [Finding("error", name, f"the file is {len(raw) // (1024 * 1024)} MB; not graded")]
    try:
        nb = nbformat.reads(raw.decode("utf-8"), as_version=4)
    except Exception as exc:  # noqa: BLE001 - any parse failure is the finding
        return [Finding("error", name, f"not a valid notebook ({type(exc).__name__}: {str(exc)[:200]}); "
                                       "nbgrader cannot grade it: scored 0, needs a look")]
    findings: list[Finding] = []
    by_id: dict[str, list[NotebookNode]] = {}
    order: list[str] = []
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if isinstance(gid, str):
            by_id.setdefault(gid, []).append(cell)
            order.append(gid)
    known = {c["name"]: c for c in source.cells}
    for gid, cells in by_id.items():
        if len(cells) > 1:
            findings.append(Finding("review", name, f"{len(cells)} cells share the id '{gid}' (copied cell?); "
                                                   "nbgrader keeps the first", gid))
        if gid not in known:
            findings.append(Finding("review", name, f"a cell has the unknown id '{gid}' (renamed?); its nbgrader "
                                                   "metadata was removed, the cell runs as plain code (stock "
                                                   "nbgrader 0.9 crashes on it)", gid))
    for cell in source.cells:
        gid, present = cell["name"], by_id.get(cell["name"], [])
        what = "test cell" if cell["grade"] else ("answer cell" if cell["solution"] else "read-only cell")
        if not present:
            if cell["grade"] or cell.get("task"):
                findings.append(Finding("review", name, f"{what} deleted; nbgrader added it back and graded it", gid))
            elif cell["locked"]:
                findings.append(Finding("review", name, f"{what} deleted (not restored by nbgrader)", gid))
            else:
                findings.append(Finding("review", name, f"{what} deleted", gid))
            continue
        sub = present[0]
        meta = _meta(sub)
        if sub.cell_type != cell["cell_type"]:
            findings.append(Finding("review", name, f"{what} changed from {cell['cell_type']} to {sub.cell_type}; "
                                                   "nbgrader changed it back", gid))
        if cell["grade"] and not meta.get("grade"):
            findings.append(Finding("review", name, f"{what} no longer marked as graded; nbgrader added the "
                                                   "original back and graded that", gid))
        if cell["grade"] and meta.get("grade"):
            try:
                points = float(meta.get("points", "nan"))
            except (TypeError, ValueError):
                points = float("nan")
            if points != float(cell["points"]):
                findings.append(Finding("review", name, f"points of the {what} changed from {cell['points']:g} to "
                                                       f"{meta.get('points')!r}; nbgrader restored {cell['points']:g}",
                                        gid))
        if cell["locked"] and not meta.get("locked", False) and not cell["solution"]:
            findings.append(Finding("info", name, f"{what} unlocked in the metadata; nbgrader locked it again", gid))
        if cell["locked"] and _norm(sub.source) != _norm(release_source(cell["source"])) \
                and _norm(sub.source) != _norm(cell["source"]):
            findings.append(Finding("review", name, f"{what} edited; nbgrader graded the original instead", gid))
    expected_order = [c["name"] for c in source.cells if c["name"] in by_id]
    seen = [gid for gid in dict.fromkeys(order) if gid in known]
    if seen != expected_order:
        moved = [gid for gid, want in zip(seen, expected_order) if gid != want]
        findings.append(Finding("review", name, "cells reordered (" + ", ".join(moved[:4]) + " out of place); "
                                                "nbgrader runs them in the submitted order", None))
    findings += tampering(nb, source, name)
    return findings


def repair(path: Path, source: SourceNotebook) -> bool:
    """Remove the nbgrader metadata of cells whose grade id the gradebook does not know.

    nbgrader would drop the id and keep the rest, then fail on it (``KeyError: 'grade_id'`` in
    ``OverwriteCells.add_missing_grade_cells``, nbgrader 0.9.6): the whole submission is lost.
    Without the metadata the cell is plain code, and the original cell, if missing, is re-added.
    Returns whether the file was changed.
    """
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception:  # noqa: BLE001 - unreadable: reported elsewhere
        return False
    known = {c["name"] for c in source.cells}
    changed = False
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader")
        if isinstance(meta, dict) and meta.get("grade_id") not in known:
            del cell.metadata["nbgrader"]
            changed = True
    if changed:
        nbformat.write(nb, path)
    return changed


# --- tampering ---------------------------------------------------------------------------------------

_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)
_DYNAMIC = {"exec", "eval", "compile", "globals", "__import__", "setattr", "delattr", "vars"}
_PATCHERS = {"patch", "patch.object", "monkeypatch"}


def _parse(source: str) -> ast.Module | None:
    try:
        return ast.parse(_MAGIC.sub("", source))
    except (SyntaxError, ValueError):
        return None


def _bound_names(tree: ast.AST) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _top_level_bound(tree: ast.Module) -> set[str]:
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign, ast.For, ast.With, ast.AsyncWith)):
            for sub in ast.walk(node):
                if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Store):
                    names.add(sub.id)
        elif isinstance(node, ast.Global):
            names.update(node.names)
    return names


def _loaded_names(tree: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _module_aliases(tree: ast.AST) -> set[str]:
    """Names bound to modules by ``import x`` / ``import x as y`` / ``from pkg import module``."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            aliases.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] in ("autograder",):
            aliases.update(a.asname or a.name for a in node.names if a.name in ("checks", "server", "sockets"))
    return aliases | {"builtins", "__builtins__", "sys"}


def tampering(nb: NotebookNode, source: SourceNotebook, name: str) -> list[Finding]:
    """Learner code that rewrites what tests rely on: the kit's checks, builtins, imported modules.

    A heuristic on the learner's cells (answer cells and cells they added): it flags for review,
    it does not change the grade. Tests read names from the shared namespace, so a learner's
    top-level ``isinstance = ...`` or ``autograder.expect = ...`` would make them pass.
    """
    import builtins

    locked = {c["name"] for c in source.cells if c["locked"]}
    answers = {c["name"] for c in source.cells if c["solution"]}
    tests = [c for c in source.cells if c["grade"] and c["cell_type"] == "code"]
    # names the tests use without defining them: builtins and helpers from read-only cells
    relied: set[str] = set()
    for cell in tests:
        tree = _parse(cell["source"])
        if tree is not None:
            relied |= _loaded_names(tree) - _bound_names(tree)
    answer_names: set[str] = set()
    for cell in source.cells:
        if cell["solution"] and cell["cell_type"] == "code":
            tree = _parse(cell["source"])
            if tree is not None:
                answer_names |= _top_level_bound(tree)
    relied -= answer_names
    builtin_names = set(dir(builtins))
    findings = []
    for cell in nb.cells:
        gid = _meta(cell).get("grade_id")
        if cell.cell_type != "code" or (gid in locked and gid not in answers):
            continue
        tree = _parse(cell.source)
        if tree is None:
            continue
        label = gid if gid in answers else "a cell the learner added"
        reasons = []
        redefined = sorted(_top_level_bound(tree) & relied & (builtin_names | set(_helper_names(source))))
        if redefined:
            reasons.append("redefines " + ", ".join(f"`{n}`" for n in redefined) + ", which the tests rely on")
        modules = _module_aliases(tree)
        for node in ast.walk(tree):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Delete)):
                targets = node.targets if isinstance(node, (ast.Assign, ast.Delete)) else [node.target]
            for target in targets:
                base = target
                while isinstance(base, (ast.Attribute, ast.Subscript)):
                    base = base.value
                if isinstance(base, ast.Name) and base.id in modules and base is not target:
                    reasons.append(f"assigns to `{ast.unparse(target)}` (patches a module)")
                elif isinstance(base, ast.Call) and getattr(base.func, "id", "") in ("globals", "vars"):
                    reasons.append(f"writes through `{ast.unparse(target)}`")
            if isinstance(node, ast.Call):
                func = ast.unparse(node.func)
                if func in ("setattr", "delattr") and node.args and isinstance(node.args[0], ast.Name) \
                        and node.args[0].id in modules:
                    reasons.append(f"calls `{func}` on module `{node.args[0].id}`")
                elif func in ("exec", "eval", "compile") or func.endswith(tuple("." + p for p in _PATCHERS)) \
                        or func in _PATCHERS:
                    reasons.append(f"calls `{func}` (dynamic code or patching)")
        for reason in dict.fromkeys(reasons):
            findings.append(Finding("review", name, f"possible tampering in {label}: {reason}", gid))
    return findings


def _helper_names(source: SourceNotebook) -> set[str]:
    """Names bound by read-only code cells and the kit's exports (what tests import or inherit)."""
    import autograder

    names = set(getattr(autograder, "__all__", []))
    for cell in source.cells:
        if cell["locked"] and not cell["grade"] and cell["cell_type"] == "code":
            tree = _parse(cell["source"])
            if tree is not None:
                names |= _top_level_bound(tree)
    return names


def source_notebooks(gradebook, assignment: str) -> list[SourceNotebook]:
    """The assignment's notebooks as the gradebook recorded them, cells in source order."""
    result = []
    for notebook in gradebook.find_assignment(assignment).notebooks:
        grades = {c.name: c for c in notebook.grade_cells}
        solutions = {c.name for c in notebook.solution_cells}
        tasks = {c.name for c in notebook.task_cells}
        cells = []
        for cell in notebook.source_cells:
            grade = grades.get(cell.name)
            cells.append({"name": cell.name, "cell_type": cell.cell_type, "locked": bool(cell.locked),
                          "source": cell.source, "grade": grade is not None and cell.name not in tasks,
                          "points": float(grade.max_score) if grade is not None else 0.0,
                          "solution": cell.name in solutions, "task": cell.name in tasks})
        result.append(SourceNotebook(notebook.name, cells))  # stored in source order, as nbgrader relies on
    return result
