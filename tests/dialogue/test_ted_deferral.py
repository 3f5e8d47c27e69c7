"""Deferring TED gives the prediction the whole policy ensemble gives, at every step (runs in .venv-rasa)."""

from __future__ import annotations

import asyncio
import copy
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("rasa")

from rasa.core.agent import Agent
from rasa.core.processor import MessageProcessor

from bot import rasa_speedups

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "tthc.tar.gz"
CONVERSATION = [
    "xin chào", "lam giay khai sinh can gi", "cảm ơn", "tra cứu hồ sơ", "000.00.20.H57-240101-0001", "1234",
    "asdkjh qwe", "zzkx vvq", '/ask_procedure{"procedure_code":"1.001193","facet":"fee"}', "/request_human",
    "bạn là ai", "đăng ký kết hôn cần mang theo gì", '/feedback{"rating":"up"}', "tạm biệt",
]


def _key(prediction: Any) -> tuple:
    """What the processor uses of a prediction (events without their creation time)."""
    events = [{k: v for k, v in e.as_dict().items() if k != "timestamp"} for e in prediction.events]
    return (prediction.max_confidence_index, round(prediction.max_confidence, 6), prediction.policy_name,
            events, prediction.is_no_user_prediction, prediction.hide_rule_turn)


@pytest.mark.skipif(not MODEL.exists(), reason="needs the trained model (make train)")
def test_every_prediction_equals_the_full_ensemble(monkeypatch: pytest.MonkeyPatch) -> None:
    agent = Agent.load(str(MODEL))
    original = rasa_speedups._original_predict
    compared: list[str] = []

    def both(self: MessageProcessor, tracker: Any) -> Any:
        expected = original(self, copy.deepcopy(tracker))
        got = rasa_speedups._predict_next_with_tracker(self, copy.deepcopy(tracker))
        assert _key(got) == _key(expected)
        compared.append(got.policy_name or "")
        return original(self, tracker)

    monkeypatch.setattr(MessageProcessor, "_predict_next_with_tracker", both)
    for text in CONVERSATION:
        asyncio.run(agent.handle_text(text, sender_id="web:ted"))
    assert len(compared) > len(CONVERSATION)
    assert any("TED" not in name for name in compared)  # the deferral was exercised, not only the fallback
