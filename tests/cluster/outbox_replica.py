"""A gateway replica's outbox worker whose channel never answers (run as a child process, then kill -9)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from connectors.metrics import Metrics
from connectors.outbox import Outbox
from connectors.store import Store


class Hanging:
    """A channel whose every call hangs, as if the replica died in the middle of it."""

    name = "telegram"

    async def deliver(self, recipient: str, payload: dict[str, Any]) -> None:
        """Announce the claim, then never return."""
        print(f"claimed {recipient} {payload['n']}", flush=True)
        await asyncio.sleep(3600)


async def main(data_dir: str, lease_s: float) -> None:
    """Deliver from the shared store until killed."""
    store = Store(Path(data_dir) / "gateway.sqlite3", lease_s=lease_s)
    await store.open()
    outbox = Outbox(store, Metrics())
    outbox.register(Hanging())
    outbox.start()
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], float(sys.argv[2])))
