"""Confine this process, then become a student's kernel.

The grader launches every kernel through this script, as root, in the worker's network namespace
(where only loopback exists, see ``worker.py``)::

    python -I -S jail.py SPEC.json -- python -m ipykernel_launcher -f CONNECTION_FILE

It runs on the standard library alone (``-S``: no site-packages, so no student-controlled import)
and does, in order:

1. join the worker's cgroups (process count, memory, CPU share), when it has them;
2. unshare mount, IPC and UTS namespaces;
3. build a new root file system on a tmpfs that holds read-only binds of what Python needs
   (``/usr``, ``/etc``, the interpreter, the virtual environment, the course's kit package) and
   nothing else: no course folder, no gradebook, no source notebooks, no other submission,
   no ``/root``, ``/home``, ``/tmp`` or ``/work`` of the host;
4. copy the submission's folder (regular files only, no notebooks) into a private tmpfs
   working folder, the kernel's only writable place besides its own ``/tmp``;
5. set resource limits (address space, CPU seconds, processes, file size, open files);
6. send the kernel's own stdout/stderr to a log file, close every other descriptor;
7. chroot, drop to an unprivileged uid with no groups and no new privileges, exec the kernel.

Any failure is written to the spec's ``error_file`` and the script exits with status 70,
so the grader reports *why* a kernel did not start instead of grading unsandboxed.
"""

from __future__ import annotations

import ctypes
import fcntl
import json
import os
import resource
import shutil
import socket
import stat
import struct
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 32, 4096, 16384, 1 << 18
PR_SET_NO_NEW_PRIVS = 38
EXIT_JAIL_FAILED = 70

_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]


class JailError(RuntimeError):
    """A confinement step failed: the kernel must not start."""


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise JailError(f"{what}: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(_libc.mount(enc(source), enc(target), enc(fstype), flags, enc(data)), f"mount {source} on {target}")


def unshare(flags: int) -> None:
    """``unshare(2)``: leave the namespaces named by ``flags``."""
    _check(_libc.unshare(flags), "unshare")


def loopback_up() -> None:
    """Bring ``lo`` up in this network namespace (a new one starts with it down)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH14s", b"lo", 0, b"")
        flags = struct.unpack("16sH14s", fcntl.ioctl(s, 0x8913, request))[1]  # SIOCGIFFLAGS
        fcntl.ioctl(s, 0x8914, struct.pack("16sH14s", b"lo", flags | 0x1 | 0x40, b""))  # SIOCSIFFLAGS: UP|RUNNING


def join_cgroups(cgroups: list[str]) -> None:
    for folder in cgroups:
        with open(os.path.join(folder, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def _bind(host: str, root: str, *, writable: bool = False) -> None:
    target = root + host
    if os.path.isdir(host):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "a").close()
    _mount(host, target, None, MS_BIND | MS_REC)
    flags = MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags)


def build_root(spec: dict) -> str:
    """Mount the sandbox's file system under ``spec['root']``; returns that path."""
    root = spec["root"]
    os.makedirs(root, exist_ok=True)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=16m")
    uid, gid = spec["uid"], spec["gid"]
    for folder, size in (("/tmp", spec["tmp_size_mb"]), ("/dev/shm", 64), ("/home", spec["work_size_mb"])):
        os.makedirs(root + folder, exist_ok=True)
        _mount("tmpfs", root + folder, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,size={size}m")
    for name in ("bin", "sbin", "lib", "lib32", "lib64", "libx32"):
        host = "/" + name
        if os.path.islink(host):
            os.symlink(os.readlink(host), root + host)
        elif os.path.isdir(host):
            _bind(host, root)
    for host in sorted(set(spec["read_only"]), key=len):
        if os.path.exists(host):
            _bind(host, root)
    os.makedirs(root + "/proc")
    try:  # a private /proc instance: the kernel sees its own processes only
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV, "hidepid=invisible")
    except JailError:
        _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV, "hidepid=2")
    for dev in ("null", "zero", "full", "random", "urandom", "tty"):
        if os.path.exists("/dev/" + dev):
            _bind("/dev/" + dev, root, writable=True)
    for i, name in enumerate(("stdin", "stdout", "stderr")):
        os.symlink(f"/proc/self/fd/{i}", f"{root}/dev/{name}")
    os.symlink("/proc/self/fd", root + "/dev/fd")
    # who the kernel is: a named user, so getpass/pwd and friends work
    passwd = root + "/run/passwd"
    os.makedirs(os.path.dirname(passwd), exist_ok=True)
    with open(passwd, "w") as f:
        f.write(f"root:x:0:0:root:/root:/usr/sbin/nologin\nstudent:x:{uid}:{gid}:student:/home/student:/bin/sh\n")
    if os.path.exists(root + "/etc/passwd"):
        _mount(passwd, root + "/etc/passwd", None, MS_BIND)
        _mount(None, root + "/etc/passwd", None, MS_BIND | MS_REMOUNT | MS_RDONLY)
    return root


