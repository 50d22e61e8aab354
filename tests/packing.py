"""Put several wrong answers into one fake student, when their exercises cannot see each other.

Grading a submission means running the whole notebook, a few seconds each. Most wrong answers
break one exercise, and most exercises do not use each other's answers, so one submission can
carry several mistakes: each is still rejected by its own test cells with its own message.

Which test cells can see which answer cells is read from the source notebook by name: a cell
depends on the cell that last bound a name it reads, and dependencies chain. A function's body
looks its globals up when it is called, so those names are looked up again in every cell that
uses the function. The analysis leans to seeing too many dependencies (a name read anywhere in a
function counts), and the suite checks its result: in a packed submission, every test cell that
depends on none of the replaced answers must keep its points. A mistake that upsets the kernel
itself (a hang, a crash, a leftover server) is marked ``alone`` and graded in a submission of
its own.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode

from tests.submissions import grade_id

_ipython = TransformerManager()


def _tree(source: str) -> ast.Module:
    """A cell's source as Python (magics and top-level ``await`` allowed)."""
    return compile(_ipython.transform_cell(source), "<cell>", "exec",
                   flags=ast.PyCF_ONLY_AST | ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)


def _imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    """Names an import statement binds (``import a.b`` binds ``a``)."""
    return {(alias.asname or alias.name).split(".")[0] for alias in node.names}


def _defined(tree: ast.Module) -> set[str]:
    """Names a cell binds at module level (not inside its functions or classes)."""
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)  # and the globals it may bind when called:
            names.update(n for g in ast.walk(node) if isinstance(g, ast.Global) for n in g.names)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= _imported(node)
            continue
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            names.add(node.id)
        if isinstance(node, (ast.Lambda, ast.GeneratorExp, ast.ListComp, ast.SetComp, ast.DictComp)):
            continue
        pending.extend(ast.iter_child_nodes(node))
    return names


