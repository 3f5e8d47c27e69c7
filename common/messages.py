"""Channel-neutral bot messages and text splitting shared by every channel renderer."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

BUSY_TEXT = (
    "Hệ thống đang bận, anh/chị vui lòng thử lại sau ít phút. "
    "Em xin lỗi vì sự bất tiện này."
)
TEXT_ONLY_TEXT = (
    "Dạ, hiện em chỉ đọc được tin nhắn chữ. Anh/chị vui lòng nhắn bằng chữ giúp em nhé."
)
VOICE_TEXT = (
    "Dạ, em chưa nghe được tin nhắn thoại. Anh/chị vui lòng nhắn bằng chữ giúp em nhé."
)
EXPIRED_BUTTON_TEXT = "Dạ, nút này đã hết hạn. Anh/chị vui lòng nhắn lại câu hỏi giúp em nhé."
GREET_PAYLOAD = "/greet"
# Conversations a proactive message (status change, staff reply) can reach; calls cannot be pushed to.
PUSH_SENDER_RE = re.compile(r"^(?:web:[A-Za-z0-9_-]{8,64}|tg:-?\d{1,20}|zalo:[A-Za-z0-9_-]{1,64}|sms:[0-9a-f]{24})\Z")


@dataclass(frozen=True)
class Button:
    """A button: the title the user sees and the Rasa payload it sends."""

    title: str
    payload: str


@dataclass(frozen=True)
class BotMessage:
    """One bot message: text, optional buttons and an optional image URL."""

    text: str = ""
    buttons: tuple[Button, ...] = field(default_factory=tuple)
    image: str = ""

    def to_json(self) -> dict[str, Any]:
        """Serialise for the web chat API and the outbox."""
        out: dict[str, Any] = {"text": self.text}
        if self.buttons:
            out["buttons"] = [{"title": b.title, "payload": b.payload} for b in self.buttons]
        if self.image:
            out["image"] = self.image
        return out


def parse_message(raw: Any) -> BotMessage | None:
    """Turn one Rasa REST response item (or a push message) into a BotMessage; None if unusable."""
    if not isinstance(raw, dict):
        return None
    text = raw.get("text")
    text = text if isinstance(text, str) else ""
    image = raw.get("image")
    image = image if isinstance(image, str) and image.startswith(("http://", "https://")) else ""
    buttons: list[Button] = []
    raw_buttons = raw.get("buttons")
    if isinstance(raw_buttons, list):
        for item in raw_buttons:
            if not isinstance(item, dict):
                continue
            title, payload = item.get("title"), item.get("payload")
            if isinstance(title, str) and title.strip():
                buttons.append(Button(title.strip(), payload if isinstance(payload, str) else title))
    if not text.strip() and not buttons and not image:
        return None
    return BotMessage(unicodedata.normalize("NFC", text), tuple(buttons), image)


def parse_messages(raw: Iterable[Any]) -> list[BotMessage]:
    """Parse a list of Rasa responses, dropping the ones no channel can show."""
    return [m for m in (parse_message(r) for r in raw) if m is not None]


def replies_to(events: Iterable[Any], key: str) -> list[BotMessage] | None:
    """The bot's answer in tracker ``events`` to the user message sent with metadata ``inbox: key``.

    None when no such message is in the tracker (Rasa never finished it, so it must be asked again).
    """
    found = False
    raw: list[dict[str, Any]] = []
    for event in events:
        if not isinstance(event, dict):
            continue
        kind = event.get("event")
        if kind == "user":
            if found:
                break
            metadata = event.get("metadata")
            found = isinstance(metadata, dict) and metadata.get("inbox") == key
        elif kind == "bot" and found:
            data = event.get("data")
            data = data if isinstance(data, dict) else {}
            raw.append({"text": event.get("text"), "buttons": data.get("buttons"), "image": data.get("image")})
    return parse_messages(raw) if found else None


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit Telegram counts in."""
    return len(text.encode("utf-16-le")) // 2


def _safe_cut(text: str, index: int) -> int:
    """Move a cut point left so it never separates a base character from its combining marks."""
    while 0 < index < len(text) and unicodedata.combining(text[index]):
        index -= 1
    return index if index > 0 else 1


# Preferred cut points, best first, with how many of their characters stay in the first part.
_SEPARATORS = (("\n\n", 0), ("\n", 0), (". ", 1), ("! ", 1), ("? ", 1), ("; ", 1), (", ", 1), (" ", 0))


def split_text(text: str, limit: int, measure: Callable[[str], int] = len) -> list[str]:
    """Split ``text`` into chunks of at most ``limit`` units, never breaking a character.

    Cuts prefer paragraph, then line, sentence, clause and word boundaries.
    """
    text = text.strip()
    if not text:
        return []
    chunks: list[str] = []
    while measure(text) > limit:
        # Largest prefix (in code points) that fits the limit.
        lo, hi = 1, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if measure(text[:mid]) <= limit:
                lo = mid
            else:
                hi = mid - 1
        head_end = rest_start = -1
        for sep, keep in _SEPARATORS:
            pos = text.rfind(sep, 0, lo - keep + len(sep))
            if pos > lo // 4:
                head_end, rest_start = pos + keep, pos + len(sep)
                break
        if head_end <= 0:
            head_end = rest_start = _safe_cut(text, lo)
        head, text = text[:head_end].rstrip(), text[rest_start:].lstrip()
        if head:
            chunks.append(head)
    if text:
        chunks.append(text)
    return chunks


def truncate(text: str, limit: int) -> str:
    """Shorten ``text`` to ``limit`` characters with an ellipsis."""
    return text if len(text) <= limit else text[: _safe_cut(text, limit - 1)].rstrip() + "…"


class PushRejected(Exception):
    """A proactive message could not be queued; ``reason`` is a short machine-readable code."""

    def __init__(self, reason: str) -> None:
        """Keep the reason (``invalid_sender``, ``channel_disabled``, ``unavailable``, ...)."""
        super().__init__(reason)
        self.reason = reason


# Queue proactive messages to a conversation (``tg:…``, ``zalo:…``, ``web:…``); raises PushRejected.
# The gateway provides one; the admin console receives it instead of importing the gateway.
Push = Callable[[str, list[BotMessage]], Awaitable[None]]
