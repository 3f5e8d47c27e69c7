"""Loader for the portal's "DANH SÁCH THỦ TỤC HÀNH CHÍNH" xlsx exports (codes, names, fields)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from dataclasses import field as _field
from pathlib import Path
from typing import Any

from common.text import nfc, normalize_query
from knowledge.importers.limits import ImportLimits

_COLUMNS = {
    "ma so": "code",
    "ma thu tuc": "code",
    "ten": "title",
    "ten thu tuc": "title",
    "co quan ban hanh": "issuer",
    "co quan thuc hien": "agencies",
    "linh vuc": "field",
}
_CODE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.\-_]*\Z")
HEADER_SEARCH_ROWS = 30


@dataclass
class XlsxRow:
    """One procedure row of a list export."""

    row: int
    code: str
    title: str
    field: str = ""
    agencies: list[str] = _field(default_factory=list)


def _cell(value: Any) -> str:
    """Return a cell as clean text."""
    return "" if value is None else re.sub(r"[ \t]+", " ", nfc(str(value))).strip()


def _header_map(values: tuple[Any, ...]) -> dict[str, int]:
    """Map our column names to indexes when ``values`` is the header row."""
    found: dict[str, int] = {}
    for index, value in enumerate(values):
        key = _COLUMNS.get(normalize_query(_cell(value)).rstrip(":"))
        if key and key not in found:
            found[key] = index
    return found if {"code", "title"} <= set(found) else {}


def _too_long(values: tuple[Any, ...], limit: int) -> bool:
    """True when a text cell of the row is longer than ``limit`` characters."""
    return any(isinstance(v, str) and len(v) > limit for v in values)


def load_xlsx_rows(path: Path, limits: ImportLimits | None = None) -> tuple[list[XlsxRow], list[str], list[str]]:
    """Read every sheet's rows within ``limits``; return (rows, errors with row numbers, warnings)."""
    from openpyxl import load_workbook

    limits = limits or ImportLimits()
    limits.check_zip(path)
    seen = 0
    try:
        workbook = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        return [], [f"cannot open {path.name} as xlsx: {exc}"], []
    rows: list[XlsxRow] = []
    errors: list[str] = []
    warnings: list[str] = []
    try:
        for sheet in workbook.worksheets:
            columns: dict[str, int] = {}
            for number, values in enumerate(sheet.iter_rows(values_only=True, max_col=limits.max_columns), start=1):
                seen += 1
                if seen > limits.max_records + HEADER_SEARCH_ROWS:  # blank rows count: they cost time too
                    raise limits.too_many(path.name, "rows")
                if _too_long(values, limits.max_cell_chars):
                    errors.append(f"sheet {sheet.title!r} row {number}: a cell is longer than "
                                  f"{limits.max_cell_chars} characters (IMPORT_MAX_CELL_CHARS)")
                    continue
                if not columns:
                    if number > HEADER_SEARCH_ROWS:
                        break
                    columns = _header_map(values)
                    continue
                cells = {key: _cell(values[i]) if i < len(values) else "" for key, i in columns.items()}
                if not any(cells.values()):
                    continue
                where = f"sheet {sheet.title!r} row {number}"
                code, title = cells.get("code", ""), cells.get("title", "")
                if not code or not title:
                    errors.append(f"{where}: missing {'code (Mã số)' if not code else 'name (Tên)'}")
                    continue
                if not _CODE.match(code):
                    errors.append(f"{where}: malformed code {code!r}")
                    continue
                agencies = [a.strip() for a in cells.get("agencies", "").split("\n") if a.strip()]
                rows.append(XlsxRow(number, code, title, cells.get("field", ""), agencies))
            if not columns:
                warnings.append(f"sheet {sheet.title!r}: no header row with 'Mã số' and 'Tên' found")
    finally:
        workbook.close()
    if not rows and not errors:
        errors.append(f"{path.name}: no procedure rows found (need columns 'Mã số' and 'Tên')")
    return rows, errors, warnings
