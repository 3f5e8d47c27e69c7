"""Action calls go through one kept-alive connection, with Rasa's request, answers and errors (runs in .venv-rasa)."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rasa")

from aiohttp import web
from rasa.core.actions.action import ActionExecutionRejection, RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

from bot import rasa_http, rasa_speedups

ROOT = Path(__file__).resolve().parents[2]
DOMAIN = Domain.load(str(ROOT / "domain.yml"))
ANSWER = {"events": [{"event": "slot", "name": "procedure_code", "value": "1.001193", "timestamp": None}],
          "responses": [{"text": "Dạ, thủ tục 1.001193 “Đăng ký khai sinh”", "buttons": []}]}


class FakeActionServer:
    """An action server on a free loopback port recording the peer port and body of every call."""

    def __init__(self) -> None:
        """No calls yet."""
        self.peers: list[int] = []
        self.bodies: list[dict[str, Any]] = []
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def handle(self, request: web.Request) -> web.Response:
        """Record the call; reject ``action_reject``, answer ANSWER otherwise."""
        self.peers.append(request.transport.get_extra_info("peername")[1])  # type: ignore[union-attr]
        body = json.loads(await request.read())
        self.bodies.append(body)
        if body["next_action"] == "action_reject":
            return web.json_response({"action_name": "action_reject", "error": "no"}, status=400)
        return web.json_response(ANSWER)

    async def __aenter__(self) -> FakeActionServer:
        """Serve on 127.0.0.1."""
        app = web.Application()
        app.router.add_post("/webhook", self.handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}/webhook"
        return self

    async def __aexit__(self, *_: Any) -> None:
        """Stop serving."""
        assert self.runner is not None
        await self.runner.cleanup()


def _tracker() -> DialogueStateTracker:
    """A tracker after one question."""
    tracker = DialogueStateTracker("web:http-test", DOMAIN.slots)
    for event in [ActionExecuted("action_listen"), UserUttered("lam giay khai sinh", {"name": "ask_procedure"})]:
        tracker.update(event)
    return tracker


async def _run(endpoint: EndpointConfig, name: str, tracker: DialogueStateTracker | None = None) -> list[Any]:
    """Run a custom action as Rasa's processor does."""
    output = CollectingOutputChannel()
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    return await RemoteAction(name, endpoint).run(output, nlg, tracker or _tracker(), DOMAIN)


def test_calls_share_one_connection_and_send_rasas_request() -> None:
    rasa_speedups.install()

    tracker = _tracker()

    async def scenario() -> tuple[FakeActionServer, list[list[Any]]]:
        async with FakeActionServer() as server:
            endpoint = EndpointConfig(server.url)
            results = [await _run(endpoint, "action_answer_procedure", tracker) for _ in range(3)]
            await rasa_http.close()
        return server, results

    server, results = asyncio.run(scenario())
    assert len(server.peers) == 3 and len(set(server.peers)) == 1  # Rasa 3.6 opens a connection per call
    expected = rasa_speedups._action_call_format(RemoteAction("action_answer_procedure", None), tracker, DOMAIN)
    assert server.bodies[0] == json.loads(json.dumps(expected))
    for events in results:
        assert isinstance(events[0], BotUttered) and events[0].text == ANSWER["responses"][0]["text"]
        assert events[1] == SlotSet("procedure_code", "1.001193")


def test_rejection_and_server_errors_as_rasa() -> None:
    rasa_speedups.install()

    async def scenario() -> None:
        async with FakeActionServer() as server:
            with pytest.raises(ActionExecutionRejection):
                await _run(EndpointConfig(server.url), "action_reject")
            with pytest.raises(Exception, match="Failed to execute custom action"):
                await _run(EndpointConfig(server.url.replace("/webhook", "/missing")), "action_answer_procedure")
            await rasa_http.close()

    asyncio.run(scenario())


def test_close_leaves_no_unclosed_session() -> None:
    rasa_speedups.install()

    async def scenario() -> None:
        async with FakeActionServer() as server:
            await _run(EndpointConfig(server.url), "action_answer_procedure")
            assert rasa_http._sessions
            await rasa_http.close()
            assert not rasa_http._sessions

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        asyncio.run(scenario())
        gc.collect()
    assert not [w for w in caught if "Unclosed" in str(w.message)]


def test_rest_channel_closes_the_sessions_when_the_server_stops() -> None:
    from bot.rest_channel import BoundedRestInput

    async def on_message(_: Any) -> None:
        return None

    bp = BoundedRestInput().blueprint(on_message)
    listeners = [future for future in bp._future_listeners if future.event == "after_server_stop"]
    assert [future.listener.__name__ for future in listeners] == ["close_action_calls"]


def test_ujson_falls_back_to_json_for_what_it_refuses() -> None:
    assert json.loads(rasa_http.encode({"a": "Đ", "b": [1.5, None]})) == {"a": "Đ", "b": [1.5, None]}
    lone_surrogate = {"text": "a\ud800b"}  # half an emoji: not UTF-8; Rasa's json escapes it
    assert rasa_http.encode(lone_surrogate) == json.dumps(lone_surrogate).encode("ascii")
