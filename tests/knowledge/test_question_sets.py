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
    DEV3,
    DEV4,
    DEV5,
    FRESH4,
    FRESH5,
    FRESH6,
    FRESH7,
    FRESH7_CURATED,
    FRESH_CURATED,
    FRESH_LONGTAIL,
    Row,
    check_near_copies,
    check_rows,
    check_sets,
    check_title_copies,
    has_diacritics,
    load_curated,
    must_be_disjoint,
    read_set,
    validate,
)

STYLE_SIZES = {
    FRESH_LONGTAIL[0]: 40,
    FRESH_LONGTAIL[1]: 40,
    FRESH_CURATED[0]: 30,
    FRESH_CURATED[1]: 20,
    DEV2: 40,
    DEV3: 40,
    DEV4: 40,
    FRESH4: 40,
    FRESH5: 40,
    FRESH6: 40,
    DEV5: 40,
    FRESH7: 30,
    FRESH7_CURATED: 10,
}


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


def test_second_fresh_sets_exist_and_the_curated_one_asks_about_every_curated_procedure() -> None:
    longtail = read_set(ROOT / FRESH_LONGTAIL[1], [])
    rows = read_set(ROOT / FRESH_CURATED[1], [])
    curated, _ = load_curated()
    assert len(longtail) == 160 and len(rows) == 80
    asked = Counter(code for row in rows for code in row.codes if code in curated)
    assert set(asked) == curated, sorted(curated - set(asked))
    per_procedure = Counter(row.codes for row in longtail)
    assert max(per_procedure.values()) <= 2, per_procedure.most_common(3)


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


def test_second_fresh_sets_get_the_fresh_checks() -> None:
    longtail, curated_set = FRESH_LONGTAIL[1], FRESH_CURATED[1]
    sets = {
        "bench/devset/questions.tsv": [
            _row("bench/devset/questions.tsv", "1.000009", "typo", "xin giấy A ở đâu vậy ạ")
        ],
        "bench/longtail/fresh.tsv": [_row("bench/longtail/fresh.tsv", "1.000003", "typo", "giay C lam o dau")],
        longtail: [
            _row(longtail, "1.000002|1.000009", "formal", "Xin giấy B ở cơ quan nào?"),
            _row(longtail, "1.000003", "typo", "xin giay D o dau", 2),
        ],
        curated_set: [
            _row(curated_set, "1.000002", "formal", "Làm giấy khai sinh cho con cần gì?"),
            _row(curated_set, "1.000009", "colloquial", "ở đâu vậy ạ xin giấy A", 2),
        ],
    }
    problems: list[str] = []
    check_sets(sets, {"1.000009"}, ["làm giấy khai sinh cho con cần gì"], problems)
    text = "\n".join(problems)
    assert "longtail/fresh2.tsv:1: long-tail row labels curated ['1.000009']" in text
    assert "bench/devset/questions.tsv and bench/longtail/fresh2.tsv share procedures ['1.000009']" in text
    assert "bench/longtail/fresh.tsv and bench/longtail/fresh2.tsv share procedures ['1.000003']" in text
    assert "devset/fresh2.tsv:1: labels no curated procedure" in text
    assert "devset/fresh2.tsv:1: copies the catalogue text" in text
    assert "devset/fresh2.tsv:2: nearly copies bench/devset/questions.tsv:1" in text


def test_near_copies_of_other_sets_are_reported_only_for_the_strict_sets() -> None:
    sets = {
        "bench/devset/questions.tsv": [_row("bench/devset/questions.tsv", "1.000009", "typo", "xin giay A o dau vay")],
        "bench/devset/unseen.tsv": [_row("bench/devset/unseen.tsv", "1.000009", "typo", "o dau vay xin giay A")],
        DEV2: [_row(DEV2, "1.000009", "colloquial", "vậy xin giấy A ở đâu")],
    }
    problems: list[str] = []
    check_near_copies(sets, problems)
    assert problems == [f"{DEV2}:1: nearly copies bench/devset/questions.tsv:1 'xin giay A o dau vay'"]


def test_third_longtail_dev_set_has_160_questions_about_at_least_130_procedures_outside_the_curated() -> None:
    rows = read_set(ROOT / DEV3, [])
    curated, _ = load_curated()
    assert len(rows) == 160
    assert Counter(row.style for row in rows) == {"formal": 40, "colloquial": 40, "unaccented": 40, "typo": 40}
    assert not {code for row in rows for code in row.codes} & curated
    per_procedure = Counter(row.codes for row in rows)
    assert len(per_procedure) >= 130 and max(per_procedure.values()) <= 2, per_procedure.most_common(3)
    dev = {code for row in read_set(ROOT / "bench/longtail/dev.tsv", []) for code in row.codes}
    assert sum(1 for row in rows if set(row.codes) & dev) <= 80


