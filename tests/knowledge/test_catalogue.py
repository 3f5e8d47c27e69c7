"""Checks on the hand-written seed catalogue in knowledge/catalogue/*.yml."""

from __future__ import annotations

import gzip
import json
import re
from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.text import fold_diacritics, nfc
from knowledge.schema import Procedure

ROOT = Path(__file__).resolve().parents[2]
CATALOGUE_DIR = ROOT / "knowledge" / "catalogue"
CRAWL = ROOT.parent / "shared" / "data" / "dichvucong" / "tthc_raw.jsonl.gz"

MIN_PROCEDURES = 60
MIN_QUESTIONS = 8
MIN_PLAIN_QUESTIONS = 3
SHARED_RUN = 12
CHANNEL_NAMES = {"Trực tiếp", "Trực tuyến", "Dịch vụ bưu chính"}
PROCEDURE_KEYS = {f.name for f in fields(Procedure)}
_WORD = re.compile(r"\w+")


def _catalogue_files() -> list[Path]:
    return sorted(CATALOGUE_DIR.glob("*.yml"))


def _load(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        data = yaml.safe_load(handle)
    assert isinstance(data, list), f"{path.name}: top level must be a list of procedures"
    return data


def _all_entries() -> list[tuple[str, dict[str, Any]]]:
    return [(path.name, entry) for path in _catalogue_files() for entry in _load(path)]


def _words(text: str) -> list[str]:
    return _WORD.findall(nfc(text).lower())


def _shared_run(text: str, source: str, size: int = SHARED_RUN) -> str | None:
    """Return the first run of ``size`` words that ``text`` shares with ``source``, if any."""
    src = _words(source)
    grams = {tuple(src[i : i + size]) for i in range(len(src) - size + 1)}
    words = _words(text)
    for i in range(len(words) - size + 1):
        if tuple(words[i : i + size]) in grams:
            return " ".join(words[i : i + size])
    return None


def _has_diacritics(text: str) -> bool:
    return fold_diacritics(nfc(text)) != nfc(text)


@pytest.fixture(scope="module")
def procedures() -> list[Procedure]:
    """Every catalogue entry, built through the schema."""
    return [Procedure.from_dict(entry) for _, entry in _all_entries()]


@pytest.fixture(scope="module")
def crawl_by_code() -> dict[str, dict[str, Any]]:
    """Raw portal records by procedure code (skips when the shared crawl is absent)."""
    if not CRAWL.is_file():
        pytest.skip("shared crawl not available")
    with gzip.open(CRAWL, "rt", encoding="utf-8") as handle:
        records = [json.loads(line) for line in handle if line.strip()]
    return {str(r["ma_thu_tuc"]).strip(): r for r in records}


def test_catalogue_files_exist() -> None:
    assert _catalogue_files(), "knowledge/catalogue/ holds no *.yml file"


@pytest.mark.parametrize("path", _catalogue_files(), ids=lambda p: p.name)
def test_every_file_loads_through_the_schema(path: Path) -> None:
    entries = _load(path)
    assert entries, f"{path.name} is empty"
    for entry in entries:
        unknown = set(entry) - PROCEDURE_KEYS
        assert not unknown, f"{path.name} {entry.get('code')}: unknown keys {unknown}"
        Procedure.from_dict(entry)


def test_enough_procedures_with_unique_codes(procedures: list[Procedure]) -> None:
    codes = [p.code for p in procedures]
    assert len(codes) >= MIN_PROCEDURES
    duplicates = sorted({c for c in codes if codes.count(c) > 1})
    assert not duplicates, f"duplicate codes: {duplicates}"


def test_questions_are_many_and_partly_without_diacritics(procedures: list[Procedure]) -> None:
    for p in procedures:
        assert len(p.questions) >= MIN_QUESTIONS, f"{p.code}: only {len(p.questions)} questions"
        assert len(set(p.questions)) == len(p.questions), f"{p.code}: repeated questions"
        plain = [q for q in p.questions if not _has_diacritics(q)]
        assert len(plain) >= MIN_PLAIN_QUESTIONS, f"{p.code}: only {len(plain)} questions without diacritics"


def test_required_fields_are_filled(procedures: list[Procedure]) -> None:
    for p in procedures:
        assert p.title.strip(), p.code
        assert p.field.strip(), f"{p.code}: field"
        assert p.channels, f"{p.code}: channels"
        assert p.source_url.startswith("https://"), f"{p.code}: source_url"
        assert p.online_url.startswith("https://"), f"{p.code}: online_url"
        assert p.documents or any(c.note for c in p.channels), f"{p.code}: no documents and no note"
        assert p.summary.strip() and p.steps and p.result.strip(), f"{p.code}: prose"
        assert p.aliases, f"{p.code}: aliases"
        assert p.updated_at, f"{p.code}: updated_at"


def test_channels_and_fees_are_consistent(procedures: list[Procedure]) -> None:
    for p in procedures:
        for c in p.channels:
            assert c.name in CHANNEL_NAMES, f"{p.code}: channel {c.name!r}"
            assert c.time_text.strip(), f"{p.code}/{c.name}: time_text"
            assert c.fee_text.strip(), f"{p.code}/{c.name}: fee_text"
            if c.free:
                assert c.fee_vnd in (0, None), f"{p.code}/{c.name}: free but fee_vnd={c.fee_vnd}"
            if c.fee_vnd is not None:
                assert c.fee_vnd >= 0, f"{p.code}/{c.name}: negative fee"


def test_codes_and_titles_match_the_crawl(
    procedures: list[Procedure], crawl_by_code: dict[str, dict[str, Any]]
) -> None:
    for p in procedures:
        record = crawl_by_code.get(p.code)
        assert record is not None, f"{p.code} is not in the crawl"
        assert nfc(p.title).strip() == nfc(record["ten_thu_tuc"]).strip(), f"{p.code}: title differs from the crawl"
        assert p.source_url == record["detail_url"], f"{p.code}: source_url differs from the crawl"


def test_prose_is_not_copied_from_the_crawl(
    procedures: list[Procedure], crawl_by_code: dict[str, dict[str, Any]]
) -> None:
    for p in procedures:
        raw = crawl_by_code[p.code].get("raw_text") or ""
        for name, text in [("summary", p.summary), ("conditions", p.conditions), ("result", p.result)] + [
            (f"step {i}", s) for i, s in enumerate(p.steps, 1)
        ]:
            run = _shared_run(text, raw)
            assert run is None, f"{p.code} {name} copies the crawl: {run!r}"


def test_shared_run_detector_can_fail() -> None:
    source = "một hai ba bốn năm sáu bảy tám chín mười mười một mười hai mười ba"
    assert _shared_run(source, source) is not None
    assert _shared_run("câu khác hẳn, viết bằng lời của mình", source) is None
