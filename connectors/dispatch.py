"""Per-sender ordering: each sender's jobs run one at a time, in order; senders run in parallel."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[Any]]


class SenderQueues:
    """A FIFO queue and a worker task per active sender; idle senders cost nothing."""

    def __init__(self) -> None:
        """Start empty."""
        self._queues: dict[str, deque[tuple[Job, asyncio.Future[Any]]]] = {}
        self._workers: dict[str, asyncio.Task[None]] = {}

    def submit(self, sender: str, job: Job) -> asyncio.Future[Any]:
        """Queue ``job`` behind the sender's earlier jobs; the future holds its result."""
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._queues.setdefault(sender, deque()).append((job, fut))
        if sender not in self._workers:
            self._workers[sender] = asyncio.create_task(self._work(sender), name=f"sender-{sender}")
        return fut

    def depth(self, sender: str) -> int:
        """How many of the sender's jobs wait or run now."""
        return len(self._queues.get(sender, ())) + (sender in self._workers)

    async def _work(self, sender: str) -> None:
        """Drain one sender's queue, then exit."""
        queue = self._queues[sender]
        try:
            while queue:
                job, fut = queue.popleft()
                try:
                    result = await job()
                except asyncio.CancelledError:
                    fut.cancel()
                    raise
                except Exception as exc:
                    log.exception("job for a sender failed")
                    if not fut.done():
                        fut.set_exception(exc)
                        fut.exception()  # mark retrieved: fire-and-forget callers never await it
                else:
                    if not fut.done():
                        fut.set_result(result)
        finally:
            self._workers.pop(sender, None)
            if not queue:
                self._queues.pop(sender, None)

    async def drain(self) -> None:
        """Wait for every queued job (used at shutdown and in tests)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def close(self) -> None:
        """Cancel the workers."""
        for task in list(self._workers.values()):
            task.cancel()
        await asyncio.gather(*list(self._workers.values()), return_exceptions=True)
