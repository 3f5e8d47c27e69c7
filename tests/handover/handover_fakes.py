# mypy: allow-untyped-defs
"""A Rasa double for the hand-over tests: Rasa 3.6's REST channel and tracker-events API, running the real actions.

What it copies from Rasa 3.6.21 (rasa/core/processor.py, rasa/server.py):
- ``handle_message`` always logs the ``user`` event (NLU runs) and saves it, paused or not; only the
  prediction loop stops while ``tracker.is_paused()`` (``_should_handle_message``), so the REST
  channel answers ``[]``;
- an action returning ``{"event": "pause"}`` stops the loop at once: no ``action_listen`` follows;
- ``POST /conversations/{id}/tracker/events`` (``?token=`` required) appends events in order.
What it does not copy: the NLU model and the policies. Intents come from a few keywords and each
intent maps to its action as the rules in ``data/rules/core.yml`` do; the actions are the real ones.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.handoff import ActionHandoff
from bot.actions.procedures import ActionAnswerProcedure
from common.text import fold_diacritics
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

TOKEN = "rasa-api-token-for-tests"
HUMAN_RE = re.compile(r"tong dai vien|gap (?:nguoi|can bo)|/request_human")


class RasaDouble:
    """Conversations in memory; the REST webhook and the tracker events API of Rasa 3.6."""

    def __init__(self, catalogue: Catalogue) -> None:
        self.procedures = ActionAnswerProcedure(KnowledgeService(catalogue))
        self.handoff = ActionHandoff()
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.slots: dict[str, dict[str, Any]] = {}
        self.paused: dict[str, bool] = {}
        self.refused = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/rest/webhook", self.webhook)
        app.router.add_post("/conversations/{sender}/tracker/events", self.append)
        app.router.add_get("/conversations/{sender}/tracker", self.tracker)
        app.router.add_get("/", lambda request: web.Response(text="Hello from Rasa: 3.6.21"))
        return app

    def _apply(self, sender: str, event: dict[str, Any]) -> None:
        events = self.events.setdefault(sender, [])
        events.append(event)
        if event["event"] == "pause":
            self.paused[sender] = True
        elif event["event"] == "resume":
            self.paused[sender] = False
        elif event["event"] == "slot":
            self.slots.setdefault(sender, {})[event["name"]] = event.get("value")

    def _tracker(self, sender: str, message: dict[str, Any]) -> Tracker:
        return Tracker.from_dict({
            "sender_id": sender, "slots": dict(self.slots.get(sender, {})), "latest_message": message,
            "events": list(self.events.get(sender, [])), "paused": self.paused.get(sender, False),
            "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
        })

    async def webhook(self, request: web.Request) -> web.Response:
        body = await request.json()
        sender, text = body["sender"], body["message"]
        intent = "request_human" if HUMAN_RE.search(fold_diacritics(text.lower())) else "ask_procedure"
        message = {"text": text, "intent": {"name": intent}, "entities": [], "metadata": body.get("metadata") or {}}
        self._apply(sender, {"event": "user", "text": text, "parse_data": message, "metadata": message["metadata"]})
        if self.paused.get(sender):
            return web.json_response([])
        action = self.handoff if intent == "request_human" else self.procedures
        dispatcher = CollectingDispatcher()
        returned = await action.run(dispatcher, self._tracker(sender, message), {})
        self._apply(sender, {"event": "action", "name": action.name()})
        for event in returned:
            self._apply(sender, dict(event))
        for m in dispatcher.messages:
            self._apply(sender, {"event": "bot", "text": m.get("text"), "metadata": {}})
        if not self.paused.get(sender):
            self._apply(sender, {"event": "action", "name": "action_listen"})
        return web.json_response([{"recipient_id": sender, "text": m.get("text") or "",
                                   "buttons": m.get("buttons") or []} for m in dispatcher.messages])

    async def append(self, request: web.Request) -> web.Response:
        if request.query.get("token") != TOKEN:
            self.refused += 1
            return web.json_response({"status": "failure", "reason": "NotAuthenticated"}, status=401)
        sender = request.match_info["sender"]
        for event in await request.json():
            self._apply(sender, event)
        return web.json_response({"sender_id": sender})

    async def tracker(self, request: web.Request) -> web.Response:
        if request.query.get("token") != TOKEN:
            return web.json_response({"status": "failure"}, status=401)
        sender = request.match_info["sender"]
        return web.json_response({"sender_id": sender, "events": self.events.get(sender, []),
                                  "paused": self.paused.get(sender, False), "slots": self.slots.get(sender, {})})

    def staff_lines(self, sender: str) -> list[tuple[str, str]]:
        """(staff, text) of the bot utterances written by staff, in tracker order."""
        return [(e["metadata"]["staff"], e["text"]) for e in self.events.get(sender, [])
                if e["event"] == "bot" and (e.get("metadata") or {}).get("staff")]
