"""§7 of issue 11: malformed JSON, ids, the push token, the chat page's CSP, channels not configured."""

from __future__ import annotations

import json
import re
import stat
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from connectors_fakes import ZALO_APP_ID, ZALO_OA_KEY

from admin.config import AdminSettings
from admin.delivery import http_push
from common.messages import PUSH_SENDER_RE, BotMessage
from common.text import STRICT_DOSSIER_CODE_RE
from connectors.channels.telegram import SECRET_RE
from connectors.channels.web import WEB_SENDER_RE
from connectors.channels.zalo import USER_ID_RE, compute_signature
from dossier.settings import DossierSettings

SENDER = "web:abcdefgh1234"
NESTED = b"[" * 200_000 + b"]" * 200_000
NESTED_OBJECT = b'{"sender": "web:abcdefgh1234", "message": ' + b'{"a":' * 50_000 + b"1" + b"}" * 50_001


def push_token(data_dir: Path) -> str:
    """The push token generated under the data dir."""
    return (data_dir / "push_token").read_text(encoding="ascii").strip()


@pytest.mark.parametrize("raw", [NESTED, NESTED_OBJECT], ids=["array", "object"])
async def test_deeply_nested_json_is_a_400_everywhere(stack: Any, data_dir: Path, raw: bytes) -> None:
    headers = {"Content-Type": "application/json"}
    assert (await stack.client.post("/api/chat", data=raw, headers=headers)).status == 400
    auth = {**headers, "Authorization": f"Bearer {push_token(data_dir)}"}
    resp = await stack.client.post("/internal/push", data=raw, headers=auth)
    assert resp.status == 400 and (await resp.json())["error"] == "invalid_json"
    resp = await stack.client.post("/telegram/webhook", data=raw, headers={
        **headers, "X-Telegram-Bot-Api-Secret-Token": stack.settings.telegram_secret})
    assert resp.status == 400
    ts = str(int(time.time() * 1000))
    zalo_raw = b'{"timestamp": "' + ts.encode() + b'", "x": ' + raw + b"}"
    sig = "mac=" + compute_signature(ZALO_APP_ID, zalo_raw, ts, ZALO_OA_KEY)
    resp = await stack.client.post("/zalo/webhook", data=zalo_raw, headers={**headers, "X-ZEvent-Signature": sig})
    assert resp.status == 400
    assert stack.rasa.calls == []


@pytest.mark.parametrize("body", [
    {"sender": SENDER, "message": None},
    {"sender": SENDER},
    {"sender": None, "message": "xin chào"},
    None,
], ids=["null-message", "no-message", "null-sender", "null-body"])
async def test_null_message_is_a_400(stack: Any, body: Any) -> None:
    resp = await stack.client.post("/api/chat", data=json.dumps(body), headers={"Content-Type": "application/json"})
    assert resp.status == 400 and "error" in await resp.json()
    assert stack.rasa.calls == []


@pytest.mark.parametrize("pattern,valid", [
    (WEB_SENDER_RE, SENDER), (PUSH_SENDER_RE, SENDER), (PUSH_SENDER_RE, "tg:42"), (PUSH_SENDER_RE, "zalo:777"),
    (USER_ID_RE, "777"), (SECRET_RE, "tg_Secret-123"), (STRICT_DOSSIER_CODE_RE, "000.00.20.H57-240101-0001"),
])
def test_id_patterns_refuse_a_trailing_newline(pattern: re.Pattern[str], valid: str) -> None:
    assert pattern.match(valid)
    assert not pattern.match(valid + "\n")


async def test_sender_with_trailing_newline_is_refused(stack: Any, data_dir: Path) -> None:
    resp = await stack.client.post("/api/chat", json={"sender": SENDER + "\n", "message": "xin chào"})
    assert resp.status == 400
    resp = await stack.client.get("/api/chat/poll", params={"sender": SENDER + "\n"})
    assert resp.status == 400
    resp = await stack.client.post("/internal/push", json={"sender": "tg:42\n", "messages": [{"text": "x"}]},
                                   headers={"Authorization": f"Bearer {push_token(data_dir)}"})
    assert resp.status == 400
    assert stack.rasa.calls == []


async def test_push_needs_the_generated_token_even_from_loopback(stack: Any, data_dir: Path) -> None:
    body = {"sender": SENDER, "messages": [{"text": "Hồ sơ đã có kết quả."}]}
    assert (await stack.client.post("/internal/push", json=body)).status == 401
    token_file = data_dir / "push_token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert len(push_token(data_dir)) >= 32
    ok = await stack.client.post("/internal/push", json=body,
                                 headers={"Authorization": f"Bearer {push_token(data_dir)}"})
    assert ok.status == 202


async def test_admin_and_notifier_send_the_generated_token(aiohttp_server: Any, data_dir: Path) -> None:
    received: list[str] = []

    async def push(request: web.Request) -> web.Response:
        received.append(request.headers.get("Authorization", ""))
        return web.json_response({"queued": 1}, status=202)

    app = web.Application()
    app.router.add_post("/internal/push", push)
    server = await aiohttp_server(app)
    url = str(server.make_url("")).rstrip("/")
    admin = AdminSettings.from_env({"GATEWAY_URL": url, "TTHC_DATA_DIR": str(data_dir)})
    await http_push(admin)("tg:12345", [BotMessage(text="xin chào")])
    assert received == [f"Bearer {push_token(data_dir)}"]
    assert DossierSettings.from_env({"TTHC_DATA_DIR": str(data_dir)}).gateway_token == push_token(data_dir)


async def test_chat_page_sends_a_csp_with_frame_ancestors(stack: Any) -> None:
    resp = await stack.client.get("/")
    assert resp.status == 200
    csp = resp.headers.get("Content-Security-Policy", "")
    assert "frame-ancestors" in csp and "script-src 'self'" in csp and "default-src 'self'" in csp
    assert resp.headers.get("X-Content-Type-Options") == "nosniff"


@pytest.mark.parametrize("path", ["/telegram/webhook", "/zalo/webhook"])
async def test_webhooks_not_configured_say_so(aiohttp_server: Any, aiohttp_client: Any, data_dir: Path,
                                              path: str) -> None:
    from connectors_fakes import FakeRasa, base_url, make_settings

    from connectors.app import create_app

    rasa = await aiohttp_server(FakeRasa().app())
    settings = make_settings(data_dir, base_url(rasa), "http://127.0.0.1:9", "http://127.0.0.1:9",
                             telegram_token="", zalo_app_id="", zalo_oa_secret_key="")
    client = await aiohttp_client(create_app(settings))
    resp = await client.post(path, json={"update_id": 1})
    body = await resp.json()
    assert resp.status == 404 and body["error"] == "channel_not_enabled"
    assert path.split("/")[1] in body["message"]
