"""autograder.limits: the open-files limit is raised where allowed and counted honestly."""

from __future__ import annotations

import resource
import subprocess
import sys


def run(code: str, hard: int) -> str:
    """Run ``code`` in a child whose open-files limit (soft and hard) is ``hard``."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30, preexec_fn=limit)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_the_soft_limit_is_raised_up_to_the_hard_limit_only():
    from autograder.limits import raise_open_files_limit

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(256, hard), hard))
        assert raise_open_files_limit(512) == min(512, hard)
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == min(512, hard)
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    assert run("from autograder.limits import raise_open_files_limit as r; print(r(4096))", 300) == "300"


def test_spare_descriptors_count_what_is_open():
    code = ("import socket\nfrom autograder.limits import spare_file_descriptors as s\n"
            "before = s(); socks = [socket.socket() for _ in range(20)]; print(before - s())")
    assert run(code, 300) == "20"
    assert 0 < int(run("from autograder.limits import spare_file_descriptors as s; print(s())", 300)) < 300
