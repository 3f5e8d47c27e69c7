"""Button payloads are read by the REST channel exactly as the NLU pipeline would read them (runs in .venv-rasa)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

pytest.importorskip("rasa")

from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.shared.core.domain import Domain

from bot.rest_channel import BoundedRestInput, payload_parse

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "tthc.tar.gz"
PAYLOADS = [
    '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}',
    "/request_human",
    "/check_status",
    '/feedback{"rating":"up"}',
    "/help",
    "  /greet",
    "/ask_procedure{broken",  # Rasa reads the intent and warns about the rest
]
NOT_PAYLOADS = ["/nonexistent_intent", "lam giay khai sinh /help", "", "/"]


def test_payloads_of_domain_intents_are_read_and_others_left_to_the_pipeline() -> None:
    domain = Domain.load(str(ROOT / "domain.yml"))
    fee = payload_parse(PAYLOADS[0], domain)
    assert fee is not None and fee["intent"] == {"name": "ask_procedure", "confidence": 1.0}
    assert {(e["entity"], e["value"]) for e in fee["entities"]} == {("procedure_code", "1.001193"), ("facet", "fee")}
    for text in NOT_PAYLOADS:
        assert payload_parse(text, domain) is None, text
    assert payload_parse("/help", None) is None


def test_the_channel_can_be_told_not_to_read_payloads() -> None:
    assert BoundedRestInput.from_credentials({"parse_payloads": "false"}).parse_payloads is False
    assert BoundedRestInput.from_credentials(None).parse_payloads is True


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_same_parse_as_the_trained_pipeline() -> None:
    agent = Agent.load(str(MODEL))
    assert agent.processor is not None
    for text in PAYLOADS:
        expected = asyncio.run(agent.processor.parse_message(UserMessage(text)))
        assert payload_parse(text, agent.domain) == expected, text
