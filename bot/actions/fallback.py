"""Two-stage fallback: first miss asks to rephrase, second miss in a row offers a human."""

from __future__ import annotations

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher

MENU_BUTTONS = [
    {"title": "Hỏi thủ tục", "payload": "/ask_procedure"},
    {"title": "Tra cứu hồ sơ", "payload": "/check_status"},
    {"title": "Gặp tổng đài viên", "payload": "/request_human"},
]


def previous_misses(events: list[dict[str, Any]]) -> int:
    """Count the user turns just before the current one that the bot answered with a fallback."""
    first_action_after_user: list[str | None] = []
    for event in events:
        if event.get("event") == "user":
            first_action_after_user.append(None)
        elif (
            event.get("event") == "action"
            and first_action_after_user
            and first_action_after_user[-1] is None
            and event.get("name") not in ("action_listen", "action_session_start", None)
        ):
            first_action_after_user[-1] = event["name"]
    misses = 0
    # The last user turn is the current one, still being answered.
    for action in reversed(first_action_after_user[:-1]):
        if action != "action_fallback":
            break
        misses += 1
    return misses


class ActionFallback(Action):
    """Never loops: after two misses in a row it offers a human, then starts over."""

    def name(self) -> str:
        """Action name."""
        return "action_fallback"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[dict[str, Any]]:
        """Reply depending on how many misses came just before."""
        if previous_misses(tracker.events) % 2 == 0:
            dispatcher.utter_message(
                text=(
                    "Xin lỗi, em chưa hiểu rõ ý anh/chị. Anh/chị có thể nói rõ hơn được không ạ? "
                    'Ví dụ: "làm căn cước cần giấy tờ gì" hoặc "tra cứu hồ sơ 000.00.20.H57-240101-0001".'
                ),
                buttons=MENU_BUTTONS,
            )
        else:
            dispatcher.utter_message(
                text=(
                    "Em vẫn chưa hiểu được yêu cầu này, em xin lỗi. "
                    "Anh/chị có muốn em kết nối với tổng đài viên để được hỗ trợ trực tiếp không ạ?"
                ),
                buttons=[MENU_BUTTONS[2], MENU_BUTTONS[0], MENU_BUTTONS[1]],
            )
        # Forget the misunderstood turn so it does not steer the dialogue policy.
        return [UserUtteranceReverted()]
