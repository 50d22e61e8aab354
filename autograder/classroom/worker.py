"""A grading worker: one process per CPU core, grading one submission at a time with stock nbgrader.

The batch (``batch.py``) starts workers as ``python -m autograder.classroom.worker`` as soon as it
starts, and talks to each over a pipe, one JSON object per line (``setup``, then ``grade`` ...,
then ``quit``). A worker:

* first leaves the host's network (a new network namespace with only loopback), before anything
  opens a socket, so its kernels can serve and connect on 127.0.0.1 and reach nothing else;
* owns a scratch nbgrader course: ``source`` (a link to the course's), its own copy of the
  gradebook (a snapshot the batch took at the start; nbgrader's SQLite gradebook has one writer,
  the batch, and workers never touch it), ``submitted/``, ``autograded/``, ``feedback/``;
* per task, copies one student's submission in (regular files only), inspects it
  (``integrity.py``), runs nbgrader's own ``Autograde`` converter with ``ResilientExecute`` in
  place of ``Execute`` and kernels started by ``SandboxKernelManager``, then nbgrader's
  ``GenerateFeedback`` with hidden tests removed, and replies with the scores its gradebook
  copy now holds and where the autograded notebook and feedback are. The batch merges them.
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import stat
import sys
import time
import traceback
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _leave_network() -> None:
    from autograder.classroom.jail import CLONE_NEWNET, loopback_up, unshare

    unshare(CLONE_NEWNET)
    loopback_up()


class Worker:
    """The state a worker keeps between tasks."""

    def __init__(self, settings: dict[str, Any]) -> None:
        from autograder.classroom.config import load_course_config
        from autograder.classroom.kernel import SandboxKernelManager
        from autograder.classroom.sandbox import Limits, Sandbox

        self.settings = settings
        self.scratch = Path(settings["scratch"])
        self.course = self.scratch / "course"
        (self.course / "submitted").mkdir(parents=True, exist_ok=True)
        source = Path(settings["source_directory"])
        if not (self.course / "source").exists():
            (self.course / "source").symlink_to(source, target_is_directory=True)
        self.gradebook = self.course / "gradebook.db"
        shutil.copyfile(settings["template_gradebook"], self.gradebook)
        runtime = self.scratch / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        os.environ["JUPYTER_RUNTIME_DIR"] = str(runtime)
        self.sandbox = None
        if settings["sandbox"]:
            hidden = [Path(p) for p in settings["hidden"]] + [self.scratch]
            self.sandbox = Sandbox(Limits(**settings["limits"]), self.scratch / "sandbox", hidden,
                                   uid_base=settings["uid_base"])
            SandboxKernelManager.sandbox = self.sandbox
        self.config = self._config(load_course_config(Path(settings["course_root"])))

    def _config(self, config):
        from nbgrader.converters import Autograde
        from nbgrader.preprocessors import Execute

        from autograder.classroom.execute import ResilientExecute
        from autograder.classroom.feedback import FEEDBACK_PREPROCESSORS

        s = self.settings
        config.CourseDirectory.root = str(self.course)
        config.CourseDirectory.source_directory = "source"
        config.CourseDirectory.submitted_directory = "submitted"
        config.CourseDirectory.autograded_directory = "autograded"
        config.CourseDirectory.feedback_directory = "feedback"
        config.CourseDirectory.db_url = f"sqlite:///{self.gradebook}"
        steps = list(config.Autograde.autograde_preprocessors if "autograde_preprocessors" in config.Autograde
                     else Autograde().autograde_preprocessors)
        config.Autograde.autograde_preprocessors = [ResilientExecute if step in (Execute, "nbgrader.preprocessors.Execute")
                                                    else step for step in steps]
        if s.get("cell_timeout"):
            config.Execute.timeout = int(s["cell_timeout"])
        config.ResilientExecute.notebook_timeout = int(s["notebook_timeout"])
        if not s["sandbox"]:
            from jupyter_client.manager import AsyncKernelManager

            config.ResilientExecute.kernel_manager_class = AsyncKernelManager
        config.GenerateFeedback.preprocessors = FEEDBACK_PREPROCESSORS
        config.BaseConverter.force = True
        return config

    # -- one task -----------------------------------------------------------------------------------
    def grade(self, task: dict[str, Any]) -> dict[str, Any]:
        from nbgrader.api import Gradebook
        from nbgrader.converters import Autograde, NbGraderException

        from autograder.classroom import integrity
        from autograder.classroom.config import course_directory
        from autograder.classroom.execute import ResilientExecute
        from autograder.classroom.feedback import FeedbackConverter
        from autograder.classroom.kernel import SandboxKernelManager

        started = time.monotonic()
        student, assignment = task["student"], task["assignment"]
        for step in ("submitted", "autograded", "feedback"):
            shutil.rmtree(self.course / step / student, ignore_errors=True)
        folder = self.course / "submitted" / student / assignment
        findings = self._copy_submission(Path(task["path"]), folder)
        with Gradebook(f"sqlite:///{self.gradebook}") as gb:
            expected = integrity.source_notebooks(gb, assignment)
        found, renames = integrity.inspect_submission(folder, expected)
        findings += found
        for old, new in renames.items():
            (folder / old).rename(folder / new)
        for nb in expected:
            if (folder / f"{nb.name}.ipynb").exists():
                integrity.repair(folder / f"{nb.name}.ipynb", nb)
        log = _capture_logs()
        coursedir = course_directory(self.config, assignment_id=assignment, student_id=student)
        SandboxKernelManager.workdir_name = assignment
        ResilientExecute.incidents = {}
        before = self.sandbox.counters() if self.sandbox else {}
        error = ""
        graded = any((folder / f"{nb.name}.ipynb").exists() for nb in expected)
        if graded:
            try:
                Autograde(coursedir=coursedir, config=self.config).start()
            except NbGraderException:
                error = _tail(log)
            except Exception:  # noqa: BLE001 - reported for this submission, the batch goes on
                error = traceback.format_exc()[-2000:]
        else:
            self._record_empty(student, assignment)
        after = self.sandbox.counters() if self.sandbox else {}
        for name, count in after.items():
            if count > before.get(name, 0):
                limit = {"processes": f"process limit ({self.sandbox.limits.processes})",
                         "memory": "memory limit"}[name]
                findings.append(integrity.Finding("review", "-", f"the kernel hit the sandbox's {limit} "
                                                                 f"{count - before.get(name, 0)} times"))
        feedback_error = ""
        if graded and self.settings["feedback"] and (self.course / "autograded" / student / assignment).exists():
            try:
                FeedbackConverter(coursedir=course_directory(self.config, assignment_id=assignment,
                                                             student_id=student), config=self.config).start()
            except Exception as exc:  # noqa: BLE001
                feedback_error = f"{type(exc).__name__}: {exc}"
        return {"student": student, "assignment": assignment, "hash": task["hash"],
                "scores": self._scores(student, assignment), "findings": [vars(f) for f in findings],
                "incidents": ResilientExecute.incidents, "error": error, "feedback_error": feedback_error,
                "autograded": str(self.course / "autograded" / student / assignment),
                "feedback": str(self.course / "feedback" / student / assignment), "log": _tail(log, 6000),
                "seconds": round(time.monotonic() - started, 2)}

    def _copy_submission(self, source: Path, folder: Path):
        """Copy regular files only: a link in a submission could point anywhere on the grader's disk."""
        from autograder.classroom.integrity import Finding

        findings = []
        folder.mkdir(parents=True)
        if not source.is_dir():
            return [Finding("error", "-", "the submission folder does not exist")]
        for dirpath, dirnames, filenames in os.walk(source):
            rel = Path(dirpath).relative_to(source)
            for name in list(dirnames):
                if os.path.islink(os.path.join(dirpath, name)):
                    dirnames.remove(name)
                    findings.append(Finding("review", str(rel / name), "a symbolic link in the submission: ignored"))
                else:
                    (folder / rel / name).mkdir(exist_ok=True)
            for name in filenames:
                path = Path(dirpath) / name
                mode = os.lstat(path).st_mode
                if not stat.S_ISREG(mode):
                    findings.append(Finding("review", str(rel / name), "not a regular file (a link?): ignored"))
                    continue
                shutil.copyfile(path, folder / rel / name)
        return findings

    def _record_empty(self, student: str, assignment: str) -> None:
        """No gradable notebook at all: record the submission as stock nbgrader would (all zero)."""
        from nbgrader.api import Gradebook

        with Gradebook(f"sqlite:///{self.gradebook}") as gb:
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(assignment, student)
            for notebook in submission.notebooks:
                for grade in notebook.grades:
                    grade.auto_score = 0
                    grade.needs_manual_grade = False
            gb.db.commit()

    def _scores(self, student: str, assignment: str) -> dict[str, Any]:
        """Everything autograde wrote for this submission, as plain data, for the batch to merge."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(f"sqlite:///{self.gradebook}") as gb:
            try:
                submission = gb.find_submission(assignment, student)
            except MissingEntry:
                return {}
            return {
                "timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                "notebooks": {
                    nb.name: {
                        "late_submission_penalty": nb.late_submission_penalty,
                        "grades": {g.name: {"auto_score": g.auto_score, "max_score": g.max_score,
                                            "needs_manual_grade": g.needs_manual_grade,
                                            "cell_type": g.cell_type} for g in nb.grades},
                        "comments": {c.name: c.auto_comment for c in nb.comments},
                    } for nb in submission.notebooks},
            }

    def close(self) -> None:
        if self.sandbox is not None:
            self.sandbox.close()


def _capture_logs() -> io.StringIO:
    """Send nbgrader's log for this task to a buffer (and nowhere else)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
    for name in ("traitlets", "NbGrader", "nbgrader"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return buffer


def _tail(buffer: io.StringIO, limit: int = 3000) -> str:
    return buffer.getvalue()[-limit:]


def _prewarm() -> None:
    """Import what grading needs while the batch is still collecting submissions."""
    import nbclient  # noqa: F401
    import nbgrader.converters  # noqa: F401
    from nbconvert.exporters import HTMLExporter  # noqa: F401

    from autograder.classroom import execute, feedback, integrity  # noqa: F401


def main(argv: list[str]) -> int:
    """``worker.py [--no-sandbox]``: then one ``setup`` line, then ``grade`` lines, until ``quit``."""
    sandbox = "--no-sandbox" not in argv
    # replies go on a private copy of stdout; anything else printing to fd 1 lands in the log
    replies = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    hello: dict[str, Any] = {"op": "hello", "pid": os.getpid()}
    try:
        if sandbox:
            _leave_network()  # before anything opens a socket or starts a thread
        _prewarm()
        line = sys.stdin.readline()
        if not line:
            return 0
        worker = Worker(json.loads(line)["settings"])
    except Exception as exc:  # noqa: BLE001 - the batch reports it and stops
        replies.write(json.dumps({"op": "failed", "error": f"{type(exc).__name__}: {exc}",
                                  "traceback": traceback.format_exc()}) + "\n")
        return 1
    if worker.sandbox is not None:
        hello.update(uid=worker.sandbox.uid, cgroups=[str(c) for c in worker.sandbox.cgroups],
                     mechanisms=worker.sandbox.mechanisms.available)
    replies.write(json.dumps(hello) + "\n")
    try:
        for line in sys.stdin:
            message = json.loads(line)
            if message["op"] == "quit":
                break
            try:
                result = worker.grade(message["task"])
            except Exception as exc:  # noqa: BLE001 - one submission's failure is that submission's
                result = {"student": message["task"]["student"], "assignment": message["task"]["assignment"],
                          "hash": message["task"]["hash"], "crash": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()[-3000:]}
            replies.write(json.dumps({"op": "result", **result}, default=str) + "\n")
    finally:
        worker.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
