"""The sandbox every student kernel runs in: limits, a private uid, cgroups, and a self-check.

A worker process owns one :class:`Sandbox` for its whole life: a leased unprivileged uid (no
other process on the machine uses it, so "every process of this uid" is exactly the current
kernel and whatever it spawned), cgroups nested under the worker's own (process count, memory,
one CPU), and the spec ``jail.py`` reads when it confines a kernel. Between notebooks,
:meth:`Sandbox.sweep` kills everything the last kernel left behind.

:func:`probe` starts ``jail.py`` for real, with a tiny program instead of a kernel, and reports
what the program saw from inside: this is how the grader knows, rather than assumes, that the
sandbox works on this machine.
"""

from __future__ import annotations

import fcntl
import json
import os
import pwd
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["JAIL", "Limits", "Sandbox", "SandboxUnavailable", "describe", "probe", "read_only_paths", "run_confined",
           "sweep"]

JAIL = Path(__file__).with_name("jail.py")
LOCKS = Path("/run/lock/asgi-grader") if Path("/run/lock").is_dir() else Path(tempfile.gettempdir()) / ".asgi-grader"
#: environment variables a kernel may keep (anything else, e.g. tokens, stays with the instructor)
PASS_ENV = ["LANG", "LANGUAGE", "TZ", "PYTHONWARNINGS", "PYTHONHASHSEED", "PYTHONIOENCODING", "MPLBACKEND",
            "PYDEVD_DISABLE_FILE_VALIDATION", "TERM"]
MB = 1024 * 1024


class SandboxUnavailable(RuntimeError):
    """A mechanism the sandbox needs is missing on this machine."""


@dataclass(frozen=True)
class Limits:
    """What one kernel may use. Times in seconds, sizes in MiB."""

    memory_mb: int = 2048       #: address space per process (RLIMIT_AS) and the memory cgroup's limit
    cpu_seconds: int = 120      #: CPU time per process (RLIMIT_CPU)
    processes: int = 128        #: processes and threads of the sandbox's uid (RLIMIT_NPROC, pids cgroup)
    file_size_mb: int = 64      #: largest file it may write (RLIMIT_FSIZE)
    open_files: int = 256       #: open file descriptors (RLIMIT_NOFILE)
    tmp_mb: int = 256           #: size of its /tmp and of its working folder (each a tmpfs)

    def rlimits(self) -> dict[str, int]:
        return {"address_space": self.memory_mb * MB, "cpu_seconds": self.cpu_seconds,
                "processes": self.processes, "file_size": self.file_size_mb * MB,
                "open_files": self.open_files, "core": 0}


@dataclass
class Mechanisms:
    """Which confinement mechanisms work here; ``problems`` says why the missing ones are missing."""

    available: dict[str, bool] = field(default_factory=dict)
    problems: dict[str, str] = field(default_factory=dict)

    def require(self, name: str, ok: bool, problem: str = "") -> None:
        self.available[name] = ok
        if not ok:
            self.problems[name] = problem or "unavailable"


def read_only_paths(hidden: list[Path]) -> list[str]:
    """What a kernel must read: system folders, this Python, its packages, the course kit.

    Nothing inside a ``hidden`` folder (the course, the grader's scratch) is ever included,
    except the Python environment the kernel runs on (a ``.venv`` in the course folder, as the
    README makes it), the kit package itself and its requirements.txt, which hold no tests.
    """
    import importlib.util

    python = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve(), Path(sys.executable).parent.resolve()]
    paths = ["/usr", "/etc", "/sys", "/opt/conda" if Path("/opt/conda").is_dir() else "/usr", *map(str, python)]
    kit = importlib.util.find_spec("autograder")
    allowed = list(python)
    if kit and kit.submodule_search_locations:
        package = Path(list(kit.submodule_search_locations)[0]).resolve()
        allowed += [package, package.parent / "requirements.txt"]
        paths += [str(p) for p in allowed if p.exists()]
    hidden = [h.resolve() for h in hidden]
    for entry in sys.path:  # other site folders (.pth files, editable installs), never the course
        p = Path(entry).resolve() if entry else None
        if p and p.is_dir() and not any(p == h or h in p.parents or p in h.parents for h in hidden):
            paths.append(str(p))
    result = []
    for p in sorted({str(Path(p).resolve()) for p in paths}, key=len):
        if Path(p) in allowed or not any(Path(p) == h or h in Path(p).parents for h in hidden):
            if not any(p.startswith(q.rstrip("/") + "/") for q in result):
                result.append(p)
    return result


