"""Staff taking over a conversation: claim, reply on the citizen's channel, hand back to the bot, close.

The conversation's history stays one story: the bot is paused with Rasa's own ``pause`` event, staff
replies are written into the tracker as bot utterances carrying the staff member's name, and handing
back appends ``resume`` (then ``action_listen``) so the bot carries on with its slots and context intact.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from common.messages import BotMessage, Push
from common.rasa_api import LISTEN, PAUSE, RESUME, TrackerUnavailable, bot_event
from common.text import mask_pii
from desk.live import LIVE, OPEN, ClaimConflict, LiveDesk

log = logging.getLogger(__name__)
AppendEvents = Callable[[str, list[dict[str, Any]]], Awaitable[None]]
BACK_TEXT = ("Dạ, trợ lý ảo xin tiếp tục hỗ trợ anh/chị. Anh/chị cần hỏi thêm về thủ tục hay hồ sơ "
             "cứ nhắn em nhé.")
BACK_BUTTON_TITLE = "Trở lại trợ lý ảo"


def claimed_text(staff: str) -> str:
    """What the citizen reads when a staff member takes their conversation."""
    return (f"Dạ, cán bộ {staff} của Trung tâm Phục vụ hành chính công đang hỗ trợ anh/chị. "
            f"Anh/chị cứ nhắn tại đây; muốn quay lại trợ lý ảo, anh/chị nhắn \"{BACK_BUTTON_TITLE}\".")


def is_call(sender: str) -> bool:
    """Whether the conversation is a phone call (transferred to an agent, never paused or pushed to)."""
    return sender.startswith("call:")


class TakeoverError(Exception):
    """A take-over step that could not be done; ``message`` is shown to staff (Vietnamese)."""

    def __init__(self, message: str) -> None:
        """Keep the message for staff."""
        super().__init__(message)
        self.message = message


class Takeover:
    """The steps staff (and the gateway, for the citizen's own "back to the bot") take on a session."""

    def __init__(self, live: LiveDesk, append: AppendEvents, push: Push) -> None:
        """Use the desk store, Rasa's tracker events and the gateway's push function."""
        self.live = live
        self.append = append
        self.push = push

    async def _events(self, sender: str, events: list[dict[str, Any]]) -> None:
        """Append to the tracker; a failure becomes a TakeoverError staff can read."""
        try:
            await self.append(sender, events)
        except TrackerUnavailable as exc:
            log.warning("tracker update for %s failed: %s", mask_pii(sender), exc)
            raise TakeoverError("Không cập nhật được cuộc trò chuyện trên Rasa; anh/chị thử lại sau ít phút.") from exc

    async def _tell(self, session: dict[str, Any], text: str, staff: str = "") -> None:
        """Send a message to the citizen on their channel (best effort, logged) and record it."""
        try:
            await self.push(str(session["sender_id"]), [BotMessage(text)])
        except Exception as exc:  # the citizen misses a notice; staff still see it in the pane
            log.warning("notice to %s not queued: %s", mask_pii(str(session["sender_id"])), exc)
        await asyncio.to_thread(self.live.add_message, int(session["id"]), "system", text, staff)

    async def claim(self, session_id: int, staff: str) -> dict[str, Any]:
        """Take a waiting (or offline) session; the bot is paused and the citizen told who answers."""
        before = await asyncio.to_thread(self.live.get, session_id)
        if before is None or before["status"] not in OPEN:
            raise ClaimConflict("")
        if before["status"] == "offline" and not is_call(str(before["sender_id"])):
            await self._events(str(before["sender_id"]), [PAUSE, LISTEN])
        session = await asyncio.to_thread(self.live.claim, session_id, staff)
        if before["claimed_by"] != staff:
            await self._tell(session, claimed_text(staff), staff)
        return session

    async def take(self, sender: str, channel: str, staff: str) -> dict[str, Any]:
        """Staff pick a conversation the bot is having: pause it and open a session they hold."""
        current = await asyncio.to_thread(self.live.live_for, sender)
        if current is not None:
            return await self.claim(int(current["id"]), staff)
        await self._events(sender, [PAUSE, LISTEN])
        session, _ = await asyncio.to_thread(
            self.live.start, sender, channel, status="active", started_by="staff", claimed_by=staff)
        await self._tell(session, claimed_text(staff), staff)
        return session

    async def reply(self, session: dict[str, Any], staff: str, text: str) -> bool:
        """Send a staff reply on the citizen's channel and write it into the tracker; False if not recorded there.

        Raises PushRejected when the channel cannot take it (nothing is recorded then).
        """
        sender = str(session["sender_id"])
        await self.push(sender, [BotMessage(text)])
        await asyncio.to_thread(self.live.add_message, int(session["id"]), "staff", text, staff)
        try:
            await self.append(sender, [bot_event(mask_pii(text), staff=staff, handover=int(session["id"]))])
        except TrackerUnavailable as exc:
            log.warning("staff reply to %s not written to the tracker: %s", mask_pii(sender), exc)
            await asyncio.to_thread(self.live.add_message, int(session["id"]), "system",
                                    "Tin trả lời đã gửi nhưng chưa ghi được vào lịch sử trên Rasa.", staff)
            return False
        return True

    async def desk_closed(self, session: dict[str, Any], text: str) -> bool:
        """Office hours ended before anyone claimed the session: keep it as an offline request, resume the bot."""
        await self._events(str(session["sender_id"]), [RESUME, LISTEN, bot_event(text, handover=int(session["id"]))])
        if not await asyncio.to_thread(self.live.set_offline, int(session["id"])):
            return False
        await asyncio.to_thread(self.live.add_message, int(session["id"]), "system", text)
        return True

    async def hand_back(self, session: dict[str, Any], by: str, outcome: str = "returned_to_bot",
                        notify: bool = True) -> BotMessage:
        """Resume the bot (context intact), close the session and say so; ``notify``: push it to the citizen."""
        sender = str(session["sender_id"])
        message = BotMessage(BACK_TEXT)
        live = session["status"] in LIVE and not is_call(sender)  # a call is never paused: it was transferred
        if live:
            await self._events(sender, [RESUME, LISTEN, bot_event(BACK_TEXT, handover=int(session["id"]))])
        closed = await asyncio.to_thread(self.live.close, int(session["id"]), by, outcome)
        if closed is None:
            raise TakeoverError("Cuộc trò chuyện này đã kết thúc.")
        if live:
            if notify:
                await self._tell(session, BACK_TEXT, by)
            else:
                await asyncio.to_thread(self.live.add_message, int(session["id"]), "system", BACK_TEXT, by)
        return message
