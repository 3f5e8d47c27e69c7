"""Every action server follows the published search index, traffic or not.

It checks the ``current`` pointer each second and reports the version it serves on ``GET /health/index``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from knowledge.service import shared_service

log = logging.getLogger(__name__)
INTERVAL_S = 1.0


def install(app: Any, interval_s: float = INTERVAL_S) -> None:
    """Add the version route and the watcher task to the action server's Sanic ``app``."""
    from sanic.response import json as json_response

    async def version(_request: Any) -> Any:
        """The index version this replica serves."""
        served = await asyncio.to_thread(shared_service().index_version)
        return json_response({"version": served})

    async def watch(_app: Any) -> None:
        """Swap in each newly published version within ``interval_s`` (the pointer flips atomically)."""
        while True:
            await asyncio.sleep(interval_s)
            try:
                await asyncio.to_thread(shared_service().index_version, True)
            except Exception:  # a broken publish keeps the previous version; try again next time
                log.exception("index watch failed")

    app.add_route(version, "/health/index", methods=["GET"])
    app.add_task(watch)
