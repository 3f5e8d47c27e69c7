"""Pure helpers that turn a catalogue procedure into short Vietnamese answers (no rasa_sdk here).

Everything said comes from the procedure record; when a fact is missing the answer says so and
points to the portal page. The bot calls itself "em" and the user "anh/chị".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from common.messages import BUSY_TEXT, Button
from common.text import normalize_query
from knowledge.schema import Channel, Procedure

FACETS = ("documents", "fee", "time", "place", "steps", "online", "conditions", "legal", "result")
FACET_LABELS = {
    "documents": "Giấy tờ cần chuẩn bị",
    "fee": "Lệ phí",
    "time": "Thời gian giải quyết",
    "place": "Nơi nộp hồ sơ",
    "steps": "Các bước thực hiện",
    "online": "Nộp trực tuyến",
    "conditions": "Điều kiện",
    "legal": "Căn cứ pháp lý",
    "result": "Kết quả nhận được",
}
# Facet keywords on folded, lower-cased text; checked in this order, the first hit wins.
FACET_KEYWORDS: dict[str, tuple[str, ...]] = {
    "online": ("truc tuyen", "online", "onl", "qua mang", "tren mang", "nop mang", "dich vu cong", "dvc",
               "qua app", "vneid", "qua internet"),
    "time": ("bao lau", "thoi gian", "may ngay", "bao nhieu ngay", "mat may", "thoi han", "bao gio co",
             "khi nao co", "khi nao nhan", "lau khong", "lau ko", "nhanh khong", "may hom"),
    "fee": ("le phi", "phi", "bao nhieu tien", "mat tien", "ton tien", "het bao nhieu", "chi phi",
            "mien phi", "ton bao nhieu", "mat bao nhieu", "gia bao nhieu", "nop tien"),
    "documents": ("giay to", "ho so gom", "ho so can", "can gi", "can nhung gi", "chuan bi", "thanh phan",
                  "mang theo", "mang gi", "can mang", "giay gi", "can giay", "ho so can gi"),
    "place": ("o dau", "noi nop", "nop o", "dia chi", "co quan nao", "cho nao", "den dau", "lam o",
              "noi lam", "tai dau", "noi nao", "co quan thuc hien"),
    "conditions": ("dieu kien", "ai duoc", "doi tuong nao", "ai co the", "can dieu kien"),
    "legal": ("can cu", "phap ly", "luat nao", "nghi dinh", "thong tu", "van ban phap", "quy dinh nao"),
    "result": ("ket qua", "nhan duoc gi", "duoc cap gi", "nhan lai gi", "duoc gi"),
    "steps": ("cac buoc", "trinh tu", "quy trinh", "lam the nao", "nhu the nao", "cach lam", "huong dan",
              "lam sao", "thu tuc the nao", "lam nhu nao", "cach thuc"),
}
# Words that carry no procedure meaning in a follow-up ("còn lệ phí thì sao ạ?").
_FILLER = frozenset(
    {
        "con", "thi", "sao", "vay", "the", "a", "ah", "a.", "nhe", "nha", "nhi", "di", "em", "oi", "anh", "chi",
        "minh", "toi", "cho", "hoi", "xin", "duoc", "khong", "ko", "k", "ma", "la", "gi", "bao", "nhieu", "can",
        "phai", "nop", "lam", "thu", "tuc", "nay", "do", "cai", "cua", "va", "voi", "nao", "ntn", "mat", "het",
        "co", "ạ", "ha", "hả", "nua", "them", "roi",
    }
)
MAX_MESSAGE_CHARS = 1500
MAX_ITEM_CHARS = 320
PORTAL_HOME = "https://dichvucong.gov.vn"
EXAMPLE_QUESTIONS = (
    "Làm giấy khai sinh cần giấy tờ gì?",
    "Đăng ký tạm trú mất bao lâu?",
    "Lệ phí cấp hộ chiếu là bao nhiêu?",
)


@dataclass(frozen=True)
class Reply:
    """One bot reply: one or more message texts, buttons attached to the last one."""

    texts: list[str]
    buttons: list[Button]


def _keyword_hits(folded: str, keywords: tuple[str, ...]) -> list[int]:
    """Positions where any keyword occurs as whole words in ``folded``."""
    padded = f" {folded} "
    return [padded.find(f" {kw} ") for kw in keywords if f" {kw} " in padded]


def _fold(text: str) -> str:
    """Fold for keyword matching: normalised, punctuation as spaces."""
    return re.sub(r"[^\w\s]", " ", normalize_query(text)).strip()


def detect_facet(text: str) -> str | None:
    """Return the facet a question asks about (documents, fee, time, ...), or None."""
    folded = re.sub(r"\s+", " ", _fold(text))
    if not folded:
        return None
    for facet, keywords in FACET_KEYWORDS.items():
        if _keyword_hits(folded, keywords):
            return facet
    return None


def content_words(text: str) -> list[str]:
    """Words of ``text`` that are neither facet keywords nor filler: what names a procedure."""
    folded = " " + re.sub(r"\s+", " ", _fold(text)) + " "
    for keywords in FACET_KEYWORDS.values():
        for kw in sorted(keywords, key=len, reverse=True):
            folded = folded.replace(f" {kw} ", " ")
    return [w for w in folded.split() if w not in _FILLER and not w.isdigit()]


def is_follow_up(text: str) -> bool:
    """True when ``text`` only asks for another facet ("còn lệ phí thì sao?"), naming no procedure."""
    return len(content_words(text)) <= 1


def payload(code: str, facet: str | None = None) -> str:
    """Return the button payload asking about ``facet`` of procedure ``code``."""
    entities = {"procedure_code": code, "facet": facet or ""}
    return "/ask_procedure" + json.dumps(entities, ensure_ascii=False, separators=(",", ":"))


def facet_buttons(code: str, facets: list[str]) -> list[Button]:
    """Buttons for other facets of the same procedure."""
    return [Button(FACET_LABELS[f], payload(code, f)) for f in facets if f in FACET_LABELS]


def shorten(text: str, limit: int = MAX_ITEM_CHARS) -> str:
    """Cut ``text`` at a word boundary to at most ``limit`` characters."""
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) <= limit:
        return text
    cut = text[: limit - 1].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def source_link(procedure: Procedure) -> str:
    """Return the best link to the procedure's page."""
    return procedure.source_url or procedure.online_url or PORTAL_HOME


