"""nbgrader's ``Execute``, made to survive a submission that hangs, kills its kernel or floods output.

Stock nbgrader discards a whole submission when a cell's top-level ``await`` never ends (the
interrupt gets no reply: "Timeout waiting for IOPub output") or when the kernel dies; the learner
gets nothing, not even the points already earned. Here:

* a cell that is stuck or kills its kernel gets an error output saying so (its test, if it is one,
  scores 0), the kernel is killed with everything it started, a fresh one replays the cells that
  ran before (outputs discarded) to rebuild the state, and grading goes on with the next cell;
* the notebook has a wall-clock budget; cells it cannot reach get an error output (never an empty
  output, which nbgrader would count as a passed test);
* a cell's output is capped while it arrives; the first result, the first error and any stderr
  are always kept, so nbgrader's grade (error or stderr = 0, a numeric result = partial credit)
  is the same as with the full output.

Every other behaviour, and every grade, is nbgrader's: this class only replaces the loop that
sends cells to the kernel. ``incidents`` lists what happened, for the report.
"""

from __future__ import annotations

import asyncio
import copy
import time
import typing as t

import zmq
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbclient.util import ensure_async, run_sync
from nbformat import NotebookNode
from nbgrader.preprocessors import Execute
from traitlets import Integer, default

from autograder.classroom.kernel import SandboxKernelManager, jail_error

__all__ = ["ResilientExecute"]

#: what a stuck or dead kernel looks like from nbclient; a ValueError is a message jupyter_client could not
#: read ("Invalid Signature": frames of two messages mixed up, seen when a kernel ran out of file descriptors)
KERNEL_FAILURES = (DeadKernelError, CellTimeoutError, asyncio.TimeoutError, TimeoutError, RuntimeError,
                   zmq.ZMQError, ValueError)


def error_output(ename: str, evalue: str) -> NotebookNode:
    return NotebookNode(output_type="error", ename=ename, evalue=evalue,
                        traceback=[f"\x1b[0;31m{ename}\x1b[0m: {evalue}"])


