# mypy: allow-untyped-defs
"""Chromium end to end, two browser contexts: a citizen in the web chat and a staff member at the desk.

The gateway, the console and the actions are the real ones on 127.0.0.1 ports; Rasa is the double in
``handover_fakes.py`` (Rasa 3.6's pause semantics and tracker events API; keyword NLU instead of the model).
"""

from __future__ import annotations

import asyncio
import shutil
import threading
from pathlib import Path

import pytest
from aiohttp import web
from handover_fakes import RasaDouble

from connectors.app import create_app
from connectors.config import GatewaySettings
from desk.takeover import BACK_TEXT
from knowledge.store import Catalogue

CHROMIUM = "/usr/bin/chromium"
# Screenshots land in artifacts/ (not committed); docs/handover-*.png are copies of them.
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required"]
XSS = '<img src=x onerror="window.__pwned=1">'

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")


class LiveStack:
    """The Rasa double and the gateway (console mounted) on real ports, served from a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.loop = asyncio.new_event_loop()
        self.runners: list[web.AppRunner] = []
        self.catalogue = Catalogue(f"sqlite:///{data_dir / 'catalogue.db'}")
        self.rasa = RasaDouble(self.catalogue)
        self.url = ""

    async def _serve(self, app: web.Application) -> str:
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=1)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.runners.append(runner)
        return f"http://127.0.0.1:{runner.addresses[0][1]}"

    async def _start(self) -> None:
        rasa = await self._serve(self.rasa.app())
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


def test_citizen_asks_for_a_human_staff_take_over_and_hand_back(data_dir: Path):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with LiveStack(data_dir) as live, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            staff = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            staff.goto(live.url + "/admin/desk")
            staff.fill("#username", "editor")
            staff.fill("#password", "editor-pass-123456")
            staff.click("button[type=submit]")
            staff.goto(live.url + "/admin/desk")
            expect(staff.locator("#conn")).to_have_text("Đang cập nhật trực tiếp.")
            expect(staff.locator("#queue li")).to_have_count(0)

            citizen = browser.new_context(viewport={"width": 420, "height": 820}).new_page()
            citizen.goto(live.url + "/")

            def say(text: str) -> None:
                citizen.fill("#input", text)
                citizen.press("#input", "Enter")
                expect(citizen.locator("#typing")).to_have_count(0, timeout=20000)

            say("đăng ký tạm trú cần giấy tờ gì")
            expect(citizen.locator(".msg.bot", has_text="1.004194").last).to_be_visible(timeout=20000)
            say("cho tôi gặp tổng đài viên")
            expect(citizen.locator(".msg.bot").last).to_contain_text("người tiếp theo")
            sender = citizen.evaluate("JSON.parse(localStorage.getItem('tthc.sender.v1'))")

            # the desk hears of the new citizen without a reload: visible notice, a beep, the queue
            expect(staff.locator("#notice")).to_contain_text("người dân mới", timeout=10000)
            expect(staff.locator("#waiting-count")).to_have_text("1")
            assert int(staff.locator("#desk").get_attribute("data-beeps") or "0") >= 1
            item = staff.locator("#queue li").first
            expect(item).to_contain_text("Thủ tục 1.004194")
            item.click()
            staff.click("#claim")
            expect(staff.locator("#pane-meta")).to_contain_text("đang giữ: editor")
            expect(citizen.locator(".msg.bot", has_text="cán bộ editor")).to_be_visible(timeout=10000)

            questions = ["cho tôi hỏi tạm trú cho sinh viên", XSS, "tôi nộp online được không"]
            for i, question in enumerate(questions):
                say(question)
                expect(staff.locator("#messages .user .text").last).to_have_text(question, timeout=10000)
                staff.fill("#reply", f"Cán bộ trả lời lần {i + 1}")
                staff.click("#send")
                expect(citizen.locator(".msg.bot").last).to_have_text(f"Cán bộ trả lời lần {i + 1}", timeout=10000)
            assert staff.evaluate("window.__pwned") is None  # the payload stayed text in the desk
            assert citizen.evaluate("window.__pwned") is None
            expect(staff.locator("#messages .staff")).to_have_count(3)  # each reply shown once
            staff.fill("#note", "Đã hướng dẫn nộp trực tuyến")
            staff.click("#note-form button")
            expect(staff.locator("#messages .note")).to_contain_text("Đã hướng dẫn nộp trực tuyến")
            staff.screenshot(path=str(ARTIFACTS / "handover-desk.png"), full_page=True)

            staff.click("#handback")
            expect(citizen.locator(".msg.bot").last).to_have_text(BACK_TEXT, timeout=10000)
            expect(staff.locator("#pane-meta")).to_contain_text("Đã kết thúc")
            say("còn lệ phí thì sao")
            answer = citizen.locator(".msg.bot").last
            expect(answer).to_contain_text("15.000 đồng")
            expect(answer).to_contain_text("1.004194")
            citizen.screenshot(path=str(ARTIFACTS / "handover-citizen.png"), full_page=True)
        finally:
            browser.close()
    assert live.rasa.staff_lines(sender) == [("editor", f"Cán bộ trả lời lần {i}") for i in (1, 2, 3)]
    users = [e["text"] for e in live.rasa.events[sender] if e["event"] == "user"]
    assert users[2:5] == questions  # recorded by Rasa while paused, in order
