"""A corpus of bad submissions of chapter 00, each built from the release like a learner's file.

The good submissions graded beside them are the realistic ones of ``tests/wrong_answers``.

Each :class:`BadSubmission` makes the files of one student's ``submitted/STUDENT/00-start-here/``
folder and says what the batch grader must do with it: grade it (``status="graded"``, with the
exact per-test scores when they are certain) or flag it (``"flagged"``) with a note matching
``note``. Attacks on the grader itself (reading secrets, writing outside, the network, fork
bombs, leftovers) also say which outputs or effects must *not* be seen.

``context`` carries what only the test knows: the course's absolute path (so a submission can
try to read the hidden tests by their real path), a port of a listener on this machine, outside
the sandbox (so it can try to connect), and this machine's own addresses. No submission sends
traffic anywhere but to this machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import nbformat
from nbformat import NotebookNode

from tests.submissions import filled, grade_id

ASSIGNMENT = "00-start-here"
NOTEBOOK = "start-here.ipynb"

Builder = Callable[[NotebookNode, NotebookNode, dict[str, Any]], dict[str, bytes]]


@dataclass(frozen=True)
class BadSubmission:
    name: str                      #: the student id
    what: str                      #: the attack, in words
    build: Builder                 #: (release, solution, context) -> {file name: bytes}
    status: str                    #: "graded", "flagged", or "any" (either, when the outcome depends on timing)
    note: str = ""                 #: regex one of the student's notes must match
    scores: dict[str, float] | None = None  #: exact per-test scores, when certain
    absent: tuple[str, ...] = ()   #: strings that must appear in no output of the autograded notebook
    present: tuple[str, ...] = ()  #: strings that must appear in some output


def notebook(nb: NotebookNode) -> dict[str, bytes]:
    return {NOTEBOOK: nbformat.writes(nb).encode()}


def answers(**replaces: str) -> Builder:
    """The release with every answer filled in from the solution, then ``replaces`` applied."""
    return lambda release, solution, ctx: notebook(filled(release, solution, replaces))


def edited(change: Callable[[NotebookNode, dict[str, Any]], None], **replaces: str) -> Builder:
    """A filled-in release, then ``change(notebook, context)`` applied to it (metadata, cells...)."""
    def build(release, solution, ctx):
        nb = filled(release, solution, replaces)
        change(nb, ctx)
        return notebook(nb)
    return build


def cell(nb: NotebookNode, gid: str) -> NotebookNode:
    return next(c for c in nb.cells if grade_id(c) == gid)


def _delete(nb, ctx):
    nb.cells.remove(cell(nb, "test_make_app"))


def _edit_test(nb, ctx):
    cell(nb, "test_make_app").source = "pass  # the tests are fine, trust me"


def _reorder(nb, ctx):
    test = cell(nb, "test_fetch_greeting")
    nb.cells.remove(test)
    nb.cells.insert(nb.cells.index(cell(nb, "fetch_greeting")), test)


def _points(nb, ctx):
    cell(nb, "test_make_app").metadata.nbgrader["points"] = 100


def _rename(nb, ctx):
    cell(nb, "test_make_app").metadata.nbgrader["grade_id"] = "test_make_app_mine"


MAKE_APP = '''
from fastapi import FastAPI


def make_app() -> FastAPI:
    app = FastAPI()

    @app.get("/greet/{name}")
    def greet(name: str, shout: bool = False) -> dict[str, str]:
        greeting = f"Hello, {name}!"
        return {"greeting": greeting.upper() if shout else greeting}

    return app
'''

WRONG_MAKE_APP = '''
from fastapi import FastAPI


def make_app() -> FastAPI:
    return FastAPI()
'''

READ_SECRETS = '''
import os
for path in {paths!r} + ["../../../source", "../../../gradebook.db", "../../../submitted", "/proc/1/environ"]:
    try:
        if os.path.isdir(path):
            print("LEAKED listing", path, os.listdir(path)[:5])
        else:
            with open(path, "rb") as f:
                print("LEAKED", path, f.read(200))
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
'''

WRITE_OUTSIDE = '''
import os
for path in {paths!r} + ["../../../gradebook.db", "../../../source/00-start-here/planted.py", "/tmp/planted-by-a-student",
                         "/usr/planted", "/etc/planted", os.path.expanduser("~/../planted")]:
    try:
        with open(path, "a") as f:
            f.write("planted")
        print("wrote", path)
    except OSError as exc:
        print("blocked", path, type(exc).__name__)
'''

NETWORK = '''
import socket
for host in {hosts!r}:  # this machine's own addresses, where the test listens outside the sandbox
    try:
        socket.create_connection((host, {port}), timeout=2).close()
        print("CONNECTED to", host)
    except OSError as exc:
        print("no connection to", host, type(exc).__name__)
print("interfaces:", [n for _, n in socket.if_nameindex()])
'''

SQUATTER = '''
import socket, subprocess, sys, threading
squat = socket.socket(); squat.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
squat.bind(("127.0.0.1", 8000)); squat.listen()
threading.Thread(target=lambda: squat.accept(), daemon=True).start()
# and a daemon outliving the kernel, holding another port
subprocess.Popen([sys.executable, "-c", "import os, socket, time\\nif os.fork(): os._exit(0)\\nos.setsid()\\n"
                  "s = socket.socket(); s.bind(('127.0.0.1', 8080)); s.listen(); time.sleep(3600)"],
                 start_new_session=True)
''' + MAKE_APP

PATCH_BUILTIN = '''
import builtins

_isinstance = builtins.isinstance
builtins.isinstance = lambda obj, cls: True if getattr(cls, "__name__", "") == "FastAPI" else _isinstance(obj, cls)
'''

FORK_BOMB = '''
import os, time
started = time.monotonic()
while time.monotonic() - started < 1.5:
    try:
        os.fork()
    except OSError:
        pass
print("the kernel survived")
''' + MAKE_APP

FORGED_MESSAGE = """from IPython import get_ipython

