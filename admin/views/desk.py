"""The live staff desk: queue, conversation pane, claim/transfer, replies, notes, hand back and close."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from admin.context import CHANNEL_LABELS, CONSOLE_KEY, audit, read_form, render, session_of, username
from admin.delivery import rejection_text
from admin.store import ROLE_RANK
from common.channels import channel_from
from common.messages import PUSH_SENDER_RE, PushRejected
from common.text import mask_pii, nfc
from desk.live import LIVE, OPEN, OUTCOMES, ClaimConflict
from desk.takeover import TakeoverError
from knowledge import answers

MAX_REPLY = 2000
MAX_NOTE = 2000
STATUS_TEXT = {"waiting": "Đang chờ", "active": "Đang hỗ trợ", "offline": "Ngoài giờ (nhắn lại sau)",
               "closed": "Đã kết thúc"}
CANNED = (
    "Dạ, em chào anh/chị. Em là cán bộ Trung tâm Phục vụ hành chính công, em đang xem yêu cầu của anh/chị ạ.",
    "Anh/chị vui lòng cho em biết mã hồ sơ (in trên giấy biên nhận) để em kiểm tra giúp ạ.",
    "Dạ, anh/chị vui lòng chờ em ít phút để em kiểm tra lại với bộ phận chuyên môn ạ.",
    "Hồ sơ của anh/chị cần bổ sung giấy tờ; anh/chị mang bản chính tới bộ phận một cửa để đối chiếu ạ.",
    "Dạ, nếu còn vướng mắc anh/chị cứ nhắn tại đây. Chúc anh/chị một ngày tốt lành ạ.",
)


def json_error(status: int, message: str) -> web.Response:
    """A JSON error for the desk's script (Vietnamese ``message`` shown to staff)."""
    return web.json_response({"ok": False, "error": message}, status=status)


def _topic(topic: str) -> dict[str, str]:
    """The kind and code of what the citizen asked about."""
    kind, _, code = topic.partition(":")
    return {"kind": kind, "code": code} if code else {"kind": "", "code": ""}


def _public(row: dict[str, Any], now: float) -> dict[str, Any]:
    """A session as the desk shows it: personal data masked, waiting time in seconds."""
    end = row.get("first_reply_at") or row.get("closed_at") or now
    return {
        "id": row["id"], "sender": mask_pii(str(row["sender_id"])), "channel": row["channel"],
        "channel_label": CHANNEL_LABELS.get(row["channel"], row["channel"]), "status": row["status"],
        "status_label": STATUS_TEXT.get(row["status"], row["status"]), "topic": _topic(str(row["topic"])),
        "claimed_by": row["claimed_by"], "waiting_s": int(max(0.0, float(end) - float(row["created_at"]))),
        "answered": row.get("first_reply_at") is not None, "last_text": mask_pii(str(row.get("last_text") or "")),
        "started_by": row["started_by"], "outcome": row["outcome"],
        "can_message": PUSH_SENDER_RE.match(str(row["sender_id"])) is not None,
    }


async def desk_page(request: web.Request) -> web.StreamResponse:
    """The desk: the script fills the queue and the pane and keeps them live."""
    return await render(request, "desk.html", canned=CANNED, outcomes=OUTCOMES)


async def desk_queue(request: web.Request) -> web.StreamResponse:
    """JSON: open sessions, oldest first, and the change counter."""
    live = request.app[CONSOLE_KEY].live
    rows = await asyncio.to_thread(live.queue)
    seq = await asyncio.to_thread(live.seq)
    now = time.time()
    return web.json_response({"seq": seq, "me": username(request), "sessions": [_public(r, now) for r in rows]})


async def _session_or_404(request: web.Request) -> dict[str, Any] | web.Response:
    """The session named in the URL, or a JSON 404."""
    raw = request.match_info["id"]
    row = await asyncio.to_thread(request.app[CONSOLE_KEY].live.get, int(raw)) if raw.isdigit() else None
    return row if row is not None else json_error(404, "Không tìm thấy cuộc trò chuyện này.")


async def desk_session(request: web.Request) -> web.StreamResponse:
    """JSON: one session and its messages (after message id ``after``)."""
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    after = request.query.get("after", "0")
    messages = await asyncio.to_thread(request.app[CONSOLE_KEY].live.messages, int(row["id"]),
                                       int(after) if after.isdigit() else 0)
    for message in messages:
        message["text"] = mask_pii(message["text"])
    return web.json_response({"session": _public(row, time.time()), "messages": messages})


