"""SMS text: GSM-7 folding and length, splitting into at most N parts, numbered options, the short forms."""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass

from common.messages import BotMessage, split_text
from common.text import fold_diacritics, nfc, normalize_dossier_code

GSM7_LIMIT = 160
UCS2_LIMIT = 70
# GSM 03.38 default alphabet (basic table) and the extension table (each extension character costs 2).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXT = frozenset("^{}\\[~]|€")
_ASCII_LOOKALIKES = str.maketrans({
    "–": "-", "—": "-", "‘": "'", "’": "'", "“": '"', "”": '"', "…": "...", "•": "-", "·": "-",
    "\t": " ", "«": '"', "»": '"', "×": "x", "≤": "<=", "≥": ">=", "\u00a0": " ",
})
MORE_HINT_GSM = " (Nhan XEM THEM de doc tiep)"
MORE_HINT_UCS2 = " (Nhắn XEM THEM để đọc tiếp)"
NOTHING_MORE = "Da, khong con noi dung nao nua."
# A reply in the short form: "HS <code>", "TT <question>", "HUY", "XEM THEM", or a number choosing an option.
_SHORT_RE = re.compile(r"^\s*(HS|TT)\b[\s:.,-]*(.*)$", re.IGNORECASE | re.DOTALL)
_STOP_WORDS = {"HUY", "HUY BAO", "HUY THONG BAO", "STOP"}
_MORE_WORDS = {"XEM THEM", "XEMTHEM", "XEM TIEP", "THEM"}
CHECK_STATUS_PAYLOAD = "/check_status"
MAX_OPTIONS = 9
_SPACE_RUNS = re.compile(r"[ \t]{2,}")
UNSUBSCRIBE_PAYLOAD = "/unsubscribe_status"


def _gsm7_char(char: str) -> str:
    """One character in GSM-7: itself, nothing for a symbol (emoji, bullets), '?' for other scripts."""
    if char in GSM7_BASIC or char in GSM7_EXT:
        return char
    return "" if unicodedata.category(char)[0] in "SCZ" else "?"


def to_gsm7(text: str) -> str:
    """Vietnamese without diacritics in the GSM 7-bit alphabet; symbols dropped, other letters '?'."""
    folded = fold_diacritics(nfc(text)).translate(_ASCII_LOOKALIKES)
    return _SPACE_RUNS.sub(" ", "".join(_gsm7_char(c) for c in folded)).strip()


def gsm7_len(text: str) -> int:
    """Septets a GSM-7 text takes (extension characters take two)."""
    return sum(2 if c in GSM7_EXT else 1 for c in text)


def ucs2_len(text: str) -> int:
    """UTF-16 code units a UCS-2 text takes."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Encoding:
    """How texts are written and counted: GSM-7 (folded, 160 a part) or UCS-2 (Vietnamese, 70 a part)."""

    ucs2: bool = False

    @property
    def limit(self) -> int:
        """Units in one SMS part."""
        return UCS2_LIMIT if self.ucs2 else GSM7_LIMIT

    @property
    def more_hint(self) -> str:
        """The 'send XEM THEM for the rest' hint ending the last part when text was held back."""
        return MORE_HINT_UCS2 if self.ucs2 else MORE_HINT_GSM

    def convert(self, text: str) -> str:
        """Text as it will be sent."""
        return nfc(text).translate(_ASCII_LOOKALIKES) if self.ucs2 else to_gsm7(text)

    def measure(self, text: str) -> int:
        """Length in the encoding's units."""
        return ucs2_len(text) if self.ucs2 else gsm7_len(text)


def numbered(message: BotMessage) -> str:
    """A message's text with its buttons as numbered options and a 'reply 1 or 2' line."""
    if not message.buttons:
        return message.text.strip()
    lines = [message.text.strip()] if message.text.strip() else []
    lines += [f"{i}. {b.title}" for i, b in enumerate(message.buttons, 1)]
    count = len(message.buttons)
    lines.append("Tra loi 1" if count == 1 else f"Tra loi {', '.join(map(str, range(1, count)))} hoac {count}")
    return "\n".join(lines)


def merge(messages: list[BotMessage]) -> BotMessage:
    """One turn's messages as one SMS message: texts joined, every button numbered in turn (at most 9)."""
    texts = [m.text.strip() for m in messages if m.text.strip()]
    buttons = tuple(b for m in messages for b in m.buttons)[:MAX_OPTIONS]
    return BotMessage("\n".join(texts), buttons)


def split_parts(text: str, encoding: Encoding, max_parts: int) -> tuple[list[str], str]:
    """Cut a converted text at sentence boundaries into at most ``max_parts`` parts; return (parts, rest)."""
    chunks = split_text(text, encoding.limit, encoding.measure)
    if len(chunks) <= max_parts:
        return chunks, ""
    hint = encoding.more_hint
    head = chunks[: max_parts - 1]
    remaining = _after(text.strip(), head)
    last = split_text(remaining, encoding.limit - encoding.measure(hint), encoding.measure)[0]
    return [*head, last + hint], _after(remaining, [last])


def _after(text: str, chunks: list[str]) -> str:
    """What follows ``chunks`` (consecutive pieces of ``text``, as split_text cut them) in ``text``."""
    pos = 0
    for chunk in chunks:
        found = text.find(chunk, pos)
        pos = (found if found >= 0 else pos) + len(chunk)
    return text[pos:].strip()


@dataclass(frozen=True)
class Inbound:
    """What an MO text asks for: a Rasa text or payload, more of the last reply, or an option number."""

    kind: str  # "text" | "payload" | "more" | "option"
    value: str = ""
    code: str = ""


def parse_inbound(text: str) -> Inbound:
    """Read the short forms (any case, with or without diacritics); other text goes to Rasa as is."""
    text = nfc(text).strip()
    folded = " ".join(fold_diacritics(text).upper().split())
    if folded in _MORE_WORDS:
        return Inbound("more")
    if folded.isdigit() and len(folded) <= 2:
        return Inbound("option", folded)
    if folded in _STOP_WORDS:
        return Inbound("payload", UNSUBSCRIBE_PAYLOAD)
    match = _SHORT_RE.match(fold_diacritics(text))
    if match:
        rest = text[len(text) - len(match.group(2)):].strip() if match.group(2) else ""
        if match.group(1).upper() == "HS":
            code = normalize_dossier_code(rest) if rest else None
            if code:
                return Inbound("payload", CHECK_STATUS_PAYLOAD + json.dumps({"dossier_code": code}), code)
            return Inbound("payload", CHECK_STATUS_PAYLOAD)
        if rest:
            return Inbound("text", rest)
    return Inbound("text", text)
