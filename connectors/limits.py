"""Per-sender flood limits: how many messages a minute, and how many waiting, in bounded memory."""

from __future__ import annotations

import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

FLOOD_TEXT = "Anh/chị gửi tin nhắn nhanh quá. Vui lòng đợi khoảng một phút rồi gửi tiếp, trợ lý sẽ trả lời ngay."
WINDOW_S = 60.0


@dataclass
class _Sender:
    """One sender's recent arrivals and when they were last told they are too fast."""

    arrivals: deque[float] = field(default_factory=deque)
    warned_at: float = float("-inf")


class SenderLimiter:
    """Admit a sender's message only under ``per_minute`` arrivals and ``max_queued`` waiting jobs."""

    def __init__(
        self,
        per_minute: int,
        max_queued: int,
        max_senders: int = 100_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """Limits per sender; the least recently seen senders are forgotten beyond ``max_senders``."""
        self.per_minute = per_minute
        self.max_queued = max_queued
        self.max_senders = max_senders
        self.clock = clock
        self._senders: OrderedDict[str, _Sender] = OrderedDict()

    def refusal(self, sender: str, queued: int) -> str:
        """Record an arrival; the reason it is refused (``rate`` or ``queue``), or "" when admitted."""
        now = self.clock()
        arrivals = self._state(sender).arrivals
        while arrivals and arrivals[0] <= now - WINDOW_S:
            arrivals.popleft()
        if queued >= self.max_queued:
            return "queue"
        if len(arrivals) >= self.per_minute:
            return "rate"
        arrivals.append(now)
        return ""

    def _state(self, sender: str) -> _Sender:
        """The sender's state, now the most recently seen (the least recent are forgotten beyond the bound)."""
        state = self._senders.pop(sender, None) or _Sender()
        self._senders[sender] = state
        while len(self._senders) > self.max_senders:
            self._senders.popitem(last=False)
        return state

    def should_warn(self, sender: str) -> bool:
        """True at most once a window per sender: whether to tell them they are sending too fast."""
        state = self._state(sender)
        now = self.clock()
        if now - state.warned_at < WINDOW_S:
            return False
        state.warned_at = now
        return True
