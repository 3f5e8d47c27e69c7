"""The model's graphs run without dask and give what dask's runner gives (runs in .venv-rasa)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("rasa")

import dask
from rasa.core.agent import Agent
from rasa.engine.runner.dask import DaskGraphRunner

from bot import rasa_speedups
from tests.dialogue.test_ted_deferral import CONVERSATION, MODEL

ORIGINAL_RUN = DaskGraphRunner.run


def _conversation(agent: Agent, sender: str) -> list[Any]:
    """The bot's answers and the stored events (without their times) of the test conversation."""
    answers = [[{k: v for k, v in answer.items() if k != "recipient_id"}
                for answer in asyncio.run(agent.handle_text(text, sender_id=sender)) or []] for text in CONVERSATION]
    tracker = asyncio.run(agent.tracker_store.retrieve(sender))
    assert tracker is not None
    return [answers, [_without_ids(e.as_dict()) for e in tracker.events]]


def _without_ids(value: Any) -> Any:
    """The value without its times and random message ids."""
    if isinstance(value, dict):
        return {k: _without_ids(v) for k, v in value.items() if k not in ("timestamp", "message_id")}
    return [_without_ids(v) for v in value] if isinstance(value, list) else value


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_same_conversation_as_with_dask(monkeypatch: pytest.MonkeyPatch) -> None:
    rasa_speedups.install()
    agent = Agent.load(str(MODEL))
    monkeypatch.setattr(DaskGraphRunner, "run", ORIGINAL_RUN)
    expected = _conversation(agent, "web:dask")

    def no_dask(*_: Any, **__: Any) -> None:
        raise AssertionError("dask ran the graph")

    monkeypatch.setattr(DaskGraphRunner, "run", rasa_speedups._run_graph)
    monkeypatch.setattr(dask, "get", no_dask)
    got = _conversation(agent, "web:nodask")
    assert got[0] == expected[0]
    assert got[1] == expected[1]
