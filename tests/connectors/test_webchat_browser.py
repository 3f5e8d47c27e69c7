# mypy: allow-untyped-defs
"""Web chat end to end in headless Chromium against the gateway and a fake Rasa."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from connectors_fakes import ThreadedStack

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]

pytestmark = pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason="Debian chromium not installed")


@pytest.fixture(scope="module")
def live(tmp_path_factory: Any) -> Any:
    with ThreadedStack(tmp_path_factory.mktemp("web")) as s:
        yield s


def test_type_click_push_and_history(live):
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 390, "height": 760}, is_mobile=True, has_touch=True)
            page.goto(live.url + "/")
            expect(page.locator(".msg.bot").first).to_contain_text("Trợ lý TTHC")
            page.fill("#input", "làm giấy khai sinh cần gì")
            page.press("#input", "Enter")
            expect(page.locator(".msg.user").last).to_have_text("làm giấy khai sinh cần gì")
            expect(page.locator(".msg.bot").last).to_have_text("Bạn nói: làm giấy khai sinh cần gì")
            sender = page.evaluate("JSON.parse(localStorage.getItem('tthc.sender.v1'))")
            assert sender.startswith("web:")
            assert live.rasa.calls[-1]["sender"] == sender

            page.locator(".buttons button:not([disabled])", has_text="Hỏi thủ tục").last.click()
            expect(page.locator(".msg.user").last).to_have_text("Hỏi thủ tục")
            expect(page.locator(".msg.bot").last).to_have_text("Anh/chị muốn hỏi thủ tục nào?")
            assert live.rasa.calls[-1]["message"] == '/ask_procedure{"procedure_code":"1.001193"}'

            body = json.dumps({"sender": sender, "messages": [{"text": "Hồ sơ của anh/chị đã có kết quả."}]})
            req = urllib.request.Request(live.url + "/internal/push", data=body.encode(), method="POST",
                                         headers={"Content-Type": "application/json",
                                                  "Authorization": f"Bearer {live.settings.push_bearer()}"})
            assert urllib.request.urlopen(req, timeout=10).status == 202
            expect(page.locator(".msg.bot").last).to_have_text("Hồ sơ của anh/chị đã có kết quả.", timeout=15000)

            page.fill("#input", "a" * 2001)  # maxlength keeps the page under the server limit
            assert len(page.input_value("#input")) == 2000

            page.reload()
            expect(page.locator(".msg.user")).to_have_count(2)
            assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
            page.screenshot(path=str(ARTIFACTS / "webchat_phone.png"), full_page=True)

            desktop = browser.new_page(viewport={"width": 1200, "height": 800})
            desktop.goto(live.url + "/")
            desktop.fill("#input", "xin chào")
            desktop.click("#send")
            expect(desktop.locator(".msg.bot").last).to_have_text("Bạn nói: xin chào")
            desktop.screenshot(path=str(ARTIFACTS / "webchat_desktop.png"))
        finally:
            browser.close()