async def desk_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``change`` whenever the desk's data moves (the page then re-reads what it shows)."""
    console = request.app[CONSOLE_KEY]
    response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-store",
                                           "X-Accel-Buffering": "no"})
    await response.prepare(request)
    last, started, quiet = -1, time.monotonic(), 0.0
    await response.write(b"retry: 2000\n\n")
    # Bounded: after ten minutes the browser's EventSource reconnects (and re-checks the session).
    try:
        while time.monotonic() - started < 600:
            seq = await asyncio.to_thread(console.live.seq)
            if seq != last:
                last, quiet = seq, 0.0
                await response.write(f"event: change\ndata: {seq}\n\n".encode())
            elif quiet >= 15:
                quiet = 0.0
                await response.write(b": keep-alive\n\n")
            await asyncio.sleep(console.settings.desk_poll_s)
            quiet += console.settings.desk_poll_s
    except ConnectionResetError:  # the page was closed
        pass
    return response


def _holds(request: web.Request, row: dict[str, Any]) -> bool:
    """Whether the logged-in user holds the session (admins may act on any)."""
    session = session_of(request)
    return row["claimed_by"] == session.user.username or ROLE_RANK.get(session.user.role, 0) >= ROLE_RANK["admin"]


async def desk_claim(request: web.Request) -> web.StreamResponse:
    """Claim a session; when two staff claim at once exactly one wins, the other is told who did."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    try:
        claimed = await console.takeover.claim(int(row["id"]), username(request))
    except ClaimConflict as exc:
        who = f"Cán bộ {exc.holder} đã nhận cuộc trò chuyện này." if exc.holder else "Cuộc trò chuyện đã kết thúc."
        return json_error(409, who)
    except TakeoverError as exc:
        return json_error(502, exc.message)
    await audit(request, "desk.claim", str(row["id"]), {"claimed_by": row["claimed_by"]},
                {"claimed_by": claimed["claimed_by"]})
    return web.json_response({"ok": True})


async def desk_transfer(request: web.Request) -> web.StreamResponse:
    """Give a session to another staff member (an active editor or admin)."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    to = (await read_form(request)).get("to", "").strip()[:64]
    user = await asyncio.to_thread(console.store.get_user, to) if to else None
    if user is None or not user.active or ROLE_RANK.get(user.role, 0) < ROLE_RANK["editor"]:
        return json_error(400, "Không có cán bộ nào có tên đăng nhập này (cần quyền biên tập trở lên).")
    admin = ROLE_RANK.get(session_of(request).user.role, 0) >= ROLE_RANK["admin"]
    try:
        await asyncio.to_thread(console.live.transfer, int(row["id"]), username(request), to, admin)
    except ClaimConflict as exc:
        return json_error(409, f"Chỉ người đang giữ ({exc.holder or 'không ai'}) mới chuyển được.")
    await asyncio.to_thread(console.live.add_message, int(row["id"]), "note",
                            f"{username(request)} chuyển cho {to}.", username(request))
    await audit(request, "desk.transfer", str(row["id"]), {"claimed_by": row["claimed_by"]}, {"claimed_by": to})
    return web.json_response({"ok": True})


async def desk_reply(request: web.Request) -> web.StreamResponse:
    """Send a reply on the citizen's channel (the holder only); it is written into the Rasa tracker too."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    text = nfc((await read_form(request)).get("text", "")).strip()
    if row["status"] not in OPEN:
        return json_error(409, "Cuộc trò chuyện đã kết thúc.")
    if not _holds(request, row):
        return json_error(409, "Anh/chị cần nhận cuộc trò chuyện trước khi trả lời.")
    if not PUSH_SENDER_RE.match(str(row["sender_id"])):
        return json_error(400, "Cuộc gọi không nhận được tin nhắn; anh/chị gọi lại cho người dân qua tổng đài.")
    if not text or len(text) > MAX_REPLY:
        return json_error(400, f"Nội dung trả lời cần từ 1 đến {MAX_REPLY} ký tự.")
    try:
        recorded = await console.takeover.reply(row, username(request), text)
    except PushRejected as exc:
        return json_error(502, rejection_text(exc))
    if row["handoff_id"]:
        await asyncio.to_thread(console.handoff_queue.add_reply, int(row["handoff_id"]), username(request), text)
    await audit(request, "desk.reply", str(row["id"]), None, {"channel": row["channel"], "text": mask_pii(text)})
    return web.json_response({"ok": True, "in_tracker": recorded})


async def desk_note(request: web.Request) -> web.StreamResponse:
    """An internal note, seen by staff only."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    text = nfc((await read_form(request)).get("text", "")).strip()
    if not text or len(text) > MAX_NOTE:
        return json_error(400, f"Ghi chú cần từ 1 đến {MAX_NOTE} ký tự.")
    await asyncio.to_thread(console.live.add_message, int(row["id"]), "note", text, username(request))
    await audit(request, "desk.note", str(row["id"]), None, {"text": mask_pii(text)})
    return web.json_response({"ok": True})


