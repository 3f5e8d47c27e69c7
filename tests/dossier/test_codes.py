"""Dossier code normalisation and verification-digit extraction tables."""

from __future__ import annotations

import pytest

from common.text import normalize_dossier_code
from dossier.codes import extract_verification_digits, invalid_code_message

CODE = "000.00.20.H57-240101-0001"


@pytest.mark.parametrize(
    "text",
    [
        CODE,
        "000.00.20.h57-240101-0001",
        "000 00 20 H57 240101 0001",
        "000.00.20.H57–240101–0001",
        "000.00.20.H57—240101—0001",
        "0000020H57-240101-0001",
        "000.00.20.H 57 - 240101 - 0001",
        "mã hồ sơ của tôi là 000.00.20.H57-240101-0001 nhé",
        "ma ho so: 000,00,20,h57_240101_0001.",
        "tra giúp hồ sơ 000.00.20.H57/240101/0001 với",
    ],
)
def test_messy_codes_normalise(text: str) -> None:
    assert normalize_dossier_code(text) == CODE


@pytest.mark.parametrize(
    "text",
    ["", "hồ sơ của tôi", "000.00.20.H57-240101", "000.00.20.X57-240101-0001", "H15.50-251203-2035",
     "03706/2026/07906", "000.00.20.H57-2401011-0001"],
)
def test_non_codes_rejected(text: str) -> None:
    assert normalize_dossier_code(text) is None


@pytest.mark.parametrize(
    ("text", "digits"),
    [
        ("6789", "6789"),
        ("bốn số cuối là 6789", "6789"),
        ("4 số cuối là 6789", "6789"),
        ("so cuoi 6 7 8 9", "6789"),
        ("4 so cuoi la 6 7 8 9", "6789"),
        ("67 89", "6789"),
        ("sáu bảy tám chín", "6789"),
        ("bốn số cuối là sáu bảy tám chín", "6789"),
        ("số cuối không một hai ba", "0123"),
        ("sdt cua toi 0912 346 789", "6789"),
        ("CCCD 001085012345", "2345"),
        ("  ６７８９ ", "6789"),
    ],
)
def test_verification_digits_extracted(text: str, digits: str) -> None:
    assert extract_verification_digits(text) == digits


@pytest.mark.parametrize("text", ["", "678", "67890", "không nhớ", "12 34 56", "số 1234 và 5678", "sáu bảy tám"])
def test_verification_digits_rejected(text: str) -> None:
    assert extract_verification_digits(text) is None


def test_invalid_code_message_explains_format_without_echo() -> None:
    msg = invalid_code_message("mã của tôi là 0912346789")
    assert CODE in msg and "0912346789" not in msg
    assert "đất đai" in invalid_code_message("H15.50-251203-2035")
    assert "bảo hiểm xã hội" in invalid_code_message("03706/2026/07906")
