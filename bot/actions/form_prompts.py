"""The dossier form's questions, worded for the channel (typed on chat, spoken or keyed on the phone)."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.trackers import channel_of

EXAMPLE_CODE = "000.00.20.H57-240101-0001"


class ActionAskDossierCode(Action):
    """Ask for the dossier code on the receipt."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_dossier_code"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Ask, with an example of the format."""
        if channel_of(tracker) == "voice":
            text = (
                "Anh/chị vui lòng đọc mã hồ sơ ghi trên giấy biên nhận, "
                "hoặc nhập các chữ số của mã trên bàn phím rồi bấm phím thăng."
            )
        else:
            text = f"Anh/chị vui lòng cho em mã hồ sơ ghi trên giấy biên nhận (ví dụ: {EXAMPLE_CODE})."
        dispatcher.utter_message(text=text)
        return []


class ActionAskVerificationDigits(Action):
    """Ask for the second factor: the last 4 digits of the phone or CCCD number on the dossier."""

    def name(self) -> str:
        """Action name."""
        return "action_ask_verification_digits"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Ask, explaining why."""
        text = (
            "Để bảo vệ thông tin cá nhân, anh/chị vui lòng cho em 4 số cuối của số điện thoại "
            "hoặc số CCCD đã khai trong hồ sơ."
        )
        if channel_of(tracker) == "voice":
            text += " Anh/chị có thể đọc hoặc bấm 4 số trên bàn phím."
        dispatcher.utter_message(text=text)
        return []
