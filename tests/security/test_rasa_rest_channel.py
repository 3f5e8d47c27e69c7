"""Rasa's REST channel as credentials.yml configures it refuses unbounded or malformed messages.

Runs in the Python 3.10 Rasa venv (``.venv-rasa/bin/python -m pytest tests/security/test_rasa_rest_channel.py``);
skipped in the 3.11 venv, which has no Rasa.
"""

from __future__ import annotations

import asyncio
import json
import socket
from pathlib import Path
from typing import Any

import pytest

rasa = pytest.importorskip("rasa")

import aiohttp  # noqa: E402
from rasa.core.channels.channel import UserMessage  # noqa: E402
from rasa.core.run import configure_app, create_http_input_channels  # noqa: E402
from sanic import Sanic  # noqa: E402

Sanic.test_mode = True  # one Rasa app per test, all named alike

REPO = Path(__file__).resolve().parents[2]


class RecordingAgent:
    """Stands in for Rasa's Agent behind the channel: records what reached it and answers once."""

    def __init__(self) -> None:
        """No messages yet."""
        self.messages: list[UserMessage] = []

    async def handle_message(self, message: UserMessage) -> None:
        """Record the message and answer it."""
        self.messages.append(message)
        await message.output_channel.send_text_message(message.sender_id, "ok")


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _exchange(bodies: list[bytes]) -> tuple[list[tuple[int, Any]], RecordingAgent]:
    """Serve Rasa's Sanic app with the input channels of credentials.yml on a free port; POST each body."""
    channels = create_http_input_channels(None, str(REPO / "credentials.yml"))
    port = free_port()
    app = configure_app(channels, enable_api=False, port=port)
    agent = RecordingAgent()
    app.ctx.agent = agent
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    url = f"http://127.0.0.1:{port}/webhooks/rest/webhook"
    try:
        async with aiohttp.ClientSession() as session:

            async def post(raw: bytes) -> tuple[int, Any]:
                headers = {"Content-Type": "application/json"}
                async with session.post(url, data=raw, headers=headers) as resp:
                    return resp.status, json.loads(await resp.read() or b"null")

            return list(await asyncio.gather(*(post(b) for b in bodies))), agent
    finally:
        await server.before_stop()
        await server.close()
        await server.after_stop()


def exchange(*bodies: bytes) -> tuple[list[tuple[int, Any]], RecordingAgent]:
    """POST ``bodies`` to Rasa's REST webhook as the project configures it; the answers and the agent."""
    return asyncio.run(_exchange(list(bodies)))


def body(**fields: Any) -> bytes:
    """A JSON body."""
    return json.dumps(fields).encode()


def test_credentials_use_the_bounded_channel_on_the_same_url() -> None:
    [(status, answer)], agent = exchange(body(sender="web:abcdefgh12", message="làm căn cước cần gì"))
    assert status == 200 and answer == [{"recipient_id": "web:abcdefgh12", "text": "ok"}]
    assert [m.text for m in agent.messages] == ["làm căn cước cần gì"]


def test_over_long_message_is_refused_before_rasa() -> None:
    answers, agent = exchange(
        body(sender="web:abcdefgh12", message="thủ tục " * 300),
        body(sender="web:abcdefgh12", message="a" * 10_000_000),
    )
    assert answers[0][0] == 413 and answers[0][1]["error"] == "message_too_long"
    assert answers[1][0] == 413
    assert agent.messages == []


@pytest.mark.parametrize(
    "raw",
    [
        body(sender="web:abcdefgh12", message=None),
        body(sender="web:abcdefgh12", message=["x"]),
        body(sender="web:abcdefgh12\n", message="xin chào"),
        body(sender="", message="xin chào"),
        body(sender="x" * 300, message="xin chào"),
        b"[" * 100_000 + b"]" * 100_000,
        b"{not json",
    ],
    ids=["null", "list", "newline-sender", "empty-sender", "long-sender", "nested", "not-json"],
)
def test_malformed_requests_get_a_json_400(raw: bytes) -> None:
    [(status, answer)], agent = exchange(raw)
    assert status in (400, 413) and isinstance(answer, dict) and answer.get("error")
    assert agent.messages == []


def test_several_senders_at_once_are_all_answered() -> None:
    answers, agent = exchange(*(body(sender=f"web:abcdefgh{i:02d}", message="xin chào") for i in range(5)))
    assert [status for status, _ in answers] == [200] * 5 and len(agent.messages) == 5
