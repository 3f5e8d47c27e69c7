"""Index rebuild as a background subprocess (``python -m knowledge build``) with parsed progress."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

log = logging.getLogger(__name__)

# knowledge.index logs "embedding: 512/9000"; the importer logs "parse: 500/6000".
PROGRESS_RE = re.compile(r"\b(embedding|parse|write): (\d+)/(\d+)")
PHASES = {"embedding": "Mã hóa văn bản (embedding)", "parse": "Đọc dữ liệu", "write": "Ghi dữ liệu"}


class IndexJob:
    """At most one rebuild at a time; its state is polled by the progress page."""

    def __init__(self, command: Sequence[str], on_finish: Callable[[dict[str, Any]], None] | None = None) -> None:
        """Use ``command`` to build (the environment is inherited)."""
        self.command = list(command)
        self.on_finish = on_finish
        self.state: dict[str, Any] = {"status": "idle"}
        self._task: asyncio.Task[None] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self.rerun = False

    @property
    def running(self) -> bool:
        """True while a build runs."""
        return self._task is not None and not self._task.done()

    def start(self, by: str, force: bool = True) -> bool:
        """Start a build; False when one is already running."""
        if self.running:
            return False
        self.state = {
            "status": "running", "by": by, "started_at": time.time(), "finished_at": None, "phase": "",
            "done": 0, "total": 0, "percent": 0, "lines": [], "returncode": None,
        }
        self._task = asyncio.get_running_loop().create_task(self._run(force))
        return True

    async def _run(self, force: bool) -> None:
        lines: deque[str] = deque(maxlen=30)
        command = [*self.command, "--force"] if force and self.command[-1:] == ["build"] else self.command
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *command, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
            assert self._proc.stdout is not None
            while True:
                raw = await self._proc.stdout.readline()
                if not raw:
                    break
                line = raw.decode("utf-8", "replace").rstrip()[:300]
                lines.append(line)
                match = PROGRESS_RE.search(line)
                if match:
                    phase, done, total = match.group(1), int(match.group(2)), int(match.group(3))
                    self.state.update(phase=PHASES.get(phase, phase), done=done, total=total,
                                      percent=int(100 * done / total) if total else 0)
                self.state["lines"] = list(lines)
            code = await self._proc.wait()
            self.state.update(status="done" if code == 0 else "failed", returncode=code)
            if code == 0:
                self.state["percent"] = 100
        except asyncio.CancelledError:
            self.state.update(status="failed", returncode=-1)
            if self._proc is not None and self._proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.kill()
            raise
        except Exception as exc:  # the command is missing, cannot start, ...
            log.exception("index rebuild failed to run")
            lines.append(f"{type(exc).__name__}: {exc}")
            self.state.update(status="failed", returncode=-1, lines=list(lines))
        finally:
            self.state["finished_at"] = time.time()
            self._proc = None
            if self.on_finish is not None:
                with contextlib.suppress(Exception):
                    self.on_finish(dict(self.state))
        if self.rerun and self.state["status"] == "done":
            self.rerun = False
            self.start(self.state.get("by", "auto"))

    async def close(self) -> None:
        """Stop a running build (at shutdown)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
