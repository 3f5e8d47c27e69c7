"""Failed-lookup limits per sender and per dossier code, persisted in SQLite (survives restarts)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from dossier.store import Hasher, StateDB


@dataclass(frozen=True)
class LimitState:
    """Whether lookups are locked, and how many attempts the sender has left."""

    sender_locked: bool
    code_locked: bool
    sender_remaining: int

    @property
    def locked(self) -> bool:
        """True when either the sender or the code is locked."""
        return self.sender_locked or self.code_locked


class FailureLimiter:
    """Sliding-window counters of failed lookups (wrong digits or unknown code)."""

    def __init__(
        self,
        db: StateDB,
        hasher: Hasher,
        max_per_sender: int = 5,
        sender_window_s: float = 3600.0,
        max_per_code: int = 10,
        code_window_s: float = 86400.0,
    ) -> None:
        """Configure limits; counts are keyed by hashed sender id and hashed code."""
        self.db = db
        self.hash = hasher
        self.max_per_sender = max_per_sender
        self.sender_window_s = sender_window_s
        self.max_per_code = max_per_code
        self.code_window_s = code_window_s

    def _counts(self, sender: str, code: str | None, now: float) -> tuple[int, int]:
        """Failures in the current windows for the sender and the code."""
        with self.db.transaction(immediate=True) as conn:
            conn.execute("DELETE FROM rl_failures WHERE ts < ?", (now - max(self.sender_window_s, self.code_window_s),))
            by_sender = conn.execute(
                "SELECT COUNT(*) FROM rl_failures WHERE kind = 'sender' AND key_hash = ? AND ts > ?",
                (self.hash(sender), now - self.sender_window_s),
            ).fetchone()[0]
            by_code = 0
            if code:
                by_code = conn.execute(
                    "SELECT COUNT(*) FROM rl_failures WHERE kind = 'code' AND key_hash = ? AND ts > ?",
                    (self.hash(code), now - self.code_window_s),
                ).fetchone()[0]
        return int(by_sender), int(by_code)

    def check(self, sender: str, code: str | None = None, now: float | None = None) -> LimitState:
        """Current limit state for this sender (and code)."""
        by_sender, by_code = self._counts(sender, code, now if now is not None else time.time())
        return LimitState(
            sender_locked=by_sender >= self.max_per_sender,
            code_locked=bool(code) and by_code >= self.max_per_code,
            sender_remaining=max(0, self.max_per_sender - by_sender),
        )

    def record_failure(self, sender: str, code: str, now: float | None = None) -> LimitState:
        """Count one failed lookup against the sender and the code; return the new state."""
        ts = now if now is not None else time.time()
        with self.db.transaction(immediate=True) as conn:
            conn.executemany(
                "INSERT INTO rl_failures (kind, key_hash, ts) VALUES (?, ?, ?)",
                [("sender", self.hash(sender), ts), ("code", self.hash(code), ts)],
            )
        return self.check(sender, code, ts)
