# mypy: allow-untyped-defs
"""Fakes and helpers for the connectors tests: Rasa REST, Telegram Bot API, Zalo OpenAPI + OAuth (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from connectors.app import create_app
from connectors.channels.zalo import compute_signature
from connectors.config import GatewaySettings

TG_TOKEN = "123456:TEST-token"
TG_SECRET = "tg_Secret-123"
ZALO_APP_ID = "1234567890"
ZALO_APP_SECRET = "app-secret"
ZALO_OA_KEY = "oa-secret-key"


class FakeRasa:
    """Rasa REST channel: echoes with a button; ``slow:`` messages wait; ``down`` answers 500."""

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.events: dict[str, list[dict[str, Any]]] = {}  # each conversation's tracker events
        self.down = False
        self.delay = 0.0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/", self.root)
        app.router.add_get("/conversations/{sender}/tracker", self.tracker)
        return app

    async def tracker(self, request: web.Request) -> web.Response:
        return web.json_response({"events": self.events.get(request.match_info["sender"], [])})

    async def root(self, request: web.Request) -> web.Response:
        if self.down:
            return web.Response(status=503)
        return web.Response(text="Hello from Rasa: 3.6.21")

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        if self.down:
            return web.Response(status=500, text="boom")
        message = body["message"]
        if self.delay:
            await asyncio.sleep(self.delay)
        if message.startswith("slow:"):
            await asyncio.sleep(0.3)
        self.calls.append(body)
        answer = self.answer(body, message)
        self.events.setdefault(body["sender"], []).extend(
            [{"event": "user", "text": message, "metadata": body.get("metadata") or {}}]
            + [{"event": "bot", "text": a["text"], "data": {"buttons": a.get("buttons")}} for a in answer])
        return web.json_response(answer)

    def answer(self, body: dict[str, Any], message: str) -> list[dict[str, Any]]:
        sender = body["sender"]
        if message == "/greet":
            return [{"recipient_id": sender, "text": "Xin chào anh/chị!",
                     "buttons": [{"title": "Hỏi thủ tục", "payload": "/ask_procedure"},
                                 {"title": "Tra cứu hồ sơ", "payload": "/check_status"}]}]
        if message.startswith("/ask_procedure"):
            return [{"recipient_id": sender, "text": "Anh/chị muốn hỏi thủ tục nào?"}]
        if message == "long":
            text = "\n\n".join(f"Đoạn {i}: " + "thủ tục hành chính " * 40 for i in range(12))
            return [{"recipient_id": sender, "text": text}]
        return [{"recipient_id": sender, "text": f"Bạn nói: {message}",
                 "buttons": [{"title": "Hỏi thủ tục", "payload": '/ask_procedure{"procedure_code":"1.001193"}'}]}]

    def texts(self) -> list[str]:
        return [c["message"] for c in self.calls]


class FakeTelegram:
    """Telegram Bot API at /bot<token>/<method>; records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_sends = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.method)
        return app

    async def method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != TG_TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        name = request.match_info["method"]
        if request.content_type == "application/json":
            data = await request.json()
        else:
            data = {k: v for k, v in (await request.post()).items() if isinstance(v, str)}
        if name in ("sendMessage", "sendPhoto") and self.fail_sends > 0:
            self.fail_sends -= 1
            return web.json_response({"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502)
        self.calls.append((name, data))
        if name == "getMe":
            result: Any = {"id": 1, "is_bot": True, "first_name": "TTHC", "username": "tthc_test_bot"}
        elif name in ("sendMessage", "sendPhoto"):
            result = {"message_id": len(self.calls), "date": int(time.time()),
                      "chat": {"id": int(data["chat_id"]), "type": "private"}, "text": data.get("text", "")}
        else:
            result = True
        return web.json_response({"ok": True, "result": result})

    def sent(self) -> list[dict[str, Any]]:
        return [d for n, d in self.calls if n == "sendMessage"]


class FakeZalo:
    """Zalo OpenAPI (/v3.0/oa/message/cs) and OAuth v4 with rotating single-use refresh tokens."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.attempts = 0
        self.oauth_calls: list[dict[str, str]] = []
        self.valid_access = {"AT0"}
        self.refresh_token = "RT0"
        self.down = False
        self.forced_errors: list[int] = []
        self.counter = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v3.0/oa/message/cs", self.send)
        app.router.add_post("/v4/oa/access_token", self.oauth)
        return app

    async def send(self, request: web.Request) -> web.Response:
        self.attempts += 1
        if self.down:
            return web.Response(status=503)
        body = await request.json()
        if request.headers.get("access_token") not in self.valid_access:
            return web.json_response({"error": -216, "message": "Access token is invalid"})
        if self.forced_errors:
            return web.json_response({"error": self.forced_errors.pop(0), "message": "forced"})
        self.sent.append(body)
        return web.json_response({"error": 0, "message": "Success", "data": {"message_id": str(len(self.sent))}})

    async def oauth(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.oauth_calls.append({k: str(v) for k, v in form.items()})
        if request.headers.get("secret_key") != ZALO_APP_SECRET or form.get("refresh_token") != self.refresh_token:
            return web.json_response({"error": -14014, "error_name": "Invalid refresh token"})
        self.counter += 1
        access, refresh = f"AT{self.counter}", f"RT{self.counter}"
        self.valid_access = {access}
        self.refresh_token = refresh
        return web.json_response({"access_token": access, "refresh_token": refresh, "expires_in": "90000"})

    def texts(self) -> list[str]:
        return [b["message"].get("text", "") for b in self.sent]


@dataclass
class Stack:
    """Everything a gateway test needs."""

    rasa: FakeRasa
    tg: FakeTelegram
    zalo: FakeZalo
    settings: GatewaySettings
    client: Any = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def app(self) -> web.Application:
        return self.client.server.app

    async def tg_update(self, update: dict[str, Any], secret: str | None = TG_SECRET) -> Any:
        headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
        return await self.client.post("/telegram/webhook", json=update, headers=headers)

    async def zalo_event(self, event: dict[str, Any], *, signature: str | None = "auto",
                         prefix: str = "mac=") -> Any:
        raw = json.dumps(event, ensure_ascii=False).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if signature == "auto":
            signature = prefix + compute_signature(ZALO_APP_ID, raw, str(event.get("timestamp", "")), ZALO_OA_KEY)
        if signature is not None:
            headers["X-ZEvent-Signature"] = signature
        return await self.client.post("/zalo/webhook", data=raw, headers=headers)


def make_settings(tmp: Path, rasa: str, tg_url: str, zalo_url: str, **over: Any) -> GatewaySettings:
    """Settings pointing every external service at the fakes."""
    values: dict[str, Any] = dict(
        rasa_url=rasa, rasa_timeout=2.0, data_dir=tmp, telegram_token=TG_TOKEN, telegram_secret=TG_SECRET,
        telegram_api_url=f"{tg_url}/bot", zalo_app_id=ZALO_APP_ID, zalo_app_secret=ZALO_APP_SECRET,
        zalo_oa_secret_key=ZALO_OA_KEY, zalo_api_url=zalo_url, zalo_oauth_url=f"{zalo_url}/v4/oa/access_token",
        zalo_access_token="AT0", zalo_refresh_token="RT0", outbox_retry_base_s=0.05,
    )
    values.update(over)
    return GatewaySettings(**values)


async def wait_until(cond: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``cond`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        await asyncio.sleep(0.01)


def tg_text_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    """A Telegram text message update shaped like the real ones."""
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id + 1000, "date": int(time.time()), "text": text,
            "from": {"id": chat_id, "is_bot": False, "first_name": "Lan", "language_code": "vi"},
            "chat": {"id": chat_id, "first_name": "Lan", "type": "private"},
            **({"entities": [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]}
               if text.startswith("/") else {}),
        },
    }


def tg_callback_update(update_id: int, chat_id: int, data: str) -> dict[str, Any]:
    """A Telegram callback_query update (a tap on an inline keyboard button)."""
    user = {"id": chat_id, "is_bot": False, "first_name": "Lan"}
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cb{update_id}", "from": user, "chat_instance": "-123", "data": data,
            "message": {"message_id": 5, "date": int(time.time()), "text": "Xin chào",
                        "from": {"id": 1, "is_bot": True, "first_name": "TTHC"},
                        "chat": {"id": chat_id, "type": "private", "first_name": "Lan"}},
        },
    }


def zalo_text_event(user_id: str, text: str, msg_id: str, ts_ms: int | None = None) -> dict[str, Any]:
    """A Zalo user_send_text webhook event shaped like the real ones."""
    return {
        "app_id": ZALO_APP_ID, "user_id_by_app": "552177279717587" + user_id[-3:],
        "event_name": "user_send_text", "timestamp": str(ts_ms if ts_ms is not None else int(time.time() * 1000)),
        "sender": {"id": user_id}, "recipient": {"id": "579745863508352884"},
        "message": {"msg_id": msg_id, "text": text},
    }


class ThreadedStack:
    """The fakes and a gateway served on real 127.0.0.1 ports from a background thread."""

    def __init__(self, tmp: Path, **over: Any) -> None:
        self.tmp, self.over = tmp, over
        self.rasa, self.tg, self.zalo = FakeRasa(), FakeTelegram(), FakeZalo()
        self.loop = asyncio.new_event_loop()
        self.runners: list[web.AppRunner] = []
        self.url = ""
        self.settings: GatewaySettings | None = None

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://127.0.0.1:{port}"

    async def _start(self) -> None:
        r = await self._serve(self.rasa.app())
        t = await self._serve(self.tg.app())
        z = await self._serve(self.zalo.app())
        self.settings = make_settings(self.tmp, r, t, z, **self.over)
        self.url = await self._serve(create_app(self.settings))

    def __enter__(self) -> ThreadedStack:
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=30)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in reversed(self.runners):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()


def base_url(server: Any) -> str:
    """Base URL of a pytest-aiohttp test server."""
    return str(server.make_url("")).rstrip("/")
