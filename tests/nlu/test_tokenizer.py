"""Tests of the Vietnamese tokenizer: offsets, NFC, protected spans, folded lemmas."""

from __future__ import annotations

import unicodedata

import pytest

from bot.nlu.segmentation import syllables
from common.text import find_dossier_codes, fold_diacritics, mask_name, mask_pii, normalize_dossier_code

rasa = pytest.importorskip("rasa")

from rasa.shared.nlu.training_data.message import Message  # noqa: E402

from bot.nlu.tokenizer import VietnameseTokenizer  # noqa: E402


def tokenize(text: str, segmenter: str = "syllable") -> list:
    """Tokenize ``text`` with the Rasa component."""
    config = {**VietnameseTokenizer.get_default_config(), "segmenter": segmenter}
    return VietnameseTokenizer(config).tokenize(Message(data={"text": text}), "text")


def assert_offsets_exact(text: str, tokens: list) -> None:
    """Every token's text is exactly the slice of the original text at its offsets."""
    for token in tokens:
        assert text[token.start : token.end] == token.text, token


@pytest.mark.parametrize("segmenter", ["syllable", "pyvi"])
@pytest.mark.parametrize(
    "text",
    [
        "làm giấy khai sinh cần gì",
        "lam giay khai sinh can gi",
        unicodedata.normalize("NFD", "Làm căn cước ở Hà Nội mất bao lâu?"),
        "hồ sơ 000.00.20.H57-240101-0001 của tôi đến đâu rồi???",
        "ma ho so la 000 00 20 h57 – 240101 – 0001 nhé 😀😀",
        "sdt 0912 345 678, cccd 001203004567, hẹn ngày 15/12/2025!!!",
        "",
        "   ",
        "😀",
        "!!!???...",
        "ko dc à? tks ad",
    ],
)
def test_offsets_map_back_to_original(text: str, segmenter: str) -> None:
    tokens = tokenize(text, segmenter)
    assert_offsets_exact(text, tokens)


def test_decomposed_input_tokenizes_like_composed() -> None:
    composed = "Đăng ký thường trú ở đâu"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    lemmas_c = [t.lemma for t in tokenize(composed)]
    lemmas_d = [t.lemma for t in tokenize(decomposed)]
    assert lemmas_c == lemmas_d == ["dang", "ky", "thuong", "tru", "o", "dau"]


def test_unaccented_and_accented_share_lemmas() -> None:
    accented = [t.lemma for t in tokenize("Làm giấy khai sinh cho con cần những gì")]
    plain = [t.lemma for t in tokenize("lam giay khai sinh cho con can nhung gi")]
    assert accented == plain


@pytest.mark.parametrize(
    "text,code_text",
    [
        ("tra cứu 000.00.20.H57-240101-0001 giúp", "000.00.20.H57-240101-0001"),
        ("ma 000.00.20.h57-240101-0001", "000.00.20.h57-240101-0001"),
        ("ma 000 00 20 H57 240101 0001 nha", "000 00 20 H57 240101 0001"),
        ("mã 000.00.20.H57–240101–0001.", "000.00.20.H57–240101–0001"),
        ("mã 0000020H57-240101-0001", "0000020H57-240101-0001"),
    ],
)
def test_dossier_code_is_one_token(text: str, code_text: str) -> None:
    tokens = tokenize(text)
    assert code_text in [t.text for t in tokens]
    token = next(t for t in tokens if t.text == code_text)
    assert token.lemma == "__ma_ho_so__"
    assert_offsets_exact(text, tokens)


def test_phone_cccd_date_are_single_tokens() -> None:
    text = "sdt 0912 345 678 cccd 001203004567 ngày 15/12/2025"
    by_text = {t.text: t.lemma for t in tokenize(text)}
    assert by_text["0912 345 678"] == "__so_dien_thoai__"
    assert by_text["001203004567"] == "__so_cccd__"
    assert by_text["15/12/2025"] == "__ngay__"


