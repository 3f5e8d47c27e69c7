"""Catalogue importers: project YAML/JSON, the portal crawl (JSONL), the portal's xlsx list exports.

Every importer reads and validates the whole file first and writes nothing when any record is
broken; otherwise it writes all records in one transaction. A dry run reports what would change.
"""

from __future__ import annotations

import logging
import sys
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from knowledge.importers.limits import ImportLimits, ImportRefused
from knowledge.importers.merge import merge_procedure
from knowledge.importers.portal import FACETS_MEASURED, parse_record, parse_record_report
from knowledge.importers.portal_file import iter_raw_records, open_binary
from knowledge.importers.project import load_project_file
from knowledge.importers.xlsx import XlsxRow, load_xlsx_rows
from knowledge.schema import Procedure
from knowledge.store import Catalogue

__all__ = [
    "ImportLimits",
    "ImportRefused",
    "ImportReport",
    "detect_format",
    "import_file",
    "parse_record",
    "parse_record_report",
]

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_ERRORS_SHOWN = 50


@dataclass
class ImportReport:
    """The outcome of one import (or dry run)."""

    path: str
    format: str
    dry_run: bool
    records: int = 0
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    parse_rates: dict[str, tuple[int, int]] = field(default_factory=dict)
    revision: int = 0
    refused: str = ""  # set when a limit refused the file: the reason in Vietnamese, for the admin

    @property
    def ok(self) -> bool:
        """True when the file was valid (and, unless a dry run, written)."""
        return not self.errors

    def summary(self) -> str:
        """Return a few human-readable lines."""
        verb = "would change" if self.dry_run else "changed"
        lines = [
            f"{self.path} ({self.format}): {self.records} records",
        ]
        if self.errors:
            lines.append(f"REJECTED, nothing {verb.split()[-1]}: {len(self.errors)} broken record(s)")
            lines += [f"  error: {e}" for e in self.errors[:MAX_ERRORS_SHOWN]]
            if len(self.errors) > MAX_ERRORS_SHOWN:
                lines.append(f"  ... and {len(self.errors) - MAX_ERRORS_SHOWN} more")
        else:
            lines.append(
                f"{verb}: added {len(self.added)}, updated {len(self.updated)}, "
                f"unchanged {len(self.unchanged)}" + ("" if self.dry_run else f" (revision {self.revision})")
            )
        lines += [f"  warning: {w}" for w in self.warnings[:MAX_ERRORS_SHOWN]]
        for facet, (parsed, present) in self.parse_rates.items():
            share = parsed / present if present else 1.0
            lines.append(f"  parsed {facet}: {parsed}/{present} ({share:.1%})")
        return "\n".join(lines)


