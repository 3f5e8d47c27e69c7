"""Every hand-written search question set passes bench/longtail/validate_sets.py, and the validator catches faults."""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench" / "longtail"))

from validate_sets import (  # noqa: E402
    CRAWL,
    DEV2,
    Row,
    check_rows,
    check_sets,
    has_diacritics,
    load_curated,
    read_set,
    validate,
)

STYLE_SIZES = {"bench/longtail/fresh.tsv": 40, "bench/devset/fresh.tsv": 30, DEV2: 40}


@pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")
def test_every_question_set_is_valid() -> None:
    problems, counts = validate()
    assert not problems, problems[:10]
    assert sum(counts["bench/longtail/dev.tsv"].values()) >= 190


@pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")
def test_fresh_sets_have_the_same_number_of_questions_per_style() -> None:
    _, counts = validate()
    for name, per_style in STYLE_SIZES.items():
        if name in counts:
            assert set(counts[name].values()) == {per_style}, (name, counts[name])


def test_second_curated_dev_set_asks_about_every_curated_procedure_at_most_four_times() -> None:
    rows = read_set(ROOT / DEV2, [])
    curated, _ = load_curated()
    asked = Counter(code for row in rows for code in row.codes if code in curated)
    assert set(asked) == curated, sorted(curated - set(asked))
    assert max(asked.values()) <= 4, asked.most_common(3)


def _row(path: str, codes: str, style: str, question: str, line: int = 1) -> Row:
    return Row(path, line, tuple(codes.split("|")), style, question)


def test_rows_with_unknown_codes_styles_or_accents_are_reported() -> None:
    rows = [
        _row("bench/longtail/fresh.tsv", "1.000001", "unaccented", "lam giay phep o dau"),
        _row("bench/longtail/fresh.tsv", "1.999999|1.000001", "slang", "xin giấy phép ở đâu vậy", 2),
        _row("bench/longtail/fresh.tsv", "1.000001", "unaccented", "đăng ky o dau", 3),
        _row("bench/longtail/fresh.tsv", "1.00001", "typo", "hỏi", 4),
    ]
    problems: list[str] = []
    check_rows(rows, {"1.000001"}, problems)
    text = "\n".join(problems)
    assert ":1:" not in text
    assert "fresh.tsv:2: code 1.999999 is not in the crawl" in text and "unknown style 'slang'" in text
    assert "fresh.tsv:3: unaccented question has diacritics" in text
    assert "fresh.tsv:4: malformed code" in text and "1 words" in text


def test_overlaps_curated_labels_and_copies_are_reported() -> None:
    sets = {
        "bench/longtail/dev.tsv": [_row("bench/longtail/dev.tsv", "1.000002", "typo", "xin giay a")],
        "bench/longtail/fresh.tsv": [
            _row("bench/longtail/fresh.tsv", "1.000002", "formal", "Xin giấy A ở đâu?"),
            _row("bench/longtail/fresh.tsv", "1.000009", "typo", "XIN GIAY A", 2),
        ],
        "bench/devset/fresh.tsv": [
            _row("bench/devset/fresh.tsv", "1.000002", "formal", "Làm giấy khai sinh cho con cần gì?"),
        ],
    }
    problems: list[str] = []
    check_sets(sets, {"1.000009"}, ["làm giấy khai sinh cho con cần gì"], problems)
    text = "\n".join(problems)
    assert "longtail/fresh.tsv:2: duplicate question" in text
    assert "longtail/fresh.tsv:2: long-tail row labels curated ['1.000009']" in text
    assert "bench/longtail/dev.tsv and bench/longtail/fresh.tsv share procedures ['1.000002']" in text
    assert "devset/fresh.tsv:1: labels no curated procedure" in text
    assert "devset/fresh.tsv:1: copies the catalogue text" in text


def test_second_curated_dev_set_gets_the_fresh_curated_checks() -> None:
    rows = [
        _row(DEV2, "1.000002", "formal", "Làm giấy khai sinh cho con cần gì?"),
        _row(DEV2, "1.000009", "typo", "khai sinh", 2),
        _row(DEV2, "1.000009", "colloquial", "xin giấy A ở đâu vậy", 3),
    ]
    problems: list[str] = []
    check_rows(rows, {"1.000002", "1.000009"}, problems)
    sets = {
        DEV2: rows,
        "bench/devset/questions.tsv": [_row("bench/devset/questions.tsv", "1.000009", "typo", "XIN GIẤY A Ở ĐÂU VẬY")],
    }
    check_sets(sets, {"1.000009"}, ["làm giấy khai sinh cho con cần gì"], problems)
    text = "\n".join(problems)
    assert "dev2.tsv:1: labels no curated procedure" in text
    assert "dev2.tsv:1: copies the catalogue text" in text
    assert "dev2.tsv:2: 2 words" in text
    assert "duplicate question" in text


def test_diacritics_are_found_on_any_letter() -> None:
    assert not has_diacritics("xin cap lai gplx bi mat")
    assert has_diacritics("xin cap lai gplx bị mat") and has_diacritics("dang ky đat")
