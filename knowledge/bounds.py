"""Bounds on the work one question may cost: cut the query, refuse noise, run searches in their own pool.

Real citizen questions are short: the 413 questions of ``bench/devset`` are at most 153 characters
and 23 words (99th percentile 109 characters, 17 words). The defaults keep every one of them whole
and cut the rest before encoding and lexical scoring, so one search costs the same whether the
message was 200 characters or 10 MB. Questions longer than any real one (``LONG_QUERY_CHARS``)
search in a lane of their own, so a crowd of them cannot hold up the short ones.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import threading
import time
import unicodedata
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

QUERY_MAX_CHARS = 200
QUERY_MAX_TOKENS = 40
QUESTION_MAX_CHARS = 1000
LONG_QUERY_CHARS = 160
_TOKEN = re.compile(r"\w+")
# A Vietnamese syllable is at most 7 letters ("nghiêng"); teencode and numbers are shorter still.
_SYLLABLE = re.compile(r"[^\W\d_]{1,7}|\d{1,12}")


def bound_query(text: str, max_chars: int = QUERY_MAX_CHARS, max_tokens: int = QUERY_MAX_TOKENS) -> str:
    """``text`` cut to ``max_chars`` characters and its first ``max_tokens`` words (whole words kept)."""
    head = text[: max_chars + 1]
    if len(head) > max_chars:
        cut = head.rfind(" ", 0, max_chars + 1)
        head = head[: cut if cut > 0 else max_chars]
    ends = [m.end() for m in _TOKEN.finditer(head)]
    if len(ends) > max_tokens:
        head = head[: ends[max_tokens - 1]]
    return head.strip()


def is_noise(text: str, max_chars: int = QUESTION_MAX_CHARS) -> bool:
    """True for a question too long to be one, or one whose words mostly are not Vietnamese syllables."""
    if len(text) > max_chars:
        return True
    words = _TOKEN.findall(unicodedata.normalize("NFC", text[: max_chars + 1]))
    if len(words) < 4:
        return False
    syllables = sum(1 for w in words if _SYLLABLE.fullmatch(w))
    return syllables * 2 < len(words)


class Busy(Exception):
    """The search pool could not start the work before its deadline (or its queue is full)."""


class SearchPool:
    """A small thread pool only for searches, with a bounded queue and a deadline per request.

    Dossier lookups and other actions keep the event loop's default executor to themselves; a
    request still waiting when its deadline passes is dropped before it runs and answered "busy".
    """

    def __init__(self, workers: int = 2, queue: int = 8, deadline: float = 8.0, min_interval: float = 0.0) -> None:
        """``workers`` threads, at most ``queue`` waiting, ``deadline`` seconds each, one start per ``min_interval``."""
        self.deadline = deadline
        self.min_interval = min_interval
        self._executor = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="search")
        self._slots = threading.BoundedSemaphore(workers + queue)
        self._rate_lock = threading.Lock()
        self._next_start = 0.0

    def _admit(self) -> None:
        """Take a place in the pool, or raise :class:`Busy` (queue full, or faster than ``min_interval``)."""
        if self.min_interval > 0:
            with self._rate_lock:
                now = time.monotonic()
                if now < self._next_start:
                    raise Busy("search rate exceeded")
                self._next_start = now + self.min_interval
        if not self._slots.acquire(blocking=False):
            raise Busy("search queue full")

    async def run(self, fn: Callable[[], T]) -> T:
        """Run ``fn`` in the pool; raise :class:`Busy` when it is full or the deadline passes first."""
        self._admit()
        start_by = time.monotonic() + self.deadline

        def job() -> T:
            try:
                if time.monotonic() > start_by:
                    raise Busy("deadline passed in the queue")
                return fn()
            finally:
                self._slots.release()

        try:
            future = self._executor.submit(job)
        except RuntimeError:
            self._slots.release()
            raise
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.deadline)
        except TimeoutError:
            if future.cancel():  # never started: its slot is ours to give back
                self._slots.release()
            raise Busy("search deadline passed") from None

    def shutdown(self) -> None:
        """Stop the threads (pending work is dropped)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