def citation(procedure: Procedure) -> str:
    """The line every answer ends with: the procedure code and where to check it."""
    return f"📌 Nguồn: thủ tục mã {procedure.code} trên Cổng Dịch vụ công: {source_link(procedure)}"


def heading(procedure: Procedure) -> str:
    """First line of an answer: which procedure it is about."""
    prefix = "" if procedure.title.lower().startswith("thủ tục") else "Thủ tục "
    return f"{prefix}\u201c{procedure.title}\u201d (mã {procedure.code})"


def _same(values: list[str]) -> bool:
    """True when all values are equal."""
    return len(set(values)) <= 1


def _channel_time(channel: Channel) -> str:
    """Time of one channel as text ("" when unknown)."""
    return channel.time_text


def _channel_fee(channel: Channel) -> str:
    """Fee of one channel as text ("" when unknown)."""
    if channel.free and not channel.fee_text:
        return "Miễn phí"
    return channel.fee_text


def time_lines(procedure: Procedure) -> list[str]:
    """Lines describing processing time, grouped when all channels agree."""
    channels = [c for c in procedure.channels if _channel_time(c)]
    if not channels:
        return []
    if _same([_channel_time(c) for c in channels]):
        return [f"Thời gian giải quyết: {_channel_time(channels[0])}"]
    return ["Thời gian giải quyết:"] + [f"• {c.name}: {_channel_time(c)}" for c in channels]


def fee_lines(procedure: Procedure, with_notes: bool = True) -> list[str]:
    """Lines describing fees, grouped when all channels agree, with the portal's note."""
    channels = [c for c in procedure.channels if _channel_fee(c)]
    if not channels:
        return []
    if _same([_channel_fee(c) for c in channels]):
        lines = [f"Phí, lệ phí: {_channel_fee(channels[0])}"]
    else:
        lines = ["Phí, lệ phí:"] + [f"• {c.name}: {_channel_fee(c)}" for c in channels]
    notes = list(dict.fromkeys(c.fee_note for c in channels if c.fee_note))
    if with_notes and notes:
        lines.append("Ghi chú về phí: " + shorten(notes[0], 500))
    return lines


def place_lines(procedure: Procedure) -> list[str]:
    """Lines saying where and how to submit."""
    lines = []
    if procedure.where_to_submit:
        lines.append("Nơi tiếp nhận: " + shorten(procedure.where_to_submit, 400))
    if procedure.agencies:
        lines.append("Cơ quan thực hiện: " + shorten("; ".join(procedure.agencies), 400))
    if procedure.levels:
        lines.append("Cấp thực hiện: " + ", ".join(procedure.levels))
    names = list(dict.fromkeys(c.name for c in procedure.channels))
    if names:
        lines.append("Hình thức nộp: " + ", ".join(names))
    return lines


