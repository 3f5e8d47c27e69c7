"""action_check_dossier, subscribe and unsubscribe over trackers."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any

import pytest
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import (
    ActionCheckDossier,
    ActionSubscribeStatus,
    ActionUnsubscribeStatus,
)
from dossier.adapters.base import OnestopUnavailable
from dossier.adapters.sqlite import SqliteOnestop
from dossier.models import Dossier, Status
from dossier.services import DossierServices
from dossier.texts import dossier_reply

from .conftest import DEMO_CODE, make_tracker, slot_sets


async def check(code: str, digits: str, sender: str = "web:abc", **kw: Any) -> tuple[dict[str, Any], list[Any]]:
    """Run action_check_dossier after the form filled ``code`` and ``digits``."""
    tracker = make_tracker(digits, slots={"dossier_code": code, "verification_digits": digits}, sender=sender, **kw)
    dispatcher = CollectingDispatcher()
    events = await ActionCheckDossier().run(dispatcher, tracker, {})
    return slot_sets(events), dispatcher.messages


async def test_success_shows_status_masked(services: DossierServices) -> None:
    slots, messages = await check(DEMO_CODE, "6789")
    assert slots == {"dossier_code": None, "verification_digits": None, "last_dossier_code": DEMO_CODE}
    text = messages[0]["text"]
    assert "Đang được giải quyết" in text and "Ngày hẹn trả" in text and "01/01/2024" in text
    assert "Nguyễn V*** A" in text and "Nguyễn Văn An" not in text and "0912346789" not in text
    assert "/subscribe_status" in [b["payload"] for b in messages[0]["buttons"]]


async def test_cccd_digits_also_accepted(services: DossierServices, onestop: SqliteOnestop) -> None:
    demo = onestop.get_sync(DEMO_CODE)
    assert demo is not None
    slots, _ = await check(DEMO_CODE, demo.applicant_id_number[-4:])
    assert slots["last_dossier_code"] == DEMO_CODE


async def test_unknown_code_and_wrong_digits_look_identical(services: DossierServices) -> None:
    unknown_code = "000.00.20.H57-240101-0999"
    slots_a, msgs_a = await check(unknown_code, "6789", sender="web:a")
    slots_b, msgs_b = await check(DEMO_CODE, "1111", sender="web:b")
    assert "last_dossier_code" not in slots_a and "last_dossier_code" not in slots_b
    assert slots_a == slots_b == {"dossier_code": None, "verification_digits": None}
    text_a = msgs_a[0]["text"].replace(f"mã {unknown_code}", "mã X")
    assert text_a == msgs_b[0]["text"].replace(f"mã {DEMO_CODE}", "mã X")
    assert msgs_a[0]["buttons"] == msgs_b[0]["buttons"]
    assert {b["payload"] for b in msgs_a[0]["buttons"]} == {"/check_status", "/request_human"}
    assert "000.00.20.H57-240101-0001" in msgs_a[0]["text"].replace(unknown_code, "")
    assert "Cấp giấy phép" not in msgs_b[0]["text"] and "Nguyễn" not in msgs_b[0]["text"]


async def test_unavailable_adapter(services: DossierServices) -> None:
    class Down:
        async def get_dossier(self, code: str) -> Dossier | None:
            raise OnestopUnavailable("down")

        async def close(self) -> None:
            return None

    services.adapter = Down()
    slots, messages = await check(DEMO_CODE, "6789")
    assert "last_dossier_code" not in slots and "không phản hồi" in messages[0]["text"]
    assert services.limiter.check("web:abc").sender_remaining == 5


async def test_missing_slots_do_not_crash(services: DossierServices) -> None:
    tracker = make_tracker("", slots={})
    dispatcher = CollectingDispatcher()
    events = await ActionCheckDossier().run(dispatcher, tracker, {})
    assert slot_sets(events) == {"dossier_code": None, "verification_digits": None}
    assert dispatcher.messages


TODAY = date(2026, 3, 2)
BASE = Dossier(code=DEMO_CODE, procedure_code="1.001193", procedure_name="Thủ tục đăng ký khai sinh",
               status=Status.PROCESSING, received_date=date(2026, 2, 20), appointment_date=date(2026, 3, 5),
               processing_unit="UBND phường", pickup_location="Bộ phận Một cửa UBND phường",
               applicant_name="Trần Thị Bình", applicant_phone="0987654321", applicant_id_number="001190123456")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"status": Status.RECEIVED_PENDING}, ["chờ cán bộ"]),
        ({"status": Status.ACCEPTED}, ["tiếp nhận"]),
        ({"status": Status.REJECTED, "note": "Không thuộc thẩm quyền"}, ["Không thuộc thẩm quyền", "1900 1234"]),
        ({"status": Status.PROCESSING, "current_step": "Trình ký"}, ["Trình ký", "chưa cần làm gì"]),
        ({"status": Status.NEED_SUPPLEMENT, "supplement_request": "Giấy chứng sinh bản chính"},
         ["Giấy chứng sinh bản chính", "Cổng Dịch vụ công", "Bộ phận Một cửa UBND phường"]),
        ({"status": Status.NEED_PAYMENT, "payment_amount": 135000}, ["135.000 đồng", "Thanh toán trực tuyến"]),
        ({"status": Status.WITHDRAWN}, ["rút"]),
        ({"status": Status.CANCELLED}, ["hủy"]),
        ({"status": Status.SUSPENDED, "note": "Chờ xác minh"}, ["Chờ xác minh", "tạm dừng"]),
        ({"status": Status.RESULT_READY}, ["Bộ phận Một cửa UBND phường", "giấy biên nhận", "thứ Hai"]),
        ({"status": Status.RESULT_READY, "result_delivery": "post"}, ["bưu điện"]),
        ({"status": Status.RESULT_RETURNED, "completed_date": date(2026, 3, 1)}, ["01/03/2026", "hoàn tất"]),
        ({"status": Status.UNKNOWN, "status_label": "Chờ ký số"}, ["Chờ ký số"]),
        ({"status": Status.PROCESSING, "appointment_date": date(2026, 2, 25)}, ["xin lỗi", "25/02/2026"]),
        ({"status": Status.ACCEPTED, "overdue": True}, ["xin lỗi", "dự kiến mới (ước tính): 09/03/2026"]),
        ({"status": Status.SUSPENDED, "overdue": True}, ["xin lỗi", "hẹn lại ngày trả"]),
    ],
)
def test_reply_for_every_status(changes: dict[str, Any], expected: list[str]) -> None:
    text = dossier_reply(replace(BASE, **changes), "1900 1234", today=TODAY)
    for needle in expected:
        assert needle.lower() in text.lower(), needle
    assert "Trần T*** B" in text and "0987654321" not in text and "001190123456" not in text
    assert "Thủ tục đăng ký khai sinh" in text and "20/02/2026" in text
    if changes.get("appointment_date") is None and not changes.get("overdue"):
        assert "xin lỗi" not in text.lower()


def test_final_status_never_overdue() -> None:
    d = replace(BASE, status=Status.RESULT_RETURNED, appointment_date=date(2026, 1, 1), overdue=True)
    assert not d.is_overdue(TODAY)


def subscribe_tracker(sender: str = "web:abc", last: str | None = DEMO_CODE, channel: str = "web") -> Tracker:
    """Tracker for 'báo cho tôi khi có kết quả'."""
    return make_tracker("báo cho tôi khi có kết quả", sender=sender, intent="subscribe_status",
                        slots={"last_dossier_code": last}, metadata={"channel": channel})


async def test_subscribe_and_unsubscribe(services: DossierServices) -> None:
    await check(DEMO_CODE, "6789")  # the verified lookup the subscription builds on
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(), {})
    subs = services.subscriptions.all()
    assert [(s.sender, s.code, s.channel, s.last_status) for s in subs] == [
        ("web:abc", DEMO_CODE, "web", "PROCESSING")]
    assert DEMO_CODE in dispatcher.messages[0]["text"]
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(), {})
    assert len(services.subscriptions.all()) == 1 and "rồi" in dispatcher.messages[1]["text"]

    unsub = make_tracker("hủy theo dõi", intent="unsubscribe_status")
    events = await ActionUnsubscribeStatus().run(dispatcher, unsub, {})
    assert services.subscriptions.all() == [] and slot_sets(events) == {"dossier_code": None}
    assert "dừng" in dispatcher.messages[2]["text"]
    await ActionUnsubscribeStatus().run(dispatcher, unsub, {})
    assert "không theo dõi" in dispatcher.messages[3]["text"]


async def test_unsubscribe_one_code_by_entity(services: DossierServices) -> None:
    other = "000.00.20.H57-240101-0002"
    services.subscriptions.subscribe("tg:1", "telegram", DEMO_CODE, "PROCESSING")
    services.subscriptions.subscribe("tg:1", "telegram", other, "PROCESSING")
    tracker = make_tracker("/unsubscribe_status", sender="tg:1", intent="unsubscribe_status",
                           entities=[{"entity": "dossier_code", "value": other}])
    await ActionUnsubscribeStatus().run(CollectingDispatcher(), tracker, {})
    assert [s.code for s in services.subscriptions.all()] == [DEMO_CODE]


async def test_subscribe_needs_verified_lookup(services: DossierServices) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(last=None), {})
    assert services.subscriptions.all() == []
    assert dispatcher.messages[0]["buttons"][0]["payload"] == "/check_status"


async def test_subscribe_refused_on_voice(services: DossierServices) -> None:
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(sender="call:1", channel="voice"), {})
    assert services.subscriptions.all() == []


async def test_subscribe_final_status_refused(services: DossierServices, onestop: SqliteOnestop) -> None:
    await check(DEMO_CODE, "6789")
    onestop.update(DEMO_CODE, status="RESULT_RETURNED")
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(), {})
    assert services.subscriptions.all() == [] and "trạng thái cuối" in dispatcher.messages[0]["text"]


async def test_broken_configuration_apologises_instead_of_crashing(monkeypatch: pytest.MonkeyPatch) -> None:
    from bot.actions import dossier as mod

    def boom() -> DossierServices:
        raise ValueError("ONESTOP_URL must be an http(s) URL")

    monkeypatch.setattr(mod, "get_services", boom)
    for action, tracker in (
        (ActionCheckDossier(), make_tracker("6789", slots={"dossier_code": DEMO_CODE, "verification_digits": "6789"})),
        (ActionSubscribeStatus(), subscribe_tracker()),
        (ActionUnsubscribeStatus(), make_tracker("hủy theo dõi", intent="unsubscribe_status")),
    ):
        dispatcher = CollectingDispatcher()
        await action.run(dispatcher, tracker, {})
        assert "gián đoạn" in dispatcher.messages[0]["text"]


async def test_subscription_cap(services: DossierServices) -> None:
    from bot.actions.dossier import MAX_SUBSCRIPTIONS_PER_SENDER

    for i in range(MAX_SUBSCRIPTIONS_PER_SENDER):
        services.subscriptions.subscribe("web:abc", "web", f"000.00.20.H57-240101-{i + 100:04d}", "PROCESSING")
    await check(DEMO_CODE, "6789")
    dispatcher = CollectingDispatcher()
    await ActionSubscribeStatus().run(dispatcher, subscribe_tracker(), {})
    assert len(services.subscriptions.for_sender("web:abc")) == MAX_SUBSCRIPTIONS_PER_SENDER
    assert "tối đa" in dispatcher.messages[0]["text"]