get_ipython().kernel.iopub_socket.send_multipart(
    [b"stream.stdout", b"<IDS|MSG>", b"0" * 64, b"{}", b"{}", b"{}", b"{}"])
"""

CORPUS: list[BadSubmission] = [
    BadSubmission("corrupted-json", "a notebook cut off mid-file",
                  lambda r, s, c: {NOTEBOOK: nbformat.writes(filled(r, s)).encode()[:5000]}, "flagged",
                  note=r"not a valid notebook", scores={"test_make_app": 0, "test_fetch_greeting": 0}),
    BadSubmission("misnamed-notebook", "the right notebook under another name",
                  lambda r, s, c: {"start_here (1).ipynb": nbformat.writes(filled(r, s)).encode()}, "flagged",
                  note=r"submitted as 'start_here \(1\)\.ipynb'; graded as 'start-here\.ipynb'",
                  scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("missing-notebook", "a Python file instead of the notebook",
                  lambda r, s, c: {"answers.py": b"def make_app(): ...\n"}, "flagged",
                  note=r"notebook missing from the submission", scores={"test_make_app": 0, "test_fetch_greeting": 0}),
    BadSubmission("deleted-test-cell", "a test cell deleted", edited(_delete), "flagged",
                  note=r"\[test_make_app\]: test cell deleted; nbgrader added it back",
                  scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("edited-test-cell", "a test cell replaced by `pass`, with a wrong answer",
                  edited(_edit_test, make_app=WRONG_MAKE_APP), "flagged",
                  note=r"\[test_make_app\]: test cell edited; nbgrader graded the original",
                  scores={"test_make_app": 0, "test_fetch_greeting": 2}),
    BadSubmission("reordered-cells", "a test cell moved above its answer", edited(_reorder), "flagged",
                  note=r"cells reordered", scores={"test_make_app": 2, "test_fetch_greeting": 0}),
    BadSubmission("edited-points", "a test worth 100 points", edited(_points), "flagged",
                  note=r"points of the test cell changed from 2 to 100", scores={"test_make_app": 2,
                                                                                  "test_fetch_greeting": 2}),
    BadSubmission("renamed-grade-id", "a test cell's grade id renamed", edited(_rename), "flagged",
                  note=r"unknown id 'test_make_app_mine'", scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("infinite-loop", "`while True: pass` in an answer cell",
                  answers(make_app=MAKE_APP + "\nwhile True:\n    pass\n"), "flagged",
                  note=r"\[make_app\]: this cell was still running after \d+ s; it was interrupted",
                  scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("awaits-forever", "a top-level await that never ends (stock nbgrader discards the submission)",
                  answers(fetch_greeting="import asyncio\n\nawait asyncio.Event().wait()\n"), "flagged",
                  note=r"\[fetch_greeting\]: this cell was still running after \d+ s and did not respond",
                  scores={"test_make_app": 2, "test_fetch_greeting": 0}),
    BadSubmission("sys-exit", "sys.exit() in an answer cell", answers(make_app=MAKE_APP + "\nimport sys\nsys.exit(3)\n"),
                  "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("os-exit", "os._exit() in an answer cell", answers(make_app=MAKE_APP + "\nimport os\nos._exit(0)\n"),
                  "flagged", note=r"\[make_app\]: the kernel died while running this cell",
                  scores={"test_make_app": 0, "test_fetch_greeting": 2}),
    BadSubmission("kills-its-kernel", "the kernel sends itself SIGKILL",
                  answers(fetch_greeting="import os, signal\n\nos.kill(os.getpid(), signal.SIGKILL)\n"), "flagged",
                  note=r"\[fetch_greeting\]: the kernel died", scores={"test_make_app": 2, "test_fetch_greeting": 0}),
    BadSubmission("forges-kernel-messages", "a message with a bad signature sent on the kernel's IOPub socket "
                  "(what a kernel out of file descriptors can send by accident; stock nbgrader discards the submission)",
                  answers(fetch_greeting=FORGED_MESSAGE), "flagged",
                  note=r"\[fetch_greeting\]: the kernel sent a message the grader could not read",
                  scores={"test_make_app": 2, "test_fetch_greeting": 0}),
    BadSubmission("huge-output", "100 MB printed", answers(make_app=MAKE_APP + "\nprint('x' * 100_000_000)\n"),
                  "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2}, present=("output cut by the grader",)),
    BadSubmission("fork-bomb", "fork until the process table is full, for 1.5 s", answers(make_app=FORK_BOMB), "any"),
    BadSubmission("memory-hog", "allocate until memory runs out",
                  answers(make_app=MAKE_APP + "\nhog = []\nwhile True:\n    hog.append(bytearray(50_000_000))\n"),
                  "any", present=("MemoryError",)),
    BadSubmission("port-squatter", "servers on ports 8000 and 8080, one in a daemon that outlives the kernel",
                  answers(make_app=SQUATTER), "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("redefines-helpers", "wrong answers, and the kit's checks replaced by no-ops",
                  answers(make_app="import autograder\n\nautograder.expect = autograder.expect_equal = "
                                   "lambda *a, **k: None\n" + WRONG_MAKE_APP), "flagged",
                  note=r"possible tampering in make_app: assigns to `autograder.expect`"),
    BadSubmission("redefines-builtins", "a wrong answer, and isinstance patched to say yes to FastAPI checks",
                  answers(make_app=PATCH_BUILTIN + WRONG_MAKE_APP), "flagged",
                  note=r"possible tampering in make_app: assigns to `builtins.isinstance`"),
    BadSubmission("shadows-builtin", "a top-level `isinstance` the test cells would pick up",
                  answers(make_app="def isinstance(*a):\n    return True\n" + MAKE_APP), "flagged",
                  note=r"redefines `isinstance`, which the tests rely on"),
    BadSubmission("writes-outside", "writes to the gradebook, the source folder, /usr, /etc, the host's /tmp",
                  lambda r, s, c: notebook(filled(r, s, {"make_app": WRITE_OUTSIDE.format(paths=c["write_paths"])
                                                         + MAKE_APP})),
                  "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2}),
    BadSubmission("reads-secrets", "reads the hidden tests, the gradebook and other students' work",
                  lambda r, s, c: notebook(filled(r, s, {"make_app": READ_SECRETS.format(paths=c["secret_paths"])
                                                         + MAKE_APP})),
                  "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2},
                  absent=("LEAKED", "BEGIN HIDDEN TESTS"), present=("blocked",)),
    BadSubmission("network", "connects to a listener on this machine, outside the sandbox",
                  lambda r, s, c: notebook(filled(r, s, {"make_app": NETWORK.format(hosts=c["hosts"], port=c["port"])
                                                         + MAKE_APP})),
                  "graded", scores={"test_make_app": 2, "test_fetch_greeting": 2},
                  absent=("CONNECTED",), present=("interfaces: ['lo']",)),
    BadSubmission("symlink-to-secrets", "a link in the submission folder pointing at the gradebook",
                  lambda r, s, c: {**notebook(filled(r, s)), "data.txt": ("LINK", c["link_target"])}, "flagged",
                  note=r"data\.txt: not a regular file \(a link\?\): ignored",
                  scores={"test_make_app": 2, "test_fetch_greeting": 2}),
]


def write(folder, files: dict[str, Any]) -> None:
    """Write a submission's files into ``folder`` (a ``("LINK", target)`` value makes a symbolic link)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        if isinstance(content, tuple) and content[0] == "LINK":
            (folder / name).symlink_to(content[1])
        else:
            (folder / name).write_bytes(content)


def by_name() -> dict[str, BadSubmission]:
    return {bad.name: bad for bad in CORPUS}


__all__ = ["ASSIGNMENT", "BadSubmission", "CORPUS", "NOTEBOOK", "by_name", "write"]