def _loads(node: ast.AST) -> set[str]:
    """Names read in an expression or simple statement, leaving out its comprehensions' and lambdas' variables."""
    own: set[str] = set()
    for inner in ast.walk(node):
        if isinstance(inner, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            own |= {n.id for g in inner.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
        elif isinstance(inner, ast.Lambda):
            own |= {a.arg for a in ast.walk(inner.args) if isinstance(a, ast.arg)}
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - own


def _stores(node: ast.AST) -> set[str]:
    """Names a simple statement binds."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return _imported(node)
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, (ast.Store, ast.Del))}


def _reads_before_binding(body: list[ast.stmt], bound: set[str]) -> set[str]:
    """Names ``body`` reads that it has not bound itself first: those come from earlier cells.

    Bindings inside a branch or a loop body are not trusted for what follows (it may not run).
    """
    reads: set[str] = set()
    for stmt in body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            reads |= set().union(*map(_loads, _evaluated_at_definition(stmt))) - bound  # the body: later
            bound.add(stmt.name)
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            reads |= _loads(stmt.iter) - bound
            inner = bound | _stores(stmt.target)
            reads |= _reads_before_binding(stmt.body, inner) | _reads_before_binding(stmt.orelse, set(bound))
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            inner = set(bound)
            for item in stmt.items:
                reads |= _loads(item.context_expr) - inner
                if item.optional_vars is not None:
                    inner |= _stores(item.optional_vars)
            reads |= _reads_before_binding(stmt.body, inner)
            bound |= inner  # a with-block's body runs
        elif isinstance(stmt, (ast.If, ast.While)):
            reads |= _loads(stmt.test) - bound
            reads |= _reads_before_binding(stmt.body, set(bound)) | _reads_before_binding(stmt.orelse, set(bound))
        elif isinstance(stmt, ast.Try) or type(stmt).__name__ == "TryStar":
            for part in (stmt.body, stmt.orelse, stmt.finalbody):
                reads |= _reads_before_binding(part, set(bound))
            for handler in stmt.handlers:
                reads |= (_loads(handler.type) - bound) if handler.type else set()
                reads |= _reads_before_binding(handler.body, bound | ({handler.name} if handler.name else set()))
        else:
            reads |= _loads(stmt) - bound  # a simple statement reads before it binds
            bound |= _stores(stmt)
    return reads


_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


def _evaluated_at_definition(scope: ast.AST) -> list[ast.AST]:
    """What Python evaluates where a function or class is defined: decorators, defaults, bases."""
    parts: list[ast.AST] = list(getattr(scope, "decorator_list", []))
    if isinstance(scope, ast.ClassDef):
        return parts + scope.bases + [k.value for k in scope.keywords]
    return parts + scope.args.defaults + [d for d in scope.args.kw_defaults if d is not None]


def _free_names(scope: ast.AST) -> set[str]:
    """Names a function, lambda or class body reads from outside itself (looked up when it runs)."""
    bound = set() if isinstance(scope, ast.ClassDef) else {a.arg for a in ast.walk(scope.args)
                                                           if isinstance(a, ast.arg)}
    reads: set[str] = set()
    declared: set[str] = set()  # global and nonlocal names are not the scope's own
    pending: list[ast.AST] = [scope.body] if isinstance(scope, ast.Lambda) else list(scope.body)
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            if not isinstance(node, ast.Lambda):
                bound.add(node.name)
            reads |= _free_names(node)
            pending.extend(_evaluated_at_definition(node))
            continue
        if isinstance(node, (ast.Global, ast.Nonlocal)):
            declared.update(node.names)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= _imported(node)
        elif isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else bound).add(node.id)
        pending.extend(ast.iter_child_nodes(node))
    return reads - (bound - declared)


def _read_when_called(tree: ast.Module) -> set[str]:
    """Global names read inside a cell's functions and classes: looked up when they run, perhaps cells later."""
    names: set[str] = set()
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, _SCOPES):
            names |= _free_names(node)
            pending.extend(_evaluated_at_definition(node))
            continue
        pending.extend(ast.iter_child_nodes(node))
    return names


def answer_dependencies(source: NotebookNode) -> dict[str, set[str]]:
    """For each autograded test cell of the source notebook, the answer cells it may depend on."""
    defined_by: dict[str, int] = {}  # name -> the cell that last bound it
    reaches: dict[int, set[str]] = {}  # cell index -> answer cells (grade ids) it depends on
    deferred: dict[int, set[str]] = {}  # cell index -> names its functions read when called

    def reached(names: set[str], seen: set[int]) -> set[str]:
        """Answer cells behind ``names`` as bound now, following functions' late lookups."""
        found: set[str] = set()
        for name in names:
            index = defined_by.get(name)
            if index is not None and index not in seen:
                seen.add(index)
                found |= reaches[index] | reached(deferred[index], seen)
        return found

    found: dict[str, set[str]] = {}
    for index, cell in enumerate(source.cells):
        if cell.cell_type != "code":
            continue
        tree = _tree(cell.source)
        meta = cell.metadata.get("nbgrader", {})
        here: set[str] = {grade_id(cell)} if meta.get("solution") else set()
        later, binds = _read_when_called(tree), _defined(tree)
        # The cell's own functions may run in the cell: names it binds itself are its own, the rest earlier cells'.
        here |= reached(_reads_before_binding(tree.body, set()) | (later - binds), set())
        reaches[index], deferred[index] = here, later
        for name in binds:
            defined_by[name] = index
        if meta.get("grade"):
            found[grade_id(cell)] = here
    return found


@dataclass
class Pack:
    """One fake student carrying several mistakes."""

    student: str
    members: list = field(default_factory=list)  # WrongAnswer or RightAnswer

    @property
    def replaces(self) -> dict[str, str]:
        return {gid: text for member in self.members for gid, text in member.replaces.items()}


def _fits(candidate, pack: Pack, depends: dict[str, set[str]]) -> bool:
    """Whether ``candidate`` can join ``pack`` without either seeing the other's answers."""
    if getattr(candidate, "alone", False) or any(getattr(m, "alone", False) for m in pack.members):
        return False
    for member in pack.members:
        if set(candidate.replaces) & set(member.replaces):
            return False
        for one, other in ((candidate, member), (member, candidate)):
            for cell in _checked_cells(one, depends):
                if depends[cell] & set(other.replaces):
                    return False
    return True


def _checked_cells(variant, depends: dict[str, set[str]]) -> Iterable[str]:
    """The test cells whose result proves something about ``variant``."""
    fails = getattr(variant, "fails", None)
    if fails is not None:
        return fails
    # A right answer must keep full marks on every cell that depends on it.
    return [cell for cell, answers in depends.items() if answers & set(variant.replaces)]


def pack(variants: Sequence, depends: dict[str, set[str]], prefix: str) -> list[Pack]:
    """Group ``variants`` (all wrong, or all right) into as few submissions as independence allows."""
    packs: list[Pack] = []
    for variant in variants:
        home = next((p for p in packs if _fits(variant, p, depends)), None)
        if home is None:
            home = Pack(f"{prefix}{len(packs) + 1}")
            packs.append(home)
        home.members.append(variant)
    return packs


def untouched_cells(pack: Pack, depends: dict[str, set[str]]) -> list[str]:
    """Test cells that depend on none of the pack's replaced answers: they must keep their points."""
    replaced = set(pack.replaces)
    return sorted(cell for cell, answers in depends.items() if not answers & replaced)