def progress(items: Iterable[T], total: int | None, desc: str) -> Iterator[T]:
    """Wrap ``items`` with a tqdm bar on a terminal, plain log lines otherwise."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        yield from tqdm(items, total=total, desc=desc, unit="rec")
        return
    step = 500
    count = 0
    for count, item in enumerate(items, start=1):
        if count % step == 0:
            log.info("%s: %d%s", desc, count, f"/{total}" if total else "")
        yield item
    log.info("%s: %d done", desc, count)


def detect_format(path: Path) -> str:
    """Return ``portal``, ``project`` or ``xlsx`` from the extension (and content for .json)."""
    name = path.name.lower()
    if name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        return "portal"
    if name.endswith((".yml", ".yaml")):
        return "project"
    if name.endswith((".json", ".json.gz")):
        with open_binary(path) as handle:
            head = handle.read(4096)
        return "portal" if b'"ma_thu_tuc"' in head else "project"
    raise ValueError(f"unknown file type: {path.name} (expected .yml/.yaml/.json, .jsonl[.gz] or .xlsx)")


def _read_portal(path: Path, report: ImportReport, limits: ImportLimits) -> list[Procedure]:
    """Parse a portal crawl file (JSONL, or a JSON list of records), one record at a time."""
    counts = {facet: [0, 0] for facet in FACETS_MEASURED}
    parsed: list[Procedure] = []
    for number, raw in progress(iter_raw_records(path, limits, report.errors), None, "parse"):
        report.records += 1
        if not isinstance(raw, dict):
            report.errors.append(f"record {number}: not a JSON object")
            continue
        try:
            procedure, parse = parse_record_report(raw)
        except (ValueError, TypeError) as exc:
            report.errors.append(f"record {number}: {exc}")
            continue
        for facet in parse.present:
            counts[facet][1] += 1
        for facet in parse.parsed:
            counts[facet][0] += 1
        parsed.append(procedure)
    report.parse_rates = {facet: (ok, present) for facet, (ok, present) in counts.items()}
    return parsed


def _dedupe(items: list[Procedure], report: ImportReport) -> list[Procedure]:
    """Keep the last record of each code, with a warning for every repeat."""
    seen: dict[str, Procedure] = {}
    for item in items:
        if item.code in seen:
            report.warnings.append(f"code {item.code} appears more than once; the last record wins")
        seen[item.code] = item
    return list(seen.values())


def _xlsx_procedures(rows: list[XlsxRow], existing: Callable[[str], Procedure | None]) -> list[Procedure]:
    """Turn list-export rows into procedures, merging names/fields into existing ones."""
    result: list[Procedure] = []
    for row in rows:
        current = existing(row.code)
        if current is None:
            result.append(Procedure(code=row.code, title=row.title, field=row.field, agencies=row.agencies))
            continue
        merged = Procedure.from_dict(current.to_dict())
        merged.title = row.title or merged.title
        merged.field = row.field or merged.field
        if row.agencies and not merged.agencies:
            merged.agencies = list(row.agencies)
        result.append(merged)
    return result


def import_file(
    catalogue: Catalogue,
    path: str | Path,
    dry_run: bool = False,
    fmt: str | None = None,
    limits: ImportLimits | None = None,
) -> ImportReport:
    """Validate and import one file within ``limits``; nothing is written on error or in a dry run."""
    path = Path(path)
    limits = limits or ImportLimits()
    report = ImportReport(path=str(path), format=fmt or "?", dry_run=dry_run)
    if not path.is_file():
        report.errors.append(f"no such file: {path}")
        return report
    try:
        report.format = fmt or detect_format(path)
    except (ValueError, OSError, UnicodeDecodeError) as exc:
        report.errors.append(str(exc))
        return report

    incoming: list[Procedure]
    try:
        if report.format == "portal":
            incoming = _read_portal(path, report, limits)
        elif report.format == "project":
            incoming, errors, total = load_project_file(path, limits)
            report.errors += errors
            report.records = total
        elif report.format == "xlsx":
            rows, errors, warnings = load_xlsx_rows(path, limits)
            report.errors += errors
            report.warnings += warnings
            report.records = len(rows)
            incoming = [] if errors else _xlsx_procedures(_dedupe_rows(rows, report), catalogue.get)
        else:
            report.errors.append(f"unknown format {report.format!r}")
            return report
    except ImportRefused as exc:
        report.errors.append(str(exc))
        report.refused = exc.vi
        return report
    except (OSError, UnicodeDecodeError, EOFError, zlib.error) as exc:
        report.errors.append(f"cannot read {path.name}: {exc}")
        return report
    if report.errors:
        return report
    incoming = _dedupe(incoming, report)

    existing = catalogue.get_many(p.code for p in incoming)
    if report.format == "xlsx":
        final = incoming  # already merged field by field
    else:
        final = [
            merge_procedure(existing.get(p.code), p, keep_retired=report.format == "portal") for p in incoming
        ]
    if dry_run:
        for procedure in final:
            old = existing.get(procedure.code)
            if old is None:
                report.added.append(procedure.code)
            elif old.to_dict() == procedure.to_dict():
                report.unchanged.append(procedure.code)
            else:
                report.updated.append(procedure.code)
        report.revision = catalogue.revision()
        return report
    written = catalogue.upsert_many(progress(final, len(final), "write"), source=f"import:{path.name}")
    report.added, report.updated, report.unchanged = written.added, written.updated, written.unchanged
    report.revision = written.revision
    return report


def _dedupe_rows(rows: list[XlsxRow], report: ImportReport) -> list[XlsxRow]:
    """Keep the last xlsx row of each code, with a warning for every repeat."""
    seen: dict[str, XlsxRow] = {}
    for row in rows:
        if row.code in seen:
            report.warnings.append(f"row {row.row}: code {row.code} repeated; the last row wins")
        seen[row.code] = row
    return list(seen.values())
