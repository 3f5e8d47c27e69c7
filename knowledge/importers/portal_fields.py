"""Field parsers for the national portal crawl (dichvucong.gov.vn): tables, steps, result, levels.

The crawl flattens every HTML table into one string with no cell separators, so each table has
its own parser that finds row boundaries from the shape of the last cell (a time, a fee, a
quantity such as ``1 bản chính``, a document number such as ``85/2019/TT-BTC``).
"""

from __future__ import annotations

import re
from typing import Any

from common.text import format_vnd, nfc
from knowledge.schema import Channel, Document, LegalBasis

EMPTY = "Không có thông tin"
CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
DOCUMENT_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
CHANNEL_NAMES = ("Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính")

_NONE_WORDS = {"", "không", "không có", "không quy định", "không có thông tin"}
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


def clean(value: Any) -> str:
    """NFC, trimmed, inner runs of spaces collapsed; the portal's "no information" becomes empty."""
    if value is None:
        return ""
    text = nfc(str(value)).replace("\r\n", "\n").replace("\r", "\n")
    text = _SPACES.sub(" ", text)
    text = _BLANK_LINES.sub("\n", text)
    text = "\n".join(line.strip() for line in text.split("\n")).strip()
    return "" if text.rstrip(".").strip().lower() in _NONE_WORDS else text


# ---------------------------------------------------------------- channels (cách thức thực hiện)

# A row starts where a channel name is glued to the next cell (a digit or a capital letter); in
# descriptions the same words are followed by a space or a colon.
_ROW_START = re.compile(r"(Trực tiếp|Trực tuyến|Dịch vụ bưu chính)(?=[\dA-ZĐÀ-Ỹ(])")
_FEE_CELL = re.compile(r"Miễn phí|Không có thông tin|\d[\d.,]* ?(?:Việt Nam Đồng|VNĐ|VND|Đồng|USD|EUR)")
_TIME_UNIT = re.compile(r"(\d+(?:[.,]\d+)?) ?(Ngày làm việc|Ngày|Giờ|Tháng|Năm|Tuần|Phút)")
_BARE_DIGITS = re.compile(r"\d[\d.,]*")
_CURRENCY = re.compile(r" ?(Việt Nam Đồng|VNĐ|VND|Đồng|đồng|USD|EUR)")
_FEE_NUMBER = re.compile(r"(?:[1-9]\d{0,2}(?:,\d{3})+|[1-9]\d*|0)")
_FOREIGN = {"USD", "EUR"}
# Calendar units become calendar_days; working units become working_days (8 working hours a day).
_UNIT_DAYS: dict[str, tuple[str, float, str]] = {
    "Ngày làm việc": ("working", 1.0, "ngày làm việc"),
    "Ngày": ("calendar", 1.0, "ngày"),
    "Giờ": ("working", 1 / 8, "giờ làm việc"),
    "Phút": ("working", 1 / 480, "phút"),
    "Tuần": ("calendar", 7.0, "tuần"),
    "Tháng": ("calendar", 30.0, "tháng"),
    "Năm": ("calendar", 365.0, "năm"),
}


def _number(text: str) -> float:
    """Parse ``5`` / ``0,5`` / ``1.5`` as a float."""
    return float(text.replace(",", "."))


def _fmt_number(value: float) -> str:
    """Render 5.0 as ``5`` and 0.5 as ``0,5``."""
    return str(int(value)) if value == int(value) else f"{value:g}".replace(".", ",")


def _split_time_and_fee(digits: str) -> tuple[str, str]:
    """Split a unit-less time glued to a fee amount, e.g. ``150,000`` → (``1``, ``50,000``)."""
    for cut in range(1, len(digits)):
        time_part, fee_part = digits[:cut], digits[cut:]
        if time_part.isdigit() and _FEE_NUMBER.fullmatch(fee_part):
            return time_part, fee_part
    return "", digits


