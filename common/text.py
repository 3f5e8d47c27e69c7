"""Vietnamese text utilities shared by the Rasa side (py3.10) and the action/gateway side (py3.11).

Only the standard library is used here, so this module imports in every venv.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "ProtectedSpan",
    "find_dossier_codes",
    "find_protected_spans",
    "fold_diacritics",
    "mask_name",
    "mask_pii",
    "nfc",
    "normalize_dossier_code",
    "normalize_query",
]


def nfc(text: str) -> str:
    """Return ``text`` in Unicode NFC form (Vietnamese may arrive decomposed)."""
    return unicodedata.normalize("NFC", text)


@lru_cache(maxsize=4096)
def _fold_char(char: str) -> str:
    """Fold one character to its base letter, keeping exactly one character."""
    if char in "đĐ":
        return "d" if char == "đ" else "D"
    if ord(char) < 128:
        return char
    base = unicodedata.normalize("NFD", char)[0]
    return base if base.isalpha() or base.isdigit() else char


class _FoldTable(dict[int, str]):
    """``str.translate`` table folding each character met, filled on first use (ASCII maps to itself)."""

    def __missing__(self, code: int) -> str:
        folded = _fold_char(chr(code))
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def fold_diacritics(text: str) -> str:
    """Strip Vietnamese diacritics; an NFC input keeps its length, so offsets stay valid."""
    return text if text.isascii() else text.translate(_FOLD)


_SPACES = re.compile(r"\s+")


def normalize_query(text: str) -> str:
    """NFC, lower-case, diacritics folded, whitespace collapsed: the form search matches on."""
    return _SPACES.sub(" ", fold_diacritics(nfc(text)).lower()).strip()


# Thông tư 01/2018/TT-VPCP: V1V2V3.Z1Z2.Y1Y2.MX1X2-YYMMDD-XXXX, e.g. 000.00.20.H57-240101-0001.
# Citizens type spaces, lower case, en/em dashes, and drop the dots: accept all of that.
_SEP = r"[ \t]*[.,·][ \t]*|[ \t]+|"
_DASH = r"[ \t]*[-–—_/][ \t]*|[ \t]+|"
DOSSIER_CODE_RE = re.compile(
    rf"(?<![\w.])(\d{{3}})(?:{_SEP})(\d{{2}})(?:{_SEP})(\d{{2}})(?:{_SEP})([GgHh])[ \t]?(\d{{2}})"
    rf"(?:{_DASH})(\d{{6}})(?:{_DASH})(\d{{4}})(?![\w])"
)
STRICT_DOSSIER_CODE_RE = re.compile(r"^\d{3}\.\d{2}\.\d{2}\.[GH]\d{2}-\d{6}-\d{4}\Z")

# Vietnamese mobile/landline numbers: 0 or +84 then 9 digits, optionally grouped by spaces/dots.
PHONE_RE = re.compile(r"(?<![\w+])(?:\+84|0084|0)(?:[ .-]?\d){9}(?!\d)")
# CCCD / personal identification number: 12 digits (old CMND: 9 digits).
CCCD_RE = re.compile(r"(?<!\d)\d{12}(?!\d)")
DATE_RE = re.compile(
    r"(?<!\d)(?:[0-3]?\d)[/.-](?:[01]?\d)(?:[/.-](?:\d{4}|\d{2}))?(?![\d/])"
)


def normalize_dossier_code(text: str) -> str | None:
    """Return the canonical dossier code found in ``text``, or None."""
    match = DOSSIER_CODE_RE.search(nfc(text))
    if not match:
        return None
    a, b, c, letter, prov, day, num = match.groups()
    return f"{a}.{b}.{c}.{letter.upper()}{prov}-{day}-{num}"


def find_dossier_codes(text: str) -> list[tuple[int, int, str]]:
    """Return ``(start, end, canonical_code)`` for every dossier code in NFC ``text``."""
    result = []
    for match in DOSSIER_CODE_RE.finditer(text):
        a, b, c, letter, prov, day, num = match.groups()
        result.append((match.start(), match.end(), f"{a}.{b}.{c}.{letter.upper()}{prov}-{day}-{num}"))
    return result


@dataclass(frozen=True)
class ProtectedSpan:
    """A span the tokenizer must keep whole: a dossier code, phone, CCCD number or date."""

    start: int
    end: int
    kind: str


def find_protected_spans(text: str) -> list[ProtectedSpan]:
    """Find non-overlapping protected spans, preferring dossier codes, then phones, CCCD, dates."""
    spans: list[ProtectedSpan] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    for kind, pattern in (
        ("dossier_code", DOSSIER_CODE_RE),
        ("phone", PHONE_RE),
        ("cccd", CCCD_RE),
        ("date", DATE_RE),
    ):
        for match in pattern.finditer(text):
            if match.end() > match.start() and free(match.start(), match.end()):
                spans.append(ProtectedSpan(match.start(), match.end(), kind))
                taken.append((match.start(), match.end()))
    return sorted(spans, key=lambda s: s.start)


def _mask_digits(number: str, keep: int) -> str:
    """Replace every digit but the last ``keep`` with ``*``."""
    total = sum(ch.isdigit() for ch in number)
    seen = 0
    out = []
    for ch in number:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - keep else "*")
        else:
            out.append(ch)
    return "".join(out)


# Masking is broader than the tokenizer's spans: citizens group numbers with spaces, dots, dashes and
# brackets, and write +84/0084 for the leading 0. One separator (optionally with a bracket) between digits.
_GAP = r"(?:[ .\-]|\)[ .\-]?|[ .\-]?\()?"
_NOT_AFTER_NUMBER = r"(?<![\d+])(?<!\d[.\-/,])"
_NOT_BEFORE_NUMBER = r"(?!\d|[.\-/,]\d)"
# 0 (or +84/0084) then 9 digits (mobile) or 10 digits (landline with its 02x area code).
PHONE_MASK_RE = re.compile(
    rf"{_NOT_AFTER_NUMBER}\(?(?:\+84|0084|0)\)?(?:{_GAP}\d){{9,10}}{_NOT_BEFORE_NUMBER}"
)
# 12-digit CCCD however grouped; a 9-digit CMND only when written in one piece (grouped, it reads as an amount).
ID_MASK_RE = re.compile(rf"{_NOT_AFTER_NUMBER}(?:\d(?:[ .\-]?\d){{11}}|\d{{9}}){_NOT_BEFORE_NUMBER}")
_CURRENCY_AFTER = re.compile(r"\s*(?:đồng|đ\b|₫|vnđ|vnd|dong\b|nghìn|ngàn|triệu|tỷ)", re.IGNORECASE)


def mask_pii(text: str) -> str:
    """Mask phone and CCCD/CMND numbers in free text (keeps the last 2 digits): the one masking function."""
    text = nfc(text)
    codes = [(start, end) for start, end, _ in find_dossier_codes(text)]

    def masked(match: re.Match[str]) -> str:
        start, end = match.span()
        if any(start < e and end > s for s, e in codes) or _CURRENCY_AFTER.match(text, end):
            return match.group(0)
        return _mask_digits(match.group(0), 2)

    text = PHONE_MASK_RE.sub(masked, text)
    return ID_MASK_RE.sub(masked, text)


def mask_name(name: str) -> str:
    """Mask a personal name: ``Nguyễn Văn An`` → ``Nguyễn V*** A``."""
    parts = nfc(name).split()
    if not parts:
        return ""
    if len(parts) == 1:
        return parts[0][0] + "***"
    middle = [p[0] + "***" for p in parts[1:-1]]
    return " ".join([parts[0], *middle, parts[-1][0]])


def format_vnd(amount: int) -> str:
    """Render an amount of money the Vietnamese way: 2500000 → ``2.500.000 đồng``."""
    return f"{amount:,}".replace(",", ".") + " đồng"
