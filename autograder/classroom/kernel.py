"""A jupyter_client kernel manager that starts every kernel inside the sandbox.

nbgrader's ``Execute`` preprocessor (nbclient underneath) creates a kernel manager per notebook;
this one puts ``jail.py`` in front of the kernelspec's command and, once the kernel is gone,
kills whatever it left behind. Everything else (ports, messages, interrupts) is jupyter_client's.
"""

from __future__ import annotations

import json
import shutil
import sys
import typing as t
import uuid
from pathlib import Path

from jupyter_client.manager import AsyncKernelManager

from autograder.classroom.sandbox import JAIL, Sandbox

__all__ = ["SandboxKernelManager", "jail_error"]


class SandboxKernelManager(AsyncKernelManager):
    """``AsyncKernelManager`` whose kernels run confined by :data:`sandbox` (set by the worker)."""

    #: the worker's sandbox; ``None`` means: refuse to start a kernel at all
    sandbox: t.ClassVar[Sandbox | None] = None
    #: the folder name the kernel works in (the assignment's name), set per submission
    workdir_name: t.ClassVar[str] = "work"
    #: the folder of the last kernel started, for its log and the jail's error
    last_folder: t.ClassVar[Path | None] = None

    def format_kernel_cmd(self, extra_arguments: list[str] | None = None) -> list[str]:
        command = super().format_kernel_cmd(extra_arguments)
        box = type(self).sandbox
        if box is None:
            raise RuntimeError("no sandbox configured: refusing to start an unconfined kernel")
        folder = box.scratch / "kernels" / uuid.uuid4().hex[:12]
        folder.mkdir(parents=True, mode=0o700)
        type(self).last_folder = folder
        spec = box.kernel_spec(folder, str(Path(self.connection_file).resolve()), type(self).workdir_name)
        (folder / "spec.json").write_text(json.dumps(spec))
        return [sys.executable, "-I", "-S", str(JAIL), str(folder / "spec.json"), "--", *command]

    async def _async_cleanup_resources(self, restart: bool = False) -> None:
        await super()._async_cleanup_resources(restart=restart)
        box = type(self).sandbox
        if box is not None:
            box.sweep()

    cleanup_resources = _async_cleanup_resources  # type: ignore[assignment]


def jail_error(folder: Path | None) -> str:
    """Why the sandbox refused to start the last kernel, or ``""``."""
    if folder is None:
        return ""
    error = folder / "jail-error.txt"
    return error.read_text().strip() if error.exists() else ""


def forget(folder: Path | None) -> None:
    """Remove a kernel's folder (its root mount point, spec and log)."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
