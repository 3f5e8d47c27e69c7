"""Status-change notifier: polls subscribed dossiers and pushes one message per change via the gateway.

Run with ``python -m dossier.notifier`` (``--once`` for a single cycle). Changes go to an outbox in
the state database in the same transaction that records the new status, so a change is pushed once;
undelivered pushes stay pending and are retried every cycle while the gateway is down.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from dossier.adapters import OnestopAdapter, OnestopUnavailable, make_adapter
from dossier.models import FINAL_STATUSES, Dossier, Status
from dossier.settings import Settings, get_settings
from dossier.state import Hasher, StateDB
from dossier.texts import push_text

log = logging.getLogger("dossier.notifier")

PERMANENT_HTTP = frozenset({400, 404, 410, 422})
MAX_PERMANENT_ATTEMPTS = 5


@dataclass(frozen=True)
class Subscription:
    """A sender following one dossier."""

    sender: str
    code: str
    channel: str
    last_status: str


@dataclass(frozen=True)
class PendingPush:
    """An outbox row waiting for delivery."""

    id: int
    sender: str
    payload: dict[str, Any]
    attempts: int


class SubscriptionStore:
    """Subscriptions and the push outbox in the state database."""

    def __init__(self, db: StateDB) -> None:
        """Use ``db`` for storage."""
        self.db = db

    def subscribe(self, sender: str, channel: str, code: str, status: str) -> bool:
        """Follow ``code`` from its current ``status``; False when already subscribed."""
        with self.db.connect() as conn:
            cur = conn.execute(
                "INSERT OR IGNORE INTO subscriptions (sender, code, channel, last_status, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (sender, code, channel, status, time.time()),
            )
            return cur.rowcount > 0

    def unsubscribe(self, sender: str, code: str | None = None) -> int:
        """Stop following ``code`` (or every dossier when None); return how many were removed."""
        with self.db.connect() as conn:
            if code:
                cur = conn.execute("DELETE FROM subscriptions WHERE sender = ? AND code = ?", (sender, code))
            else:
                cur = conn.execute("DELETE FROM subscriptions WHERE sender = ?", (sender,))
            return cur.rowcount

    def all(self) -> list[Subscription]:
        """Every subscription."""
        with self.db.connect() as conn:
            rows = conn.execute("SELECT sender, code, channel, last_status FROM subscriptions").fetchall()
        return [Subscription(*row) for row in rows]

    def for_sender(self, sender: str) -> list[Subscription]:
        """Subscriptions of one sender."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT sender, code, channel, last_status FROM subscriptions WHERE sender = ?", (sender,)
            ).fetchall()
        return [Subscription(*row) for row in rows]

    def record_change(self, sub: Subscription, new_status: str, payload: dict[str, Any]) -> bool:
        """Atomically move the subscription to ``new_status`` and queue one push; False if already done."""
        with self.db.connect() as conn:
            cur = conn.execute(
                "UPDATE subscriptions SET last_status = ? WHERE sender = ? AND code = ? AND last_status = ?",
                (new_status, sub.sender, sub.code, sub.last_status),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(
                "INSERT INTO push_outbox (sender, code, status, payload, created_at) VALUES (?, ?, ?, ?, ?)",
                (sub.sender, sub.code, new_status, json.dumps(payload, ensure_ascii=False), time.time()),
            )
            if new_status in {s.value for s in FINAL_STATUSES}:
                conn.execute("DELETE FROM subscriptions WHERE sender = ? AND code = ?", (sub.sender, sub.code))
        return True

    def pending(self, limit: int = 100) -> list[PendingPush]:
        """Undelivered pushes, oldest first."""
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT id, sender, payload, attempts FROM push_outbox "
                "WHERE delivered_at IS NULL AND failed = 0 ORDER BY id LIMIT ?",
                (limit,),
            ).fetchall()
        return [PendingPush(r["id"], r["sender"], json.loads(r["payload"]), r["attempts"]) for r in rows]

    def mark_delivered(self, push_id: int) -> None:
        """Mark a push as delivered."""
        with self.db.connect() as conn:
            conn.execute("UPDATE push_outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ?",
                         (time.time(), push_id))

    def mark_failed_attempt(self, push_id: int, error: str, give_up: bool = False) -> None:
        """Count a failed attempt; ``give_up`` stops retrying it."""
        with self.db.connect() as conn:
            conn.execute(
                "UPDATE push_outbox SET attempts = attempts + 1, last_error = ?, failed = ? WHERE id = ?",
                (error[:200], int(give_up), push_id),
            )


def push_payload(sender: str, dossier: Dossier) -> dict[str, Any]:
    """The gateway /internal/push body for a status change."""
    entity = json.dumps({"dossier_code": dossier.code})
    buttons = [{"title": "Xem chi tiết", "payload": f"/check_status{entity}"}]
    if dossier.status not in FINAL_STATUSES:
        buttons.append({"title": "Ngừng theo dõi", "payload": f"/unsubscribe_status{entity}"})
    return {"sender": sender, "messages": [{"text": push_text(dossier), "buttons": buttons}]}


