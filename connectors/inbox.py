"""The durable inbox's worker: accepted webhook events handled in each sender's order, by any replica.

A webhook's event is stored with its ``seen`` row before the platform gets its 200 (``Store.accept``).
The replica that accepted it usually handles it at once; an event that waits behind the sender's
earlier one, or whose replica died holding it, is claimed here when its turn comes or the dead claim's
lease runs out. The item leaves the inbox in the transaction that queues its reply in the outbox. Claims under way
are renewed every third of the lease, so a slow Rasa answer never lets a second replica take the item,
while a killed replica's items go to the others within one lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from connectors.metrics import Metrics
from connectors.store import INBOX_ITEM, InboxItem, Store

log = logging.getLogger(__name__)
MAX_CLAIMS = 5  # an event claimed this often keeps killing or stalling replicas: dropped, logged
MAX_IN_FLIGHT = 200


class DurableChannel(Protocol):
    """A channel whose events can be stored and handled later, possibly by another replica."""

    name: str
    prefix: str

    def decode_event(self, data: dict[str, Any]) -> Any:
        """The event back from its stored form (raise ValueError when it cannot be)."""

    async def process(self, event: Any) -> None:
        """Handle one event now: ask Rasa (or answer directly) and queue the reply in the outbox."""


InOrder = Callable[[str, Callable[[], Awaitable[Any]]], "asyncio.Future[Any]"]


class Inbox:
    """Hands inbox items to their channels, one at a time per sender, and claims the ones left waiting."""

    def __init__(self, store: Store, metrics: Metrics, in_order: InOrder) -> None:
        """Work on ``store``; ``in_order`` runs a job behind the sender's other local work."""
        self.store, self.metrics, self.in_order = store, metrics, in_order
        self.channels: dict[str, DurableChannel] = {}
        self._in_flight: dict[int, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    def register(self, channel: DurableChannel) -> None:
        """Handle the events of ``channel``."""
        self.channels[channel.name] = channel

    def start(self) -> None:
        """Start claiming waiting items (and the ones dead replicas left)."""
        if self._task is None and self.channels:
            self._task = asyncio.create_task(self._run(), name="inbox")

    def wake(self) -> None:
        """Look for claimable items now."""
        self._wake.set()

    def take(self, item: InboxItem) -> None:
        """Handle an item this replica accepted (claimed: at once; otherwise when its turn comes)."""
        if item.claimed:
            self._spawn(item)
        else:
            self.wake()

    async def close(self, grace_s: float = 10.0) -> None:
        """Stop claiming; let items under way finish (the rest stay in the inbox for the other replicas)."""
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._in_flight:  # claims are no longer renewed: finish well within what is left of them
            await asyncio.wait(list(self._in_flight.values()), timeout=min(grace_s, self.store.lease_s / 2))
        for task in list(self._in_flight.values()):
            task.cancel()
        await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _run(self) -> None:
        """Loop: renew the claims under way, claim what is claimable, sleep until a claim may expire."""
        renew_every = self.store.lease_s / 3
        renewed = time.monotonic()
        while not self._stopping:
            try:
                if time.monotonic() - renewed >= renew_every:
                    renewed = time.monotonic()
                    await self.store.renew_inbox(list(self._in_flight))
                delay = min(renew_every, await self.run_once())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("inbox loop error")
                self.metrics.errors.inc(kind="inbox_loop")
                delay = 5.0
            self._wake.clear()
            if self._stopping:
                return
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.05, delay))

    async def run_once(self) -> float:
        """Claim and start every claimable item; return seconds until the next look."""
        room = MAX_IN_FLIGHT - len(self._in_flight)
        items, next_at = await self.store.claim_inbox(list(self.channels), limit=max(0, room))
        for item in items:
            self._spawn(item)
        idle = min(30.0, self.store.lease_s)  # another replica's orphans show up within a lease
        return idle if next_at is None else max(0.0, min(idle, next_at - time.time()))

    def _spawn(self, item: InboxItem) -> None:
        """Start handling ``item`` in the background."""
        task = asyncio.create_task(self._handle(item), name=f"inbox-{item.id}")
        self._in_flight[item.id] = task
        task.add_done_callback(lambda _t: self._finished(item.id))

    def _finished(self, item_id: int) -> None:
        """Forget a handled item; the sender's next item may be claimable now."""
        self._in_flight.pop(item_id, None)
        self._wake.set()

    async def _handle(self, item: InboxItem) -> None:
        """Run the item's event behind the sender's local work, then make sure it leaves the inbox."""
        channel = self.channels.get(item.channel)
        try:
            if channel is None:
                raise ValueError(f"no channel {item.channel!r} on this gateway")
            if item.attempts >= MAX_CLAIMS:
                raise ValueError(f"claimed {item.attempts} times already")
            if item.attempts:
                log.warning("inbox: %s item %s taken over from a replica that did not finish it", item.channel, item.id)
                self.metrics.errors.inc(kind="inbox_taken_over")
            event = channel.decode_event(item.event)

            async def job() -> None:
                """Handle the event with the item in context, so its reply's transaction removes it."""
                token = INBOX_ITEM.set(item)
                try:
                    await channel.process(event)
                finally:
                    INBOX_ITEM.reset(token)

            await self.in_order(f"{channel.prefix}:{item.sender}", job)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("inbox: %s item %s not handled: %s", item.channel, item.id, type(exc).__name__)
            self.metrics.errors.inc(kind="inbox_failed")
        try:
            await self.store.inbox_done(item)
        except Exception:
            log.exception("inbox: %s item %s could not be removed (another replica may handle it again)",
                          item.channel, item.id)
