"""HTTP adapter for a real provincial one-stop system (iGate, OpenCPS or a national-code bridge).

Request: ``GET {ONESTOP_URL}/dossiers/{code}`` with ``Authorization: Bearer {ONESTOP_TOKEN}`` and
``Accept: application/json``; ``code`` is the canonical Thông tư 01/2018 code, URL-encoded.

Responses: 404 (or 400/422, a code the system refuses) means "no such dossier". 200 carries one JSON
object (or ``{"data": {...}}``); every field has aliases so iGate, OpenCPS and national-portal exports
map without a translation layer::

    {
      "code": "000.00.20.H57-240101-0001",        # aliases: dossierNo, dossierCode, MaHoSo
      "procedure_code": "1.001193",               # procedureCode, MaTTHC
      "procedure_name": "Đăng ký khai sinh",      # procedureName, TenTTHC
      "sector_name": "Hộ tịch",                   # sectorName, TenLinhVuc
      "status": 4,                                # national code 1–10, or a label: "Đang xử lý" (iGate
                                                  # dossierStatusName), "processing" (OpenCPS), or a
                                                  # canonical name; aliases dossierStatusName,
                                                  # dossierStatus, TrangThaiHoSo
      "received_date": "01/01/2024",              # dd/mm/yyyy or ISO; acceptedDate, NgayTiepNhan
      "appointment_date": "10/01/2024",           # appointmentDate, NgayHenTra
      "completed_date": null,                     # finishDate, NgayTra
      "overdue": false,                           # overDueByUser, QuaHan (a flag, not a status)
      "current_step": "Thẩm định",                # currentStep, BuocXuLy
      "processing_unit": "Phòng Tư pháp",         # processingUnit, DonViXuLy
      "supplement_request": "Bản sao ...",        # supplementRequest, NoiDungYeuCauBoSung
      "payment": {"amount": 200000, "instructions": "..."},   # or paymentAmount / paymentInstructions
      "result_delivery": "post" | "counter",      # resultDelivery, HinhThucTraKetQua
      "pickup_location": "...",                   # pickupLocation, NoiTraKetQua
      "note": "...",                              # reason for rejection / suspension
      "applicant": {"name": "...", "phone": "...", "id_number": "..."}
                                                  # or applicantName, applicantPhone, applicantIdNo
    }

Unknown statuses become ``UNKNOWN`` (the raw label is kept for the reply). Timeouts, connection
errors, 429 and 5xx are retried with exponential backoff; after ``breaker_failures`` failed calls in a
row the circuit opens for ``breaker_reset_s`` and calls fail fast with OnestopUnavailable.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from common.text import STRICT_DOSSIER_CODE_RE, normalize_dossier_code
from dossier.adapters.base import OnestopUnavailable
from dossier.models import Dossier, Status
from dossier.status_map import map_status

log = logging.getLogger(__name__)

ALIASES: dict[str, tuple[str, ...]] = {
    "code": ("code", "dossierNo", "dossierCode", "MaHoSo"),
    "procedure_code": ("procedure_code", "procedureCode", "MaTTHC"),
    "procedure_name": ("procedure_name", "procedureName", "TenTTHC"),
    "sector": ("sector_name", "sectorName", "sector", "TenLinhVuc"),
    "status": ("status", "dossierStatus", "dossierStatusName", "TrangThaiHoSo", "statusCode"),
    "received_date": ("received_date", "acceptedDate", "receivedDate", "NgayTiepNhan"),
    "appointment_date": ("appointment_date", "appointmentDate", "NgayHenTra"),
    "completed_date": ("completed_date", "finishDate", "completedDate", "NgayTra"),
    "overdue": ("overdue", "overDueByUser", "isOverdue", "QuaHan"),
    "current_step": ("current_step", "currentStep", "BuocXuLy"),
    "processing_unit": ("processing_unit", "processingUnit", "DonViXuLy"),
    "supplement_request": ("supplement_request", "supplementRequest", "NoiDungYeuCauBoSung"),
    "payment_amount": ("paymentAmount", "payment_amount"),
    "payment_instructions": ("paymentInstructions", "payment_instructions"),
    "result_delivery": ("result_delivery", "resultDelivery", "HinhThucTraKetQua"),
    "pickup_location": ("pickup_location", "pickupLocation", "NoiTraKetQua"),
    "note": ("note", "reason", "GhiChu"),
    "applicant_name": ("applicantName", "applicant_name", "ChuHoSo"),
    "applicant_phone": ("applicantPhone", "applicant_phone", "SoDienThoai"),
    "applicant_id_number": ("applicantIdNo", "applicant_id_number", "SoGiayTo"),
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


def _pick(data: dict[str, Any], field: str) -> Any:
    """First non-empty value among a field's aliases."""
    for key in ALIASES[field]:
        value = data.get(key)
        if value not in (None, ""):
            return value
    return None


