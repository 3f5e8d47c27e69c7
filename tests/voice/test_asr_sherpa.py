"""ASR_ENGINE=sherpa-onnx on a tiny random-weight transducer built here: loading, bounds, clear folder errors."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sherpa_onnx")

from connectors.voice.asr import load_local_asr
from connectors.voice.asr_sherpa import SherpaOnnxASR
from connectors.voice.audio import RATE, decode, encode
from connectors.voice.config import VoiceSettings
from connectors.voice.decoding import DecodePool

sys.path.insert(0, str(Path(__file__).parent))
from tiny_transducer import TOKENS, write_tiny_transducer

REPO = Path(__file__).resolve().parents[2]


def phone_audio(seconds: float = 3.0) -> np.ndarray:
    """A tone plus noise at 8 kHz, round-tripped through G.711 µ-law as a call delivers it."""
    t = np.arange(int(seconds * RATE)) / RATE
    wave = 3000 * np.sin(2 * np.pi * 220 * t) + np.random.default_rng(1).standard_normal(len(t)) * 300
    return decode(encode(wave.astype(np.int16), "PCMU"), "PCMU")


def settings(folder: Path) -> VoiceSettings:
    """Voice settings choosing the sherpa-onnx engine on ``folder``."""
    return VoiceSettings().model_copy(update={"asr_engine": "sherpa-onnx", "asr_model": folder, "asr_threads": 1})


def test_engine_loads_and_decodes_phone_audio_within_budget(tmp_path: Path) -> None:
    """The engine is chosen by ASR_ENGINE and decodes a call's audio through the pool within its budget."""
    asr = load_local_asr(settings(write_tiny_transducer(tmp_path / "m")))
    assert isinstance(asr, SherpaOnnxASR) and asr.name == "sherpa-onnx"
    pool = DecodePool(asr, workers=1, budget_s=2.0)
    try:
        result = asyncio.run(pool.transcribe(phone_audio()))
    finally:
        pool.shutdown()
    assert result.text == "" and result.rejected == ""  # the joiner favours blank: nothing heard
    assert 0 < result.seconds < 2.0


def test_runaway_output_is_bounded_and_discarded_by_the_guard(tmp_path: Path) -> None:
    """A model emitting a token every frame: at most one per frame, then guard.rejection discards it."""
    asr = SherpaOnnxASR(write_tiny_transducer(tmp_path / "m", winner=1), threads=1)
    result = asr.decode(phone_audio(2.0))
    words = result.raw.split()
    assert words and set(words) == {TOKENS[1].lstrip("▁")}
    assert len(words) <= 2.0 * 100  # 10 ms feature frames, no more than one token each
    assert result.text == "" and result.rejected == "too long for the audio"
    assert asr.transcribe(phone_audio(2.0)) == ""


def test_hotwords_with_a_bpe_vocab(tmp_path: Path) -> None:
    """With bpe.vocab the catalogue phrases become hotwords that pull modified beam search toward them."""
    phrases = ["Thủ tục", "một hai", "thủ tục", " "]
    plain = SherpaOnnxASR(write_tiny_transducer(tmp_path / "plain", margin=1.0), threads=1, phrases=phrases)
    assert not plain.hotwords_enabled and plain.hotwords == ""
    assert plain.decode(phone_audio(1.0)).raw == ""  # blank wins every frame, if narrowly
    folder = write_tiny_transducer(tmp_path / "m", margin=1.0)
    (folder / "bpe.vocab").write_text("".join(f"{t}\t{-i}\n" for i, t in enumerate(TOKENS)), encoding="utf-8")
    asr = SherpaOnnxASR(folder, threads=1, phrases=phrases)
    assert asr.hotwords_enabled and asr.hotwords == "thủ tục/một hai"
    heard = asr.decode(phone_audio(1.0)).raw.split()
    assert heard and set(heard) <= {"thủ", "tục", "một", "hai"}  # only hotword pieces beat blank
    asr.bias(())
    assert asr.hotwords == ""


def test_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    """No folder at ASR_MODEL: the error says so and points to the README."""
    with pytest.raises(RuntimeError, match="is not a folder"):
        load_local_asr(settings(tmp_path / "nowhere"))


def test_incomplete_or_ambiguous_folder_is_a_clear_error(tmp_path: Path) -> None:
    """A missing joiner or tokens.txt, or two encoders, is named in the error before sherpa-onnx sees the folder."""
    folder = write_tiny_transducer(tmp_path / "m")
    (folder / "joiner.onnx").unlink()
    (folder / "tokens.txt").unlink()
    with pytest.raises(RuntimeError, match=r"joiner\*\.onnx: none; tokens\.txt: none"):
        load_local_asr(settings(folder))
    folder = write_tiny_transducer(tmp_path / "two")
    (folder / "encoder-epoch-12.onnx").write_bytes((folder / "encoder.onnx").read_bytes())
    with pytest.raises(RuntimeError, match=r"encoder-epoch-12\.onnx, encoder\.onnx"):
        load_local_asr(settings(folder))


def test_int8_variant_is_preferred(tmp_path: Path) -> None:
    """As sherpa-onnx's releases ship both, the int8 encoder is picked over the float one."""
    folder = write_tiny_transducer(tmp_path / "m")
    (folder / "encoder.int8.onnx").write_bytes((folder / "encoder.onnx").read_bytes())
    assert isinstance(load_local_asr(settings(folder)), SherpaOnnxASR)
    from connectors.voice.asr_sherpa import model_files

    assert model_files(folder)["encoder"].name == "encoder.int8.onnx"


def test_sherpa_onnx_is_imported_only_when_chosen() -> None:
    """The default engine's import path never loads sherpa_onnx."""
    code = "import sys, connectors.voice.asr, connectors.voice.decoding; sys.exit('sherpa_onnx' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0
