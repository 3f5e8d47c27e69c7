"""What a tracker store wrote, as the text a leak check should read."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any


def _words(value: Any) -> list[str]:
    """Every string and integer in a stored event (floats are timestamps and confidences: their digits are noise)."""
    if isinstance(value, dict):
        return [w for k, v in value.items() for w in (str(k), *_words(v))]
    if isinstance(value, list):
        return [w for v in value for w in _words(v)]
    if isinstance(value, str):
        return [value]
    if isinstance(value, int) and not isinstance(value, bool):
        return [str(value)]
    return []


def stored_text(db: Path) -> str:
    """The strings and integers of every event in a SQLite tracker store, one line per value."""
    with sqlite3.connect(db) as conn:
        rows = [row[0] for row in conn.execute("SELECT data FROM events")]
    return "\n".join(w for row in rows for w in _words(json.loads(row)))