def _text(value: Any) -> str:
    """Coerce a scalar to a stripped string ('' for None or containers)."""
    return str(value).strip() if isinstance(value, str | int | float) and not isinstance(value, bool) else ""


def parse_date(value: Any) -> date | None:
    """Parse dd/mm/yyyy (optionally with a time), ISO dates/datetimes or epoch milliseconds."""
    if value in (None, ""):
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value / 1000).date()
        except (OverflowError, OSError, ValueError):
            return None
    text = _text(value)
    for fmt in ("%d/%m/%Y", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d-%m-%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            pass
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        return None


def _flag(value: Any) -> bool:
    """Interpret true/1/"true"/"có" as True."""
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "có", "co", "x")
    return bool(value)


def _amount(value: Any) -> int | None:
    """Parse a VND amount given as a number or a string like '200.000'."""
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        return int(value)
    digits = "".join(ch for ch in str(value) if ch.isdigit())
    return int(digits) if digits else None


def parse_dossier(payload: Any, requested_code: str) -> Dossier | None:
    """Map a one-stop JSON payload onto a Dossier; None when it is empty, raise ValueError when malformed."""
    if isinstance(payload, dict) and isinstance(payload.get("data"), dict | list):
        payload = payload["data"]
    if isinstance(payload, list):
        payload = payload[0] if payload else None
    if payload is None:
        return None
    if not isinstance(payload, dict):
        raise ValueError("dossier payload is not an object")
    code = normalize_dossier_code(_text(_pick(payload, "code"))) or requested_code
    if code != requested_code or not STRICT_DOSSIER_CODE_RE.match(code):
        raise ValueError("payload is for another dossier")
    raw_status = _pick(payload, "status")
    status = map_status(raw_status)
    applicant: dict[str, Any] = payload["applicant"] if isinstance(payload.get("applicant"), dict) else {}
    payment: dict[str, Any] = payload["payment"] if isinstance(payload.get("payment"), dict) else {}
    delivery = _text(_pick(payload, "result_delivery")).lower()
    return Dossier(
        code=code,
        procedure_code=_text(_pick(payload, "procedure_code")),
        procedure_name=_text(_pick(payload, "procedure_name")) or "(chưa rõ thủ tục)",
        sector=_text(_pick(payload, "sector")),
        status=status,
        status_label=_text(raw_status),
        received_date=parse_date(_pick(payload, "received_date")),
        appointment_date=parse_date(_pick(payload, "appointment_date")),
        completed_date=parse_date(_pick(payload, "completed_date")),
        overdue=_flag(_pick(payload, "overdue")),
        current_step=_text(_pick(payload, "current_step")),
        processing_unit=_text(_pick(payload, "processing_unit")),
        supplement_request=_text(_pick(payload, "supplement_request")),
        payment_amount=_amount(payment.get("amount") if payment else _pick(payload, "payment_amount")),
        payment_instructions=_text(payment.get("instructions") if payment
                                   else _pick(payload, "payment_instructions")),
        result_delivery="post" if delivery in ("post", "buu dien", "bưu điện", "bưu chính", "postal") else delivery,
        pickup_location=_text(_pick(payload, "pickup_location")),
        note=_text(_pick(payload, "note")),
        applicant_name=_text(applicant.get("name")) or _text(_pick(payload, "applicant_name")),
        applicant_phone=_text(applicant.get("phone")) or _text(_pick(payload, "applicant_phone")),
        applicant_id_number=_text(applicant.get("id_number")) or _text(_pick(payload, "applicant_id_number")),
    )


