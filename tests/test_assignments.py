"""Every assignment, graded by nbgrader itself: solutions get full marks, untouched releases get
zero, realistic wrong answers lose the right points with a message that names the mistake, and
correct answers written differently keep full marks.

Each assignment is graded in one ``nbgrader autograde`` run over all its fake students. Mistakes in
exercises that cannot see each other share a fake student (``tests/packing.py``), which keeps the
suite fast; each is still checked on its own test cells and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest

from autograder.grading import Course, Score
from autograder.paths import SOLUTIONS, assignment_notebooks, assignments
from tests import wrong_answers
from tests.packing import Pack, answer_dependencies, pack, untouched_cells
from tests.submissions import filled, graded_cells
from tests.wrong_answers import RightAnswer, WrongAnswer

ASSIGNMENTS = assignments()
VARIANTS = {module.ASSIGNMENT: module for module in wrong_answers.modules()}


@dataclass
class Graded:
    course: Course
    assignment: str
    test_cells: list[str]
    depends: dict[str, set[str]]  #: test cell -> the answer cells it may depend on
    packs: dict[str, Pack]        #: variant name -> the fake student that carries it

    def scores(self, student: str) -> dict[str, Score]:
        return self.course.scores(self.assignment, student)

    def output(self, student: str, grade_id: str) -> str:
        return self.course.cell_output(self.assignment, student, grade_id)


def _wrong(assignment: str) -> list[WrongAnswer]:
    return list(getattr(VARIANTS.get(assignment), "WRONG_ANSWERS", []))


def _right(assignment: str) -> list[RightAnswer]:
    return list(getattr(VARIANTS.get(assignment), "RIGHT_ANSWERS", []))


_graded: dict[str, Graded] = {}


def graded(assignment: str, tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Grade every fake student of ``assignment`` once per test session."""
    if assignment not in _graded:
        root: Path = tmp_path_factory.mktemp(f"course-{assignment}")
        course = Course.create(root, [assignment])
        release = course.release_notebook(assignment)
        solution = course.source_notebook(assignment)
        course.submit("untouched", assignment, release)
        course.submit("filled", assignment, filled(release, solution))
        depends = answer_dependencies(solution)
        packs = pack(_wrong(assignment), depends, "wrong-") + pack(_right(assignment), depends, "right-")
        for one in packs:
            course.submit(one.student, assignment, filled(release, solution, one.replaces))
        course.autograde(assignment)
        _graded[assignment] = Graded(course, assignment, sorted(graded_cells(solution)), depends,
                                     {member.name: one for one in packs for member in one.members})
    return _graded[assignment]


def _group(assignment: str, *values: object):
    return pytest.param(assignment, *values, marks=pytest.mark.xdist_group(assignment),
                        id="-".join([assignment, *(getattr(v, "name", str(v)) for v in values)]))


def _describe(result: Graded, student: str) -> str:
    lines = [f"{student}'s scores:"]
    for gid, score in sorted(result.scores(student).items()):
        lines.append(f"  {gid}: {score.score:g}/{score.max_score:g}")
        if score.score != score.max_score:
            lines.append("    " + result.output(student, gid)[-800:].replace("\n", "\n    "))
    return "\n".join(lines)


@pytest.mark.parametrize("assignment", [_group(a) for a in ASSIGNMENTS])
def test_every_test_cell_has_points(assignment, tmp_path_factory):
    result = graded(assignment, tmp_path_factory)
    scores = result.scores("filled")
    assert sorted(scores) == result.test_cells
    assert all(s.max_score > 0 for s in scores.values()), scores


# "filled": the release with the solution's answers, as a learner would hand it in (nbgrader restores the
# hidden tests from the source). Grading the source notebook itself as well would add nothing.
@pytest.mark.parametrize("assignment,student", [_group(a, s) for a in ASSIGNMENTS for s in ("filled",)])
def test_solution_gets_full_marks(assignment, student, tmp_path_factory):
    result = graded(assignment, tmp_path_factory)
    scores = result.scores(student)
    assert scores, f"{student}'s submission of {assignment} was not graded"
    assert all(s.score == s.max_score for s in scores.values()), _describe(result, student)


@pytest.mark.parametrize("assignment", [_group(a) for a in ASSIGNMENTS])
def test_untouched_release_gets_zero(assignment, tmp_path_factory):
    result = graded(assignment, tmp_path_factory)
    scores = result.scores("untouched")
    assert sorted(scores) == result.test_cells, "the untouched notebook was not graded on every test cell"
    assert all(s.score == 0 for s in scores.values()), _describe(result, "untouched")
    for gid in result.test_cells:
        assert "not written yet" in result.output("untouched", gid), (
            f"{gid} should tell a learner who has not started that the answer is not written yet:\n"
            + result.output("untouched", gid)[-800:])


@pytest.mark.parametrize("assignment", [_group(a) for a in ASSIGNMENTS])
def test_every_test_cell_rejects_a_wrong_answer(assignment):
    rejected = {gid for wrong in _wrong(assignment) for gid in wrong.fails}
    cells = set(graded_cells(nbformat.read(assignment_notebooks(SOLUTIONS / assignment)[0], as_version=4)))
    assert cells <= rejected, f"no wrong answer in tests/wrong_answers/ is rejected by {sorted(cells - rejected)}"


@pytest.mark.parametrize("assignment,wrong", [_group(a, w) for a in ASSIGNMENTS for w in _wrong(a)])
def test_wrong_answer_is_rejected_with_a_useful_message(assignment, wrong, tmp_path_factory):
    result = graded(assignment, tmp_path_factory)
    carrier = result.packs[wrong.name]
    student = carrier.student
    scores = result.scores(student)
    assert scores, f"the submission {student} ({wrong.name}) was not graded at all"
    for gid, pattern in wrong.fails.items():
        output = result.output(student, gid)
        assert scores[gid].score == 0, f"{wrong.name}: {gid} should lose its points\n" + _describe(result, student)
        assert re.search(pattern, output, re.IGNORECASE | re.DOTALL), (
            f"{wrong.name}: {gid}'s failure should match {pattern!r}; it says:\n{output[-1500:]}")
    others = {gid for member in carrier.members if member is not wrong for gid in member.replaces}
    kept = [gid for gid, s in scores.items() if s.score == s.max_score or result.depends[gid] & others]
    assert kept, f"{wrong.name}: every test cell failed, so the message cannot point at the mistake"
    lost = [gid for gid in untouched_cells(carrier, result.depends) if scores[gid].score != scores[gid].max_score]
    assert not lost, (
        f"{student} carries {[m.name for m in carrier.members]}; {lost} depend on none of their answers yet lost "
        "points. Either tests/packing.py missed a dependency, or a mistake upsets the kernel itself: mark it "
        "alone=True.\n" + _describe(result, student))


@pytest.mark.parametrize("assignment,right", [_group(a, r) for a in ASSIGNMENTS for r in _right(a)])
def test_correct_answer_written_differently_gets_full_marks(assignment, right, tmp_path_factory):
    result = graded(assignment, tmp_path_factory)
    student = result.packs[right.name].student
    scores = result.scores(student)
    assert scores and all(s.score == s.max_score for s in scores.values()), _describe(result, student)
