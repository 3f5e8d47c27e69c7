"""Status-change notifier: polls subscribed dossiers and pushes one message per change via the gateway.

Run with ``python -m dossier.notifier`` (``--once`` for a single cycle). Changes go to an outbox in
the state database in the same transaction that records the new status, so a change is pushed once;
undelivered pushes stay pending and are retried every cycle while the gateway is down. Any number
of notifiers may run: one leads (it holds the state database's ``notifier`` lock), the others wait
and take over within a cycle when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Sequence
from typing import Any

import aiohttp

from common.leader import Leadership
from common.settings import load_or_exit, use_settings
from dossier.adapters import OnestopAdapter, OnestopUnavailable, make_adapter
from dossier.models import FINAL_STATUSES, Dossier, Status
from dossier.settings import DossierSettings
from dossier.store import Hasher, StateDB
from dossier.subscriptions import SubscriptionStore
from dossier.texts import push_text

log = logging.getLogger("dossier.notifier")

PERMANENT_HTTP = frozenset({400, 404, 410, 422})
MAX_PERMANENT_ATTEMPTS = 5


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

    async def run_forever(self, interval_s: float, stop: asyncio.Event, leader: Leadership | None = None) -> None:
        """Cycle every ``interval_s`` seconds until ``stop`` is set, while ``leader`` leads; errors never end it."""
        while not stop.is_set():
            try:
                if leader is None or await leader.ensure():
                    changes, delivered = await self.run_once()
                    if changes or delivered:
                        log.info("notifier cycle: %d change(s), %d push(es) delivered", changes, delivered)
            except Exception:
                log.exception("notifier cycle failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=interval_s)


def build_notifier(settings: DossierSettings) -> Notifier:
    """Notifier wired from settings."""
    db = StateDB(settings.state_db)
    return Notifier(
        make_adapter(settings), SubscriptionStore(db), settings.gateway_url, settings.gateway_token,
        Hasher.from_settings(settings.hash_key, settings.data_dir),
    )


async def _main(once: bool, settings: DossierSettings) -> None:
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
        leader = Leadership(notifier.store.db, "notifier")
        try:
            await notifier.run_forever(settings.notifier_interval_s, stop, leader)
        finally:
            await leader.resign()
    finally:
        await notifier.adapter.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m dossier.notifier", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run a single poll-and-deliver cycle")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    settings = load_or_exit(DossierSettings.from_env)
    use_settings(settings)
    asyncio.run(_main(args.once, settings))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
