"""Persisted outbox: every reply to Telegram/Zalo is queued in the gateway store and retried with backoff.

Items of one recipient go out strictly in order (only the oldest pending item of each recipient
is attempted); different recipients are sent concurrently. With several gateway replicas each item
is claimed by one of them for ``Store.lease_s``; an attempt is cut off at half the lease, so a claim
never runs out while its call is still under way, and an item whose replica died goes to another.
An item held because the user is out of reach (Zalo's interaction window) is released as soon as
that user writes again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Protocol

from connectors.metrics import Metrics
from connectors.store import OutboxItem, Store

log = logging.getLogger(__name__)


class RetryLater(Exception):
    """A delivery failed but should be retried; ``delay`` overrides the exponential backoff."""

    def __init__(
        self, reason: str, delay: float | None = None, pause_channel: bool = False, count: bool = True
    ) -> None:
        """Describe a transient failure."""
        super().__init__(reason)
        self.reason, self.delay, self.pause_channel, self.count = reason, delay, pause_channel, count


class GiveUp(Exception):
    """A delivery can never succeed (e.g. the user blocked the bot); the item is dropped."""


class Deliverer(Protocol):
    """A channel that can perform one queued API call."""

    name: str

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Perform one call; raise RetryLater or GiveUp on failure."""


def backoff(attempts: int, base: float = 1.0) -> float:
    """Exponential backoff with jitter: base, 2×base, 4×base ... capped at 5 minutes."""
    return min(300.0, base * 2.0 ** max(0, attempts)) * random.uniform(0.8, 1.2)


class Outbox:
    """The outbox worker."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        max_attempts: int = 30,
        max_age_s: float = 7 * 86400,
        base_delay: float = 1.0,
    ) -> None:
        """Deliver items from ``store`` through registered channels."""
        self.store, self.metrics, self.base_delay = store, metrics, base_delay
        self.max_attempts, self.max_age_s = max_attempts, max_age_s
        self.channels: dict[str, Deliverer] = {}
        self._wake = asyncio.Event()
        self._paused_until: dict[str, float] = {}
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self, channel: Deliverer) -> None:
        """Add a channel to deliver for."""
        self.channels[channel.name] = channel

    async def enqueue(self, channel: str, recipient: str, payloads: list[dict[str, Any]]) -> None:
        """Persist calls for one recipient and wake the worker."""
        if payloads:
            await self.store.enqueue(channel, recipient, payloads)
            self._wake.set()

    async def release(
        self, channel: str, recipient: str, stale_before: float, mark: Callable[[dict[str, Any], float], dict[str, Any]]
    ) -> None:
        """The recipient wrote again: send their held items now (see ``Store.release_held``)."""
        released, dropped = await self.store.release_held(channel, recipient, stale_before, mark)
        if released or dropped:
            log.info("outbox: %s user wrote again: %d held item(s) released, %d stale reply(ies) dropped",
                     channel, released, dropped)
            self._wake.set()

    def start(self) -> None:
        """Start the background worker."""
        if self._task is None and self.channels:
            self._task = asyncio.create_task(self._run(), name="outbox")

    async def close(self, grace_s: float = 5.0) -> None:
        """Stop the worker after in-flight calls finish; pending items stay in SQLite."""
        if self._task is not None:
            self._stopping = True
            self._wake.set()
            try:
                await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_s)
            except (asyncio.TimeoutError, Exception):
                self._task.cancel()
                await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        """Loop: deliver what is due, then sleep until the next due time or a wake-up."""
        immediate = 0
        while not self._stopping:
            try:
                delay = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("outbox loop error")
                self.metrics.errors.inc(kind="outbox_loop")
                delay = 5.0
            if delay is None:  # nothing queued here; another replica's orphans show up within a lease
                delay = min(30.0, self.store.lease_s)
            if self._stopping:
                return
            immediate = immediate + 1 if delay == 0 else 0
            if delay == 0 and immediate < 100:
                # More may be due right now (e.g. the second part of a reply): no pause between parts,
                # but never spin: after 100 rounds in a row fall back to the short wait below.
                await asyncio.sleep(0)
                continue
            self._wake.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, delay))

    async def run_once(self) -> float | None:
        """Deliver every due item once; return seconds until the next attempt (None: nothing left)."""
        now = time.time()
        active = [c for c in self.channels if self._paused_until.get(c, 0.0) <= now]
        items, next_at = await self.store.due(active)
        if items:
            await asyncio.gather(*(self._deliver(item) for item in items))
            return 0.0
        waits = [t - now for t in self._paused_until.values() if t > now]
        if next_at is not None:
            waits.append(next_at - now)
        return min(waits) if waits else None

    async def _deliver(self, item: OutboxItem) -> None:
        """Attempt one item and record the outcome."""
        channel = self.channels.get(item.channel)
        if channel is None:
            return
        try:
            await asyncio.wait_for(channel.deliver(item.recipient, item.payload), timeout=self.store.lease_s / 2)
        except RetryLater as exc:
            self.metrics.errors.inc(kind=f"{item.channel}_send_retry")
            too_old = time.time() - item.created > self.max_age_s
            if too_old or (exc.count and item.attempts + 1 >= self.max_attempts):
                log.error("outbox item %s to %s dropped after %s attempts: %s",
                          item.id, item.channel, item.attempts + 1, exc.reason)
                await self.store.dead(item.id, exc.reason)
                return
            delay = exc.delay if exc.delay is not None else backoff(item.attempts, self.base_delay)
            if exc.pause_channel:
                self._paused_until[item.channel] = time.time() + delay
            log.warning("outbox item %s to %s retried in %.0fs: %s", item.id, item.channel, delay, exc.reason)
            await self.store.retry_later(item.id, delay, exc.reason, count=exc.count)
        except GiveUp as exc:
            self.metrics.errors.inc(kind=f"{item.channel}_send_failed")
            log.error("outbox item %s to %s given up: %s", item.id, item.channel, exc)
            await self.store.dead(item.id, str(exc))
        except Exception as exc:
            self.metrics.errors.inc(kind=f"{item.channel}_send_retry")
            log.exception("outbox item %s to %s failed unexpectedly", item.id, item.channel)
            await self.store.retry_later(item.id, backoff(item.attempts, self.base_delay), repr(exc))
        else:
            self.metrics.messages.inc(channel=item.channel, direction="out")
            await self.store.done(item.id)
