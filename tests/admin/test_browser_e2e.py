# mypy: allow-untyped-defs
"""End to end in headless Chromium: log in, edit a fee, ask the bot in the web chat, see the new fee.

Rasa is replaced by a REST fake whose reply comes from the real ``action_answer_procedure`` (knowledge
service + answers) over the same catalogue the console edits, so the test proves the edited fact
reaches the answer without a restart and without a Rasa model.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.procedures import ActionAnswerProcedure
from connectors.app import create_app
from connectors.config import GatewaySettings
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")


class ActionRasa:
    """Rasa's REST webhook, answered by the real procedure action (no NLU: every text is ask_procedure)."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.action = ActionAnswerProcedure(KnowledgeService(catalogue))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_get("/", lambda request: web.Response(text="Hello from Rasa: 3.6.21"))
        return app

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        text = body["message"]
        message = {"text": text, "intent": {"name": "ask_procedure"}, "entities": [],
                   "metadata": body.get("metadata") or {}}
        tracker = Tracker.from_dict({
            "sender_id": body["sender"], "slots": {}, "latest_message": message,
            "events": [{"event": "user", "text": text, "parse_data": message}], "paused": False,
            "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
        })
        dispatcher = CollectingDispatcher()
        await self.action.run(dispatcher, tracker, {})
        return web.json_response([{"recipient_id": body["sender"], "text": m.get("text") or "",
                                   "buttons": m.get("buttons") or []} for m in dispatcher.messages])


class LiveStack:
    """The fake Rasa and the gateway (admin mounted) on real 127.0.0.1 ports, served from a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self.runners: list[web.AppRunner] = []
        self.catalogue = Catalogue(f"sqlite:///{data_dir / 'catalogue.db'}")
        self.url = ""

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _start(self) -> None:
        rasa = await self._serve(ActionRasa(self.catalogue).app())
        self.url = await self._serve(create_app(GatewaySettings(data_dir=self.data_dir, rasa_url=rasa), channels=[]))

    def __enter__(self) -> LiveStack:
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(timeout=60)
        return self

    def __exit__(self, *exc: object) -> None:
        async def stop() -> None:
            for runner in reversed(self.runners):
                await runner.cleanup()

        asyncio.run_coroutine_threadsafe(stop(), self.loop).result(timeout=30)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)
        self.loop.close()
        self.catalogue.close()


def test_edit_fee_in_console_then_bot_answers_it(data_dir: Path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    question = "lệ phí đăng ký tạm trú bao nhiêu"
    with LiveStack(data_dir) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.goto(live.url + "/admin/procedures")  # not logged in: sent to the login page
            expect(page.locator("h1")).to_have_text("Đăng nhập quản trị")
            page.fill("#username", "editor")
            page.fill("#password", "editor-pass-123456")
            page.click("button[type=submit]")
            expect(page.locator("h1")).to_have_text("Danh mục thủ tục")
            page.fill("#q", "đăng ký tạm trú")
            page.click("text=Lọc")
            page.click("a[href='/admin/procedures/1.004194']")
            expect(page.locator("input[name='ch-0-fee_text']")).to_have_value("15.000 đồng")
            page.fill("input[name='ch-0-fee_text']", "25.000 đồng")
            page.fill("input[name='ch-0-fee_vnd']", "25000")
            page.screenshot(path=str(ARTIFACTS / "admin_edit_fee.png"), full_page=True)
            page.click("#save")
            expect(page.locator(".flash")).to_contain_text("Đã lưu thủ tục 1.004194")
            expect(page.locator("input[name='ch-0-fee_text']")).to_have_value("25.000 đồng")
            expect(page.locator("pre.preview")).to_contain_text("25.000 đồng")
            page.screenshot(path=str(ARTIFACTS / "admin_saved.png"), full_page=True)

            chat = browser.new_page(viewport={"width": 420, "height": 800})
            chat.goto(live.url + "/")
            chat.fill("#input", question)
            chat.press("#input", "Enter")
            bot = chat.locator(".msg.bot", has_text="1.004194")
            expect(bot.last).to_contain_text("25.000 đồng", timeout=20000)
            assert "15.000" not in bot.last.inner_text()
            chat.screenshot(path=str(ARTIFACTS / "webchat_new_fee.png"), full_page=True)

            page.goto(live.url + "/admin/procedures/1.004194/history")
            expect(page.locator("#history")).to_contain_text("admin:editor")
            page.click("text=Khôi phục bản trước thay đổi này >> nth=0")
            expect(page.locator(".flash")).to_contain_text("Đã khôi phục")
            chat.fill("#input", question)
            chat.press("#input", "Enter")
            expect(chat.locator(".msg.bot", has_text="1.004194").last).to_contain_text("15.000 đồng", timeout=20000)
            page.goto(live.url + "/admin/")
            page.screenshot(path=str(ARTIFACTS / "admin_dashboard.png"), full_page=True)
        finally:
            browser.close()
