"""Canonical dossier model that every one-stop backend maps into."""

from __future__ import annotations

import hmac
from dataclasses import dataclass, field
from datetime import date, timedelta
from enum import Enum


class Status(str, Enum):
    """Canonical dossier statuses (national, iGate and OpenCPS vocabularies all map here)."""

    RECEIVED_PENDING = "RECEIVED_PENDING"
    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    PROCESSING = "PROCESSING"
    NEED_SUPPLEMENT = "NEED_SUPPLEMENT"
    NEED_PAYMENT = "NEED_PAYMENT"
    WITHDRAWN = "WITHDRAWN"
    CANCELLED = "CANCELLED"
    SUSPENDED = "SUSPENDED"
    RESULT_READY = "RESULT_READY"
    RESULT_RETURNED = "RESULT_RETURNED"
    UNKNOWN = "UNKNOWN"


ACTIVE_STATUSES = frozenset(
    {
        Status.RECEIVED_PENDING,
        Status.ACCEPTED,
        Status.PROCESSING,
        Status.NEED_SUPPLEMENT,
        Status.NEED_PAYMENT,
        Status.SUSPENDED,
    }
)
FINAL_STATUSES = frozenset({Status.REJECTED, Status.WITHDRAWN, Status.CANCELLED, Status.RESULT_RETURNED})


def add_workdays(start: date, days: int) -> date:
    """Add working days (Mon–Fri) to a date."""
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


def last_digits(value: str | None, count: int = 4) -> str:
    """Return the last ``count`` digits of ``value`` ('' when it has fewer)."""
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    return digits[-count:] if len(digits) >= count else ""


def full_number(value: str | None) -> str:
    """The digits of a phone (national form, 0xxxxxxxxx) or CCCD number; '' when it is neither."""
    digits = "".join(ch for ch in value or "" if ch.isdigit())
    if digits.startswith("0084") and len(digits) == 13:
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) == 11:
        digits = "0" + digits[2:]
    return digits if (len(digits) == 10 and digits.startswith("0")) or len(digits) == 12 else ""


@dataclass(frozen=True)
class Dossier:
    """One dossier as the assistant sees it; personal fields never appear in repr()."""

    code: str
    procedure_code: str
    procedure_name: str
    status: Status
    status_label: str = ""
    sector: str = ""
    received_date: date | None = None
    appointment_date: date | None = None
    completed_date: date | None = None
    overdue: bool = False
    current_step: str = ""
    processing_unit: str = ""
    supplement_request: str = ""
    payment_amount: int | None = None
    payment_instructions: str = ""
    result_delivery: str = ""
    pickup_location: str = ""
    note: str = ""
    applicant_name: str = field(default="", repr=False)
    applicant_phone: str = field(default="", repr=False)
    applicant_id_number: str = field(default="", repr=False)

    def matches_second_factor(self, digits: str) -> bool:
        """True when ``digits`` are the last 4 digits of the applicant's phone or CCCD number."""
        if len(digits) != 4 or not digits.isdigit():
            return False
        phone_ok = hmac.compare_digest(last_digits(self.applicant_phone) or "\0\0\0\0", digits)
        id_ok = hmac.compare_digest(last_digits(self.applicant_id_number) or "\0\0\0\0", digits)
        return phone_ok or id_ok

    def matches_full_factor(self, number: str) -> bool:
        """True when ``number`` is the applicant's whole phone or 12-digit CCCD number (not guessable)."""
        given = full_number(number)
        if not given:
            return False
        phone_ok = hmac.compare_digest(full_number(self.applicant_phone) or "\0", given)
        id_ok = hmac.compare_digest(full_number(self.applicant_id_number) or "\0", given)
        return phone_ok or id_ok

    def is_overdue(self, today: date | None = None) -> bool:
        """Overdue flag from the system, or an active dossier past its appointment date."""
        if self.overdue:
            return self.status not in FINAL_STATUSES and self.status != Status.RESULT_READY
        if self.appointment_date is None or self.status not in ACTIVE_STATUSES:
            return False
        return self.appointment_date < (today or date.today())
