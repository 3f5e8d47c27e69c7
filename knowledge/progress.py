"""Progress of a long build: tqdm on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

log = logging.getLogger("knowledge.index")


class Progress:
    """tqdm on a terminal, periodic log lines otherwise."""

    def __init__(self, total: int, desc: str) -> None:
        self.total, self.desc, self.done, self._last = total, desc, 0, 0.0
        self._bar: Any = None
        if sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit="text")

    def update(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        elif time.monotonic() - self._last > 5 or self.done >= self.total:
            self._last = time.monotonic()
            log.info("%s: %d/%d", self.desc, self.done, self.total)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