async def desk_close(request: web.Request) -> web.StreamResponse:
    """Close with an outcome; a live conversation goes back to the bot ("Trở lại trợ lý ảo" is one outcome)."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    outcome = (await read_form(request)).get("outcome", "returned_to_bot")
    if outcome not in OUTCOMES:
        return json_error(400, "Kết quả không hợp lệ.")
    if row["status"] in LIVE and row["claimed_by"] and not _holds(request, row):
        return json_error(409, f"Cán bộ {row['claimed_by']} đang giữ cuộc trò chuyện này.")
    try:
        await console.takeover.hand_back(row, username(request), outcome)
    except TakeoverError as exc:
        return json_error(409 if row["status"] not in OPEN else 502, exc.message)
    if row["handoff_id"]:
        await asyncio.to_thread(console.handoff_queue.mark_handled, int(row["handoff_id"]), username(request))
    await audit(request, "desk.close", str(row["id"]), {"status": row["status"]},
                {"status": "closed", "outcome": outcome})
    return web.json_response({"ok": True})


async def desk_take(request: web.Request) -> web.StreamResponse:
    """Staff pick a conversation the bot is having (by its sender id): the bot pauses, they hold it."""
    console = request.app[CONSOLE_KEY]
    sender = (await read_form(request)).get("sender", "").strip()
    if not PUSH_SENDER_RE.match(sender):
        return json_error(400, "Mã cuộc trò chuyện không hợp lệ (web:…, tg:…, zalo:…, sms:…).")
    channel = {"tg": "telegram"}.get(sender.partition(":")[0], sender.partition(":")[0])
    try:
        row = await console.takeover.take(sender, channel, username(request))
    except ClaimConflict as exc:
        return json_error(409, f"Cán bộ {exc.holder} đã nhận cuộc trò chuyện này.")
    except TakeoverError as exc:
        return json_error(502, exc.message)
    await audit(request, "desk.take", str(row["id"]), None, {"sender": mask_pii(sender)})
    return web.json_response({"ok": True, "id": row["id"]})


def recent_conversations(console: Any, since: float, limit: int = 30) -> list[dict[str, Any]]:
    """Chat conversations with a citizen message since ``since`` and no open session, newest first (worker thread)."""
    held = {str(r["sender_id"]) for r in console.live.queue()}
    latest: dict[str, tuple[float, str, str]] = {}
    for sender, kind, at, _intent, _action, data in console.tracker.events(since):
        if kind != "user" or sender in held or not PUSH_SENDER_RE.match(str(sender)):
            continue
        try:
            event = json.loads(data or "{}")
        except ValueError:
            event = {}
        text = str(event.get("text") or "")
        latest[str(sender)] = (float(at), channel_from(str(sender), event.get("metadata")), text)
    rows = sorted(latest.items(), key=lambda kv: -kv[1][0])[:limit]
    return [{"sender": sender, "channel": channel, "channel_label": CHANNEL_LABELS.get(channel, channel),
             "ago_s": int(time.time() - at), "last_text": mask_pii(text)[:200]} for sender, (at, channel, text) in rows]


async def desk_recent(request: web.Request) -> web.StreamResponse:
    """JSON: conversations the bot is having (citizen messages in the last 30 minutes) that staff may take."""
    console = request.app[CONSOLE_KEY]
    try:
        rows = await asyncio.to_thread(recent_conversations, console, time.time() - 1800)
    except Exception:  # no tracker store yet, unreachable PostgreSQL, ...
        rows = []
    return web.json_response({"conversations": rows})


async def desk_answer(request: web.Request) -> web.StreamResponse:
    """JSON: the catalogue's answer for the session's procedure (or the ``code`` asked), to insert in a reply."""
    console = request.app[CONSOLE_KEY]
    row = await _session_or_404(request)
    if isinstance(row, web.Response):
        return row
    code = request.query.get("code", "").strip()[:40] or _topic(str(row["topic"]))["code"]
    if _topic(str(row["topic"]))["kind"] == "dossier" and not request.query.get("code"):
        code = ""
    procedure = await asyncio.to_thread(console.catalogue.get, code, False) if code else None
    if procedure is None:
        return json_error(404, "Chưa biết thủ tục của cuộc trò chuyện này; anh/chị nhập mã thủ tục.")
    facet = request.query.get("facet") or None
    reply = answers.answer_procedure(procedure, facet if facet in answers.FACETS else None)
    return web.json_response({"ok": True, "code": procedure.code, "text": "\n\n".join(reply.texts)})
