"""Embedded one-stop system: a SQLite database under TTHC_DATA_DIR, used offline and in demos."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import date, datetime
from pathlib import Path
from typing import Any

from common.db import SqliteDB
from dossier.adapters.base import OnestopUnavailable
from dossier.models import Dossier, Status

SCHEMA = """
CREATE TABLE IF NOT EXISTS dossiers (
    code TEXT PRIMARY KEY,
    procedure_code TEXT NOT NULL,
    procedure_name TEXT NOT NULL,
    sector TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    received_date TEXT,
    appointment_date TEXT,
    completed_date TEXT,
    overdue INTEGER NOT NULL DEFAULT 0,
    current_step TEXT NOT NULL DEFAULT '',
    processing_unit TEXT NOT NULL DEFAULT '',
    supplement_request TEXT NOT NULL DEFAULT '',
    payment_amount INTEGER,
    payment_instructions TEXT NOT NULL DEFAULT '',
    result_delivery TEXT NOT NULL DEFAULT '',
    pickup_location TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '',
    applicant_name TEXT NOT NULL DEFAULT '',
    applicant_phone TEXT NOT NULL DEFAULT '',
    applicant_id_number TEXT NOT NULL DEFAULT '',
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS dossiers_status ON dossiers(status);
"""

COLUMNS = (
    "code", "procedure_code", "procedure_name", "sector", "status", "received_date", "appointment_date",
    "completed_date", "overdue", "current_step", "processing_unit", "supplement_request", "payment_amount",
    "payment_instructions", "result_delivery", "pickup_location", "note", "applicant_name",
    "applicant_phone", "applicant_id_number",
)


def _date(value: str | None) -> date | None:
    """Parse an ISO date column."""
    return date.fromisoformat(value) if value else None


def _row_to_dossier(row: sqlite3.Row) -> Dossier:
    """Build a Dossier from a database row."""
    try:
        status = Status(row["status"])
    except ValueError:
        status = Status.UNKNOWN
    return Dossier(
        code=row["code"],
        procedure_code=row["procedure_code"],
        procedure_name=row["procedure_name"],
        sector=row["sector"],
        status=status,
        status_label=row["status"],
        received_date=_date(row["received_date"]),
        appointment_date=_date(row["appointment_date"]),
        completed_date=_date(row["completed_date"]),
        overdue=bool(row["overdue"]),
        current_step=row["current_step"],
        processing_unit=row["processing_unit"],
        supplement_request=row["supplement_request"],
        payment_amount=row["payment_amount"],
        payment_instructions=row["payment_instructions"],
        result_delivery=row["result_delivery"],
        pickup_location=row["pickup_location"],
        note=row["note"],
        applicant_name=row["applicant_name"],
        applicant_phone=row["applicant_phone"],
        applicant_id_number=row["applicant_id_number"],
    )


def dossier_to_row(d: Dossier) -> dict[str, Any]:
    """Flatten a Dossier into column values."""
    iso = lambda v: v.isoformat() if v else None  # noqa: E731
    return {
        "code": d.code, "procedure_code": d.procedure_code, "procedure_name": d.procedure_name,
        "sector": d.sector, "status": d.status.value, "received_date": iso(d.received_date),
        "appointment_date": iso(d.appointment_date), "completed_date": iso(d.completed_date),
        "overdue": int(d.overdue), "current_step": d.current_step, "processing_unit": d.processing_unit,
        "supplement_request": d.supplement_request, "payment_amount": d.payment_amount,
        "payment_instructions": d.payment_instructions, "result_delivery": d.result_delivery,
        "pickup_location": d.pickup_location, "note": d.note, "applicant_name": d.applicant_name,
        "applicant_phone": d.applicant_phone, "applicant_id_number": d.applicant_id_number,
    }


class SqliteOnestop:
    """One-stop adapter over the embedded SQLite database; blocking work runs in a thread."""

    def __init__(self, path: Path) -> None:
        """Remember the database path; nothing is opened until first use."""
        self.db = SqliteDB(path, SCHEMA)

    @property
    def path(self) -> Path:
        """The database file."""
        return self.db.path

    def get_sync(self, code: str) -> Dossier | None:
        """Blocking lookup by canonical code."""
        try:
            with self.db.transaction() as conn:
                row = conn.execute("SELECT * FROM dossiers WHERE code = ?", (code,)).fetchone()
        except sqlite3.Error as exc:
            raise OnestopUnavailable(f"sqlite error: {type(exc).__name__}") from exc
        return _row_to_dossier(row) if row else None

    async def get_dossier(self, code: str) -> Dossier | None:
        """Look a dossier up without blocking the event loop."""
        return await asyncio.to_thread(self.get_sync, code)

    async def close(self) -> None:
        """Nothing to release: connections are per call."""

    def count(self) -> int:
        """Number of dossiers stored."""
        with self.db.transaction() as conn:
            return int(conn.execute("SELECT COUNT(*) FROM dossiers").fetchone()[0])

    def upsert(self, dossiers: list[Dossier]) -> None:
        """Insert or replace dossiers."""
        now = datetime.now().isoformat(timespec="seconds")
        cols = ", ".join((*COLUMNS, "updated_at"))
        marks = ", ".join(f":{c}" for c in (*COLUMNS, "updated_at"))
        with self.db.transaction() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO dossiers ({cols}) VALUES ({marks})",
                [{**dossier_to_row(d), "updated_at": now} for d in dossiers],
            )

    def clear(self) -> None:
        """Delete every dossier."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM dossiers")

    def update(self, code: str, **fields: Any) -> bool:
        """Update columns of one dossier; True when it existed."""
        bad = set(fields) - set(COLUMNS)
        if bad:
            raise ValueError(f"unknown columns: {sorted(bad)}")
        fields["updated_at"] = datetime.now().isoformat(timespec="seconds")
        sets = ", ".join(f"{k} = :{k}" for k in fields)
        with self.db.transaction() as conn:
            cur = conn.execute(f"UPDATE dossiers SET {sets} WHERE code = :code_", {**fields, "code_": code})
            return cur.rowcount > 0

    def next_number(self, prefix: str) -> int:
        """Next free daily sequence number for a code prefix like ``000.00.20.H57-240101-``."""
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT MAX(code) FROM dossiers WHERE code LIKE ?", (prefix + "%",)
            ).fetchone()
        return int(row[0][-4:]) + 1 if row and row[0] else 1
