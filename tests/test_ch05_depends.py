"""Chapter 05's resolver and graph generator, outside a kernel: many more random graphs than the notebook runs.

The solution's `call_with_dependencies` must agree with FastAPI on every one of them (a FastAPI
upgrade that changes how `Depends` resolves fails here first), the generator must only make
graphs FastAPI can serve, and the random graphs of the hidden test must on their own catch the
wrong resolvers in tests/wrong_answers/ch05_depends.py.
"""

from __future__ import annotations

import asyncio
import sys
import types
import warnings

import nbformat
import pytest

from autograder.paths import SOLUTIONS
from tests.wrong_answers import ch05_depends

NOTEBOOK = SOLUTIONS / "05-depends" / "depends.ipynb"
# The read-only cells the resolver and the test support need, and the answer cells (solutions).
CELLS = ["imports", "shop_support", "graph_support", "dependencies_of", "resolve", "enter_dependency",
         "call_with_dependencies"]
HIDDEN_SEEDS = range(100, 130)  # the seeds test_call_random_graphs runs in its hidden part


def namespace(replaces: dict[str, str] | None = None) -> dict:
    """The notebook's definitions, executed as plain Python; `replaces` swaps answer cells by grade id."""
    sources = {cell.metadata.get("nbgrader", {}).get("grade_id"): cell.source
               for cell in nbformat.read(NOTEBOOK, as_version=4).cells}
    sources.update(replaces or {})
    module = types.ModuleType(f"chapter05_{len(sys.modules)}")
    sys.modules[module.__name__] = module  # dataclasses look their class's module up there
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for grade_id in CELLS:
            exec(compile(sources[grade_id], f"<cell {grade_id}>", "exec"), module.__dict__)
    return module.__dict__


@pytest.fixture(scope="module")
def solution() -> dict:
    return namespace()


async def disagreements(names: dict, seeds, fastapi_logs: dict) -> list[int]:
    """The seeds whose graph gives a different log or result through `names`' resolver than through FastAPI."""
    found = []
    for seed in seeds:
        graph = names["random_graph"](seed)
        if seed not in fastapi_logs:
            fastapi_logs[seed] = names["run_fastapi"](graph)
        try:
            ours = await asyncio.wait_for(names["run_yours"](names["call_with_dependencies"], graph), 5)
        except Exception:  # noqa: BLE001 - a resolver that fails disagrees
            ours = None
        if ours != fastapi_logs[seed]:
            found.append(seed)
    return found


_fastapi_logs: dict = {}


def test_solution_agrees_with_fastapi_on_many_random_graphs(solution):
    seeds = range(0, 100)
    assert asyncio.run(disagreements(solution, seeds, _fastapi_logs)) == []


def test_random_graphs_use_every_feature(solution):
    graphs = [solution["random_graph"](seed) for seed in HIDDEN_SEEDS]
    sources = "\n".join(graph.source for graph in graphs)
    for feature in ("use_cache=False", "(*, ", "yield", "async def", "\ndef "):
        assert feature in sources, feature
    assert sum(graph.raises for graph in graphs) >= 3
    assert sum(bool(graph.overrides) for graph in graphs) >= 10
    assert any(len(set(graph.overrides.values())) < len(graph.overrides) for graph in graphs), "no shared stand-in"


@pytest.mark.parametrize("wrong", [w for w in ch05_depends.WRONG_ANSWERS
                                   if {"call_with_dependencies", "enter_dependency"} & set(w.replaces)],
                         ids=lambda w: w.name)
def test_hidden_random_graphs_catch_the_wrong_resolver(wrong, solution):
    caught = asyncio.run(disagreements(namespace(wrong.replaces), HIDDEN_SEEDS, _fastapi_logs))
    assert len(caught) >= 2, f"{wrong.name} is caught by only {caught} of the hidden random graphs"