class Notifier:
    """Polls the one-stop adapter for subscribed dossiers and delivers pushes through the gateway."""

    def __init__(
        self,
        adapter: OnestopAdapter,
        store: SubscriptionStore,
        gateway_url: str,
        token: str,
        hasher: Hasher,
        timeout_s: float = 10.0,
        concurrency: int = 4,
    ) -> None:
        """Wire the notifier; the HTTP session is created inside the running loop."""
        self.adapter = adapter
        self.store = store
        self.push_url = gateway_url.rstrip("/") + "/internal/push"
        self.token = token
        self.hash = hasher
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.concurrency = max(1, concurrency)

    async def poll(self) -> int:
        """Check every subscribed dossier once; queue a push per status change; return changes found."""
        subs = await asyncio.to_thread(self.store.all)
        codes = sorted({s.code for s in subs})
        gate = asyncio.Semaphore(self.concurrency)

        async def fetch(code: str) -> tuple[str, Dossier | None]:
            async with gate:
                try:
                    return code, await self.adapter.get_dossier(code)
                except OnestopUnavailable as exc:
                    log.warning("poll skipped dossier %s: %s", self.hash(code), exc)
                    return code, None

        current = dict(await asyncio.gather(*(fetch(c) for c in codes)))
        changes = 0
        for sub in subs:
            dossier = current.get(sub.code)
            if dossier is None or (dossier.status is Status.UNKNOWN and not dossier.status_label):
                continue
            new_status = dossier.status.value if dossier.status is not Status.UNKNOWN else dossier.status_label
            if new_status == sub.last_status:
                continue
            queued = await asyncio.to_thread(
                self.store.record_change, sub, new_status, push_payload(sub.sender, dossier)
            )
            if queued:
                changes += 1
                log.info("status change queued for dossier %s (%s -> %s)", self.hash(sub.code),
                         sub.last_status, new_status)
        return changes

    async def deliver(self, session: aiohttp.ClientSession | None = None) -> int:
        """Try to deliver every pending push; return how many were delivered."""
        pending = await asyncio.to_thread(self.store.pending)
        if not pending:
            return 0
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        owns = session is None
        session = session or aiohttp.ClientSession(timeout=self.timeout)
        delivered = 0
        try:
            for push in pending:
                try:
                    async with session.post(self.push_url, json=push.payload, headers=headers) as resp:
                        status = resp.status
                except (TimeoutError, aiohttp.ClientError) as exc:
                    await asyncio.to_thread(self.store.mark_failed_attempt, push.id, type(exc).__name__)
                    log.warning("gateway unreachable (%s); %d push(es) stay pending",
                                type(exc).__name__, len(pending) - delivered)
                    break
                if 200 <= status < 300:
                    await asyncio.to_thread(self.store.mark_delivered, push.id)
                    delivered += 1
                    continue
                give_up = status in PERMANENT_HTTP and push.attempts + 1 >= MAX_PERMANENT_ATTEMPTS
                await asyncio.to_thread(self.store.mark_failed_attempt, push.id, f"HTTP {status}", give_up)
                if status in (401, 403):
                    log.error("gateway refused the push token (HTTP %s); check GATEWAY_PUSH_TOKEN", status)
                    break
                log.warning("gateway answered HTTP %s for push %d%s", status, push.id,
                            " (giving up)" if give_up else "")
        finally:
            if owns:
                await session.close()
        return delivered

    async def run_once(self) -> tuple[int, int]:
        """One cycle: poll, then deliver. Returns (changes, delivered)."""
        changes = await self.poll()
        delivered = await self.deliver()
        return changes, delivered

    async def run_forever(self, interval_s: float, stop: asyncio.Event) -> None:
        """Cycle every ``interval_s`` seconds until ``stop`` is set; errors never end the loop."""
        while not stop.is_set():
            try:
                changes, delivered = await self.run_once()
                if changes or delivered:
                    log.info("notifier cycle: %d change(s), %d push(es) delivered", changes, delivered)
            except Exception:
                log.exception("notifier cycle failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)


def build_notifier(settings: Settings) -> Notifier:
    """Notifier wired from settings."""
    db = StateDB(settings.state_db)
    return Notifier(
        make_adapter(settings), SubscriptionStore(db), settings.gateway_url, settings.gateway_token,
        Hasher.from_settings(settings.hash_key, settings.data_dir),
    )


async def _main(once: bool, settings: Settings) -> None:
    """Run the notifier until SIGINT/SIGTERM."""
    notifier = build_notifier(settings)
    try:
        if once:
            changes, delivered = await notifier.run_once()
            log.info("notifier: %d change(s), %d push(es) delivered", changes, delivered)
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        log.info("notifier polling every %.0fs, pushing to %s", settings.notifier_interval_s, notifier.push_url)
        await notifier.run_forever(settings.notifier_interval_s, stop)
    finally:
        await notifier.adapter.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m dossier.notifier", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run a single poll-and-deliver cycle")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(_main(args.once, get_settings()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
