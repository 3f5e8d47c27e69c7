"""The learned re-ranker: its model, its training data mined from records, and how the searcher uses it."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest

from knowledge import decision, rerank
from knowledge.index import ProcedureIndex
from knowledge.lexical import SynonymTable
from knowledge.pseudo_questions import pseudo_questions
from knowledge.schema import Procedure
from knowledge.search import LEXICON, ProcedureSearcher, SearchConfig
from tests.knowledge.search_fixtures import FakeEncoder


def _model(weights: dict[str, float], threshold: float = 0.7) -> rerank.RerankModel:
    n = len(rerank.FEATURES)
    w = np.zeros(n)
    for name, value in weights.items():
        w[rerank.FEATURES.index(name)] = value
    return rerank.RerankModel(np.zeros(n), np.ones(n), w, 0.0, threshold, {})


@pytest.fixture(scope="module")
def tiny() -> ProcedureIndex:
    """Three procedures about ships and fish, told apart by their titles and results."""
    procs = [
        Procedure(code="9.000001", title="Đăng ký tàu cá", levels=["Cấp tỉnh"],
                  result="Giấy chứng nhận đăng ký tàu cá"),
        Procedure(code="9.000002", title="Xóa đăng ký tàu cá", levels=["Cấp tỉnh"]),
        Procedure(code="9.000003", title="Cấp giấy phép khai thác thủy sản", levels=["Cấp tỉnh"]),
    ]
    return ProcedureIndex.build(procs, FakeEncoder())


def test_probabilities_leave_room_for_none_and_follow_the_logits() -> None:
    model = _model({"title_cover": 2.0})
    x = np.zeros((3, len(rerank.FEATURES)))
    x[:, rerank.FEATURES.index("title_cover")] = [0.0, 1.0, 0.5]
    p = model.probabilities(x)
    assert list(np.argsort(-p)) == [1, 2, 0]
    assert 0.0 < p.sum() < 1.0  # the rest is "none of these"


def test_searcher_reorders_by_the_reranker_and_answers_at_its_threshold(tiny: ProcedureIndex) -> None:
    fused = ProcedureSearcher.from_index(tiny, FakeEncoder(), config=SearchConfig())
    reranked = ProcedureSearcher.from_index(tiny, FakeEncoder(), config=SearchConfig(use_reranker=True))
    reranked._load_reranker(_model({"log_rank": 5.0}, threshold=0.42))  # prefers the fused ranking's last
    question = "đăng ký tàu cá"
    before = [h.code for h in fused.search(question, top_k=3)]
    after = reranked.search(question, top_k=3)
    assert [h.code for h in after] == before[::-1]
    assert all(a.score >= b.score for a, b in itertools.pairwise(after))
    assert reranked.answer_threshold == 0.42


def test_features_read_title_and_result_cover(tiny: ProcedureIndex) -> None:
    searcher = ProcedureSearcher.from_index(tiny, FakeEncoder(), config=SearchConfig(use_reranker=True))
    question = "xin giấy chứng nhận đăng ký tàu cá"
    scored = searcher.score_all(question)
    top = np.argsort(-scored.fused)[:3]
    x = searcher.rerank_features(question, scored, top)
    codes = [tiny.docs[i].code for i in top]
    recall = x[:, rerank.FEATURES.index("result_recall")]
    assert recall[codes.index("9.000001")] == 1.0 and recall[codes.index("9.000003")] == 0.0
    assert x[codes.index("9.000002"), rerank.FEATURES.index("title_recall")] < 1.0  # "xóa" was not asked


def test_shipped_weights_load_with_a_dev_chosen_threshold() -> None:
    model = rerank.RerankModel.load()
    assert model is not None
    assert 0.5 <= model.threshold <= 1.0 and model.meta["trained_by"] == "bench/train_reranker.py"
    assert model.weights.shape == (len(rerank.FEATURES),)


def test_fit_learns_the_signal_that_marks_the_right_candidate() -> None:
    rng = np.random.default_rng(0)
    col = rerank.FEATURES.index("result_recall")
    groups = []
    for _ in range(200):
        x = rng.random((5, len(rerank.FEATURES)))
        y = np.zeros(5, bool)
        y[rng.integers(5)] = True
        x[:, col] = y * 0.8 + rng.random(5) * 0.3
        groups.append((x, y))
    mean, scale, weights, bias = rerank.fit(groups)
    model = rerank.RerankModel(mean, scale, weights, bias, 0.9, {})
    right = np.mean([y[int(np.argmax(model.logits(x)))] for x, y in groups])
    assert right > 0.9 and int(np.argmax(np.abs(weights))) == col


def test_pseudo_questions_are_reproducible_and_read_the_record() -> None:
    p = Procedure(code="1", title="Thủ tục cấp giấy phép lái xe hạng A1 đối với người nước ngoài",
                  result="Giấy phép lái xe")
    lexicon = SynonymTable.load(LEXICON)
    first = pseudo_questions(p, lexicon, random.Random(1), 40)
    assert first == pseudo_questions(p, lexicon, random.Random(1), 40)
    assert len(set(first)) > 20
    assert any("lai xe" in q for q in first)  # some without accents
    assert all(len(q.split()) <= 24 for q in first)


def test_threshold_rule_skips_thresholds_answering_too_few() -> None:
    probs = [0.99, 0.97] + [0.9] * 100 + [0.5] * 20
    right = [True, False] + [True] * 100 + [False] * 20
    grid = (0.5, 0.9, 0.96)
    assert decision.choose_threshold(probs, right, grid) is None  # 1 right of 2 at 0.96 ends the search
    assert decision.choose_threshold(probs, right, grid, min_answered=50) == 0.9
