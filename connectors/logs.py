"""Logging to stdout with phone and CCCD numbers masked in every record."""

from __future__ import annotations

import logging
import sys

from common.text import mask_pii


class PiiMaskingFormatter(logging.Formatter):
    """A formatter that masks PII in the final line, including arguments and tracebacks."""

    def format(self, record: logging.LogRecord) -> str:
        """Format then mask."""
        return mask_pii(super().format(record))


def setup_logging(level: int = logging.INFO) -> None:
    """Send all logs to stdout through the PII-masking formatter."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(PiiMaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "telegram", "aiohttp.access"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
