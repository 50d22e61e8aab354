"""Grade a class: find the submissions, grade them in parallel workers, merge, report.

One process (this one) is the only writer of the course: it collects submissions into
``submitted/``, hands one submission at a time to each worker (``worker.py``; one per core),
merges every result into the course gradebook and journal as it arrives, copies the autograded
notebook and the feedback into ``autograded/`` and ``feedback/``, and finally writes the reports.

Every step is bounded: a worker that does not answer within a submission's bound (per-notebook
budget x notebooks, plus start-up) is killed with everything its kernels started, the submission
is reported as not graded with that reason, and a fresh worker takes the next one. Ctrl-C stops
the batch cleanly; what was merged stays merged, and the same command grades the rest.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

from autograder.classroom import collect, gradebook, report
from autograder.classroom.config import course_directory, load_course_config
from autograder.classroom.sandbox import Limits, SandboxUnavailable, describe, probe, remove_cgroups, sweep
from autograder.paths import assignment_notebooks

__all__ = ["Options", "Outcome", "run", "REQUIRED"]

#: mechanisms without which the batch refuses to run student code (unless told ``--no-sandbox``)
REQUIRED = ["root", "namespaces", "unprivileged uid", "network isolation", "loopback inside", "hidden folders",
            "resource limits"]


@dataclass
class Options:
    """What ``python -m autograder.classroom`` was asked to do."""

    course: Path = Path(".")
    assignments: list[str] = field(default_factory=list)
    students: list[str] = field(default_factory=list)  #: only these students (default: everyone)
    download: Path | None = None
    pattern: str | None = None
    jobs: int = os.cpu_count() or 1
    force: bool = False
    cell_timeout: int | None = None
    notebook_timeout: int = 300
    limits: Limits = field(default_factory=Limits)
    out: Path | None = None
    feedback: bool = True
    sandbox: bool = True
    uid_base: int = 64000
    scratch: Path | None = None
    quiet: bool = False


@dataclass
class Outcome:
    """What a batch did."""

    graded: int = 0
    flagged: int = 0
    failed: int = 0
    skipped: int = 0
    interrupted: bool = False
    elapsed: float = 0.0
    reports: dict[str, Path] = field(default_factory=dict)
    results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


class WorkerHandle:
    """One worker process, seen from the batch: started early (it imports while we collect), set up later."""

    def __init__(self, index: int, scratch: Path, sandbox: bool) -> None:
        self.index = index
        self.folder = scratch / f"worker-{index}"
        self.folder.mkdir(mode=0o700, exist_ok=True)
        self.log = open(self.folder / "worker.log", "ab")
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.classroom.worker"]
                                     + ([] if sandbox else ["--no-sandbox"]),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log,
                                     start_new_session=True, text=True, bufsize=1)
        self.uid: int | None = None
        self.cgroups: list[str] = []
        self.task: dict[str, Any] | None = None
        self.bound = self.deadline = 0.0
        self.ready = False

    def setup(self, settings: dict[str, Any]) -> None:
        message = {"op": "setup", "settings": dict(settings, scratch=str(self.folder / "work"))}
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def hello(self, message: dict[str, Any]) -> None:
        if message.get("op") != "hello":
            raise SandboxUnavailable(f"worker {self.index} could not start: {message.get('error')}\n"
                                     f"{message.get('traceback', '')[-1500:]}")
        self.uid, self.cgroups, self.ready = message.get("uid"), message.get("cgroups", []), True

    def send(self, task: dict[str, Any], bound: float) -> None:
        self.task, self.bound, self.deadline = task, bound, time.monotonic() + bound
        self.proc.stdin.write(json.dumps({"op": "grade", "task": task}) + "\n")
        self.proc.stdin.flush()

    def kill(self) -> None:
        """The worker, its kernels, and anything they started."""
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        if self.uid is not None:
            sweep(self.uid, [Path(c) for c in self.cgroups])
            remove_cgroups([Path(c) for c in self.cgroups])
        self.log.close()

    def stop(self) -> None:
        try:
            self.proc.stdin.write('{"op": "quit"}\n')
            self.proc.stdin.flush()
            self.proc.wait(timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            pass
        self.kill()

    def log_tail(self) -> str:
        try:
            return (self.folder / "worker.log").read_text(errors="replace")[-2000:]
        except OSError:
            return ""


def run(options: Options, say: Callable[[str], None] | None = None) -> Outcome:
    """Grade every submission that is new or changed (all of them with ``force``)."""
    say = say or (lambda line: print(line, file=sys.stderr))
    outcome = Outcome()
    started = time.monotonic()
    root = Path(options.course).resolve()
    config = load_course_config(root)
    coursedir = course_directory(config)
    path = lambda step: Path(coursedir.format_path(step, ".", ".")).resolve()  # noqa: E731
    source, submitted = path(coursedir.source_directory), path(coursedir.submitted_directory)
    autograded, feedback = path(coursedir.autograded_directory), path(coursedir.feedback_directory)
    db_url = coursedir.db_url
    gradebook.sqlite_path(db_url)
    out = Path(options.out).resolve() if options.out else root / "reports"
    journal = gradebook.Journal(out / "journal.jsonl")

    hidden = [root, source, submitted, autograded, feedback, out, gradebook.sqlite_path(db_url).resolve().parent]
    if options.download:
        hidden.append(Path(options.download).resolve().parent)
    assignments = options.assignments or sorted(p.name for p in source.iterdir()
                                                if p.is_dir() and assignment_notebooks(p))
    unknown = [a for a in assignments if not (source / a).is_dir()]
    if unknown:
        raise ValueError(f"no such assignment in {source}: {', '.join(unknown)}")
    scratch = Path(tempfile.mkdtemp(prefix="asgi-grader-", dir=options.scratch))
    os.chmod(scratch, 0o700)
    workers: list[WorkerHandle] = []
    sandbox_text = ""
    try:
        if not options.sandbox or os.geteuid() == 0:  # start them now: they import while we get ready
            workers += [WorkerHandle(i, scratch, options.sandbox) for i in range(options.jobs)]
        sandbox_text = _check_sandbox(options, hidden, say)
        for assignment in assignments:
            done = gradebook.ensure_assignment(root, db_url, assignment, scratch)
            if done:
                say(done)
        if options.download:
            names = {a: [p.name for p in assignment_notebooks(source / a)] for a in assignments}
            pattern = options.pattern or config.FileNameCollectorPlugin.get("named_regexp", "")
            if not pattern:
                raise ValueError("no file-name pattern: pass --pattern or set "
                                 "c.FileNameCollectorPlugin.named_regexp in nbgrader_config.py")
            submissions, problems = collect.from_download(Path(options.download), scratch / "download", submitted,
                                                          names, pattern, config)
            outcome.problems += problems
            for problem in problems:
                say(f"warning: {problem}")
            if not options.assignments:
                assignments = sorted({s.assignment for s in submissions})
        else:
            submissions = collect.from_submitted(submitted, assignments)
        if options.students:
            submissions = [s for s in submissions if s.student in options.students]
        tasks = _tasks(submissions, journal.entries(), db_url, options.force, outcome)
        say(f"{len(tasks)} submissions to grade, {outcome.skipped} already graded"
            + (" (use --force to grade them again)" if outcome.skipped else ""))
        if tasks:
            template = scratch / "template.db"
            gradebook.snapshot(db_url, template)
            settings = {"source_directory": str(source), "template_gradebook": str(template),
                        "course_root": str(root), "sandbox": options.sandbox, "hidden": [str(h) for h in hidden],
                        "limits": asdict(options.limits), "uid_base": options.uid_base,
                        "cell_timeout": options.cell_timeout, "notebook_timeout": options.notebook_timeout,
                        "feedback": options.feedback}
            _grade(tasks, settings, scratch, workers, options, db_url, journal,
                   {"autograded": autograded, "feedback": feedback}, outcome)
    except KeyboardInterrupt:
        outcome.interrupted = True
        say(f"\ninterrupted: {outcome.graded + outcome.flagged} submissions graded and saved; "
            "run the same command again to grade the rest")
    finally:
        for worker in workers:
            if worker.ready and not outcome.interrupted:
                worker.stop()
            else:
                worker.kill()
        shutil.rmtree(scratch, ignore_errors=True)
    outcome.elapsed = time.monotonic() - started
    results = report.collect_results(db_url, assignments, journal.entries()) \
        if gradebook.sqlite_path(db_url).exists() else []
    header = [f"Graded {outcome.graded + outcome.flagged + outcome.failed} submissions in {outcome.elapsed:.0f} s "
              f"with {options.jobs} workers ({outcome.skipped} already graded).",
              "Scores are nbgrader's, from the course gradebook; statuses and notes from reports/journal.jsonl."]
    outcome.reports = report.write_reports(out, results, {"header": header, "sandbox": sandbox_text,
                                                          "problems": outcome.problems})
    return outcome


def _check_sandbox(options: Options, hidden: list[Path], say: Callable[[str], None]) -> str:
    """Probe the sandbox; refuse to grade when a required mechanism is missing."""
    if not options.sandbox:
        text = ("!!! NO SANDBOX: student code runs with YOUR rights, can read the hidden tests and the "
                "gradebook, and can use the network. Only for trusted notebooks. !!!")
        say(text)
        return text
    mech = probe(options.limits, hidden, uid_base=options.uid_base)
    text = describe(mech)
    missing = [name for name in REQUIRED if not mech.available.get(name, False)]
    if missing:
        raise SandboxUnavailable("the sandbox is not available here, so no student code will run:\n" + text
                                 + "\n(--no-sandbox grades without it: only for notebooks you trust)")
    soft = [name for name, ok in mech.available.items() if not ok]
    if soft:
        say("WARNING: part of the sandbox is missing on this machine:\n" + text + "\n"
            "  without the pids cgroup, a fork bomb is held only by RLIMIT_NPROC on the sandbox's own uid;\n"
            "  without the memory cgroup, memory only by RLIMIT_AS per process; without cpu, it may use every core.")
    elif not options.quiet:
        say("sandbox:\n" + text)
    return text


def _tasks(submissions: list[collect.Submission], journal: dict, db_url: str, force: bool,
           outcome: Outcome) -> list[dict[str, Any]]:
    from nbgrader.api import Gradebook, MissingEntry

    tasks = []
    with Gradebook(db_url) as gb:
        for sub in submissions:
            digest = collect.fingerprint(sub.path)
            entry = journal.get((sub.student, sub.assignment))
            if not force and entry and entry.get("hash") == digest and entry.get("status") in ("graded", "flagged"):
                try:
                    gb.find_submission(sub.assignment, sub.student)
                    outcome.skipped += 1
                    continue
                except MissingEntry:
                    pass
            tasks.append({"student": sub.student, "assignment": sub.assignment, "path": str(sub.path),
                          "hash": digest, "findings": [vars(f) for f in sub.findings]})
    return tasks


def _grade(tasks, settings, scratch, workers, options, db_url, journal, course_dirs, outcome) -> None:
    """Hand tasks to the (already started) workers and merge their results as they come."""
    from nbgrader.api import Gradebook

    from autograder.classroom.progress import Progress

    pending = deque(tasks)
    selector = selectors.DefaultSelector()
    progress = Progress(len(tasks))
    bound_per_notebook = options.notebook_timeout + 30

    def start(worker: WorkerHandle) -> None:
        worker.setup(settings)
        selector.register(worker.proc.stdout, selectors.EVENT_READ, worker)

    def retire(worker: WorkerHandle) -> None:
        selector.unregister(worker.proc.stdout)
        workers.remove(worker)
        worker.kill()

    def replace(worker: WorkerHandle) -> None:
        fresh = WorkerHandle(worker.index, scratch, options.sandbox)
        workers.append(fresh)
        start(fresh)

    for extra in workers[len(tasks):]:
        workers.remove(extra)
        extra.kill()
    for worker in workers:
        start(worker)
    start_deadline = time.monotonic() + 120
    with Gradebook(db_url) as gb:
        while pending or any(w.task for w in workers):
            for worker in workers:
                if worker.ready and worker.task is None and pending:
                    task = pending.popleft()
                    notebooks = max(1, len(assignment_notebooks(Path(settings["source_directory"]) / task["assignment"])))
                    worker.send(task, 90 + notebooks * bound_per_notebook)
            now = time.monotonic()
            waits = [w.deadline - now for w in workers if w.task] + \
                    [start_deadline - now for w in workers if not w.ready]
            for key, _ in selector.select(timeout=max(0.05, min(waits, default=1.0))):
                worker: WorkerHandle = key.data
                line = worker.proc.stdout.readline()
                if not line:  # the worker died
                    task = worker.task
                    tail = worker.log_tail()
                    retire(worker)
                    if task is None and not worker.ready:
                        raise SandboxUnavailable(f"a worker could not start:\n{tail}")
                    if task is not None:
                        _failed(task, "the grading worker died (see the note below); the batch went on",
                                tail, journal, outcome, progress)
                    replace(worker)
                    continue
                message = json.loads(line)
                if not worker.ready:
                    worker.hello(message)
                    continue
                task, worker.task = worker.task, None
                _finish(task, message, gb, journal, course_dirs, outcome, progress)
            now = time.monotonic()
            for worker in list(workers):
                if worker.task and now > worker.deadline:
                    task = worker.task
                    retire(worker)
                    _failed(task, f"grading did not finish within its bound of {worker.bound:.0f} s; the worker "
                            "and everything its kernel started were killed", "", journal, outcome, progress)
                    replace(worker)
                elif not worker.ready and now > start_deadline:
                    raise SandboxUnavailable(f"a worker did not start within 120 s:\n{worker.log_tail()}")


def _notes(task: dict[str, Any], result: dict[str, Any]) -> list[str]:
    from autograder.classroom.integrity import Finding

    notes = [str(Finding(**f)) for f in task.get("findings", []) + result.get("findings", [])]
    for notebook, incidents in (result.get("incidents") or {}).items():
        for incident in incidents:
            where = incident.get("grade_id") or (f"cell {incident['cell']}" if incident.get("cell") is not None else "")
            notes.append(f"{notebook}.ipynb" + (f" [{where}]" if where else "") + f": {incident['what']}")
    if result.get("error"):
        notes.append("nbgrader could not grade it: " + _last_exception(result["error"]))
    if result.get("feedback_error"):
        notes.append(f"feedback not written: {result['feedback_error']}")
    return notes


def _last_exception(log: str) -> str:
    """The most telling line of nbgrader's error log: the last ``SomeError: ...`` line."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    found = [line for line in lines if re.match(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b", line)]
    useful = [line for line in lines if line.startswith("[ERROR]") and "Please see" not in line
              and "There was an error" not in line]
    return (found or useful or lines or ["(no log)"])[-1][-600:]


