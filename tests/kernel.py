"""Run code cells in a real Jupyter kernel from tests.

    with Kernel() as kernel:
        cell = kernel.run("print(1 + 1)")
        assert cell.stdout == "2\\n" and cell.ok

Each ``run`` executes one cell, waits (bounded) until the kernel is idle again, and
returns what the cell produced, split the way nbgrader sees it: stdout and stderr
stream text, the error (if any) and the ``execute_result``. Only messages whose parent
is this execution are collected, as nbclient does.
"""

from __future__ import annotations

import os
import queue
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_client.manager import KernelManager


class KernelTimeout(TimeoutError):
    """A cell did not finish in time (the kernel was interrupted)."""


@dataclass
class CellResult:
    """What one executed cell produced."""

    code: str
    stdout: str = ""
    stderr: str = ""
    error: dict[str, Any] | None = None  #: ``ename``, ``evalue``, ``traceback`` of an error output
    result: str | None = None  #: ``text/plain`` of the execute_result, if any
    status: str = ""  #: the execute_reply status: "ok" or "error"
    elapsed: float = 0.0  #: seconds from sending the request to the kernel going idle
    outputs: list[dict[str, Any]] = field(default_factory=list)  #: every output message, in order

    @property
    def ok(self) -> bool:
        return self.error is None and self.status == "ok"

    def __str__(self) -> str:  # shown by pytest when an assert about a cell fails
        error = f"{self.error['ename']}: {self.error['evalue']}" if self.error else None
        return (f"<cell status={self.status} error={error!r} elapsed={self.elapsed:.2f}s\n"
                f"--- stdout ---\n{self.stdout}--- stderr ---\n{self.stderr}>")


class Kernel:
    """A Python kernel of this interpreter, with bounded cell execution."""

    def __init__(self, *, cwd: str | Path | None = None, env: dict[str, str] | None = None,
                 startup_timeout: float = 60.0, quiet: bool = False) -> None:
        """Start the kernel; ``quiet`` discards the kernel process's own log (not cell output)."""
        kernel_env = {k: v for k, v in os.environ.items() if not k.startswith("JUPYTERHUB_")}
        kernel_env.update({"MPLBACKEND": "Agg", "PYDEVD_DISABLE_FILE_VALIDATION": "1"})
        kernel_env.update(env or {})
        self.manager = KernelManager(kernel_name="python3")
        process_output = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL} if quiet else {}
        self.manager.start_kernel(cwd=str(cwd) if cwd else None, env=kernel_env, **process_output)
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        try:
            self.client.wait_for_ready(timeout=startup_timeout)
        except BaseException:
            self.shutdown()
            raise

    def run(self, code: str, timeout: float = 10.0, *, cell_id: str | None = None) -> CellResult:
        """Execute ``code`` as one cell and return what it produced.

        ``cell_id`` is sent as JupyterLab does (``metadata.cellId``); nbclient sends none.
        Raises ``KernelTimeout`` (after interrupting the kernel) if the cell is not done in time.
        """
        client = self.client
        content = {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                   "allow_stdin": False, "stop_on_error": False}
        message = client.session.msg("execute_request", content,
                                     metadata={"cellId": cell_id} if cell_id else {})
        client.shell_channel.send(message)
        msg_id = message["header"]["msg_id"]
        cell = CellResult(code)
        started = time.monotonic()
        deadline = started + timeout
        idle = False
        while not idle:
            msg = self._next(client.get_iopub_msg, deadline, code, timeout)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, body = msg["msg_type"], msg["content"]
            if kind == "status" and body["execution_state"] == "idle":
                idle = True
                cell.elapsed = time.monotonic() - started
            elif kind == "stream":
                cell.outputs.append(msg)
                if body["name"] == "stdout":
                    cell.stdout += body["text"]
                else:
                    cell.stderr += body["text"]
            elif kind == "error":
                cell.outputs.append(msg)
                cell.error = body
            elif kind in ("execute_result", "display_data"):
                cell.outputs.append(msg)
                if kind == "execute_result":
                    cell.result = body["data"].get("text/plain")
        while not cell.status:
            reply = self._next(client.get_shell_msg, deadline, code, timeout)
            if reply["parent_header"].get("msg_id") == msg_id:
                cell.status = reply["content"]["status"]
        return cell

    def _next(self, get: Any, deadline: float, code: str, timeout: float) -> dict[str, Any]:
        try:
            return get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            self.manager.interrupt_kernel()
            raise KernelTimeout(f"cell did not finish within {timeout} s:\n{code}") from None

    def is_alive(self) -> bool:
        return self.manager.is_alive()

    def shutdown(self) -> float:
        """Shut the kernel down gracefully (killing it after 5 s); return the seconds it took."""
        started = time.monotonic()
        self.client.stop_channels()
        if self.manager.has_kernel:
            self.manager.shutdown_kernel(now=False)
        return time.monotonic() - started

    def __enter__(self) -> "Kernel":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.shutdown()
