"""Notifier: one push per status change through a fake gateway on 127.0.0.1; retried while it is down."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from dossier.adapters.sqlite import SqliteOnestop
from dossier.notifier import Notifier, push_payload
from dossier.services import DossierServices
from dossier.subscriptions import SubscriptionStore

from .conftest import DEMO_CODE


class FakeGateway:
    """Records pushes; can be switched to fail."""

    def __init__(self) -> None:
        self.pushes: list[dict[str, Any]] = []
        self.auth: list[str] = []
        self.fail_with: int | None = None

    async def push(self, request: web.Request) -> web.Response:
        self.auth.append(request.headers.get("Authorization", ""))
        if self.fail_with:
            return web.Response(status=self.fail_with)
        self.pushes.append(await request.json())
        return web.json_response({"ok": True})


@pytest.fixture
async def gateway() -> Any:
    """A fake gateway on 127.0.0.1; yields (state, base url)."""
    state = FakeGateway()
    app = web.Application()
    app.router.add_post("/internal/push", state.push)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield state, str(server.make_url("")).rstrip("/")
    await server.close()


def make_notifier(services: DossierServices, url: str) -> Notifier:
    """Notifier over the test services."""
    return Notifier(services.adapter, services.subscriptions, url, "push-token", services.hash, timeout_s=2.0)


async def test_one_push_per_change_never_repeated(services: DossierServices, onestop: SqliteOnestop,
                                                  gateway: Any) -> None:
    state, url = gateway
    services.subscriptions.subscribe("tg:42", "telegram", DEMO_CODE, "PROCESSING")
    notifier = make_notifier(services, url)
    assert await notifier.run_once() == (0, 0)
    onestop.update(DEMO_CODE, status="RESULT_READY")
    assert await notifier.run_once() == (1, 1)
    assert await notifier.run_once() == (0, 0)
    assert await notifier.run_once() == (0, 0)
    assert len(state.pushes) == 1 and state.auth == ["Bearer push-token"]
    push = state.pushes[0]
    assert push["sender"] == "tg:42" and DEMO_CODE in push["messages"][0]["text"]
    assert "Đã có kết quả" in push["messages"][0]["text"] and "Nguyễn" not in push["messages"][0]["text"]
    assert push["messages"][0]["buttons"][0]["payload"] == f'/check_status{{"dossier_code": "{DEMO_CODE}"}}'
    onestop.update(DEMO_CODE, status="RESULT_RETURNED")
    assert await notifier.run_once() == (1, 1)
    assert services.subscriptions.all() == []  # final status ends the subscription
    assert await notifier.run_once() == (0, 0) and len(state.pushes) == 2


async def test_gateway_down_push_kept_and_delivered_later(services: DossierServices, onestop: SqliteOnestop,
                                                          gateway: Any) -> None:
    state, url = gateway
    services.subscriptions.subscribe("web:abc", "web", DEMO_CODE, "PROCESSING")
    down = make_notifier(services, "http://127.0.0.1:9")  # nothing listens there
    onestop.update(DEMO_CODE, status="NEED_SUPPLEMENT", supplement_request="Bản vẽ")
    assert await down.run_once() == (1, 0)
    assert await down.run_once() == (0, 0)
    assert len(services.subscriptions.pending()) == 1
    state.fail_with = 503
    up = make_notifier(services, url)
    assert await up.run_once() == (0, 0) and len(services.subscriptions.pending()) == 1
    state.fail_with = None
    assert await up.run_once() == (0, 1)
    assert await up.run_once() == (0, 0)
    assert len(state.pushes) == 1 and services.subscriptions.pending() == []
    assert "Cần bổ sung" in state.pushes[0]["messages"][0]["text"]


async def test_permanent_rejection_gives_up(services: DossierServices, onestop: SqliteOnestop,
                                            gateway: Any) -> None:
    state, url = gateway
    state.fail_with = 404
    services.subscriptions.subscribe("web:gone", "web", DEMO_CODE, "PROCESSING")
    onestop.update(DEMO_CODE, status="SUSPENDED")
    notifier = make_notifier(services, url)
    for _ in range(6):
        await notifier.run_once()
    assert services.subscriptions.pending() == [] and len(state.auth) == 5


async def test_two_subscribers_each_get_one(services: DossierServices, onestop: SqliteOnestop,
                                            gateway: Any) -> None:
    state, url = gateway
    services.subscriptions.subscribe("web:a", "web", DEMO_CODE, "PROCESSING")
    services.subscriptions.subscribe("zalo:b", "zalo", DEMO_CODE, "PROCESSING")
    onestop.update(DEMO_CODE, status="NEED_PAYMENT", payment_amount=75000)
    notifier = make_notifier(services, url)
    assert await notifier.run_once() == (2, 2)
    assert sorted(p["sender"] for p in state.pushes) == ["web:a", "zalo:b"]


def test_record_change_is_atomic_and_idempotent(services: DossierServices, onestop: SqliteOnestop) -> None:
    store: SubscriptionStore = services.subscriptions
    store.subscribe("web:a", "web", DEMO_CODE, "PROCESSING")
    sub = store.all()[0]
    dossier = onestop.get_sync(DEMO_CODE)
    assert dossier is not None
    payload = push_payload("web:a", dossier)
    assert store.record_change(sub, "RESULT_READY", payload) is True
    assert store.record_change(sub, "RESULT_READY", payload) is False  # stale view: no second push
    assert len(store.pending()) == 1