def _documents_text(procedure: Procedure, limit: int = 15) -> list[str]:
    """Bullet lines of the dossier, grouped by section."""
    lines: list[str] = []
    group = None
    for doc in procedure.documents[:limit]:
        if doc.group != group and doc.group:
            lines.append(f"{doc.group}:")
        group = doc.group
        quantity = []
        if doc.original:
            quantity.append(f"{doc.original} bản chính")
        if doc.copies:
            quantity.append(f"{doc.copies} bản sao")
        suffix = f" ({', '.join(quantity)})" if quantity else ""
        form = f" [mẫu: {shorten(doc.form_template, 80)}]" if doc.form_template else ""
        lines.append(f"• {shorten(doc.name)}{suffix}{form}")
    if len(procedure.documents) > limit:
        lines.append(f"… và {len(procedure.documents) - limit} mục khác, anh/chị xem đầy đủ ở đường dẫn bên dưới.")
    return lines


def _missing(procedure: Procedure, what: str) -> list[str]:
    """Honest lines for a fact the catalogue does not have."""
    return [f"Dạ, dữ liệu của em chưa có thông tin về {what} của thủ tục này. "
            "Anh/chị vui lòng xem trên Cổng Dịch vụ công hoặc hỏi bộ phận một cửa ạ."]


def facet_lines(procedure: Procedure, facet: str) -> list[str]:
    """The body of an answer about one facet (without heading and citation)."""
    if facet == "documents":
        return (["Hồ sơ gồm:", *_documents_text(procedure)] if procedure.documents
                else _missing(procedure, "thành phần hồ sơ"))
    if facet == "fee":
        return fee_lines(procedure) or _missing(procedure, "phí, lệ phí")
    if facet == "time":
        lines = time_lines(procedure)
        notes = list(dict.fromkeys(c.note for c in procedure.channels if c.note and re.search(r"ngày|giờ", c.note)))
        if lines and notes:
            lines.append("Ghi chú: " + shorten(notes[0], 400))
        return lines or _missing(procedure, "thời gian giải quyết")
    if facet == "place":
        return place_lines(procedure) or _missing(procedure, "nơi nộp hồ sơ")
    if facet == "steps":
        if not procedure.steps:
            return _missing(procedure, "trình tự thực hiện")
        steps = [f"{i}. {shorten(step)}" for i, step in enumerate(procedure.steps[:8], start=1)]
        if len(procedure.steps) > 8:
            steps.append("… (các bước tiếp theo xem ở đường dẫn bên dưới)")
        return ["Các bước thực hiện:", *steps]
    if facet == "online":
        online = [c for c in procedure.channels if c.name == "Trực tuyến"]
        if online:
            line = "Thủ tục này có thể nộp trực tuyến"
            if online[0].time_text:
                line += f" (thời gian giải quyết {online[0].time_text})"
            link = procedure.online_url or PORTAL_HOME
            return [line + ".", f"Anh/chị đăng nhập bằng tài khoản định danh điện tử (VNeID) tại: {link}"]
        if procedure.channels:
            names = ", ".join(dict.fromkeys(c.name for c in procedure.channels))
            return [f"Theo dữ liệu hiện có, thủ tục này chưa có hình thức nộp trực tuyến; anh/chị nộp qua: {names}."]
        return _missing(procedure, "hình thức nộp trực tuyến")
    if facet == "conditions":
        if procedure.conditions:
            return ["Điều kiện, yêu cầu:", shorten(procedure.conditions, 1200)]
        return ["Dạ, Cổng Dịch vụ công không nêu điều kiện riêng cho thủ tục này."]
    if facet == "legal":
        if not procedure.legal_basis:
            return _missing(procedure, "căn cứ pháp lý")
        items = [
            f"• {b.number}: {shorten(b.title, 160)}" if b.number and b.number not in b.title
            else f"• {shorten(b.title, 200)}"
            for b in procedure.legal_basis[:8]
        ]
        return ["Căn cứ pháp lý:", *items]
    if facet == "result":
        return ([f"Kết quả: {shorten(procedure.result, 600)}"] if procedure.result
                else _missing(procedure, "kết quả giải quyết"))
    return summary_lines(procedure)