class ResilientExecute(Execute):
    """``Execute`` with stuck-cell recovery, a per-notebook deadline and an output cap."""

    notebook_timeout = Integer(300, help="Wall-clock seconds for a whole notebook.").tag(config=True)
    max_output_bytes = Integer(1_000_000, help="Output kept per cell, in characters.").tag(config=True)
    max_restarts = Integer(3, help="Kernel restarts per notebook before the rest is not run.").tag(config=True)

    #: what went wrong, by notebook name: dicts with ``cell``, ``grade_id``, ``what`` (the worker resets it)
    incidents: t.ClassVar[dict[str, list[dict[str, t.Any]]]] = {}

    def __init__(self, *args: t.Any, **kwargs: t.Any) -> None:
        kwargs.setdefault("kernel_manager_class", SandboxKernelManager)
        super().__init__(*args, **kwargs)

    @default("shutdown_kernel")
    def _shutdown_now(self) -> str:
        return "immediate"  # the kernel and its files are thrown away: no polite wait

    # -- the loop ----------------------------------------------------------------------------------
    def preprocess(self, nb: NotebookNode, resources: t.Any = None, km: t.Any = None):
        from nbclient.client import NotebookClient

        NotebookClient.__init__(self, nb, km)
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        notebook = (self.resources or {}).get("nbgrader", {}).get("notebook", "notebook")
        self._incidents = type(self).incidents.setdefault(notebook, [])
        cell_timeout = self.timeout
        try:
            run_sync(self._run_notebook)()
        finally:
            self.timeout = cell_timeout
        self.set_widgets_metadata()
        return self.nb, self.resources

    async def _run_notebook(self) -> None:
        self._deadline = time.monotonic() + self.notebook_timeout
        self._cell_timeout = self.timeout
        self._restarts = 0
        failed: set[int] = set()
        last_run: int | None = None
        started = await self._start()
        try:
            for index, cell in enumerate(self.nb.cells):
                if cell.cell_type != "code" or not cell.source.strip():
                    continue
                if not started:
                    self._not_run(cell, index, self._start_problem)
                    continue
                if self._left() < 1:
                    self._not_run(cell, index, f"the notebook used up its {self.notebook_timeout} s")
                    continue
                if not await ensure_async(self.km.is_alive()) and last_run is not None:
                    # it died after the previous cell finished (exit(), a thread calling os._exit, ...)
                    self._incident(last_run, "the kernel exited after this cell; it was restarted")
                    failed.add(last_run)
                    started = await self._recover(index, failed)
                    if not started:
                        self._not_run(cell, index, self._start_problem)
                        continue
                try:
                    self._output_budget = {"bytes": 0, "kept_stderr": False, "kept_result": False, "cut": False}
                    self.timeout = max(1, int(min(self._cell_timeout or 10**9, self._left())))
                    await self.async_execute_cell(cell, index, execution_count=self.code_cells_executed + 1)
                    last_run = index
                    if any(o.get("ename") == self.error_on_timeout.get("ename") for o in cell.outputs
                           if o.output_type == "error"):
                        self._incident(index, f"this cell was still running after {self.timeout} s; "
                                              "it was interrupted")
                except KERNEL_FAILURES as exc:
                    what = self._describe(exc)
                    cell.outputs.append(error_output("KernelRestarted", what + "; the grader restarted the "
                                                     "kernel and went on with the next cell"))
                    self._incident(index, what)
                    failed.add(index)
                    last_run = None
                    started = await self._recover(index + 1, failed)
        finally:
            await self._async_cleanup_kernel_quietly()

    def _left(self) -> float:
        return self._deadline - time.monotonic()

    def _describe(self, exc: BaseException) -> str:
        if isinstance(exc, DeadKernelError):
            return "the kernel died while running this cell"
        if isinstance(exc, (CellTimeoutError, asyncio.TimeoutError, TimeoutError)):
            return f"this cell was still running after {self.timeout} s and did not respond to an interrupt"
        if isinstance(exc, ValueError):
            return f"the kernel sent a message the grader could not read while running this cell ({exc})"
        return f"the kernel stopped responding while running this cell ({type(exc).__name__}: {exc})"

    # -- kernels -----------------------------------------------------------------------------------
    async def _start(self) -> bool:
        """Start a kernel and its client; on failure remember why and return False."""
        self._start_problem = ""
        try:
            self.km = self.create_kernel_manager()
            await self.async_start_new_kernel()
            await self.async_start_new_kernel_client()
            msg_id = await ensure_async(self.kc.kernel_info())
            info = await self.async_wait_for_reply(msg_id)
            if info is not None and "language_info" in info["content"]:
                self.nb.metadata["language_info"] = info["content"]["language_info"]
            return True
        except Exception as exc:  # noqa: BLE001 - any start failure is reported, not raised
            reason = jail_error(SandboxKernelManager.last_folder) or f"{type(exc).__name__}: {exc}"
            self._start_problem = f"the kernel could not start ({reason})"
            self._incident(None, self._start_problem)
            await self._async_cleanup_kernel_quietly()
            return False

    async def _kill(self) -> None:
        """Kill the kernel now (no polite shutdown: it is stuck or dead) and all it started."""
        try:
            if self.kc is not None:
                await ensure_async(self.kc.stop_channels())
            if self.km is not None:
                try:
                    await ensure_async(self.km.shutdown_kernel(now=True))
                except Exception:  # noqa: BLE001 - already dead
                    await ensure_async(self.km.cleanup_resources())
        finally:
            self.kc = None
            self.km = None

    async def _async_cleanup_kernel_quietly(self) -> None:
        if self.km is None:
            return
        try:
            await self._async_cleanup_kernel()
        except Exception:  # noqa: BLE001 - a kernel that will not shut down politely is killed
            await self._kill()

    async def _recover(self, next_index: int, failed: set[int]) -> bool:
        """Fresh kernel, then replay the cells before ``next_index`` that did not fail."""
        await self._kill()
        self._restarts += 1
        if self._restarts > self.max_restarts:
            self._start_problem = f"the kernel was restarted {self.max_restarts} times; the rest was not run"
            return False
        if not await self._start():
            return False
        saved_count = self.code_cells_executed
        originals = list(self.nb.cells)
        try:
            for j in range(next_index):
                cell = originals[j]
                if j in failed or cell.cell_type != "code" or not cell.source.strip():
                    continue
                if self._left() < 1:
                    return True
                self._output_budget = {"bytes": 0, "kept_stderr": False, "kept_result": False, "cut": False}
                self.timeout = max(1, int(min(self._cell_timeout or 10**9, self._left())))
                try:
                    await self.async_execute_cell(copy.deepcopy(cell), j)
                except KERNEL_FAILURES as exc:
                    self._incident(j, f"replaying this cell to rebuild the state failed: {self._describe(exc)}")
                    failed.add(j)
                    await self._kill()
                    return await self._start()
        finally:
            self.nb.cells[:] = originals
            self.code_cells_executed = saved_count
        return True

    # -- bookkeeping -------------------------------------------------------------------------------
    def _not_run(self, cell: NotebookNode, index: int, why: str) -> None:
        cell.outputs = [error_output("NotRun", f"this cell was not run: {why}")]
        if cell.metadata.get("nbgrader", {}).get("grade"):
            self._incident(index, f"not run: {why}")

    def _incident(self, index: int | None, what: str) -> None:
        grade_id = None
        if index is not None:
            grade_id = self.nb.cells[index].metadata.get("nbgrader", {}).get("grade_id")
        self._incidents.append({"cell": index, "grade_id": grade_id, "what": what})

    # -- output cap --------------------------------------------------------------------------------
    def output(self, outs: list[NotebookNode], msg: dict[str, t.Any], display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        out = super().output(outs, msg, display_id, cell_index)
        if out is None or not outs or outs[-1] is not out:
            return out
        budget = getattr(self, "_output_budget", None)
        if budget is None:
            return out
        size = _size(out)
        is_stderr = out.output_type == "stream" and out.get("name") == "stderr"
        if budget["bytes"] + size <= self.max_output_bytes:
            budget["bytes"] += size
        elif out.output_type == "error":
            pass  # always kept: it decides the grade
        elif is_stderr and not budget["kept_stderr"]:
            out.text = out.text[: max(0, self.max_output_bytes - budget["bytes"])] or "[stderr output]"
        elif out.output_type == "execute_result" and not budget["kept_result"]:
            pass  # the first result may be a partial grade
        elif out.output_type == "stream" and budget["bytes"] < self.max_output_bytes:
            out.text = out.text[: self.max_output_bytes - budget["bytes"]] + self._cut_notice(budget)
            budget["bytes"] = self.max_output_bytes
        else:
            outs.pop()
            notice = self._cut_notice(budget)
            if notice:
                outs.append(NotebookNode(output_type="stream", name="stdout", text=notice))
            return None
        budget["kept_stderr"] |= is_stderr
        budget["kept_result"] |= out.output_type == "execute_result"
        return out


    def _cut_notice(self, budget: dict[str, t.Any]) -> str:
        if budget["cut"]:
            return ""
        budget["cut"] = True
        return f"\n[output cut by the grader after {self.max_output_bytes} characters]\n"


def _size(out: NotebookNode) -> int:
    if out.output_type == "stream":
        return len(out.get("text", ""))
    if out.output_type == "error":
        return sum(len(line) for line in out.get("traceback", []))
    return sum(len(v) if isinstance(v, str) else len(str(v)) for v in out.get("data", {}).values())