def test_four_digits_get_their_own_lemma() -> None:
    tokens = tokenize("bốn số cuối là 6789")
    assert tokens[-1].text == "6789" and tokens[-1].lemma == "__bon_so__"


def test_emoji_and_punctuation_are_dropped() -> None:
    assert [t.text for t in tokenize("xin chào!!! 😀😀 ...")] == ["xin", "chào"]


def test_pyvi_joins_compounds_with_exact_offsets() -> None:
    text = "thủ tục đăng ký kết hôn ở Hà Nội"
    tokens = tokenize(text, "pyvi")
    assert any(" " in t.text for t in tokens)
    assert_offsets_exact(text, tokens)


def test_syllables_without_rasa_keep_offsets_for_decomposed_text() -> None:
    text = unicodedata.normalize("NFD", "Hộ chiếu")
    pieces = syllables(text)
    assert [p.lemma for p in pieces] == ["ho", "chieu"]
    assert [text[p.start : p.end] for p in pieces] == [p.text for p in pieces]


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("000.00.20.H57-240101-0001", "000.00.20.H57-240101-0001"),
        ("000.00.20.h57-240101-0001", "000.00.20.H57-240101-0001"),
        ("000 . 00 . 20 . H57 - 240101 - 0001", "000.00.20.H57-240101-0001"),
        ("000.00.20.H57—240101—0001", "000.00.20.H57-240101-0001"),
        ("hs của tôi 0000020H57 240101 0001 nhé", "000.00.20.H57-240101-0001"),
        ("000.00.20.H57-24010-0001", None),
        ("không có mã", None),
    ],
)
def test_normalize_dossier_code(raw: str, expected: str | None) -> None:
    assert normalize_dossier_code(raw) == expected


def test_find_dossier_codes_offsets() -> None:
    text = "a 000.00.20.H57-240101-0001 và 000.00.00.G01-250505-0002"
    found = find_dossier_codes(text)
    assert [text[s:e] for s, e, _ in found] == ["000.00.20.H57-240101-0001", "000.00.00.G01-250505-0002"]


def test_fold_keeps_length() -> None:
    text = "Đường Trường Sơn, quận Hoàng Mai"
    assert fold_diacritics(text) == "Duong Truong Son, quan Hoang Mai"
    assert len(fold_diacritics(text)) == len(text)


def test_masking() -> None:
    assert mask_name("Nguyễn Văn An") == "Nguyễn V*** A"
    masked = mask_pii("sdt 0912345678, cccd 001203004567")
    assert "0912345678" not in masked and "001203004567" not in masked
    assert masked.endswith("67")


def _parsed(text: str, intent: str = "affirm", confidence: float = 0.77) -> Message:
    """A tokenized message with a predicted intent, as DIET leaves it."""
    message = Message(data={"text": text})
    VietnameseTokenizer(VietnameseTokenizer.get_default_config()).process([message])
    message.set("intent", {"name": intent, "confidence": confidence})
    message.set("intent_ranking", [{"name": intent, "confidence": confidence}])
    return message


def test_unknown_words_guard_zeroes_messages_without_known_words() -> None:
    from bot.nlu.unknown_words import UnknownWordsGuard

    guard = UnknownWordsGuard(None, None, {"lam", "giay", "khai", "sinh", "ok"})  # type: ignore[arg-type]
    mash, known, accented, code_only = (
        _parsed("asdkjh qwe"), _parsed("ok"), _parsed("Làm giấy khai sinh"), _parsed("000.00.20.H57-240101-0001")
    )
    guard.process([mash, known, accented, code_only])
    assert mash.get("intent")["confidence"] == 0.0
    assert mash.get("intent_ranking")[0]["confidence"] == 0.0
    assert known.get("intent")["confidence"] == 0.77
    assert accented.get("intent")["confidence"] == 0.77
    assert code_only.get("intent")["confidence"] == 0.77, "a bare dossier code is not a keyboard mash"
