"""What citizens type for the dossier lookup: the 4 verification digits, and codes of other systems."""

from __future__ import annotations

import re
import unicodedata

from common.text import CCCD_RE, PHONE_RE, normalize_query
from dossier.models import full_number
from dossier.texts import CODE_EXAMPLE

# Receipt codes of other systems that citizens sometimes paste instead of a one-stop code.
LAND_CODE_RE = re.compile(r"(?<![\w.])H\d{2}\.\d{2}-\d{6}-\d{4}(?!\w)", re.IGNORECASE)
SOCIAL_INSURANCE_CODE_RE = re.compile(r"(?<!\d)\d{5}/\d{4}/\d{5}(?!\d)")
# A 12-digit CCCD number as people write it: 001085012345, 001 085 012 345, 001.085.012.345.
_SPACED_CCCD_RE = re.compile(r"(?<![\w.-])\d(?:[ .-]?\d){11}(?![ .-]?\d)(?!\w)")

_DIGIT_WORDS = {
    "khong": "0", "linh": "0", "mot": "1", "hai": "2", "ba": "3", "bon": "4", "nam": "5", "lam": "5",
    "sau": "6", "bay": "7", "bat": "7", "tam": "8", "chin": "9",
}
_FOUR_DIGITS_PHRASE = re.compile(r"\b(?:4|bon)\s+(?:chu\s+)?so\b")


def extract_verification_digits(text: str) -> str | None:
    """Return exactly 4 digits from '6789', 'bốn số cuối là 6789', 'so cuoi 6 7 8 9', 'sáu bảy tám chín'."""
    if not text:
        return None
    text = unicodedata.normalize("NFKC", text)
    full = PHONE_RE.search(text) or CCCD_RE.search(text)
    if full:
        return "".join(ch for ch in full.group(0) if ch.isdigit())[-4:]
    folded = _FOUR_DIGITS_PHRASE.sub(" ", normalize_query(text))
    runs = re.findall(r"[0-9]+", folded)
    joined = "".join(runs)
    if len(joined) == 4:
        return joined
    fours = [run for run in runs if len(run) == 4]
    if len(fours) == 1 and all(len(run) <= 1 for run in runs if run != fours[0]):
        return fours[0]
    if runs:
        return None
    spelled = [_DIGIT_WORDS[w] for w in re.findall(r"\w+", folded) if w in _DIGIT_WORDS]
    return "".join(spelled) if len(spelled) == 4 else None


def extract_second_factor(text: str) -> str | None:
    """A whole phone (0xxxxxxxxx) or 12-digit CCCD number when one is written, else the 4 verification digits."""
    if not text:
        return None
    normal = unicodedata.normalize("NFKC", text).replace("(", "").replace(")", "")
    full = _SPACED_CCCD_RE.search(normal) or PHONE_RE.search(normal)
    number = full_number(full.group(0)) if full else ""
    return number or extract_verification_digits(text)


def invalid_code_message(raw: str) -> str:
    """Explain the expected dossier code format (never echoing what was typed)."""
    if LAND_CODE_RE.search(raw):
        hint = ("Mã anh/chị gửi có vẻ là mã biên nhận của Văn phòng đăng ký đất đai; "
                "em chưa tra cứu được loại mã này. ")
    elif SOCIAL_INSURANCE_CODE_RE.search(raw):
        hint = "Mã anh/chị gửi có vẻ là mã hồ sơ bảo hiểm xã hội; em chưa tra cứu được loại mã này. "
    else:
        hint = "Em chưa nhận ra mã hồ sơ trong tin nhắn của anh/chị. "
    return (f"{hint}Mã hồ sơ một cửa ghi trên giấy biên nhận có dạng {CODE_EXAMPLE}: "
            "mã cơ quan tiếp nhận, ngày nhận hồ sơ (6 số: năm-tháng-ngày) và số thứ tự (4 số). "
            "Anh/chị vui lòng gửi lại mã hồ sơ nhé.")