def _uid_in_use(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    return True
            except OSError:
                continue
    return False


def _own_cgroup(controller: str) -> Path | None:
    """This process's cgroup folder for a cgroup-v1 ``controller`` (or the v2 folder for ``""``)."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if (controller and controller in controllers.split(",")) or (not controller and controllers == ""):
            mount = Path("/sys/fs/cgroup") / controller if controller else Path("/sys/fs/cgroup")
            if not controller and (Path("/sys/fs/cgroup/unified") / "cgroup.controllers").exists():
                mount = Path("/sys/fs/cgroup/unified")
            folder = mount / path.lstrip("/")
            return folder if folder.is_dir() else None
    return None


class Sandbox:
    """One worker's confinement: a leased uid, its cgroups, and the kernel spec for ``jail.py``."""

    def __init__(self, limits: Limits, scratch: Path, hidden: list[Path], *, uid_base: int = 64000,
                 one_cpu: bool = True, cgroups: bool = True) -> None:
        self.limits = limits
        self.scratch = Path(scratch)
        self.hidden = list(hidden) + [self.scratch]
        self.uid = self._lease_uid(uid_base)
        self.mechanisms = Mechanisms()
        self.cgroups: list[Path] = []
        if cgroups:
            self._make_cgroups(one_cpu)
        self.read_only = read_only_paths(self.hidden)
        self.matplotlib_cache = _matplotlib_cache()

    # -- uid ---------------------------------------------------------------------------------------
    def _lease_uid(self, base: int) -> int:
        LOCKS.mkdir(mode=0o700, parents=True, exist_ok=True)
        for uid in range(base, base + 1000):
            handle = open(LOCKS / f"{uid}.lock", "w")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            if _uid_in_use(uid):
                handle.close()
                continue
            self._lease = handle  # held (and the uid ours) until this process exits
            return uid
        raise SandboxUnavailable(f"no free sandbox uid in {base}..{base + 999}")

    # -- cgroups -----------------------------------------------------------------------------------
    def _make_cgroups(self, one_cpu: bool) -> None:
        name = f"asgi-grader-{self.uid}"
        wanted = {"pids": {"pids.max": str(self.limits.processes)},
                  "memory": {"memory.limit_in_bytes": str(self.limits.memory_mb * MB * 3 // 2)},  # RLIMIT_AS acts first
                  "cpu": {"cpu.cfs_period_us": "100000", "cpu.cfs_quota_us": "100000"} if one_cpu else {}}
        for controller, settings in wanted.items():
            parent = _own_cgroup(controller)
            if parent is None:
                self.mechanisms.require(f"cgroup {controller}", False, f"no cgroup-v1 {controller} controller mounted")
                continue
            folder = parent / name
            try:
                if folder.exists():
                    self._empty(folder)
                    folder.rmdir()
                folder.mkdir()
                for key, value in settings.items():
                    (folder / key).write_text(value)
            except OSError as exc:
                self.mechanisms.require(f"cgroup {controller}", False, f"cannot configure {folder}: {exc}")
                continue
            self.cgroups.append(folder)
            self.mechanisms.require(f"cgroup {controller}", True)

    @staticmethod
    def _empty(folder: Path) -> None:
        for _ in range(50):
            pids = [int(p) for p in (folder / "cgroup.procs").read_text().split()]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    # -- per kernel --------------------------------------------------------------------------------
    def kernel_spec(self, folder: Path, connection_file: str, workdir_name: str) -> dict:
        """The spec ``jail.py`` reads to confine one kernel, whose files live in ``folder``."""
        return {"uid": self.uid, "gid": self.uid, "root": str(folder / "root"),
                "read_only": self.read_only, "cgroups": [str(c) for c in self.cgroups],
                "limits": self.limits.rlimits(), "tmp_size_mb": self.limits.tmp_mb,
                "work_size_mb": self.limits.tmp_mb, "workdir_name": workdir_name,
                "connection_file": connection_file, "log": str(folder / "kernel.log"),
                "error_file": str(folder / "jail-error.txt"), "pass_env": PASS_ENV,
                "path": os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"]),
                "matplotlib_cache": self.matplotlib_cache}

    def counters(self) -> dict[str, int]:
        """How often the cgroup limits refused something so far (forks, memory charges)."""
        found = {}
        for folder in self.cgroups:
            try:
                if (folder / "pids.events").exists():
                    found["processes"] = int((folder / "pids.events").read_text().split()[1])
                if (folder / "memory.failcnt").exists():
                    found["memory"] = int((folder / "memory.failcnt").read_text())
            except (OSError, ValueError, IndexError):
                continue
        return found

    def sweep(self) -> int:
        """Kill every process of the sandbox uid and of its cgroups; returns how many rounds it took."""
        return sweep(self.uid, self.cgroups)

    def close(self) -> None:
        """Kill what is left and remove the cgroups."""
        self.sweep()
        remove_cgroups(self.cgroups)


def sweep(uid: int, cgroups: list[Path]) -> int:
    """Kill every process of ``uid`` and in ``cgroups`` (the grader runs as root); returns the rounds taken.

    ``kill(-1)`` sent by a process of that uid reaches exactly that uid's processes in one
    sweep, so a fork bomb cannot outrun it for long; the cgroups catch a kernel that died
    before dropping privileges.
    """
    for rounds in range(1, 100):
        alive = _uid_processes(uid)
        for folder in cgroups:
            try:
                alive += [int(p) for p in (Path(folder) / "cgroup.procs").read_text().split()]
            except OSError:
                pass
        if not alive:
            return rounds
        child = os.fork()
        if child == 0:
            try:
                os.setgroups([])
                os.setresgid(uid, uid, uid)
                os.setresuid(uid, uid, uid)
                os.kill(-1, signal.SIGKILL)
            finally:
                os._exit(0)
        os.waitpid(child, 0)
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        time.sleep(0.01 * rounds)
    raise SandboxUnavailable(f"processes of uid {uid} survive every kill")


def _uid_processes(uid: int) -> list[int]:
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                if entry.stat().st_uid == uid:
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


def remove_cgroups(cgroups: list[Path]) -> None:
    for folder in cgroups:
        try:
            Path(folder).rmdir()
        except OSError:
            pass


def _matplotlib_cache() -> list[str]:
    """The font cache a fresh kernel would otherwise rebuild (slowly, warning on stderr)."""
    try:
        from matplotlib import get_cachedir

        return [str(p) for p in Path(get_cachedir()).glob("fontlist-*.json")]
    except Exception:  # noqa: BLE001 - matplotlib missing or unconfigured: the kernel builds its own
        return []


PROBE = r"""
import json, os, resource, socket, sys
hidden = json.loads(sys.argv[1])
listener = int(sys.argv[2])
def connects(host, port):
    try:
        socket.create_connection((host, port), timeout=1).close()
        return True
    except OSError:
        return False
server = socket.socket(); server.bind(("127.0.0.1", 0)); server.listen()
print(json.dumps({
    "uid": os.getuid(), "euid": os.geteuid(),
    "interfaces": [name for _, name in socket.if_nameindex()],
    "loopback_works": connects("127.0.0.1", server.getsockname()[1]),
    "outside_listener_reachable": connects("127.0.0.1", listener),
    "visible_hidden_paths": [os.path.join(p, n) for p, allowed in hidden.items() if os.path.isdir(p)
                             for n in os.listdir(p) if n not in allowed],
    "limits": {n: resource.getrlimit(getattr(resource, n))[0] for n in
               ("RLIMIT_AS", "RLIMIT_CPU", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE")},
    "can_write_cwd": os.access(".", os.W_OK),
}))
"""


def run_confined(box: Sandbox, command: list[str], cwd: Path, *, timeout: float = 30,
                 new_netns: bool = True) -> tuple[int, str, str]:
    """Run ``command`` confined exactly as a kernel would be (plus its own network namespace).

    Returns the exit status, what it printed (its log) and the jail's error, if any.
    """
    box.scratch.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="confined-", dir=box.scratch))
    connection = folder / "connection.json"
    connection.write_text("{}")
    spec = box.kernel_spec(folder, str(connection), "work")
    spec["new_netns"] = new_netns
    (folder / "spec.json").write_text(json.dumps(spec))
    try:
        done = subprocess.run([sys.executable, "-I", "-S", str(JAIL), str(folder / "spec.json"), "--", *command],
                              cwd=cwd, capture_output=True, text=True, timeout=timeout)
        code = done.returncode
    except subprocess.TimeoutExpired:
        code = -1
    finally:
        box.sweep()
    read = lambda name: (folder / name).read_text(errors="replace") if (folder / name).exists() else ""  # noqa: E731
    return code, read("kernel.log"), read("jail-error.txt")


def probe(limits: Limits | None = None, hidden: list[Path] | None = None, *, uid_base: int = 64000) -> Mechanisms:
    """Confine a tiny program exactly as a kernel would be, and check from inside what it can do.

    Run as root: network namespace (only ``lo``; a listener started here, outside, is unreachable;
    loopback inside works), mount namespace (``hidden`` folders invisible), an unprivileged uid,
    resource limits, cgroups. Never sends traffic anywhere but this machine's own sockets.
    """
    import socket

    mech = Mechanisms()
    if os.name != "posix" or not sys.platform.startswith("linux"):
        mech.require("linux", False, "the sandbox uses Linux namespaces, cgroups and rlimits")
        return mech
    if os.geteuid() != 0:
        mech.require("root", False, "namespaces, a separate uid and cgroups need root (run the grader as root)")
        return mech
    mech.require("root", True)
    limits = limits or Limits()
    hidden = [Path(h).resolve() for h in (hidden or [])]
    with tempfile.TemporaryDirectory(prefix="asgi-grader-probe-") as tmp:
        tmp_path = Path(tmp)
        os.chmod(tmp_path, 0o700)
        box = Sandbox(limits, tmp_path / "scratch", hidden, uid_base=uid_base)
        try:
            for name, ok in box.mechanisms.available.items():
                mech.require(name, ok, box.mechanisms.problems.get(name, ""))
            work = tmp_path / "work"
            work.mkdir()
            listener = socket.socket()
            listener.bind(("127.0.0.1", 0))
            listener.listen()
            kit = [Path(p) for p in box.read_only]
            checked = {str(h): [k.relative_to(h).parts[0] for k in kit if h in k.parents]
                       for h in [*hidden, tmp_path]}
            with listener:
                code, log, error = run_confined(box, [sys.executable, "-I", "-S", "-c", PROBE, json.dumps(checked),
                                                      str(listener.getsockname()[1])], work)
            if code != 0 or not log.strip():
                mech.require("namespaces", False, error or log.strip()[-500:] or f"the probe failed (exit {code})")
                return mech
            seen = json.loads(log.strip().splitlines()[-1])
        finally:
            box.close()
    mech.require("namespaces", True)
    mech.require("unprivileged uid", seen["uid"] != 0 and seen["euid"] != 0, f"kernel ran as uid {seen['uid']}")
    mech.require("network isolation", seen["interfaces"] == ["lo"] and not seen["outside_listener_reachable"],
                 f"interfaces {seen['interfaces']}, outside listener reachable: {seen['outside_listener_reachable']}")
    mech.require("loopback inside", seen["loopback_works"], "a server and a client on 127.0.0.1 cannot talk")
    mech.require("hidden folders", not seen["visible_hidden_paths"], f"visible: {seen['visible_hidden_paths']}")
    expected = limits.rlimits()
    mech.require("resource limits", seen["limits"]["RLIMIT_AS"] == expected["address_space"]
                 and seen["limits"]["RLIMIT_NPROC"] == expected["processes"], f"limits seen: {seen['limits']}")
    mech.seen = seen  # type: ignore[attr-defined]
    return mech


def describe(mech: Mechanisms) -> str:
    """One line per mechanism, for the command's output."""
    lines = []
    for name, ok in mech.available.items():
        lines.append(f"  {'ok     ' if ok else 'MISSING'} {name}" + ("" if ok else f": {mech.problems[name]}"))
    return "\n".join(lines)


