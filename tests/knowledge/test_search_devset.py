"""The benchmark dev set is well formed and independent of the seed catalogue's example questions."""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import pytest

from knowledge.lexical import tokens

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))

from knowledge_bench import CRAWL, DEVSET, load_devset, load_seed  # noqa: E402

STYLES = {"formal", "colloquial", "unaccented", "typo"}


def jaccard(a: str, b: str) -> float:
    """Folded token Jaccard similarity."""
    x, y = set(tokens(a)), set(tokens(b))
    return len(x & y) / len(x | y) if x | y else 0.0


def test_devset_size_and_styles() -> None:
    rows = load_devset(DEVSET)
    assert len(rows) >= 150
    assert {style for _, style, _ in rows} == STYLES
    assert len({q for _, _, q in rows}) == len(rows), "duplicate questions"


@pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")
def test_devset_codes_exist_in_the_national_catalogue() -> None:
    with gzip.open(CRAWL, "rt", encoding="utf-8") as fh:
        codes = {json.loads(line)["ma_thu_tuc"] for line in fh}
    missing = {c for wanted, _, _ in load_devset(DEVSET) for c in wanted if c not in codes}
    assert not missing


def test_no_devset_question_copies_a_seed_question() -> None:
    seed_questions = [q for p in load_seed() for q in p.questions + p.aliases]
    if not seed_questions:
        pytest.skip("no seed catalogue")
    copies = [
        (dev, seed)
        for _, _, dev in load_devset(DEVSET)
        for seed in seed_questions
        if jaccard(dev, seed) >= 0.8
    ]
    assert not copies, copies[:5]


def test_jaccard_detects_near_copies() -> None:
    assert jaccard("Làm giấy khai sinh cần gì?", "lam giay khai sinh can gi") == 1.0
    assert jaccard("đổi bằng lái xe", "xin giấy xác nhận độc thân") == 0.0
