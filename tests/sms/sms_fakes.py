# mypy: allow-untyped-defs
"""A fake Rasa for the SMS tests that runs the project's real dossier form and check action on HS payloads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.dossier import ActionCheckDossier, ValidateDossierForm
from connectors.config import GatewaySettings

from kannel_harness import PASSWORD, SECRET, SHORT_CODE, USER  # isort: skip

ANSWER = (
    "Dạ, để làm giấy khai sinh (thủ tục 1.001193), anh/chị cần tờ khai đăng ký khai sinh theo mẫu và giấy "
    "chứng sinh do bệnh viện cấp. Anh/chị nộp tại UBND cấp xã nơi cư trú của cha hoặc mẹ. Lệ phí: miễn phí "
    "nếu đăng ký đúng hạn. Thời hạn giải quyết: ngay trong ngày làm việc."
)
HASH_KEY = "sms-test-key"
ASK_DIGITS = "Anh/chị cho em xin 4 số cuối số điện thoại hoặc CCCD của người nộp hồ sơ ạ."


def tracker_for(sender: str, text: str, metadata: dict[str, Any], slots: dict[str, Any]) -> Tracker:
    """A tracker whose latest message is a check_status payload carrying ``metadata``."""
    code = slots.get("dossier_code")
    latest = {"text": text, "intent": {"name": "check_status", "confidence": 1.0},
              "entities": [{"entity": "dossier_code", "value": code}] if code else [], "metadata": metadata}
    all_slots = {"dossier_code": None, "verification_digits": None, "last_dossier_code": None,
                 "requested_slot": None, **slots}
    return Tracker.from_dict({
        "sender_id": sender, "slots": all_slots, "latest_message": latest,
        "events": [{"event": "user", "text": text, "parse_data": latest}],
        "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


class SmsRasa:
    """Rasa's REST webhook: HS payloads go through the real validate_dossier_form + action_check_dossier."""

    def __init__(self, domain: dict[str, Any]) -> None:
        self.domain = domain
        self.calls: list[dict[str, Any]] = []
        self.down = False
        self.delay = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/", self.root)
        return app

    async def root(self, request: web.Request) -> web.Response:
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def webhook(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=500)
        body = await request.json()
        await asyncio.sleep(self.delay)
        self.calls.append(body)
        sender, text, metadata = body["sender"], body["message"], body.get("metadata", {})
        if text.startswith("/check_status{"):
            return web.json_response(await self.check_status(sender, text, metadata))
        if text == "/unsubscribe_status":
            return web.json_response([{"text": "Dạ, em đã dừng gửi thông báo hồ sơ cho anh/chị."}])
        return web.json_response([{"text": ANSWER, "buttons": [
            {"title": "Lệ phí", "payload": '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}'},
            {"title": "Gặp tổng đài viên", "payload": "/request_human"}]}])

    async def check_status(self, sender: str, text: str, metadata: dict[str, Any]) -> list[dict[str, Any]]:
        """Run the real form validation, then the real check action when both slots are filled."""
        code = json.loads(text[len("/check_status"):])["dossier_code"]
        dispatcher = CollectingDispatcher()
        events = await ValidateDossierForm().run(dispatcher, tracker_for(sender, text, metadata,
                                                                          {"dossier_code": code}), self.domain)
        slots = {e["name"]: e["value"] for e in events if e.get("event") == "slot"}
        if not slots.get("verification_digits"):
            return [{"text": ASK_DIGITS}]
        slots.setdefault("dossier_code", code)
        await ActionCheckDossier().run(dispatcher, tracker_for(sender, text, metadata, slots), self.domain)
        await asyncio.sleep(0)
        return [{"text": m.get("text") or "", "buttons": m.get("buttons") or []} for m in dispatcher.messages]

    def texts(self) -> list[str]:
        return [c["message"] for c in self.calls]


def sms_settings(tmp: Path, rasa_url: str, **over: Any) -> GatewaySettings:
    """Gateway settings with only the SMS channel enabled."""
    values: dict[str, Any] = dict(
        rasa_url=rasa_url, rasa_timeout=5.0, data_dir=tmp, hash_key=HASH_KEY, sms_secret=SECRET,
        sms_sendsms_user=USER, sms_sendsms_password=PASSWORD, sms_from=SHORT_CODE,
        outbox_retry_base_s=0.05,
    )
    values.update(over)
    return GatewaySettings(**values)
