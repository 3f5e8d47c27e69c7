"""HTTP one-stop adapter against a fake provincial system on 127.0.0.1."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dossier.adapters import make_adapter
from dossier.adapters.base import OnestopUnavailable
from dossier.adapters.http import CircuitBreaker, HttpOnestop, parse_date
from dossier.models import Status
from dossier.settings import DossierSettings

from .conftest import DEMO_CODE

IGATE = {
    "dossierNo": DEMO_CODE, "procedureName": "Thủ tục đăng ký khai sinh", "procedureCode": "1.001193",
    "sectorName": "Hộ tịch", "dossierStatusName": "Chờ bổ sung hồ sơ", "acceptedDate": "01/01/2024",
    "appointmentDate": "05/01/2024", "lastModifiedDate": "03/01/2024 10:15:00", "overDueByUser": True,
    "supplementRequest": "Giấy chứng sinh bản chính", "applicantName": "Nguyễn Văn An",
    "applicantPhone": "0912346789", "applicantIdNo": "001085012345",
}


class FakeOnestop:
    """Scripted fake one-stop server: each request pops the next behaviour."""

    def __init__(self) -> None:
        self.script: list[Any] = []
        self.default: Any = ("json", IGATE)
        self.requests: list[dict[str, str]] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append({"path": request.path, "auth": request.headers.get("Authorization", "")})
        kind, value = self.script.pop(0) if self.script else self.default
        if kind == "json":
            return web.json_response(value)
        if kind == "status":
            return web.Response(status=value, text="error")
        if kind == "raw":
            return web.Response(text=value, content_type="application/json")
        if kind == "sleep":
            await asyncio.sleep(value)
            return web.json_response(IGATE)
        raise AssertionError(kind)


@pytest.fixture
async def fake() -> Any:
    """Start the fake server on 127.0.0.1; yield (fake, base_url)."""
    state = FakeOnestop()
    app = web.Application()
    app.router.add_get("/api/dossiers/{code}", state.handle)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("/api"))
    await server.close()


def adapter(url: str, **kw: Any) -> HttpOnestop:
    """Adapter with fast retries for tests."""
    kw.setdefault("timeout_s", 2.0)
    kw.setdefault("backoff_s", 0.01)
    return HttpOnestop(url, "secret-token", **kw)


async def test_igate_payload_mapped_and_auth_sent(fake: Any) -> None:
    state, url = fake
    client = adapter(url)
    try:
        d = await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert d is not None
    assert d.status is Status.NEED_SUPPLEMENT and d.status_label == "Chờ bổ sung hồ sơ"
    assert d.received_date == date(2024, 1, 1) and d.appointment_date == date(2024, 1, 5)
    assert d.overdue is True and d.supplement_request == "Giấy chứng sinh bản chính"
    assert d.matches_second_factor("6789") and d.matches_second_factor("2345")
    assert state.requests[0]["auth"] == "Bearer secret-token"
    assert state.requests[0]["path"] == f"/api/dossiers/{DEMO_CODE}"


async def test_national_and_opencps_payloads(fake: Any) -> None:
    state, url = fake
    state.script = [
        ("json", {"data": {"MaHoSo": DEMO_CODE, "TenTTHC": "Đăng ký kết hôn", "TrangThaiHoSo": 9,
                           "NgayTiepNhan": "2024-01-01", "NgayHenTra": "2024-01-04T17:00:00Z",
                           "applicant": {"name": "Lê Thị Hoa", "phone": "0988001234", "id_number": ""},
                           "HinhThucTraKetQua": "Bưu điện"}}),
        ("json", {"code": DEMO_CODE, "procedure_name": "Đăng ký thường trú", "status": "paying",
                  "payment": {"amount": "20.000", "instructions": "Nộp qua Cổng Dịch vụ công"},
                  "current_step": "Thu phí", "processing_unit": "Công an phường"}),
    ]
    client = adapter(url)
    try:
        national = await client.get_dossier(DEMO_CODE)
        opencps = await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert national is not None and national.status is Status.RESULT_READY
    assert national.appointment_date == date(2024, 1, 4) and national.result_delivery == "post"
    assert national.matches_second_factor("1234")
    assert opencps is not None and opencps.status is Status.NEED_PAYMENT and opencps.payment_amount == 20000
    assert opencps.current_step == "Thu phí" and opencps.processing_unit == "Công an phường"


async def test_unknown_status_kept_as_label(fake: Any) -> None:
    state, url = fake
    state.default = ("json", {**IGATE, "dossierStatusName": "Chờ lãnh đạo ký số"})
    client = adapter(url)
    try:
        d = await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert d is not None and d.status is Status.UNKNOWN and d.status_label == "Chờ lãnh đạo ký số"


async def test_404_is_none_and_not_retried(fake: Any) -> None:
    state, url = fake
    state.default = ("status", 404)
    client = adapter(url)
    try:
        assert await client.get_dossier(DEMO_CODE) is None
    finally:
        await client.close()
    assert len(state.requests) == 1


async def test_500_retried_then_ok(fake: Any) -> None:
    state, url = fake
    state.script = [("status", 500), ("status", 503)]
    client = adapter(url, retries=2)
    try:
        d = await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert d is not None and len(state.requests) == 3


async def test_persistent_500_unavailable(fake: Any) -> None:
    state, url = fake
    state.default = ("status", 500)
    client = adapter(url, retries=2)
    try:
        with pytest.raises(OnestopUnavailable):
            await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert len(state.requests) == 3


async def test_timeout_unavailable(fake: Any) -> None:
    state, url = fake
    state.default = ("sleep", 1.0)
    client = adapter(url, timeout_s=0.1, retries=1)
    try:
        with pytest.raises(OnestopUnavailable):
            await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert len(state.requests) == 2


@pytest.mark.parametrize("body", ["{not json", "[1, 2", '"just a string"', "42",
                                  '{"dossierNo": "000.00.20.H57-240101-0002", "status": 4}'])
async def test_malformed_payload_unavailable(fake: Any, body: str) -> None:
    state, url = fake
    state.default = ("raw", body)
    client = adapter(url)
    try:
        with pytest.raises(OnestopUnavailable):
            await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()


async def test_auth_failure_unavailable_without_retry(fake: Any) -> None:
    state, url = fake
    state.default = ("status", 401)
    client = adapter(url)
    try:
        with pytest.raises(OnestopUnavailable):
            await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()
    assert len(state.requests) == 1


async def test_circuit_breaker_opens_and_recovers(fake: Any) -> None:
    state, url = fake
    state.default = ("status", 500)
    now = [0.0]
    breaker = CircuitBreaker(failures=2, reset_s=30.0, clock=lambda: now[0])
    client = adapter(url, retries=0, breaker=breaker)
    try:
        for _ in range(2):
            with pytest.raises(OnestopUnavailable):
                await client.get_dossier(DEMO_CODE)
        assert breaker.state == "open"
        with pytest.raises(OnestopUnavailable, match="circuit open"):
            await client.get_dossier(DEMO_CODE)
        assert len(state.requests) == 2
        now[0] = 31.0
        assert breaker.state == "half-open"
        state.default = ("json", IGATE)
        assert await client.get_dossier(DEMO_CODE) is not None
        assert breaker.state == "closed"
    finally:
        await client.close()


async def test_connection_refused_unavailable() -> None:
    client = adapter("http://127.0.0.1:9", retries=1)
    try:
        with pytest.raises(OnestopUnavailable):
            await client.get_dossier(DEMO_CODE)
    finally:
        await client.close()


def test_make_adapter_http(tmp_path: Any) -> None:
    settings = DossierSettings(
        data_dir=tmp_path, backend="http", onestop_url="http://127.0.0.1:1/api", onestop_token="t"
    )
    assert isinstance(make_adapter(settings), HttpOnestop)
    with pytest.raises(ValueError):
        make_adapter(DossierSettings(data_dir=tmp_path, backend="http", onestop_url=""))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("01/02/2024", date(2024, 2, 1)), ("01/02/2024 08:30:00", date(2024, 2, 1)), ("2024-02-01", date(2024, 2, 1)),
     ("2024-02-01T08:00:00+07:00", date(2024, 2, 1)), ("", None), ("tomorrow", None), (None, None)],
)
def test_parse_date(raw: Any, expected: date | None) -> None:
    assert parse_date(raw) == expected
