"""The instructor's one command: grade every submission of a class.

    python -m autograder.classroom [ASSIGNMENT ...] [--from DOWNLOAD] [options]

Run it as root in the course folder (where ``nbgrader_config.py`` is). Without ``--from`` it
grades nbgrader's ``submitted/`` tree; with ``--from`` an LMS download (a zip, or a folder of
notebooks named as the LMS names them) is first placed into ``submitted/``. It writes
``autograded/``, the gradebook, ``feedback/`` (HTML, hidden tests removed) and ``reports/``
(``grades.csv``, ``cells.csv``, ``summary.html`` with plots, ``journal.jsonl``).
Exit status: 0 all graded, 1 some flagged or not graded, 2 refused (e.g. no sandbox), 130 interrupted.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from pathlib import Path

from autograder.classroom.batch import Options, run
from autograder.classroom.sandbox import Limits, SandboxUnavailable, describe, probe

__all__ = ["main", "parser"]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m autograder.classroom", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT",
                   help="assignments to grade (default: every assignment in the source folder)")
    p.add_argument("--from", dest="download", type=Path, metavar="DOWNLOAD",
                   help="an LMS download: a zip or a folder of notebooks (nbgrader zip_collect naming)")
    p.add_argument("--pattern", help="file-name regexp for --from, with (?P<student_id>..) and (?P<file_id>..) "
                                     "(default: c.FileNameCollectorPlugin.named_regexp)")
    p.add_argument("--course", type=Path, default=Path("."), help="the course folder (default: here)")
    p.add_argument("--jobs", "-j", type=int, default=os.cpu_count() or 1, help="parallel workers (default: cores)")
    p.add_argument("--student", dest="students", action="append", default=[], metavar="ID",
                   help="grade only this student (repeatable)")
    p.add_argument("--force", action="store_true", help="grade everything again, not only new or changed work")
    p.add_argument("--out", type=Path, help="where reports go (default: COURSE/reports)")
    p.add_argument("--no-feedback", dest="feedback", action="store_false", help="do not write feedback HTML")
    limits = p.add_argument_group("limits for each kernel (sandbox)")
    d = Limits()
    limits.add_argument("--cell-timeout", type=int, help="seconds per cell (default: c.Execute.timeout)")
    limits.add_argument("--notebook-timeout", type=int, default=300, help="seconds per notebook (default: 300)")
    limits.add_argument("--memory", type=int, default=d.memory_mb, help=f"MiB (default: {d.memory_mb})")
    limits.add_argument("--cpu-seconds", type=int, default=d.cpu_seconds, help=f"(default: {d.cpu_seconds})")
    limits.add_argument("--processes", type=int, default=d.processes, help=f"processes+threads (default: {d.processes})")
    limits.add_argument("--file-size", type=int, default=d.file_size_mb, help=f"MiB per file (default: {d.file_size_mb})")
    limits.add_argument("--open-files", type=int, default=d.open_files, help=f"(default: {d.open_files})")
    limits.add_argument("--uid-base", type=int, default=64000, help="first uid the sandbox may lease (default: 64000)")
    p.add_argument("--check-sandbox", action="store_true", help="only check the sandbox on this machine, then exit")
    p.add_argument("--no-sandbox", dest="sandbox", action="store_false",
                   help="DANGEROUS: run student code unconfined, with your rights (trusted notebooks only)")
    return p


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    limits = Limits(memory_mb=args.memory, cpu_seconds=args.cpu_seconds, processes=args.processes,
                    file_size_mb=args.file_size, open_files=args.open_files)
    if args.check_sandbox:
        mech = probe(limits, [args.course.resolve()], uid_base=args.uid_base)
        print(describe(mech))
        return 0 if all(mech.available.values()) else 2
    signal.signal(signal.SIGTERM, _interrupt)
    options = Options(course=args.course, assignments=args.assignments, students=args.students,
                      download=args.download,
                      pattern=args.pattern, jobs=max(1, args.jobs), force=args.force, cell_timeout=args.cell_timeout,
                      notebook_timeout=args.notebook_timeout, limits=limits, out=args.out, feedback=args.feedback,
                      sandbox=args.sandbox, uid_base=args.uid_base)
    try:
        outcome = run(options)
    except (SandboxUnavailable, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    total = outcome.graded + outcome.flagged + outcome.failed
    print(f"{total} graded in {outcome.elapsed:.0f} s: {outcome.graded} clean, {outcome.flagged} flagged for a look, "
          f"{outcome.failed} not graded; {outcome.skipped} already graded", file=sys.stderr)
    for name, path in outcome.reports.items():
        print(f"  {name}: {path}", file=sys.stderr)
    if outcome.interrupted:
        return 130
    return 1 if outcome.flagged or outcome.failed else 0