def _balanced_parenthesis(text: str) -> int:
    """Return the index just past the parenthesis opened at ``text[0]`` (or len(text))."""
    depth = 0
    for i, char in enumerate(text):
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return len(text)


def _apply_time(channel: Channel, amount: str, unit: str | None) -> None:
    """Fill the time fields of ``channel`` from a number and the portal's unit (None = bare)."""
    value = _number(amount)
    kind, factor, label = _UNIT_DAYS.get(unit or "Ngày làm việc", _UNIT_DAYS["Ngày làm việc"])
    channel.time_text = f"{_fmt_number(value)} {label}"
    if kind == "working":
        channel.working_days = round(value * factor, 4)
    else:
        channel.calendar_days = round(value * factor, 4)


def _parse_channel_row(name: str, body: str) -> Channel:
    """Parse one row body (everything after the channel name) into a Channel."""
    channel = Channel(name=name)
    rest = body
    time_match = _TIME_UNIT.match(rest)
    if rest.startswith(EMPTY):
        rest = rest[len(EMPTY) :]
    elif time_match:
        _apply_time(channel, time_match.group(1), time_match.group(2))
        rest = rest[time_match.end() :]
    else:
        digits = _BARE_DIGITS.match(rest)
        if digits:
            after = rest[digits.end() :]
            unit = _CURRENCY.match(after)
            if unit:
                time_part, fee_part = _split_time_and_fee(digits.group(0))
                if time_part:
                    _apply_time(channel, time_part, None)
                rest = fee_part + after
            else:
                _apply_time(channel, digits.group(0).rstrip(".,"), None)
                rest = after
        else:
            # A time given in words ("Không quy định", "Không phải trả kết quả ..."): keep the words.
            fee_cell = _FEE_CELL.search(rest)
            if fee_cell:
                channel.time_text = clean(rest[: fee_cell.start()])
                rest = rest[fee_cell.start() :]
    # The fee cell.
    if rest.startswith("Miễn phí"):
        channel.free, channel.fee_vnd, channel.fee_text = True, 0, "Miễn phí"
        rest = rest[len("Miễn phí") :]
    elif rest.startswith(EMPTY):
        rest = rest[len(EMPTY) :]
    else:
        fee = re.match(r"(\d[\d.,]*)" + _CURRENCY.pattern, rest)
        if fee:
            amount, currency = fee.group(1), fee.group(2)
            rest = rest[fee.end() :]
            value = int(re.sub(r"\D", "", amount) or 0)
            if currency in _FOREIGN:
                channel.fee_text = f"{amount} {currency}"
            else:
                channel.fee_vnd = value
                channel.free = value == 0
    # The fee's explanation in parentheses, then the row's free-text description.
    if rest.startswith("("):
        end = _balanced_parenthesis(rest)
        channel.fee_note = rest[1 : end - 1].strip() if rest[end - 1 : end] == ")" else rest[1:].strip()
        rest = rest[end:]
    channel.note = clean(rest)
    # Some customs rows give the fee in thousands and spell the real amount in the note.
    if (
        channel.fee_vnd is not None
        and 0 < channel.fee_vnd < 1000
        and re.search(rf"(?<![\d.,]){channel.fee_vnd}[.,]000(?![\d])", channel.fee_note + channel.note)
    ):
        channel.fee_vnd *= 1000
    if channel.fee_vnd and not channel.fee_text:
        channel.fee_text = format_vnd(channel.fee_vnd)
    channel.fee_note = clean(channel.fee_note)
    return channel


def parse_channels(text: str) -> list[Channel]:
    """Parse ``cach_thuc_thuc_hien``: channel × time × fee × description rows."""
    text = nfc(text or "")
    if text.startswith(CHANNEL_HEADER):
        text = text[len(CHANNEL_HEADER) :]
    starts = list(_ROW_START.finditer(text))
    channels = []
    for i, match in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(text)
        channels.append(_parse_channel_row(match.group(1), text[match.end() : end]))
    return channels