def test_third_longtail_dev_set_may_share_only_with_the_first_dev_set() -> None:
    assert not must_be_disjoint("bench/longtail/dev.tsv", DEV3)
    assert must_be_disjoint("bench/longtail/questions.tsv", DEV3)
    assert must_be_disjoint(FRESH_LONGTAIL[1], DEV3) and not must_be_disjoint(DEV3, "bench/devset/questions.tsv")
    sets = {
        "bench/longtail/dev.tsv": [_row("bench/longtail/dev.tsv", "1.000002", "typo", "xin giay B o dau")],
        "bench/longtail/questions.tsv": [_row("bench/longtail/questions.tsv", "1.000003", "typo", "xin giay C")],
        DEV3: [
            _row(DEV3, "1.000002", "formal", "Tôi muốn làm giấy B cho con thì nộp ở đâu?"),
            _row(DEV3, "1.000003", "colloquial", "giấy C làm ở xã hay huyện vậy", 2),
        ],
    }
    problems: list[str] = []
    check_sets(sets, set(), [], problems)
    text = "\n".join(problems)
    assert "dev.tsv and bench/longtail/dev3.tsv" not in text
    assert "bench/longtail/dev3.tsv and bench/longtail/questions.tsv share procedures ['1.000003']" in text


def test_third_longtail_dev_set_gets_the_strict_checks_without_quoting_held_out_questions() -> None:
    rows = [
        _row(DEV3, "1.000002", "formal", "Làm giấy khai sinh cho con cần gì?"),
        _row(DEV3, "1.000003", "typo", "giấy C", 2),
        _row(DEV3, "1.000004", "colloquial", "ở đâu vậy ạ xin giấy A", 3),
    ]
    problems: list[str] = []
    check_rows(rows, {"1.000002", "1.000003", "1.000004"}, problems)
    sets = {
        DEV3: rows,
        "bench/longtail/questions.tsv": [
            _row("bench/longtail/questions.tsv", "1.000009", "typo", "xin giấy A ở đâu vậy ạ")
        ],
    }
    check_sets(sets, {"1.000009"}, ["làm giấy khai sinh cho con cần gì"], problems)
    text = "\n".join(problems)
    assert "dev3.tsv:1: copies the catalogue text" in text
    assert "dev3.tsv:2: 2 words" in text
    assert "dev3.tsv:3: nearly copies bench/longtail/questions.tsv:1" in text and "giấy A ở đâu vậy ạ'" not in text


def test_rows_that_nearly_copy_the_crawl_title_of_their_procedure_are_reported() -> None:
    titles = {"1.000002": "Cấp lại giấy phép lái xe bị mất", "1.000003": "Đăng ký khai sinh lưu động"}
    rows = [
        _row(DEV3, "1.000002", "typo", "cấp lại giấy phép lái xe bị mất ạ"),
        _row(DEV3, "1.000003|1.000002", "colloquial", "con sinh ở bản xa, xã có về tận nhà làm khai sinh không", 2),
    ]
    problems: list[str] = []
    check_title_copies(rows, titles, problems)
    assert problems == [f"{DEV3}:1: nearly copies the crawl title of 1.000002"]


def test_session_14_sets_split_answer_groups_by_the_last_digit_of_their_smallest_code() -> None:
    assert must_be_disjoint(FRESH4, DEV4) and must_be_disjoint(FRESH4, "bench/longtail/dev.tsv")
    assert not must_be_disjoint(DEV4, DEV3) and must_be_disjoint(DEV4, FRESH_LONGTAIL[2])
    for name, parity in ((FRESH4, 0), (DEV4, 1)):
        rows = read_set(ROOT / name, [])
        assert len(rows) == 160
        assert all(int(min(row.codes)[-1]) % 2 == parity for row in rows), name


def test_session_15_sets_are_disjoint_from_each_other_and_from_every_older_long_tail_set() -> None:
    assert must_be_disjoint(FRESH6, DEV5) and must_be_disjoint(FRESH6, DEV4)
    assert not must_be_disjoint(DEV5, DEV4) and must_be_disjoint(DEV5, FRESH5)
    fresh6 = {c for row in read_set(ROOT / FRESH6, []) for c in row.codes}
    dev5 = {c for row in read_set(ROOT / DEV5, []) for c in row.codes}
    assert len(fresh6) >= 150 and len(dev5) >= 150 and not fresh6 & dev5


def test_session_16_set_avoids_every_tuning_set_and_may_reask_older_held_out_procedures() -> None:
    assert must_be_disjoint(FRESH7, DEV5) and must_be_disjoint(FRESH7, "bench/longtail/dev.tsv")
    assert not must_be_disjoint(FRESH7, FRESH6) and not must_be_disjoint(FRESH7, "bench/longtail/questions.tsv")
    fresh7 = {c for row in read_set(ROOT / FRESH7, []) for c in row.codes}
    tuning = {c for name in (DEV3, DEV4, DEV5, "bench/longtail/dev.tsv") for row in read_set(ROOT / name, [])
              for c in row.codes}
    assert len(fresh7) >= 110 and not fresh7 & tuning
    curated, _ = load_curated()
    assert all(set(row.codes) & curated for row in read_set(ROOT / FRESH7_CURATED, []))