def fill_workdir(spec: dict, root: str, source: str) -> str:
    """Copy the submission's folder (regular files, no notebooks) into the kernel's working folder."""
    home = root + "/home/student"
    workdir = home + "/" + spec["workdir_name"]
    os.makedirs(workdir)
    device, budget = os.stat(source).st_dev, spec["work_size_mb"] * 1024 * 1024 // 2
    for dirpath, dirnames, filenames in os.walk(source):
        rel = os.path.relpath(dirpath, source)
        dirnames[:] = [d for d in dirnames if not os.path.islink(os.path.join(dirpath, d))
                       and os.stat(os.path.join(dirpath, d)).st_dev == device]  # never into a mount
        for d in dirnames:
            os.makedirs(os.path.join(workdir, rel, d), exist_ok=True)
        for name in filenames:
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            if name.endswith(".ipynb") or not stat.S_ISREG(info.st_mode):
                continue
            budget -= info.st_size
            if budget < 0:
                raise JailError(f"the submission's folder holds more than {spec['work_size_mb'] // 2} MB of files")
            shutil.copyfile(path, os.path.join(workdir, rel, name), follow_symlinks=False)
    for folder in (".config/matplotlib", ".ipython", ".cache"):
        os.makedirs(os.path.join(home, folder), exist_ok=True)
    for cached in spec.get("matplotlib_cache", []):
        if os.path.isfile(cached):
            shutil.copyfile(cached, os.path.join(home, ".config/matplotlib", os.path.basename(cached)))
    for dirpath, dirnames, filenames in os.walk(home):
        for name in dirnames + filenames:
            os.lchown(os.path.join(dirpath, name), spec["uid"], spec["gid"])
    os.chown(home, spec["uid"], spec["gid"])
    return "/home/student/" + spec["workdir_name"]


def set_limits(limits: dict) -> None:
    """Hard and soft limits; the kernel cannot raise them again."""
    names = {"address_space": resource.RLIMIT_AS, "cpu_seconds": resource.RLIMIT_CPU,
             "processes": resource.RLIMIT_NPROC, "file_size": resource.RLIMIT_FSIZE,
             "open_files": resource.RLIMIT_NOFILE, "core": resource.RLIMIT_CORE}
    for name, value in limits.items():
        if value is not None:
            hard = value + 5 if name == "cpu_seconds" else value  # SIGXCPU first, SIGKILL 5 s later
            resource.setrlimit(names[name], (value, hard))


def redirect_output(log: str) -> None:
    null = os.open("/dev/null", os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.closerange(3, 65536)


def drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if os.getuid() == 0 or os.geteuid() == 0:
        raise JailError("still root after dropping privileges")


def kernel_env(spec: dict, workdir: str, inherited: dict[str, str]) -> dict[str, str]:
    """A clean environment: the instructor's secrets stay out, a few harmless settings pass."""
    env = {k: v for k, v in inherited.items()
           if k in spec["pass_env"] or k.startswith(("JPY_", "LC_", "NBGRADER_"))}
    env.update({"HOME": "/home/student", "USER": "student", "LOGNAME": "student", "TMPDIR": "/tmp",
                "PWD": workdir, "MPLCONFIGDIR": "/home/student/.config/matplotlib",
                "IPYTHONDIR": "/home/student/.ipython", "JUPYTER_RUNTIME_DIR": "/tmp/jupyter-runtime",
                "PATH": spec["path"], "MALLOC_ARENA_MAX": "2"})  # fewer 64 MB arenas under RLIMIT_AS
    return env


def confine(spec: dict, command: list[str]) -> None:
    """Run every step above, then exec ``command`` (which never returns)."""
    source = os.getcwd()
    join_cgroups(spec["cgroups"])
    unshare(CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS | (CLONE_NEWNET if spec.get("new_netns") else 0))
    if spec.get("new_netns"):
        loopback_up()
    socket.sethostname("sandbox")
    root = build_root(spec)
    workdir = fill_workdir(spec, root, source)
    # the connection file goes with the kernel (the original is root's, mode 0600)
    connection = spec["connection_file"]
    shutil.copyfile(connection, root + "/tmp/kernel.json")
    os.chown(root + "/tmp/kernel.json", spec["uid"], spec["gid"])
    command = ["/tmp/kernel.json" if arg == connection else arg for arg in command]
    env = kernel_env(spec, workdir, dict(os.environ))
    set_limits(spec["limits"])
    redirect_output(spec["log"])
    os.chroot(root)
    os.chdir(workdir)
    drop_privileges(spec["uid"], spec["gid"])
    os.execve(command[0], command, env)


def main(argv: list[str]) -> int:
    spec_path, separator, *command = argv
    if separator != "--" or not command:
        print("usage: jail.py SPEC.json -- COMMAND...", file=sys.stderr)
        return 2
    with open(spec_path) as f:
        spec = json.load(f)
    try:
        confine(spec, command)
    except BaseException as exc:  # noqa: BLE001 - report every failure, never run unconfined
        message = f"{type(exc).__name__}: {exc}"
        try:
            with open(spec["error_file"], "w") as f:
                f.write(message)
        finally:
            os.write(2, f"sandbox: {message}\n".encode())
            os._exit(EXIT_JAIL_FAILED)
    return EXIT_JAIL_FAILED


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
