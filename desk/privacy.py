"""Sender ids kept only as hashes in the help-desk stores."""

from __future__ import annotations

import hashlib


def hash_sender(sender_id: str, salt: str = "tthc") -> str:
    """Hash a sender id so logs can group questions by person without storing who it was."""
    return hashlib.sha256(f"{salt}:{sender_id}".encode()).hexdigest()[:32]
