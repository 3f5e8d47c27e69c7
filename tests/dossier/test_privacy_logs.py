"""A whole conversation through the actions with DEBUG logging: no phone, CCCD or full name anywhere."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import (
    ActionCheckDossier,
    ActionSubscribeStatus,
    ActionUnsubscribeStatus,
    ValidateDossierForm,
)
from dossier.adapters.sqlite import SqliteOnestop
from dossier.notifier import Notifier
from dossier.services import DossierServices

from .conftest import DEMO_CODE, make_tracker, slot_sets


async def test_full_conversation_logs_no_personal_data(
    services: DossierServices, onestop: SqliteOnestop, domain: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    demo = onestop.get_sync(DEMO_CODE)
    assert demo is not None
    secrets = [demo.applicant_phone, demo.applicant_id_number, demo.applicant_name,
               "0912 346 789", demo.applicant_phone[-7:]]
    gw_pushes: list[Any] = []

    async def push(request: web.Request) -> web.Response:
        gw_pushes.append(await request.json())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/internal/push", push)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    dispatcher = CollectingDispatcher()
    sender = "zalo:987"
    try:
        form = ValidateDossierForm()
        # 1. code typed messily, then the user pastes the full phone number as the "4 digits"
        t = make_tracker("mã hồ sơ 000 00 20 h57 – 240101 – 0001", sender=sender,
                         slot_events={"dossier_code": "000 00 20 h57 – 240101 – 0001"}, requested_slot="dossier_code")
        assert slot_sets(await form.run(dispatcher, t, domain))["dossier_code"] == DEMO_CODE
        t = make_tracker("sdt 0912 346 789", sender=sender, slots={"dossier_code": DEMO_CODE},
                         slot_events={"verification_digits": "sdt 0912 346 789"},
                         requested_slot="verification_digits")
        assert slot_sets(await form.run(dispatcher, t, domain))["verification_digits"] == "0912346789"
        # 2. a wrong attempt, then the right one
        for digits in ("1111", "6789"):
            t = make_tracker(digits, sender=sender, slots={"dossier_code": DEMO_CODE, "verification_digits": digits})
            events = await ActionCheckDossier().run(dispatcher, t, domain)
        assert slot_sets(events)["last_dossier_code"] == DEMO_CODE
        # 3. subscribe, status changes, the notifier pushes, then unsubscribe
        t = make_tracker("báo cho tôi khi có kết quả", sender=sender, intent="subscribe_status",
                         slots={"last_dossier_code": DEMO_CODE})
        await ActionSubscribeStatus().run(dispatcher, t, domain)
        onestop.update(DEMO_CODE, status="RESULT_READY")
        notifier = Notifier(services.adapter, services.subscriptions, str(server.make_url("")).rstrip("/"),
                            "tok", services.hash)
        assert await notifier.run_once() == (1, 1)
        t = make_tracker("hủy theo dõi", sender=sender, intent="unsubscribe_status")
        await ActionUnsubscribeStatus().run(dispatcher, t, domain)
    finally:
        await server.close()

    assert len(gw_pushes) == 1
    assert any("lookup outcome=ok" in r.getMessage() for r in caplog.records)  # logging was really captured
    logged = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    replies = "\n".join(str(m) for m in dispatcher.messages) + str(gw_pushes)
    for secret in secrets:
        assert secret not in logged, f"leaked in logs: {secret!r}"
        assert secret not in replies, f"leaked in replies: {secret!r}"
    assert sender not in logged and DEMO_CODE not in logged
    assert "Nguyễn V*** A" in replies
