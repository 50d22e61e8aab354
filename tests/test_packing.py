"""The analysis that lets independent mistakes share one graded submission (tests/packing.py)."""

from __future__ import annotations

import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from tests.packing import answer_dependencies, pack, untouched_cells
from tests.wrong_answers import WrongAnswer


def notebook(*cells: tuple[str, str, str]):
    """Cells as (kind, grade id, source), kind one of "code", "answer", "test"."""
    made = []
    for kind, gid, source in cells:
        cell = new_code_cell(source)
        if kind != "code":
            cell.metadata["nbgrader"] = {"grade_id": gid, "solution": kind == "answer", "grade": kind == "test",
                                         "locked": kind == "test"}
        made.append(cell)
    return new_notebook(cells=made)


def test_a_test_depends_on_the_answer_it_calls_and_not_on_others():
    nb = notebook(("answer", "add", "def add(a, b):\n    return a + b"),
                  ("answer", "mul", "def mul(a, b):\n    return a * b"),
                  ("test", "test_add", "assert add(1, 2) == 3"),
                  ("test", "test_mul", "assert mul(2, 3) == 6"))
    assert answer_dependencies(nb) == {"test_add": {"add"}, "test_mul": {"mul"}}


def test_dependencies_chain_through_helpers_and_earlier_test_cells():
    nb = notebook(("answer", "parse", "def parse(text):\n    return text.split()"),
                  ("test", "test_parse", "def words(text):\n    return parse(text)\nassert words('a b') == ['a', 'b']"),
                  ("answer", "count", "def count(text):\n    return len(text)"),
                  ("test", "test_count", "assert count(words('a b')) == 2"))
    assert answer_dependencies(nb)["test_count"] == {"count", "parse"}


def test_a_function_reads_globals_when_called_even_if_they_are_defined_later():
    nb = notebook(("code", "", "def make_app():\n    return lifespan"),
                  ("answer", "lifespan", "async def lifespan(scope, receive, send):\n    pass"),
                  ("test", "test_lifespan", "app = make_app()"))
    assert answer_dependencies(nb)["test_lifespan"] == {"lifespan"}


def test_a_name_bound_again_no_longer_carries_the_old_dependency():
    nb = notebook(("answer", "serve", "def serve():\n    return 1"),
                  ("code", "", "server = serve()"),
                  ("code", "", "server = 'a stand-in'"),
                  ("test", "test_other", "for server in range(3):\n    pass\nwith open(__file__) as srv:\n    srv.read()\n"
                                         "assert server is not None"))
    assert answer_dependencies(nb)["test_other"] == set()


def test_a_name_read_before_the_cell_binds_it_comes_from_the_earlier_cell():
    nb = notebook(("answer", "start", "count = 1"),
                  ("test", "test_start", "count = count + 1\nassert count == 2"))
    assert answer_dependencies(nb)["test_start"] == {"start"}


def test_magics_and_top_level_await_are_understood():
    nb = notebook(("answer", "fetch", "async def fetch():\n    return 1"),
                  ("test", "test_fetch", "%time x = 1\nassert await fetch() == 1"))
    assert answer_dependencies(nb)["test_fetch"] == {"fetch"}


def wrong(name: str, cell: str, fails: str, alone: bool = False) -> WrongAnswer:
    return WrongAnswer(name, {cell: "pass"}, {fails: "."}, alone)


def test_pack_groups_mistakes_that_cannot_see_each_other():
    depends = {"test_add": {"add"}, "test_mul": {"mul"}, "test_both": {"add", "mul"}}
    packs = pack([wrong("add-1", "add", "test_add"), wrong("mul-1", "mul", "test_mul"),
                  wrong("add-2", "add", "test_add"), wrong("both", "mul", "test_both"),
                  wrong("loops", "mul", "test_mul", alone=True)], depends, "w")
    assert [[m.name for m in p.members] for p in packs] == [["add-1", "mul-1"], ["add-2"], ["both"], ["loops"]]
    assert untouched_cells(packs[1], depends) == ["test_mul"]


def test_the_chapters_packs_leave_each_mistake_its_own_test_cells():
    from autograder.paths import SOLUTIONS, assignment_notebooks
    from tests import wrong_answers

    for module in wrong_answers.modules():
        depends = answer_dependencies(nbformat.read(assignment_notebooks(SOLUTIONS / module.ASSIGNMENT)[0], 4))
        for carrier in pack(module.WRONG_ANSWERS, depends, "w"):
            for member in carrier.members:
                others = {gid for m in carrier.members if m is not member for gid in m.replaces}
                for cell in member.fails:
                    assert not depends[cell] & others, (module.ASSIGNMENT, member.name, cell)


def test_an_exception_caught_by_name_is_the_handlers_own():
    nb = notebook(("answer", "risky", "def risky():\n    return 1 / 0"),
                  ("code", "", "try:\n    risky()\nexcept ZeroDivisionError as error:\n    exc = error"),
                  ("test", "test_other", "try:\n    int('x')\nexcept ValueError as exc:\n    print(exc)"))
    assert answer_dependencies(nb)["test_other"] == set()
