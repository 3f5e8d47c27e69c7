"""Bounded speech decoding shared by all calls: a fixed number of decoders, a time budget, a warm model.

At most ``workers`` decodes run at once (more would only slow every one of them on a small box).
A call whose utterance has to wait is told so (``on_hold``: a short "please wait" prompt). Past
``budget_s`` (waiting included) the call stops waiting and asks the caller again; the decode itself is
bounded by its token limit (``guard.max_new_tokens``) and keeps its slot until it finishes, so the
number of decodes in flight never exceeds ``workers``.

An early decode (``transcribe_early``, at a pause in the caller's speech) only starts when a decoder is
free at that moment: it never waits, never triggers the hold prompt and never delays a finished utterance
that is already waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from connectors.voice.asr import ASR, Transcript, recognise
from connectors.voice.audio import RATE

log = logging.getLogger(__name__)


class DecodePool:
    """Runs ``recognise`` in a thread pool under a semaphore and a deadline."""

    def __init__(self, asr: ASR, workers: int = 1, budget_s: float = 4.0) -> None:
        """Create the threads; the semaphore is created on first use (inside the event loop)."""
        self.asr, self.workers, self.budget_s = asr, max(1, workers), budget_s
        self.executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="asr")
        self._slots: asyncio.Semaphore | None = None
        self.running = 0
        self.queued = 0  # decodes waiting for a slot
        self.last_used = time.monotonic()
        self.stats = {"decodes": 0, "held": 0, "over_budget": 0, "rejected": 0, "early": 0}

    @property
    def slots(self) -> asyncio.Semaphore:
        """The decoder slots."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.workers)
        return self._slots

    async def transcribe(self, pcm: np.ndarray, on_hold: Callable[[], None] | None = None) -> Transcript:
        """Decode one utterance within the budget ('' with ``rejected`` set when it could not be)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.budget_s
        if self.running + self.queued >= self.workers:
            self.stats["held"] += 1
            if on_hold is not None:
                on_hold()
        self.queued += 1
        try:
            await asyncio.wait_for(self.slots.acquire(), self.budget_s)
        except asyncio.TimeoutError:
            self.stats["over_budget"] += 1
            return Transcript("", "no decoder free within the budget", self.budget_s)
        finally:
            self.queued -= 1
        self.running += 1
        self.stats["decodes"] += 1
        future = loop.run_in_executor(self.executor, recognise, self.asr, pcm, RATE)
        future.add_done_callback(lambda _f: self._release())
        try:
            result = await asyncio.wait_for(asyncio.shield(future), max(0.05, deadline - loop.time()))
        except asyncio.TimeoutError:
            self.stats["over_budget"] += 1
            log.warning("decode over its %.1f s budget: the caller is asked again", self.budget_s)
            return Transcript("", "over the time budget", self.budget_s)
        if result.rejected:
            self.stats["rejected"] += 1
        return result

    def transcribe_early(self, pcm: np.ndarray) -> asyncio.Task[Transcript] | None:
        """Start decoding ``pcm`` now if a decoder is free (None if not).

        A decode cannot be stopped once running: a caller who speaks again just ignores the task's result.
        """
        if self.running + self.queued >= self.workers:
            return None
        self.stats["early"] += 1
        return asyncio.get_running_loop().create_task(self.transcribe(pcm))

    def _release(self) -> None:
        """A decode finished (in time or not): free its slot."""
        self.running -= 1
        self.last_used = time.monotonic()
        self.slots.release()

    async def keep_warm(self, interval_s: float) -> None:
        """Decode a second of faint noise whenever the model has been idle for ``interval_s``."""
        noise = (np.random.default_rng(0).standard_normal(RATE) * 30).astype(np.int16)
        while True:
            await asyncio.sleep(max(1.0, interval_s - (time.monotonic() - self.last_used)))
            if time.monotonic() - self.last_used >= interval_s and self.running + self.queued == 0:
                await self.transcribe(noise)
                self.stats["decodes"] -= 1

    def shutdown(self) -> None:
        """Stop the threads."""
        self.executor.shutdown(wait=False, cancel_futures=True)
