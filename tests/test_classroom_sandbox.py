"""The batch grader's sandbox, proved from inside: what a confined program can and cannot do.

Every check runs a small program through ``jail.py`` exactly as a student's kernel is started
(plus its own network namespace, as a worker has). Network isolation is shown without sending
traffic anywhere but this machine: a listener this test starts *outside* the sandbox, on this
machine's own addresses, must be unreachable from inside, while loopback inside works.
The fork bomb is first contained here, small and bounded, before the corpus uses a real one.

These tests need root (namespaces, a separate uid, cgroups), as CI and development machines
have. Elsewhere they are skipped with the reason; the grader itself then refuses to run.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from pathlib import Path

import psutil
import pytest

from autograder.classroom import batch
from autograder.classroom.sandbox import Limits, Sandbox, SandboxUnavailable, _uid_processes, probe, run_confined
from autograder.paths import REPO

pytestmark = [pytest.mark.timeout(120), pytest.mark.xdist_group("classroom-sandbox")]

needs_root = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.geteuid() != 0,
    reason="the grading sandbox needs root on Linux (namespaces, a separate uid, cgroups); CI runs as root. "
           "Without root the batch grader refuses to grade (see test_refuses_to_grade_without_a_sandbox)")


@pytest.fixture
def box(tmp_path: Path):
    scratch = tmp_path / "scratch"
    sandbox = Sandbox(Limits(processes=64, memory_mb=1024, cpu_seconds=2, file_size_mb=1, open_files=64),
                      scratch, [REPO, tmp_path])
    yield sandbox
    sandbox.close()


def confined(box: Sandbox, code: str, tmp_path: Path, *args: str, timeout: float = 30) -> str:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    code_, log, error = run_confined(box, [sys.executable, "-I", "-c", code, *args], work, timeout=timeout)
    assert not error, f"the jail refused to start the program: {error}"
    return log


def own_addresses() -> list[str]:
    """This machine's IPv4 addresses (loopback and the others): targets that never leave it."""
    found = {a.address for addrs in psutil.net_if_addrs().values() for a in addrs if a.family == socket.AF_INET}
    return sorted(found | {"127.0.0.1"})


@needs_root
def test_probe_finds_every_mechanism():
    mech = probe(hidden=[REPO])
    missing = {name: mech.problems[name] for name, ok in mech.available.items() if not ok}
    assert not missing, f"sandbox mechanisms missing on this machine: {missing}"


@needs_root
def test_no_network_but_loopback_from_inside(box, tmp_path):
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("0.0.0.0", 0))  # outside the sandbox, on every address of this machine
    listener.listen()
    listener.settimeout(0.1)
    port = listener.getsockname()[1]
    code = """
import json, socket, sys
port, hosts = int(sys.argv[1]), json.loads(sys.argv[2])
result = {"interfaces": [n for _, n in socket.if_nameindex()], "reached": []}
for host in hosts:
    try:
        socket.create_connection((host, port), timeout=2).close()
        result["reached"].append(host)
    except OSError:
        pass
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
client = socket.create_connection(server.getsockname(), timeout=2)
peer, _ = server.accept(); client.sendall(b"ping"); result["loopback"] = peer.recv(4).decode()
print(json.dumps(result))
"""
    import json

    with listener:
        log = confined(box, code, tmp_path, str(port), json.dumps(own_addresses()))
        try:
            accepted = listener.accept()
        except (TimeoutError, socket.timeout):
            accepted = None
    seen = json.loads(log.strip().splitlines()[-1])
    assert seen["interfaces"] == ["lo"], seen
    assert seen["reached"] == [], f"reached a listener outside the sandbox at {seen['reached']}"
    assert accepted is None, "the listener outside the sandbox accepted a connection"
    assert seen["loopback"] == "ping", "loopback inside the sandbox must work (in-kernel servers need it)"