class CircuitBreaker:
    """Open after N consecutive failures; let one trial call through after the reset period."""

    def __init__(self, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        """Configure thresholds; ``clock`` is injectable for tests."""
        self.threshold = max(1, failures)
        self.reset_s = reset_s
        self.clock = clock
        self.failures = 0
        self.opened_at: float | None = None

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open'."""
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.reset_s else "open"

    def allow(self) -> bool:
        """True when a call may be attempted."""
        return self.state != "open"

    def success(self) -> None:
        """Record a successful call: close the circuit."""
        self.failures = 0
        self.opened_at = None

    def failure(self) -> None:
        """Record a failed call; (re)open the circuit at the threshold or after a failed trial."""
        self.failures += 1
        if self.failures >= self.threshold or self.opened_at is not None:
            self.opened_at = self.clock()


class HttpOnestop:
    """One-stop adapter over HTTP with timeouts, retries (exponential backoff) and a circuit breaker."""

    def __init__(
        self,
        base_url: str,
        token: str = "",
        timeout_s: float = 5.0,
        retries: int = 2,
        backoff_s: float = 0.3,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        """Configure the client; the aiohttp session is created lazily inside the running loop."""
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("ONESTOP_URL must be an http(s) URL")
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout_s)
        self.retries = max(0, retries)
        self.backoff_s = backoff_s
        self.breaker = breaker or CircuitBreaker(5, 30.0)
        self._session: aiohttp.ClientSession | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        """Return a session bound to the current event loop."""
        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._loop is not loop:
            headers = {"Accept": "application/json", "User-Agent": "tro-ly-tthc/0.1"}
            if self.token:
                headers["Authorization"] = f"Bearer {self.token}"
            self._session = aiohttp.ClientSession(timeout=self.timeout, headers=headers)
            self._loop = loop
        return self._session

    async def close(self) -> None:
        """Close the HTTP session."""
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None

    async def get_dossier(self, code: str) -> Dossier | None:
        """Fetch and map one dossier; None on 404; OnestopUnavailable on any failure."""
        if not self.breaker.allow():
            raise OnestopUnavailable("circuit open")
        try:
            result = await self._fetch(code)
        except OnestopUnavailable:
            self.breaker.failure()
            raise
        self.breaker.success()
        return result

    async def _fetch(self, code: str) -> Dossier | None:
        """Do the request with retries; map the payload."""
        url = f"{self.base_url}/dossiers/{quote(code, safe='')}"
        last_error = "no attempt"
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_s * 2 ** (attempt - 1)
                await asyncio.sleep(delay + random.uniform(0, delay / 4))
            try:
                async with self._get_session().get(url) as resp:
                    if resp.status in (400, 404, 422):
                        return None
                    if resp.status in RETRY_STATUSES:
                        last_error = f"HTTP {resp.status}"
                        continue
                    if resp.status in (401, 403):
                        log.error("one-stop rejected our credentials (HTTP %s)", resp.status)
                        raise OnestopUnavailable(f"HTTP {resp.status}")
                    if resp.status != 200:
                        raise OnestopUnavailable(f"HTTP {resp.status}")
                    body = await resp.read()
            except (TimeoutError, aiohttp.ClientError) as exc:
                last_error = type(exc).__name__
                continue
            try:
                return parse_dossier(json.loads(body), code)
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                log.warning("one-stop returned a malformed dossier payload: %s", type(exc).__name__)
                raise OnestopUnavailable("malformed payload") from exc
        log.warning("one-stop unavailable after %d attempts: %s", self.retries + 1, last_error)
        raise OnestopUnavailable(last_error)


__all__ = ["CircuitBreaker", "HttpOnestop", "Status", "parse_date", "parse_dossier"]
