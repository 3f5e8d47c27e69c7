"""Spoken forms, both directions.

- ``normalize_spoken``: recognised speech → text for the NLU. Dossier codes spoken digit by digit
  ("không không không chấm … hát năm bảy gạch ngang …") or written by the ASR with stray spaces
  become the canonical code; runs of three or more spoken digits become digits ("bốn số cuối là sáu
  bảy tám chín" → "bốn số cuối là 6789").
- ``render_for_speech``: bot text → what the TTS reads. Buttons become "Bấm phím một để chọn …",
  emoji, URLs and markup disappear, dossier codes, procedure codes and phone numbers are read in digit
  groups, dates, times and money are read as words.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

from common.text import DOSSIER_CODE_RE, find_dossier_codes, fold_diacritics, nfc

DIGIT_WORDS = {
    "không": "0", "linh": "0", "một": "1", "mốt": "1", "hai": "2", "ba": "3", "bốn": "4", "tư": "4",
    "năm": "5", "lăm": "5", "sáu": "6", "bảy": "7", "bẩy": "7", "tám": "8", "chín": "9",
}
DIGIT_NAMES = ["không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín"]
LETTER_WORDS = {"hát": "H", "hắt": "H", "hờ": "H", "hê": "H", "h": "H", "giê": "G", "gờ": "G", "g": "G"}
LETTER_NAMES = {"H": "hát", "G": "giê"}
DOT_WORDS = {"chấm", "phẩy"}
DASH_WORDS = {"gạch", "ngang", "gạch ngang", "nối", "gạch nối"}

_TOKEN = re.compile(r"\d+|[^\W\d_]+|[.\-–—/,]", re.UNICODE)


# ---------------------------------------------------------------------------------- speech → text
def _classify(token: str) -> str | None:
    """Code piece for a token: digits, '.', '-', a letter G/H, '' (ignorable) or None (not code-ish)."""
    low = token.lower()
    if token.isdigit():
        return token
    if low in DIGIT_WORDS:
        return DIGIT_WORDS[low]
    if low in LETTER_WORDS:
        return LETTER_WORDS[low]
    if len(low) == 3 and low[0] in "gh" and low[1:].isdigit():  # Whisper writes "H57"
        return low.upper()
    if low in DOT_WORDS or low in (".", ","):
        return "."
    if low in DASH_WORDS or low in ("-", "–", "—", "/"):
        return "-"
    return None


_COMPACT_CODE = re.compile(r"(\d{3})(\d{2})(\d{2})([GH])(\d{2})(\d{6})(\d{4})")


def _code_from_pieces(pieces: Sequence[str]) -> str | None:
    """A canonical dossier code from code pieces, separators optional."""
    joined = "".join(pieces)
    match = DOSSIER_CODE_RE.fullmatch(joined)
    if match:
        a, b, c, letter, prov, day, num = match.groups()
        return f"{a}.{b}.{c}.{letter.upper()}{prov}-{day}-{num}"
    compact = _COMPACT_CODE.fullmatch(re.sub(r"[.\-]", "", joined))
    if compact:
        a, b, c, letter, prov, day, num = compact.groups()
        return f"{a}.{b}.{c}.{letter}{prov}-{day}-{num}"
    return None


def normalize_spoken(text: str) -> str:
    """Turn spoken forms in recognised text into the written forms the NLU expects."""
    text = nfc(text).strip()
    text = re.sub(r"gạch\s+(ngang|nối)", "gạch_\\1", text, flags=re.IGNORECASE)
    tokens = [(m.start(), m.end(), m.group(0).replace("_", " ")) for m in re.finditer(r"\S+", text)]
    # Split each whitespace token further into words/digits/punctuation, keeping offsets.
    pieces: list[tuple[int, int, str]] = []
    for start, _end, tok in tokens:
        for m in _TOKEN.finditer(tok.replace(" ", "_")):
            pieces.append((start + m.start(), start + m.end(), m.group(0).replace("_", " ")))
    out: list[str] = []
    cursor = 0
    i = 0
    while i < len(pieces):
        # Longest run of code-ish pieces starting at i that forms a dossier code.
        j = i
        run: list[str] = []
        while j < len(pieces) and _classify(pieces[j][2]) is not None:
            run.append(_classify(pieces[j][2]) or "")
            j += 1
        replaced = False
        for end in range(j, i, -1):
            code = _code_from_pieces(run[: end - i])
            if code:
                out.append(text[cursor : pieces[i][0]] + code)
                cursor, i, replaced = pieces[end - 1][1], end, True
                break
        if replaced:
            continue
        # Runs of 3+ spoken digits (or digit groups written apart) become one number.
        k = i
        digits: list[str] = []
        while k < len(pieces):
            value = _classify(pieces[k][2])
            if value is None or not value.isdigit():
                break
            digits.append(value)
            k += 1
        spoken = sum(not pieces[m][2].isdigit() for m in range(i, k))
        if k - i >= 3 and (spoken >= 3 or spoken == 0):
            out.append(text[cursor : pieces[i][0]] + "".join(digits))
            cursor, i = pieces[k - 1][1], k
            continue
        i += 1
    out.append(text[cursor:])
    return re.sub(r"\s+", " ", "".join(out)).strip()


def button_choice(text: str, titles: Sequence[str]) -> int | None:
    """Index of the button the caller named ("phím hai", "số 2", "chọn lệ phí"), or None."""
    if not titles:
        return None
    folded = fold_diacritics(nfc(text)).lower().strip(" .!?")
    m = re.fullmatch(r"(?:(?:bam|chon)\s+)?(?:phim|so)\s+(\w+)", folded) or re.fullmatch(r"(\w+)", folded)
    if m:
        word = m.group(1)
        digit = word if word.isdigit() else DIGIT_WORDS.get(nfc(text).lower().strip(" .!?").split()[-1], "")
        if digit.isdigit() and 1 <= int(digit) <= len(titles):
            return int(digit) - 1
    for index, title in enumerate(titles):
        t = fold_diacritics(nfc(title)).lower().strip()
        if t and (folded == t or folded in (f"chon {t}", f"{t} a", f"toi chon {t}")):
            return index
    return None


# ---------------------------------------------------------------------------------- text → speech
def number_words(n: int) -> str:
    """Vietnamese reading of a non-negative integer (1 → một, 21 → hai mươi mốt, 105 → một trăm linh năm)."""
    if n < 0:
        return "âm " + number_words(-n)
    if n < 10:
        return DIGIT_NAMES[n]
    groups: list[int] = []
    while n:
        groups.append(n % 1000)
        n //= 1000
    units = ["", "nghìn", "triệu", "tỷ"]
    words: list[str] = []
    top = len(groups) - 1
    for index in range(top, -1, -1):
        g = groups[index]
        unit = units[index % 3] if index < 3 else units[index % 3] or ""
        if index >= 3 and index % 3 == 0:
            unit = "tỷ"
        if g == 0:
            if index and index % 3 == 0 and any(groups[:index]):
                continue
            continue
        words.append(_three(g, full=index != top))
        if unit:
            words.append(unit)
    return " ".join(words)


def _three(n: int, full: bool) -> str:
    """Read 0..999; ``full`` reads leading zeros ("không trăm linh năm") as inner groups need."""
    hundreds, tens, ones = n // 100, (n // 10) % 10, n % 10
    parts: list[str] = []
    if hundreds or full:
        parts += [DIGIT_NAMES[hundreds], "trăm"]
    if tens == 0:
        if ones:
            if parts:
                parts.append("linh")
            parts.append(DIGIT_NAMES[ones])
        return " ".join(parts)
    if tens == 1:
        parts.append("mười")
    else:
        parts += [DIGIT_NAMES[tens], "mươi"]
    if ones == 1 and tens > 1:
        parts.append("mốt")
    elif ones == 4 and tens > 1:
        parts.append("tư")
    elif ones == 5:
        parts.append("lăm")
    elif ones:
        parts.append(DIGIT_NAMES[ones])
    return " ".join(parts)


def digits_words(digits: str) -> str:
    """Read a digit string digit by digit."""
    return " ".join(DIGIT_NAMES[int(d)] for d in digits if d.isdigit())


def read_dossier_code(code: str) -> str:
    """Read a canonical dossier code in its groups, pausing between them."""
    m = re.fullmatch(r"(\d{3})\.(\d{2})\.(\d{2})\.([GH])(\d{2})-(\d{6})-(\d{4})", code)
    if not m:
        return digits_words(code)
    a, b, c, letter, prov, day, num = m.groups()
    return (
        f"{digits_words(a)}, chấm, {digits_words(b)}, chấm, {digits_words(c)}, chấm, "
        f"{LETTER_NAMES[letter]} {digits_words(prov)}, gạch ngang, {digits_words(day[:2])}, "
        f"{digits_words(day[2:4])}, {digits_words(day[4:])}, gạch ngang, {digits_words(num)}"
    )


def read_phone(number: str) -> str:
    """Read a phone number in groups: 0912 345 678 as 4-3-3, 1900 1234 as 4-4, +84 as "cộng tám tư"."""
    digits = re.sub(r"\D", "", number)
    prefix = ""
    if number.strip().startswith("+84"):
        prefix, digits = "cộng tám tư, ", digits[2:]
    if len(digits) == 10:
        groups = [digits[:4], digits[4:7], digits[7:]]
    elif len(digits) == 8:
        groups = [digits[:4], digits[4:]]
    elif len(digits) == 9:
        groups = [digits[:3], digits[3:6], digits[6:]]
    else:
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
    return prefix + ", ".join(digits_words(g) for g in groups)


def _money(amount: str, unit: str) -> str:
    """Read an amount like 1.500.000 or 1,5 triệu with its unit."""
    unit_low = unit.lower()
    scale = {"k": 1000, "nghìn": 1000, "ngàn": 1000, "triệu": 1_000_000, "tr": 1_000_000, "tỷ": 10**9}
    if "," in amount and unit_low in scale:
        whole, frac = amount.split(",", 1)
        head = number_words(int(whole.replace(".", "") or 0))
        scale_word = {"k": "nghìn", "tr": "triệu"}.get(unit_low, unit_low)
        return f"{head} phẩy {digits_words(frac)} {scale_word} đồng"
    value = int(re.sub(r"\D", "", amount) or 0) * scale.get(unit_low, 1)
    return f"{number_words(value)} đồng"


EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f900-\U0001f9ff\u2b00-\u2bff\ufe0f\u200d\u20e3]+"
)
URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.]+\b")
PROC_CODE_RE = re.compile(r"(?<![\d.])(\d)\.(\d{6})(?![\d.])")
PHONE_SPEECH_RE = re.compile(r"(?<![\w+])(?:(?:\+84|0)\d{2,3}(?:[ .]?\d){6,7}|1[89]00(?:[ .]?\d){4,6})(?!\d)")
DATE_SPEECH_RE = re.compile(r"(?<![\d/])([0-3]?\d)/([01]?\d)(?:/(\d{4}))?(?![\d/])")
TIME_RE = re.compile(r"(?<![\w])([01]?\d|2[0-3])(?:h|giờ\s?|:)([0-5]\d)?(?![\w])")
MONEY_RE = re.compile(
    r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+(?:,\d+)?)\s*(đồng|đ|vnđ|vnd|k|nghìn|ngàn|triệu|tr|tỷ)(?![\w])",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(r"(\d+)\s*%")
NUMBER_RE = re.compile(r"(?<![\w.,])(\d{1,3}(?:\.\d{3})+|\d+)(?![\w])")


def _sub_dossier_codes(text: str) -> str:
    """Replace dossier codes with their grouped reading."""
    out, cursor = [], 0
    for start, end, code in find_dossier_codes(text):
        out += [text[cursor:start], "mã " + read_dossier_code(code) if not text[:start].rstrip().lower().endswith("mã")
                else read_dossier_code(code)]
        cursor = end
    return "".join(out) + text[cursor:]


def _time_words(m: re.Match[str]) -> str:
    """Read 7h30 / 17:00 as words."""
    hour, minute = int(m.group(1)), int(m.group(2) or 0)
    return f"{number_words(hour)} giờ" + (f" {number_words(minute)} phút" if minute else "")


def render_text(text: str) -> str:
    """Bot text → plain sentences for a TTS engine."""
    text = unicodedata.normalize("NFC", text)
    text = URL_RE.sub("", text)
    text = EMAIL_RE.sub("", text)
    text = EMOJI_RE.sub("", text)
    text = re.sub(r"[*_`#>|~]+", " ", text)
    text = re.sub(r"^\s*[-•·]\s*", "", text, flags=re.MULTILINE)
    text = re.sub(r"\(\s*\)", "", text)
    text = _sub_dossier_codes(text)
    text = PROC_CODE_RE.sub(lambda m: f"{digits_words(m.group(1))} chấm {digits_words(m.group(2))}", text)
    text = PHONE_SPEECH_RE.sub(lambda m: read_phone(m.group(0)), text)
    text = DATE_SPEECH_RE.sub(
        lambda m: f"ngày {number_words(int(m.group(1)))} tháng {number_words(int(m.group(2)))}"
        + (f" năm {number_words(int(m.group(3)))}" if m.group(3) else ""),
        text,
    )
    text = re.sub(r"\b([Nn]gày)\s+ngày\b", r"\1", text)
    text = re.sub(r"\b(\d{1,2})h(\d{2})?\s*[–-]\s*(\d{1,2})h(\d{2})?", r"\1h\2 đến \3h\4", text)
    text = TIME_RE.sub(_time_words, text)
    text = MONEY_RE.sub(lambda m: _money(m.group(1), m.group(2)), text)
    text = PERCENT_RE.sub(lambda m: f"{number_words(int(m.group(1)))} phần trăm", text)
    text = NUMBER_RE.sub(lambda m: number_words(int(m.group(1).replace(".", ""))), text)
    text = text.replace("anh/chị", "anh chị").replace("Anh/chị", "Anh chị").replace("/", " ")
    text = re.sub(r"\s*[–—]\s*", ", ", text)
    text = re.sub(r"\s*\n+\s*", ". ", text)
    text = re.sub(r"\s+([,.!?:;])", r"\1", text)
    text = re.sub(r"([.!?])[.,]+", r"\1", text)
    text = re.sub(r"[ \t]+", " ", text).strip(" ,")
    return text


def render_buttons(titles: Sequence[str]) -> str:
    """Read the choices: "Bấm phím một để chọn Lệ phí. Bấm phím hai để chọn …"."""
    return " ".join(
        f"Bấm phím {number_words(index + 1)} để chọn {render_text(title).rstrip('.')}."
        for index, title in enumerate(titles)
    )


def render_for_speech(text: str, buttons: Sequence[str] = ()) -> str:
    """Bot message (text and button titles) → what the caller hears."""
    spoken = render_text(text)
    if spoken and spoken[-1] not in ".!?":
        spoken += "."
    if buttons:
        spoken = (spoken + " " + render_buttons(buttons)).strip()
    return spoken