# ---------------------------------------------------------------- documents (thành phần hồ sơ)

_QUANTITY = re.compile(r"\d bản (?:chính|sao|chụp)(?:, ?\d bản (?:chính|sao|chụp))*")
_FORM_FILE = re.compile(r"\.(?:docx?|pdf|xlsx?|rtf|odt|zip)(?![a-z])", re.IGNORECASE)
_FILE_RUN = re.compile(r".+?\.(?:docx?|pdf|xlsx?|rtf|odt|zip)", re.IGNORECASE | re.DOTALL)
_BULLET = re.compile(r"^(?:[-+•*–]\s*)+")


def _file_name_starts(text: str, offset: int) -> list[int]:
    """Positions in ``text`` (from ``offset``) where a glued-on file name may begin."""
    starts = []
    for i in range(max(offset, 1), len(text)):
        prev, char = text[i - 1], text[i]
        after_stop = prev in ".)" and not char.isspace() and char not in ".,;)"
        decimal = prev == "." and char.isdigit() and text[i - 2 : i - 1].isdigit()
        camel = char.isupper() and (prev.islower() or prev.isdigit() or prev == ")")
        acronym_then_word = char.isupper() and prev.isupper() and text[i + 1 : i + 2].islower()
        if (after_stop and not decimal) or camel or acronym_then_word:
            starts.append(i)
    return starts


def _split_form_template(name: str) -> tuple[str, str]:
    """Split trailing form file names (``Mẫu số 01.docx``) off a document name."""
    name = name.strip()
    first_ext = _FORM_FILE.search(name)
    if not first_ext or not _FORM_FILE.search(name[-6:]):
        return name, ""
    head_end = first_ext.start()
    semicolon = name.rfind(";", max(0, head_end - 80), head_end)
    if semicolon >= 0:
        start = semicolon + 1
    else:
        starts = _file_name_starts(name[:head_end], max(0, head_end - 60))
        start = starts[0] if starts else (0 if head_end <= 60 else -1)
        if start < 0:
            return name, ""
    files = [f.strip(" ;") for f in _FILE_RUN.findall(name[start:])]
    return name[:start].rstrip(" ;"), "; ".join(f for f in files if f)


def _document(name: str, quantity: str, group: str) -> Document | None:
    """Build a Document from a row's name and quantity text."""
    name = _BULLET.sub("", name.strip()).strip()
    name, form = _split_form_template(name)
    name = name.strip().rstrip(";").strip()
    if not name and not form:
        return None
    doc = Document(name=name or form, quantity_text=quantity, form_template=form, group=group)
    for count, kind in re.findall(r"(\d) bản (chính|sao|chụp)", quantity):
        if kind == "chính":
            doc.original += int(count)
        else:
            doc.copies += int(count)
    return doc


def _group_title(text: str) -> str:
    """Clean a section heading such as ``* Giấy tờ phải nộp:`` (``--`` means none)."""
    title = clean(text).strip("*-–: \n")
    return title


def parse_documents(text: str) -> list[Document]:
    """Parse ``thanh_phan_ho_so``: one or more sections, each a header then rows ending in quantities."""
    text = nfc(text or "")
    parts = text.split(DOCUMENT_HEADER)
    if len(parts) == 1:
        return []
    group = _group_title(parts[0])
    documents: list[Document] = []
    for index, body in enumerate(parts[1:], start=1):
        last = len(parts) - 1 == index
        position = 0
        for match in _QUANTITY.finditer(body):
            doc = _document(body[position : match.start()], match.group(0), group)
            if doc:
                documents.append(doc)
            position = match.end()
        tail = body[position:]
        if last:
            doc = _document(tail, "", group) if clean(tail) else None
            if doc:
                documents.append(doc)
        else:
            group = _group_title(tail)
    return documents


# ---------------------------------------------------------------- legal basis (căn cứ pháp lý)

