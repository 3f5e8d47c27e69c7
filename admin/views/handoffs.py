"""Hand-overs to staff: the queue, one request, replies to the citizen on their channel."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from admin.context import CONSOLE_KEY, audit, error_page, flash, read_form, render, username
from admin.delivery import deliver
from common.text import mask_pii, nfc

MAX_REPLY = 2000


async def handoffs(request: web.Request) -> web.StreamResponse:
    """The human handoff queue."""
    status = request.query.get("status", "open")
    wanted = status if status in ("open", "handled") else None
    rows = await asyncio.to_thread(request.app[CONSOLE_KEY].handoff_queue.requests, wanted, 500)
    return await render(request, "handoffs.html", rows=rows, status=status)


async def _handoff_or_404(request: web.Request) -> dict[str, Any] | web.Response:
    """The request named in the URL, or a 404 page."""
    raw = request.match_info["id"]
    queue = request.app[CONSOLE_KEY].handoff_queue
    item = await asyncio.to_thread(queue.get, int(raw)) if raw.isdigit() else None
    if item is None:
        return await error_page(request, 404, "Không tìm thấy yêu cầu này.")
    return item


def can_reply(item: dict[str, Any]) -> bool:
    """Calls cannot be answered by message; other channels can."""
    return not str(item["sender_id"]).startswith("call:") and item["channel"] != "voice"


async def handoff_page(request: web.Request) -> web.StreamResponse:
    """One request: transcript, replies, actions."""
    item = await _handoff_or_404(request)
    if isinstance(item, web.Response):
        return item
    return await render(request, "handoff.html", item=item, error="", can_reply=can_reply(item))


async def _mark_handled(request: web.Request, item: dict[str, Any]) -> bool:
    """Mark the request handled by the logged-in user and audit it; False when it already was."""
    queue = request.app[CONSOLE_KEY].handoff_queue
    if not await asyncio.to_thread(queue.mark_handled, item["id"], username(request)):
        return False
    await audit(request, "handoff.handled", str(item["id"]), {"status": "open"}, {"status": "handled"})
    return True


async def handoff_handled(request: web.Request) -> web.StreamResponse:
    """Mark a request handled."""
    item = await _handoff_or_404(request)
    if isinstance(item, web.Response):
        return item
    if await _mark_handled(request, item):
        await flash(request, f"Đã đánh dấu yêu cầu #{item['id']} là đã xử lý.")
    raise web.HTTPSeeOther("/admin/handoffs")


async def handoff_reply(request: web.Request) -> web.StreamResponse:
    """Reply to the citizen on their channel; optionally mark the request handled."""
    console = request.app[CONSOLE_KEY]
    item = await _handoff_or_404(request)
    if isinstance(item, web.Response):
        return item
    form = await read_form(request)
    text = nfc(form.get("text", "")).strip()
    error = None
    if not can_reply(item):
        error = "Cuộc gọi không nhận được tin nhắn; anh/chị gọi lại cho người dân qua tổng đài."
    elif not text or len(text) > MAX_REPLY:
        error = f"Nội dung trả lời cần từ 1 đến {MAX_REPLY} ký tự."
    else:
        error = await deliver(console.push, str(item["sender_id"]), text)
    if error:
        return await render(request, "handoff.html", http_status=400, item=item, error=error,
                            can_reply=can_reply(item))
    await asyncio.to_thread(console.handoff_queue.add_reply, item["id"], username(request), text)
    await audit(request, "handoff.reply", str(item["id"]), None, {"channel": item["channel"], "text": mask_pii(text)})
    if form.get("handled") == "1":
        await _mark_handled(request, item)
    await flash(request, "Đã gửi trả lời tới người dân.")
    raise web.HTTPSeeOther(f"/admin/handoffs/{item['id']}")
