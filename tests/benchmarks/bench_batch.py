"""Benchmark the batch grader against stock, sequential ``nbgrader autograde`` on a synthetic class.

    python tests/benchmarks/bench_batch.py              # as root, from the repository's root folder
    python tests/benchmarks/bench_batch.py --students 10 --chapters 00-start-here

Builds a class of ``--students`` (30) for every chapter in ``solutions/``: full submissions (the
solution's answers), partial ones (a realistic wrong answer from ``tests/wrong_answers``), empty
ones (the untouched release) and adversarial ones (an infinite loop, 10 MB of output, a top-level
``await`` that never ends), 40/30/20/10 %. Two identical scratch courses get the same files; one
is graded by stock ``nbgrader autograde``, one chapter after another, the other by
``python -m autograder.classroom`` (default workers: one per core, feedback and reports included).
Then it compares every test cell's score and prints both wall times and their ratio.

Stock nbgrader discards a submission whose ``await`` never ends (no score at all); those are
counted apart, not compared. Not a test: it asserts nothing. Takes about half an hour on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from autograder.grading import Course  # noqa: E402
from autograder.paths import assignments  # noqa: E402
from tests import wrong_answers  # noqa: E402
from tests.submissions import answer_cells, filled  # noqa: E402

ADVERSARIAL = {
    "infinite-loop": "\nwhile True:\n    pass\n",
    "huge-output": "\nprint('x' * 10_000_000)\n",
    "awaits-forever": "\nimport asyncio\nawait asyncio.Event().wait()\n",
}


def build_class(course: Course, chapter: str, students: int) -> dict[str, str]:
    """Submit ``students`` notebooks of ``chapter``; returns {student: kind}."""
    release, solution = course.release_notebook(chapter), course.source_notebook(chapter)
    module = next((m for m in wrong_answers.modules() if m.ASSIGNMENT == chapter), None)
    wrong = list(getattr(module, "WRONG_ANSWERS", []))
    first = next(iter(answer_cells(solution)))
    kinds = {}
    for i in range(students):
        slot = i % 10
        if slot < 4:
            kind, notebook = "full", filled(release, solution)
        elif slot < 7:
            if wrong:
                answer = wrong[i % len(wrong)]
                kind, notebook = f"partial:{answer.name}", filled(release, solution, answer.replaces)
            else:
                kind, notebook = "partial:not-written", filled(release, solution,
                                                               {first: answer_cells(release)[first].source})
        elif slot < 9:
            kind, notebook = "empty", release
        else:
            name = list(ADVERSARIAL)[(i // 10) % len(ADVERSARIAL)]
            source = answer_cells(solution)[first].source + ADVERSARIAL[name]
            kind, notebook = f"adversarial:{name}", filled(release, solution, {first: source})
        student = f"s{i:02d}"
        course.submit(student, chapter, notebook)
        kinds[student] = kind
    return kinds


def environment() -> dict[str, str]:
    scripts = str(Path(sys.executable).parent)
    return dict(os.environ, PYTHONWARNINGS="ignore", PATH=scripts + os.pathsep + os.environ.get("PATH", ""))


def stock(root: Path, chapters: list[str]) -> float:
    started = time.monotonic()
    for chapter in chapters:  # stock nbgrader: one notebook after another
        done = subprocess.run([sys.executable, "-m", "nbgrader", "autograde", chapter], cwd=root,
                              capture_output=True, text=True, env=environment())
        if done.returncode != 0:
            print(f"  (stock nbgrader autograde {chapter} exited {done.returncode}: it discarded submissions)")
    return time.monotonic() - started


def batch(root: Path, jobs: int | None) -> tuple[float, str]:
    command = [sys.executable, "-m", "autograder.classroom"] + (["--jobs", str(jobs)] if jobs else [])
    started = time.monotonic()
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, env=environment())
    elapsed = time.monotonic() - started
    if done.returncode not in (0, 1):
        raise SystemExit(f"the batch grader failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return elapsed, done.stderr


def compare(stock_course: Course, batch_course: Course, classes: dict[str, dict[str, str]]):
    same, different, stock_lost, batch_lost = 0, [], [], []
    for chapter, kinds in classes.items():
        for student, kind in kinds.items():
            try:
                theirs = {k: v.score for k, v in stock_course.scores(chapter, student).items()}
            except Exception:  # noqa: BLE001 - stock nbgrader kept no submission
                theirs = None
            try:
                ours = {k: v.score for k, v in batch_course.scores(chapter, student).items()}
            except Exception:  # noqa: BLE001
                ours = None
            # nbgrader removes the autograded folder of a submission it gave up on (its gradebook may
            # still hold zeros for it): that submission was discarded, not graded
            kept = (stock_course.root / "autograded" / student / chapter).is_dir()
            if theirs is None or not kept or any(v is None for v in theirs.values()):
                stock_lost.append(f"{chapter}/{student} ({kind}): batch {ours}")
            elif ours is None:
                batch_lost.append(f"{chapter}/{student} ({kind})")
            elif ours == theirs:
                same += 1
            else:
                different.append(f"{chapter}/{student} ({kind}): stock {theirs} batch {ours}")
    return same, different, stock_lost, batch_lost


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--chapters", nargs="*", default=None, help="default: every chapter in solutions/")
    parser.add_argument("--jobs", type=int, default=None, help="batch workers (default: the command's, one per core)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch courses")
    args = parser.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("run as root: the batch grader's sandbox needs it")
    chapters = args.chapters or assignments()
    scratch = Path(tempfile.mkdtemp(prefix="bench-batch-"))
    print(f"{args.students} students x {len(chapters)} chapters ({', '.join(chapters)}); scratch {scratch}")
    print(f"machine: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    try:
        courses = {name: Course.create(scratch / name, chapters) for name in ("stock", "batch")}
        classes = {}
        for chapter in chapters:
            classes[chapter] = build_class(courses["stock"], chapter, args.students)
            build_class(courses["batch"], chapter, args.students)
        count = sum(len(k) for k in classes.values())
        print(f"{count} submissions: " + ", ".join(
            f"{sum(k.split(':')[0] == kind for c in classes.values() for k in c.values())} {kind}"
            for kind in ("full", "partial", "empty", "adversarial")))
        stock_time = stock(scratch / "stock", chapters)
        print(f"stock nbgrader autograde, sequential: {stock_time:7.1f} s   (load average now "
              f"{os.getloadavg()[0]:.2f})")
        batch_time, log = batch(scratch / "batch", args.jobs)
        print(f"python -m autograder.classroom:       {batch_time:7.1f} s   (load average now "
              f"{os.getloadavg()[0]:.2f})")
        print(f"speed-up: {stock_time / batch_time:.2f}x")
        same, different, stock_lost, batch_lost = compare(Course(scratch / "stock"), Course(scratch / "batch"),
                                                          classes)
        print(f"identical per-test scores: {same} of {same + len(different)} submissions stock nbgrader graded")
        for line in different:
            print("  DIFFERENT", line)
        print(f"discarded by stock nbgrader (a top-level await that never ends), graded by the batch: {len(stock_lost)}")
        for line in stock_lost:
            print("  ", line)
        for line in batch_lost:
            print("  NOT GRADED BY THE BATCH", line)
        print("batch: " + next((line for line in log.splitlines() if " graded in " in line), "(no summary line)"))
    finally:
        if not args.keep:
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
