"""Leader election over a store's lock: of the replicas running the same job, one leads at a time."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from common.db import SqliteDB

log = logging.getLogger(__name__)


class Leadership:
    """Leads while it holds lock ``name`` of ``db`` (a PostgreSQL advisory lock, or a file lock on SQLite).

    A leader that dies or loses its database connection lets the lock go; a follower asking again takes it.
    """

    def __init__(self, db: SqliteDB, name: str) -> None:
        """Compete for lock ``name`` of ``db``."""
        self.db, self.name = db, name
        self._handle: Any = None

    @property
    def leading(self) -> bool:
        """True while this replica believes it leads (checked again by ``ensure``)."""
        return self._handle is not None

    async def ensure(self) -> bool:
        """Keep or take the lead; False when another replica has it."""
        if self._handle is not None:
            if await asyncio.to_thread(self.db.still_held, self._handle):
                return True
            log.warning("%s: lost the lead (database connection gone)", self.name)
            await self.resign()
        self._handle = await asyncio.to_thread(self.db.acquire, self.name, False)
        if self._handle is not None:
            log.info("%s: leading", self.name)
        return self._handle is not None

    async def resign(self) -> None:
        """Let another replica lead."""
        handle, self._handle = self._handle, None
        if handle is not None:
            await asyncio.to_thread(self.db.release, handle)
