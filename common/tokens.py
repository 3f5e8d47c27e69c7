"""Shared secrets kept under the data dir: created once (mode 0600), then read by every process that needs them."""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

PUSH_TOKEN_FILE = "push_token"


def load_or_create_token(path: Path) -> str:
    """The token stored at ``path``; a new random one is written there (mode 0600) when there is none."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):  # another process may be writing it right now
            token = path.read_text(encoding="ascii").strip()
            if token:
                return token
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty: delete it to have a new token generated") from None
    token = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(token + "\n")
    return token