_VI_LETTERS = [chr(c) for c in (*range(0x41, 0x250), *range(0x1EA0, 0x1EFA)) if chr(c).isalpha()]
_UPPER = re.escape("".join(c for c in _VI_LETTERS if c.isupper()))
_LOWER = re.escape("".join(c for c in _VI_LETTERS if c.islower()))
# One code segment of a document number (TT, BTC, NĐ, CP, QH13, TTg); a capital followed by a
# lower-case letter already belongs to the next row's title ("...TT-BTCNghị định ...").
_CODE = rf"(?:TTg|(?:[{_UPPER}](?![{_LOWER}]))+)(?:(?<=QH)\d{{2}})?"
_DOC_NUMBER = re.compile(rf"\d+(?:\.\d+)?(?:/\d{{4}})?/{_CODE}(?:-{_CODE})*|\d+-CP")
_TITLE_TAIL = re.compile(
    rf"(?<=[{_LOWER}.;)])((?:Nghị định|Thông tư|Luật|Quyết định|Nghị quyết|Pháp lệnh|NĐ|TT)(?: số)?\s*)$"
)


def parse_legal_basis(text: str) -> list[LegalBasis]:
    """Parse ``can_cu_phap_ly``: rows of a title glued to its document number."""
    text = clean(text)
    if text.startswith(LEGAL_HEADER):
        text = text[len(LEGAL_HEADER) :]
    text = text.lstrip(": ").strip()
    if not text:
        return []
    numbers = list(_DOC_NUMBER.finditer(text))
    rows: list[LegalBasis] = []
    position = 0
    for i, match in enumerate(numbers):
        after = text[match.end() : match.end() + 1]
        glued_to_next = i + 1 < len(numbers) and numbers[i + 1].start() == match.end()
        if (after and (after.isspace() or after in ",;)")) or glued_to_next:
            continue
        title = text[position : match.start()].strip()
        number = match.group(0)
        if re.search(r"\d{1,2}/\d{1,2}/$", title) and re.match(r"(?:19|20)\d{2}\d", number):
            # A date's year glued to the number: "... ngày 29/6/2024" + "43/2024/QH15".
            title, number = title + number[:4], number[4:]
        title = _TITLE_TAIL.sub("", title).strip(" .;,")
        rows.append(LegalBasis(title=title or number, number=number))
        position = match.end()
    tail = text[position:].strip(" .;,")
    if tail and len(tail) > 3:
        rows.append(LegalBasis(title=tail))
    return rows


# ---------------------------------------------------------------- steps, result, levels

_STEP_START = re.compile(
    r"^(?:[-+•*–]|Bước\s*\d+|\d+[.)]|\(?[ivx]+\)|[a-zđ]\)|\(\d+\))", re.IGNORECASE
)


def parse_steps(text: str) -> list[str]:
    """Split ``trinh_tu_thuc_hien`` into steps at bullets / "Bước n" / numbered lines."""
    steps: list[str] = []
    for line in clean(text).split("\n"):
        line = line.strip()
        if not line:
            continue
        continues = steps and not _STEP_START.match(line)
        if continues and (not steps[-1].endswith((".", ";", ":")) or line[:1].islower()):
            steps[-1] = f"{steps[-1]} {line}"
        else:
            steps.append(line)
    return [_BULLET.sub("", step).strip() for step in steps if step.strip("-+• ")]


_RESULT_CODE = re.compile(r"Mã:\s*KQ\.[A-Z0-9]+\.[0-9]+")


def parse_result(text: str) -> str:
    """Parse ``ket_qua_xu_ly``: result names, codes and page junk after "Từ khóa" dropped."""
    text = nfc(text or "").split("Từ khóa", 1)[0]
    names = [clean(part) for part in _RESULT_CODE.split(text)]
    return "; ".join(name for name in names if name)


def parse_levels(text: str) -> list[str]:
    """Split ``cap_thuc_hien`` ("Cấp bộ, Cấp tỉnh") into levels."""
    return [part.strip() for part in clean(text).split(", ") if part.strip()]
