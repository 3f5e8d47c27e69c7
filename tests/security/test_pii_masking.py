"""mask_pii: the one masking function catches phone and CCCD numbers however they are written (issue 11 §5)."""

from __future__ import annotations

import pytest

from common.text import mask_pii

MASKED = [
    ("001 085 012 345", "001085012345"),
    ("001.085.012.345", "001085012345"),
    ("001-085-012-345", "001085012345"),
    ("cccd: 001085012345.", "001085012345"),
    ("CMND 123456789", "123456789"),
    ("(091) 234-6789", "0912346789"),
    ("+84 91 234 5678", "84912345678"),
    ("+84912345678", "84912345678"),
    ("(+84) 912-345-678", "84912345678"),
    ("0084 912 345 678", "0084912345678"),
    ("0912.345.678", "0912345678"),
    ("0912 345 678", "0912345678"),
    ("0912-345-678", "0912345678"),
    ("sdt0912345678", "0912345678"),
    ("028 3823 4567", "02838234567"),
    ("(028) 3823.4567", "02838234567"),
    ("gọi 0912345678 hoặc 0987654321 nhé", "0987654321"),
    ("hồ sơ 000.00.20.H57-240101-0001, sđt 0912 345 678", "0912345678"),
]

KEPT = [
    "000.00.20.H57-240101-0001",
    "000 00 20 h57 240101 0001",
    "thủ tục 1.001193",
    "mã 2.000986.000.00.00.H57",
    "ngày 01/01/2024",
    "hẹn trả 15.03.2025",
    "lệ phí 2.500.000 đồng",
    "125.000.000.000 đồng",
    "phí 2500000đ",
    "năm 2024, lúc 10:30",
    "số cuối 6789",
    "hotline 1900 1234",
]


def _digits(text: str) -> str:
    """The digits of ``text``, in order."""
    return "".join(ch for ch in text if ch.isdigit())


@pytest.mark.parametrize(("text", "number"), MASKED)
def test_masks_real_looking_formats(text: str, number: str) -> None:
    masked = mask_pii(text)
    assert number not in _digits(masked), masked
    assert masked.count("*") >= 7, masked
    assert len(masked) == len(text)


@pytest.mark.parametrize("text", KEPT)
def test_leaves_codes_dates_and_amounts(text: str) -> None:
    assert mask_pii(text) == text
