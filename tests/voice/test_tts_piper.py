"""TTS_ENGINE=piper on a tiny random-weight Piper voice built here: synthesis at 8 kHz, bounds, clear folder errors."""

from __future__ import annotations

import asyncio
import math
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("sherpa_onnx")

from connectors.voice.audio import RATE
from connectors.voice.config import VoiceSettings
from connectors.voice.tts import load_tts
from connectors.voice.tts_sherpa import MAX_TEXT_CHARS, PiperTTS

sys.path.insert(0, str(Path(__file__).parent))
from tiny_vits import HOP, PIPER_METADATA, SAMPLE_RATE, write_tiny_vits

SENTENCE = "Xin chào, tôi có thể giúp gì về thủ tục hành chính?"


def test_engine_speaks_a_vietnamese_sentence_at_the_gateway_rate(tmp_path: Path) -> None:
    """TTS_ENGINE=piper loads the folder and returns 8 kHz int16 audio as long as the model's output."""
    settings = VoiceSettings().model_copy(update={"tts_engine": "piper", "tts_model": write_tiny_vits(tmp_path / "v")})
    voice = load_tts(settings)
    engine = voice.engine
    assert isinstance(engine, PiperTTS) and engine.sample_rate == SAMPLE_RATE
    pcm = asyncio.run(voice.sentence(SENTENCE))
    assert pcm.dtype == np.int16 and np.abs(pcm).max() > 1000
    phonemes = asyncio.run(engine.phonemes(SENTENCE))
    known = sum(c in engine.tokens for c in phonemes)
    assert known > 20  # espeak-ng's IPA of the sentence, mostly in the voice's symbols
    ids = 2 * known + 3  # bos, pad, (phoneme, pad) each, eos
    assert len(pcm) == math.ceil(ids * HOP * RATE / SAMPLE_RATE)


def test_long_text_is_cut_before_phonemizing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A runaway reply is cut to MAX_TEXT_CHARS at a word boundary."""
    engine = PiperTTS(write_tiny_vits(tmp_path / "v"))
    seen: list[str] = []
    phonemize = engine.phonemes

    async def spy(text: str) -> str:
        seen.append(text)
        return await phonemize(text)

    monkeypatch.setattr(engine, "phonemes", spy)
    text = "thủ tục " * 1000
    pcm = asyncio.run(engine.synthesize(text))
    assert len(pcm) > 0 and MAX_TEXT_CHARS - 5 <= len(seen[0]) <= MAX_TEXT_CHARS
    assert text.startswith(seen[0] + " ")  # whole words only


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("no folder", "is not a folder"),
        ("no tokens", "tokens.txt: none"),
        ("two models", "*.onnx: model.onnx, other.onnx"),
        ("not onnx", "not a loadable ONNX model"),
        ("no sample rate", "metadata lacks sample_rate"),
        ("not piper", "is not a Piper voice"),
        ("no bos", "no Piper symbol(s) ^"),
        ("bad tokens", "line 2 is not a new one-character symbol"),
    ],
)
def test_bad_folder_is_a_clear_error_not_an_exit(tmp_path: Path, change: str, message: str) -> None:
    """Every folder problem sherpa-onnx would end the process on is a RuntimeError naming it."""
    folder = tmp_path / "v"
    if change != "no folder":
        metadata = dict(PIPER_METADATA)
        if change == "no sample rate":
            del metadata["sample_rate"]
        if change == "not piper":
            metadata["comment"] = "coqui"
        write_tiny_vits(folder, metadata=metadata)
    tokens = folder / "tokens.txt"
    if change == "no tokens":
        tokens.unlink()
    if change == "two models":
        (folder / "other.onnx").write_bytes((folder / "model.onnx").read_bytes())
    if change == "not onnx":
        (folder / "model.onnx").write_bytes(b"not a model")
    if change == "no bos":
        tokens.write_text("".join(line + "\n" for line in tokens.read_text().splitlines() if line != "^ 1"))
    if change == "bad tokens":
        tokens.write_text("_ 0\nab 1\n")
    with pytest.raises(RuntimeError, match="TTS_MODEL") as info:
        PiperTTS(folder)
    assert message in str(info.value)
