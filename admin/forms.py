"""The procedure edit form: a Procedure to form values and back, with validation in Vietnamese."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import fields
from typing import Any

from common.text import format_vnd, nfc
from knowledge.schema import Channel, Document, LegalBasis, Procedure

CODE_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z._-]{0,63}\Z")
MAX_ROWS = 60
EXTRA_ROWS = 2
LIST_FIELDS = ("levels", "agencies", "steps", "aliases", "questions")
TEXT_FIELDS = ("title", "field", "applicants", "summary", "conditions", "where_to_submit", "result",
               "online_url", "source_url")
CHANNEL_FIELDS = ("name", "time_text", "working_days", "calendar_days", "fee_text", "fee_vnd", "free", "note",
                  "fee_note")
DOCUMENT_FIELDS = ("name", "original", "copies", "quantity_text", "form_template", "group")
FIELD_LABELS = {
    "code": "Mã thủ tục", "title": "Tên thủ tục", "field": "Lĩnh vực", "levels": "Cấp thực hiện",
    "agencies": "Cơ quan thực hiện", "applicants": "Đối tượng", "summary": "Tóm tắt", "conditions": "Điều kiện",
    "steps": "Các bước", "channels": "Cách thức nộp, thời gian, lệ phí", "documents": "Thành phần hồ sơ",
    "result": "Kết quả", "legal_basis": "Căn cứ pháp lý", "where_to_submit": "Nơi nộp hồ sơ",
    "online_url": "Liên kết nộp trực tuyến", "source_url": "Liên kết nguồn", "updated_at": "Ngày cập nhật",
    "aliases": "Tên gọi khác", "questions": "Câu hỏi mẫu", "retired": "Ngừng áp dụng",
}
_MONEY_RE = re.compile(r"\d{1,3}(?:[.,]\d{3})+|\d+")


def fingerprint(procedure: Procedure | None) -> str:
    """A short hash of a stored document: an edit based on an older one is refused."""
    if procedure is None:
        return ""
    blob = json.dumps(procedure.to_dict(), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _num(value: float | int | None) -> str:
    """A number as form text ("" for None, no trailing .0)."""
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


def procedure_to_form(p: Procedure) -> dict[str, str]:
    """Form values of a procedure, with blank rows to add channels and documents."""
    values: dict[str, str] = {"code": p.code, "base": fingerprint(p)}
    for name in TEXT_FIELDS:
        values[name] = str(getattr(p, name))
    for name in LIST_FIELDS:
        values[name] = "\n".join(getattr(p, name))
    values["legal_basis"] = "\n".join(f"{b.number} | {b.title}" if b.number else b.title for b in p.legal_basis)
    for i, ch in enumerate(p.channels):
        for name in CHANNEL_FIELDS:
            value = getattr(ch, name)
            values[f"ch-{i}-{name}"] = ("1" if value else "") if name == "free" else (
                _num(value) if name in ("working_days", "calendar_days", "fee_vnd") else str(value))
    for i, doc in enumerate(p.documents):
        for name in DOCUMENT_FIELDS:
            value = getattr(doc, name)
            values[f"doc-{i}-{name}"] = _num(value) if name in ("original", "copies") else str(value)
    values["n_channels"] = str(len(p.channels) + EXTRA_ROWS)
    values["n_documents"] = str(len(p.documents) + EXTRA_ROWS)
    return values


def _lines(text: str) -> list[str]:
    """Non-empty stripped lines, duplicates removed."""
    return list(dict.fromkeys(nfc(line).strip() for line in text.splitlines() if line.strip()))


def _count(values: Mapping[str, str], name: str) -> int:
    """A row count from a hidden field, clamped."""
    try:
        return max(0, min(MAX_ROWS, int(values.get(name, "0") or 0)))
    except ValueError:
        return 0


def _number(raw: str, errors: dict[str, str], key: str, label: str, integer: bool = False) -> float | None:
    """Parse an optional non-negative number; record an error when malformed."""
    text = raw.strip().replace(" ", "")
    if not text:
        return None
    text = text.replace(".", "").replace(",", "") if integer else text.replace(",", ".")
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        errors[key] = f"{label}: phải là số."
        return None
    if value < 0 or value > 10**12:
        errors[key] = f"{label}: số không hợp lệ."
        return None
    return value


def money_in(text: str) -> set[int]:
    """Amounts written in a fee text ("50.000 đồng" → {50000})."""
    return {int(re.sub(r"[.,]", "", m)) for m in _MONEY_RE.findall(text)}


def _channels(values: Mapping[str, str], base: Procedure | None, errors: dict[str, str]) -> list[Channel]:
    """Channel rows; a row with an empty name is dropped (or an error when other cells are filled)."""
    old = {c.name: c for c in base.channels} if base else {}
    result: list[Channel] = []
    for i in range(_count(values, "n_channels")):
        cell = {name: nfc(values.get(f"ch-{i}-{name}", "")).strip() for name in CHANNEL_FIELDS}
        if not cell["name"]:
            if any(v for k, v in cell.items() if k != "free"):
                errors[f"ch-{i}-name"] = f"Dòng {i + 1}: cần tên cách thức nộp (ví dụ: Trực tiếp)."
            continue
        working = _number(cell["working_days"], errors, f"ch-{i}-working_days", "Số ngày làm việc")
        calendar = _number(cell["calendar_days"], errors, f"ch-{i}-calendar_days", "Số ngày")
        fee = _number(cell["fee_vnd"], errors, f"ch-{i}-fee_vnd", "Lệ phí (đồng)", integer=True)
        fee_vnd = int(fee) if fee is not None else None
        free = bool(cell["free"]) or fee_vnd == 0
        fee_text = cell["fee_text"]
        previous = old.get(cell["name"])
        changed = previous is None or previous.fee_text != fee_text or previous.fee_vnd != fee_vnd
        if free and fee_vnd:
            errors[f"ch-{i}-fee_vnd"] = f"Dòng {i + 1}: đã đánh dấu miễn phí nhưng lệ phí lớn hơn 0."
        if not fee_text and fee_vnd is not None:
            fee_text = "Miễn phí" if fee_vnd == 0 else format_vnd(fee_vnd)
        elif changed and fee_vnd and money_in(fee_text) and fee_vnd not in money_in(fee_text):
            errors[f"ch-{i}-fee_vnd"] = (
                f"Dòng {i + 1}: số tiền {format_vnd(fee_vnd)} không khớp với lệ phí ghi bằng chữ "
                f"(“{fee_text}”). Sửa cả hai cho thống nhất."
            )
        if len(fee_text) > 2000 or len(cell["note"]) > 4000 or len(cell["fee_note"]) > 4000:
            errors[f"ch-{i}-fee_text"] = f"Dòng {i + 1}: nội dung quá dài."
        result.append(Channel(
            name=cell["name"][:100], time_text=cell["time_text"][:500], working_days=working, fee_text=fee_text,
            fee_vnd=fee_vnd, free=free, note=cell["note"], fee_note=cell["fee_note"], calendar_days=calendar,
        ))
    names = [c.name for c in result]
    if len(names) != len(set(names)):
        errors["channels"] = "Mỗi cách thức nộp chỉ được khai một lần."
    return result


def _documents(values: Mapping[str, str], errors: dict[str, str]) -> list[Document]:
    """Document rows; a row with an empty name is dropped (or an error when other cells are filled)."""
    result: list[Document] = []
    for i in range(_count(values, "n_documents")):
        cell = {name: nfc(values.get(f"doc-{i}-{name}", "")).strip() for name in DOCUMENT_FIELDS}
        if not cell["name"]:
            if any(cell.values()):
                errors[f"doc-{i}-name"] = f"Giấy tờ dòng {i + 1}: cần tên giấy tờ."
            continue
        original = _number(cell["original"], errors, f"doc-{i}-original", "Số bản chính", integer=True)
        copies = _number(cell["copies"], errors, f"doc-{i}-copies", "Số bản sao", integer=True)
        for key, n in ((f"doc-{i}-original", original), (f"doc-{i}-copies", copies)):
            if n is not None and n > 99:
                errors[key] = f"Giấy tờ dòng {i + 1}: số bản quá lớn."
        result.append(Document(
            name=cell["name"][:1000], original=int(original or 0), copies=int(copies or 0),
            quantity_text=cell["quantity_text"][:200], form_template=cell["form_template"][:500],
            group=cell["group"][:300],
        ))
    return result


def form_to_procedure(
    values: Mapping[str, str], base: Procedure | None, code: str | None = None
) -> tuple[Procedure | None, dict[str, str]]:
    """Build the edited procedure from form values; ``(None, errors)`` when invalid."""
    errors: dict[str, str] = {}
    code = (code if code is not None else values.get("code", "")).strip()
    if not CODE_RE.match(code):
        errors["code"] = "Mã thủ tục chỉ gồm chữ, số, dấu chấm, gạch ngang (tối đa 64 ký tự), ví dụ 1.001193."
    data: dict[str, Any] = base.to_dict() if base else {"code": code}
    data["code"] = code
    for name in TEXT_FIELDS:
        data[name] = nfc(values.get(name, "")).strip()
    for name in LIST_FIELDS:
        data[name] = _lines(values.get(name, ""))
    if not data["title"]:
        errors["title"] = "Tên thủ tục không được để trống."
    elif len(data["title"]) > 500:
        errors["title"] = "Tên thủ tục quá dài (tối đa 500 ký tự)."
    for name in ("online_url", "source_url"):
        if data[name] and not re.match(r"^https?://[^\s<>\"']+\Z", data[name]):
            errors[name] = "Liên kết phải bắt đầu bằng http:// hoặc https://"
    for name, limit in (("summary", 3000), ("conditions", 8000), ("where_to_submit", 3000), ("result", 3000),
                        ("applicants", 3000)):
        if len(data[name]) > limit:
            errors[name] = f"{FIELD_LABELS[name]}: quá dài (tối đa {limit} ký tự)."
    for name in ("aliases", "questions"):
        if any(len(x) > 300 for x in data[name]) or len(data[name]) > 300:
            errors[name] = f"{FIELD_LABELS[name]}: mỗi dòng tối đa 300 ký tự, tối đa 300 dòng."
    legal = []
    for line in _lines(values.get("legal_basis", "")):
        number, sep, title = line.partition("|")
        legal.append(LegalBasis(title=title.strip(), number=number.strip()) if sep else LegalBasis(title=line))
    channels = _channels(values, base, errors)
    documents = _documents(values, errors)
    if errors:
        return None, errors
    data["channels"] = [c.__dict__ for c in channels]
    data["documents"] = [d.__dict__ for d in documents]
    data["legal_basis"] = [b.__dict__ for b in legal]
    known = {f.name for f in fields(Procedure)}
    return Procedure.from_dict({k: v for k, v in data.items() if k in known}), {}


def changed_fields(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """Top-level keys whose values differ (Vietnamese labels)."""
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return [FIELD_LABELS.get(k, k) for k in keys if before.get(k) != after.get(k)]
