"""Keyed hashes of identifiers (sender ids, dossier codes): one key per installation, shared by every process."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path


class Hasher:
    """Keyed (HMAC-SHA256) hashes, so sequential dossier codes and sender ids cannot be brute-forced back."""

    def __init__(self, key: bytes) -> None:
        """Use ``key`` as the HMAC secret."""
        self._key = key

    @classmethod
    def from_settings(cls, env_key: str, data_dir: Path) -> Hasher:
        """Key from TTHC_HASH_KEY, else a random key kept in ``data_dir/.hash_key`` (created once, mode 0600)."""
        if env_key:
            return cls(env_key.encode())
        path = data_dir / ".hash_key"
        if not path.exists():
            data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w") as fh:
                    fh.write(secrets.token_hex(32))
        return cls(path.read_text().strip().encode())

    def __call__(self, value: str) -> str:
        """Return a short hex digest of ``value``."""
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:24]