def _finish(task, result, gb, journal, course_dirs, outcome, progress) -> None:
    """Merge one worker's result: files first, then the gradebook, then the journal."""
    student, assignment = task["student"], task["assignment"]
    notes = _notes(task, result)
    if "crash" in result:
        _failed(task, f"the worker failed on it: {result['crash']}", result.get("traceback", ""),
                journal, outcome, progress)
        return
    try:
        for kind in ("autograded", "feedback"):
            src, dest = Path(result[kind]), course_dirs[kind] / student / assignment
            if src.is_dir():
                staging = dest.with_name(dest.name + ".batch-tmp")
                shutil.rmtree(staging, ignore_errors=True)
                shutil.copytree(src, staging)
                shutil.rmtree(dest, ignore_errors=True)
                staging.rename(dest)
        gradebook.merge(gb, student, assignment, result.get("scores") or {})
    except Exception as exc:  # noqa: BLE001 - this submission fails, the batch goes on
        gb.db.rollback()
        _failed(task, f"could not merge it into the gradebook: {type(exc).__name__}: {exc}", "",
                journal, outcome, progress)
        return
    serious = result.get("error") or any(f["severity"] in ("review", "error")
                                         for f in task.get("findings", []) + result.get("findings", []))
    status = "flagged" if serious or any(result.get("incidents", {}).values()) else "graded"
    total = sum(g["auto_score"] or 0 for nb in (result.get("scores") or {}).get("notebooks", {}).values()
                for g in nb["grades"].values())
    entry = {"student": student, "assignment": assignment, "hash": task["hash"], "status": status,
             "auto_score": total, "seconds": result.get("seconds"), "notes": notes}
    journal.append(entry)
    outcome.results[(student, assignment)] = entry
    setattr(outcome, status, getattr(outcome, status) + 1)
    progress.advance(status)


def _failed(task, why, detail, journal, outcome, progress) -> None:
    entry = {"student": task["student"], "assignment": task["assignment"], "hash": task["hash"],
             "status": "failed", "notes": [why] + ([detail.strip().splitlines()[-1][-300:]] if detail.strip() else [])}
    journal.append(entry)
    outcome.results[(task["student"], task["assignment"])] = entry
    outcome.failed += 1
    progress.advance("failed")