@needs_root
def test_unprivileged_and_blind_to_the_course(box, tmp_path):
    secret = tmp_path / "gradebook.db"
    secret.write_text("secret")
    code = f"""
import os
print("uid", os.getuid(), os.geteuid())
for path in [{str(secret)!r}, {str(REPO / 'solutions')!r}, {str(REPO / 'nbgrader_config.py')!r}, "/proc/1/environ"]:
    print(path, "VISIBLE" if os.path.exists(path) else "hidden")
print("home", sorted(os.listdir("/root")) if os.path.isdir("/root") else [])
import autograder.checks  # the kit is the one thing of the repository a kernel sees
print("kit", autograder.checks.__file__)
try:
    open("/usr/planted", "w")
    print("WROTE /usr")
except OSError as exc:
    print("read-only", type(exc).__name__)
"""
    log = confined(box, code, tmp_path)
    assert f"uid {box.uid} {box.uid}" in log
    assert "VISIBLE" not in log, log
    # root's home holds at most the path to this Python (pyenv), nothing else of it
    allowed = sorted({Path(p).parts[2] for p in box.read_only if p.startswith("/root/")})
    assert f"home {allowed}" in log, log
    assert "kit " in log and "read-only" in log and "WROTE" not in log, log


@needs_root
def test_resource_limits_apply(box, tmp_path):
    code = """
import os, resource
try:
    bytearray(2 * 1024 ** 3)
    print("ALLOCATED 2 GiB")
except MemoryError:
    print("memory limited")
try:
    with open("big", "wb") as f:
        f.write(b"x" * (2 * 1024 * 1024))
    print("WROTE 2 MiB")
except OSError as exc:
    print("file size limited", exc.errno)
files = []
try:
    for _ in range(200):
        files.append(open("/dev/null"))
    print("OPENED 200 files")
except OSError:
    print("open files limited", len(files))
print("cpu", resource.getrlimit(resource.RLIMIT_CPU))
"""
    log = confined(box, code, tmp_path)
    assert "memory limited" in log and "file size limited 27" in log and "open files limited" in log, log
    assert "cpu (2, 7)" in log, log
    spin = "while True: pass"
    started = time.monotonic()
    code_, _, _ = run_confined(box, [sys.executable, "-I", "-c", spin], tmp_path / "work", timeout=30)
    assert code_ != 0 and time.monotonic() - started < 20, "a CPU-bound loop must be stopped by RLIMIT_CPU"


FORK_BOMB = """
import os, time
first, end = os.getpid(), time.monotonic() + 1.5
while time.monotonic() < end:
    try:
        os.fork()
    except OSError:
        time.sleep(0.001)
if os.getpid() != first:
    time.sleep(30)  # the bomb's processes stay; the first one returns, as a kernel's cell would
"""


@needs_root
@pytest.mark.parametrize("cgroups", [True, False], ids=["pids-cgroup", "rlimit-nproc-only"])
def test_fork_bomb_is_contained_and_swept(tmp_path, cgroups):
    """Small and bounded: 2 s of forking under a limit of 48, watched from outside, then swept."""
    box = Sandbox(Limits(processes=48), tmp_path / "scratch", [REPO, tmp_path], cgroups=cgroups)
    peak, stop = [0], threading.Event()

    def watch() -> None:
        while not stop.is_set():
            peak[0] = max(peak[0], len(_uid_processes(box.uid)))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    try:
        (tmp_path / "work").mkdir()
        run_confined(box, [sys.executable, "-I", "-S", "-c", FORK_BOMB], tmp_path / "work", timeout=8)
    finally:
        stop.set()
        watcher.join()
        box.close()
    assert 10 < peak[0] <= 48, f"peak of {peak[0]} processes under a limit of 48"
    assert _uid_processes(box.uid) == [], "the sweep must leave no process of the sandbox uid"


@needs_root
def test_a_daemon_outliving_its_kernel_is_swept(box, tmp_path):
    code = """
import os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        time.sleep(60)
    os._exit(0)
print("daemon started")
"""
    (tmp_path / "work").mkdir()
    code_, log, _ = run_confined(box, [sys.executable, "-I", "-S", "-c", code], tmp_path / "work")
    assert "daemon started" in log
    assert _uid_processes(box.uid) == []


def test_refuses_to_grade_without_a_sandbox(tmp_path, monkeypatch, capsys):
    from autograder.classroom import cli
    from autograder.classroom.sandbox import Mechanisms

    missing = Mechanisms()
    missing.require("root", False, "namespaces, a separate uid and cgroups need root")
    monkeypatch.setattr(batch, "probe", lambda *a, **k: missing)
    with pytest.raises(SandboxUnavailable, match="no student code will run"):
        batch._check_sandbox(batch.Options(course=tmp_path), [tmp_path], print)
    (tmp_path / "nbgrader_config.py").write_text("c = get_config()\n")
    (tmp_path / "source" / "a").mkdir(parents=True)
    assert cli.main(["--course", str(tmp_path)]) == 2
    assert "the sandbox is not available here" in capsys.readouterr().err
