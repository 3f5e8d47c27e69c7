"""Typed schema of one administrative procedure (thủ tục hành chính) in the catalogue."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from dataclasses import field as _field
from typing import Any


@dataclass
class Channel:
    """One way to submit (trực tiếp, trực tuyến, bưu chính) with its time and fee."""

    name: str
    time_text: str = ""
    working_days: float | None = None
    fee_text: str = ""
    fee_vnd: int | None = None
    free: bool = False
    note: str = ""
    fee_note: str = ""  # the portal's wording around the fee (exemptions, rates per item)
    calendar_days: float | None = None  # set instead of working_days when the unit is calendar time


@dataclass
class Document:
    """One document of the dossier (thành phần hồ sơ)."""

    name: str
    original: int = 0
    copies: int = 0
    quantity_text: str = ""
    form_template: str = ""
    group: str = ""  # section heading, e.g. "Giấy tờ phải xuất trình"


@dataclass
class LegalBasis:
    """One legal document the procedure rests on."""

    title: str
    number: str = ""


@dataclass
class Procedure:
    """A procedure as the bot and the admin console see it."""

    code: str
    title: str
    field: str = ""
    levels: list[str] = _field(default_factory=list)
    agencies: list[str] = _field(default_factory=list)
    applicants: str = ""
    conditions: str = ""
    steps: list[str] = _field(default_factory=list)
    channels: list[Channel] = _field(default_factory=list)
    documents: list[Document] = _field(default_factory=list)
    result: str = ""
    legal_basis: list[LegalBasis] = _field(default_factory=list)
    where_to_submit: str = ""
    online_url: str = ""
    source_url: str = ""
    updated_at: str = ""
    summary: str = ""
    aliases: list[str] = _field(default_factory=list)
    questions: list[str] = _field(default_factory=list)
    retired: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Procedure:
        """Build from a dict as produced by :meth:`to_dict` (unknown keys are an error)."""
        data = dict(data)
        data["channels"] = [Channel(**c) for c in data.get("channels") or []]
        data["documents"] = [Document(**d) for d in data.get("documents") or []]
        data["legal_basis"] = [LegalBasis(**b) for b in data.get("legal_basis") or []]
        return cls(**data)
