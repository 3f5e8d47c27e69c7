"""A gateway replica that accepts two events of one user and hangs on the first (run as a child, then kill -9)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from connectors.dispatch import SenderQueues
from connectors.inbox import Inbox
from connectors.metrics import Metrics
from connectors.store import Store


class Hanging:
    """A durable channel whose answer never comes, as if the replica died waiting for Rasa."""

    name = "telegram"
    prefix = "tg"

    def decode_event(self, data: dict[str, Any]) -> dict[str, Any]:
        """Events are plain dicts here."""
        return data

    async def process(self, event: dict[str, Any]) -> None:
        """Announce the event, then never return."""
        print(f"handling {event['sender']} {event['n']}", flush=True)
        await asyncio.sleep(3600)


async def main(data_dir: str, lease_s: float) -> None:
    """Accept two events through the shared store and start handling them until killed."""
    store = Store(Path(data_dir) / "gateway.sqlite3", lease_s=lease_s)
    await store.open()
    inbox = Inbox(store, Metrics(), SenderQueues().submit)
    inbox.register(Hanging())
    inbox.start()
    items = [await store.accept("telegram", f"k{n}", "u1", {"sender": "u1", "n": n}) for n in range(2)]
    for item in items:
        assert item is not None
        inbox.take(item)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
