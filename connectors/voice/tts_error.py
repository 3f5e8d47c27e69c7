"""The one error every speech synthesiser raises (its own module so engines need not import ``tts``)."""

from __future__ import annotations


class TTSError(Exception):
    """Synthesis failed."""
