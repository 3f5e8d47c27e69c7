"""Sender ids kept only as keyed hashes in the help-desk stores (the same key as the dossier audit)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from common.hashing import Hasher
from common.settings import get_settings
from desk.settings import DeskSettings


@lru_cache(maxsize=8)
def _hasher(env_key: str, data_dir: Path) -> Hasher:
    """One keyed hasher per key source."""
    return Hasher.from_settings(env_key, data_dir)


def hash_sender(sender_id: str) -> str:
    """Keyed hash of a sender id, so stores can group by person without a reversible identifier."""
    settings = get_settings(DeskSettings)
    return _hasher(settings.hash_key, settings.data_dir)(sender_id)
