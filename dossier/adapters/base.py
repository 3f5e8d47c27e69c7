"""The one interface every one-stop backend implements."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from dossier.models import Dossier


class OnestopUnavailable(Exception):
    """The one-stop system could not answer (down, timeout, bad payload, auth, circuit open)."""


@runtime_checkable
class OnestopAdapter(Protocol):
    """Read access to a one-stop (một cửa) system."""

    async def get_dossier(self, code: str) -> Dossier | None:
        """Return the dossier with canonical ``code``, None when it does not exist.

        Raises OnestopUnavailable when the system cannot be asked right now.
        """
        ...

    async def close(self) -> None:
        """Release network or file resources."""
        ...
