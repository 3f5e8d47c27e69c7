"""Session 7 slang in the lexicon: motorbike models and car slang reach the portal's vehicle words."""

from __future__ import annotations

import pytest

from knowledge.lexical import SynonymTable
from knowledge.search import LEXICON


@pytest.fixture(scope="module")
def lexicon() -> SynonymTable:
    return SynonymTable.load(LEXICON)


@pytest.mark.parametrize(("question", "expected"), [
    ("mới rước con SH về thì đăng ký ở đâu", "xe máy"),
    ("mua lai con wave cu cua ban", "xe máy"),
    ("bán xe vision cho người quen", "xe máy"),
    ("mua xe tay ga moi", "xe máy"),
    ("mới tậu xế hộp", "xe ô tô"),
])
def test_vehicle_slang_reaches_portal_words(lexicon: SynonymTable, question: str, expected: str) -> None:
    assert any(expected in e for e in lexicon.expansions(question)), lexicon.expansions(question)


@pytest.mark.parametrize("question", [
    "ai lead nhóm dự án",
    "vision của công ty",
    "dream job của tôi",
    "quay số trúng thưởng",
])
def test_a_bare_model_name_is_not_a_motorbike(lexicon: SynonymTable, question: str) -> None:
    assert not any("xe máy" in e for e in lexicon.expansions(question)), lexicon.expansions(question)