def summary_lines(procedure: Procedure) -> list[str]:
    """The essentials in a few lines: what it is, how long, fee, where, online or not (lists behind buttons)."""
    lines = []
    if procedure.summary:
        lines.append(shorten(procedure.summary, 300))
    if procedure.field:
        lines.append(f"Lĩnh vực: {procedure.field}")
    lines += time_lines(procedure)[:2]
    lines += fee_lines(procedure, with_notes=False)[:2]
    lines += place_lines(procedure)[:2]
    if procedure.channels:
        names = list(dict.fromkeys(c.name for c in procedure.channels))
        online = "Trực tuyến" in names
        lines.append("Nộp trực tuyến: có" if online else f"Nộp trực tuyến: chưa (nộp {', '.join(names).lower()})")
    if len(lines) <= 1:
        lines.append("Dữ liệu chi tiết của thủ tục này còn hạn chế, anh/chị xem thêm ở đường dẫn bên dưới.")
    return lines


def split_message(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """Split ``text`` into messages of at most ``limit`` characters at line boundaries."""
    chunks: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > limit:  # a single over-long line: cut at a word boundary
            piece = shorten(line, limit)
            cut = len(piece.rstrip("…"))
            if current:
                chunks.append(current)
                current = ""
            chunks.append(line[:cut].rstrip())
            line = line[cut:].lstrip()
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > limit:
            chunks.append(current)
            current = line
        else:
            current = candidate
    if current.strip():
        chunks.append(current)
    return [c for c in chunks if c.strip()]


def related_facets(facet: str | None) -> list[str]:
    """Facets worth offering as buttons after answering ``facet``."""
    if facet is None:
        return ["documents", "steps", "online", "conditions", "result"]
    order = ["documents", "fee", "time", "place", "steps", "online"]
    return [f for f in order if f != facet][:4]


def answer_procedure(procedure: Procedure, facet: str | None) -> Reply:
    """Answer ``facet`` of ``procedure`` (a summary when None), citing code and link."""
    body = facet_lines(procedure, facet) if facet in FACETS else summary_lines(procedure)
    text = "\n".join([heading(procedure) + ":" if facet else heading(procedure) + ".", *body, citation(procedure)])
    return Reply(split_message(text), facet_buttons(procedure.code, related_facets(facet if facet in FACETS else None)))


def clarify(candidates: list[tuple[str, str]], facet: str | None) -> Reply:
    """Ask which of up to 4 ``(code, title)`` candidates the user means."""
    shown = candidates[:4]
    lines = ["Dạ, em tìm thấy một vài thủ tục gần với câu hỏi. Anh/chị đang hỏi thủ tục nào ạ?"]
    lines += [f"{i}. {shorten(title, 150)} (mã {code})" for i, (code, title) in enumerate(shown, start=1)]
    buttons = [
        Button(f"{i}. {shorten(title, 40)}", payload(code, facet))
        for i, (code, title) in enumerate(shown, start=1)
    ]
    return Reply(split_message("\n".join(lines)), buttons)


def not_found() -> Reply:
    """Honest reply when no procedure matches, with a human handoff and rephrasing tips."""
    text = (
        "Dạ, em chưa tìm thấy thủ tục nào khớp với câu hỏi của anh/chị trong dữ liệu của em. "
        "Em đã ghi nhận câu hỏi để bổ sung.\n"
        "Anh/chị có thể thử hỏi lại ngắn gọn, nêu tên giấy tờ hoặc việc cần làm, ví dụ: "
        f"\u201c{EXAMPLE_QUESTIONS[0]}\u201d, hoặc gặp tổng đài viên để được hỗ trợ."
    )
    buttons = [
        Button("Gặp tổng đài viên", "/request_human"),
        Button("Cách hỏi", "/help"),
    ]
    return Reply([text], buttons)


def ask_which_procedure() -> Reply:
    """Reply to the bare "Hỏi thủ tục" menu button."""
    examples = "\n".join(f"• {q}" for q in EXAMPLE_QUESTIONS)
    text = f"Dạ, anh/chị cần hỏi về thủ tục nào ạ? Anh/chị cứ nhắn tự nhiên, ví dụ:\n{examples}"
    return Reply([text], [])


def ask_shorter() -> Reply:
    """Polite reply to a question too long (or too garbled) to search: ask for a short one."""
    text = (
        "Dạ, câu hỏi của anh/chị quá dài nên em chưa tra cứu được. Anh/chị vui lòng hỏi ngắn gọn hơn, "
        f"mỗi lần một việc, ví dụ: \u201c{EXAMPLE_QUESTIONS[0]}\u201d."
    )
    return Reply([text], [Button("Cách hỏi", "/help"), Button("Gặp tổng đài viên", "/request_human")])


def busy() -> Reply:
    """Polite reply when the search could not be done in time: try again shortly."""
    return Reply([BUSY_TEXT], [Button("Gặp tổng đài viên", "/request_human")])
