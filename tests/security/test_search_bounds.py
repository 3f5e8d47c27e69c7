"""§1 of issue 11: one long message must not cost more than a short one, nor stall anyone else."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from bot.actions.fallback import ActionFallback
from bot.actions.procedures import ActionAnswerProcedure
from common.messages import BUSY_TEXT
from common.rasa import RasaClient
from common.settings import get_settings
from knowledge.config import KnowledgeSettings
from knowledge.keyword_search import KeywordSearcher
from knowledge.schema import Procedure
from knowledge.search import Hit
from knowledge.service import KnowledgeService
from knowledge.store import Catalogue

DEVSET = Path(__file__).resolve().parents[2] / "bench" / "devset"
SHORTER = "quá dài"  # in the "please ask a shorter question" reply


def real_questions() -> list[str]:
    """Every question of the search dev sets (citizens' questions: short)."""
    rows = []
    for path in sorted(DEVSET.glob("*.tsv")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line and not line.startswith("#") and not line.startswith(("question\t", "codes\t")):
                rows.append(line.split("\t")[-1])  # codes, style, question: the question
    return rows


class RecordingSearcher:
    """The real keyword searcher, recording each query it is given and optionally held at a gate."""

    min_score = KeywordSearcher.min_score
    clarify_margin = KeywordSearcher.clarify_margin

    def __init__(self, catalogue: Catalogue, gate: threading.Event | None = None) -> None:
        """Search ``catalogue``; wait for ``gate`` (when given) before each search."""
        self.real = KeywordSearcher(catalogue.all())
        self.queries: list[str] = []
        self.gate = gate

    def search(self, query: str, top_k: int = 5) -> list[Hit]:
        """Record, wait, search."""
        self.queries.append(query)
        if self.gate is not None:
            self.gate.wait(30)
        return self.real.search(query, top_k)


@pytest.fixture
def catalogue(data_dir: Path) -> Any:
    """A small real catalogue in the temporary data dir."""
    cat = Catalogue(get_settings(KnowledgeSettings).catalogue_db_url)
    cat.upsert_many([
        Procedure(code="1.001193", title="Đăng ký khai sinh", source_url="https://dichvucong.gov.vn/1",
                  aliases=["làm giấy khai sinh"]),
        Procedure(code="1.004194", title="Đăng ký tạm trú", source_url="https://dichvucong.gov.vn/2"),
    ])
    yield cat
    cat.close()


def tracker(text: str, intent: str = "ask_procedure") -> Tracker:
    """A tracker whose latest user message is ``text``."""
    message = {"text": text, "intent": {"name": intent}, "entities": [], "metadata": {"channel": "web"}}
    return Tracker.from_dict({
        "sender_id": "web:abcdefgh1234", "slots": {}, "latest_message": message,
        "events": [{"event": "user", "text": text, "parse_data": message}], "paused": False,
        "followup_action": None, "active_loop": {}, "latest_action_name": "action_listen",
    })


def replies(action: Any, t: Tracker) -> str:
    """Run the action; all its reply texts."""
    dispatcher = CollectingDispatcher()
    asyncio.run(action.run(dispatcher, t, {}))
    return "\n".join(m["text"] or "" for m in dispatcher.messages)


def long_question(chars: int) -> str:
    """Real questions glued together up to ``chars`` characters."""
    text = ""
    for q in real_questions() * 100:
        if len(text) >= chars:
            break
        text += q + ". "
    return text[:chars]


def test_the_searcher_sees_a_bounded_query(catalogue: Catalogue) -> None:
    searcher = RecordingSearcher(catalogue)
    service = KnowledgeService(catalogue, searcher)
    service.search(long_question(900))
    service.search("tôi muốn hỏi " + "thủ tục đăng ký khai sinh cho con " * 30)
    assert searcher.queries and all(len(q) <= 200 and len(q.split()) <= 40 for q in searcher.queries)


def test_real_questions_are_searched_whole(catalogue: Catalogue) -> None:
    searcher = RecordingSearcher(catalogue)
    service = KnowledgeService(catalogue, searcher)
    questions = real_questions()
    assert len(questions) > 300
    for q in questions:
        service.search(q)
    assert searcher.queries == questions


@pytest.mark.parametrize("text", [
    long_question(2000),
    "a" * 10_000_000,
    "xin hỏi " + "x" * 5000,
    " ".join(["qwertyuiopasdfgh"] * 40),
], ids=["2000-chars", "10MB", "one-huge-word", "mostly-not-words"])
def test_noise_is_asked_to_be_shorter_without_a_search(catalogue: Catalogue, text: str) -> None:
    searcher = RecordingSearcher(catalogue)
    service = KnowledgeService(catalogue, searcher)
    answer = replies(ActionAnswerProcedure(service), tracker(text))
    assert SHORTER in answer
    assert replies(ActionFallback(service), tracker(text, "nlu_fallback")).count(SHORTER) == 1
    assert searcher.queries == []


def test_real_questions_are_never_taken_for_noise(catalogue: Catalogue) -> None:
    service = KnowledgeService(catalogue, RecordingSearcher(catalogue))
    action = ActionAnswerProcedure(service)
    for q in real_questions()[::10]:
        assert SHORTER not in replies(action, tracker(q))


def test_searches_cannot_starve_other_work_and_late_ones_are_answered_busy(
    catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KNOWLEDGE_SEARCH_DEADLINE", "1.0")
    gate = threading.Event()
    service = KnowledgeService(catalogue, RecordingSearcher(catalogue, gate))
    action = ActionAnswerProcedure(service)

    async def scenario() -> tuple[list[str], int]:
        async def ask() -> str:
            dispatcher = CollectingDispatcher()
            await action.run(dispatcher, tracker("làm giấy khai sinh cần gì"), {})
            return dispatcher.messages[0]["text"]

        searches = [asyncio.create_task(ask()) for _ in range(12)]
        await asyncio.sleep(0.2)
        # A dossier lookup (the default executor, like asyncio.to_thread in action_check_dossier)
        # still runs while every search is stuck.
        looked_up = await asyncio.wait_for(asyncio.to_thread(lambda: 42), 10)
        answers = await asyncio.wait_for(asyncio.gather(*searches), 20)
        gate.set()
        return answers, looked_up

    try:
        answers, looked_up = asyncio.run(scenario())
    finally:
        gate.set()
    assert looked_up == 42
    assert answers.count(BUSY_TEXT) == 12  # every one held past its deadline is answered "busy"


def test_long_questions_cannot_crowd_out_short_ones(catalogue: Catalogue, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KNOWLEDGE_LONG_SEARCH_INTERVAL", "60")
    searcher = RecordingSearcher(catalogue)
    action = ActionAnswerProcedure(KnowledgeService(catalogue, searcher))
    long_q = long_question(500)
    assert BUSY_TEXT not in replies(action, tracker(long_q))
    assert SHORTER in replies(action, tracker(long_q))  # the long lane's next start is a minute away
    assert BUSY_TEXT not in replies(action, tracker("làm giấy khai sinh cần gì"))  # short ones are not held up
    assert len(searcher.queries) == 2


async def test_every_message_to_rasa_is_cut(aiohttp_server: Any) -> None:
    got: list[str] = []

    async def webhook(request: web.Request) -> web.Response:
        got.append((await request.json())["message"])
        return web.json_response([])

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/webhooks/rest/webhook", webhook)
    server = await aiohttp_server(app)
    client = RasaClient(str(server.make_url("")).rstrip("/"), 5.0)
    await client.start()
    try:
        await client.post("call:abc", "ư" * 1_000_000, "voice")
    finally:
        await client.close()
    assert len(got) == 1 and len(got[0]) == 2000
