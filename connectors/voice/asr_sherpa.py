"""``ASR_ENGINE=sherpa-onnx``: an offline transducer (e.g. a zipformer) from an operator-provided folder.

``ASR_MODEL`` names a folder as sherpa-onnx's transducer models ship: ``encoder*.onnx``, ``decoder*.onnx``,
``joiner*.onnx`` (an ``.int8.onnx`` variant is preferred when both are there) and ``tokens.txt``. No model
ships with the project. With a ``bpe.vocab`` in the folder the decoder runs ``modified_beam_search`` biased
toward the catalogue's phrases (sherpa-onnx hotwords); without one, greedy search and no biasing.

Same bounds as faster-whisper: a transducer emits at most one token per encoder frame (the text is bounded
by the audio), ``guard.rejection`` discards loops and over-long texts, the decode pool enforces the budget.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from connectors.voice.audio import RATE, resample
from connectors.voice.guard import Transcript, rejection

log = logging.getLogger(__name__)

PARTS = ("encoder", "decoder", "joiner")
SAMPLE_RATE = 16000  # what sherpa-onnx's zipformers are trained on
HOTWORDS_SCORE = 1.5
MAX_HOTWORDS = 200


def model_files(folder: Path) -> dict[str, Path]:
    """The transducer's files in ``folder``; a clear error naming what is missing or ambiguous."""
    if not folder.is_dir():
        raise RuntimeError(f"ASR_ENGINE=sherpa-onnx: ASR_MODEL {folder} is not a folder (no sherpa model ships; "
                           "see README, voice section)")
    found: dict[str, Path] = {}
    problems: list[str] = []
    for part in PARTS:
        candidates = sorted(folder.glob(f"{part}*.onnx"))
        int8 = [p for p in candidates if p.name.endswith(".int8.onnx")]
        chosen = int8 or candidates
        if len(chosen) == 1:
            found[part] = chosen[0]
        else:
            problems.append(f"{part}*.onnx: " + (", ".join(p.name for p in chosen) if chosen else "none"))
    if not (folder / "tokens.txt").is_file():
        problems.append("tokens.txt: none")
    if problems:
        raise RuntimeError(f"ASR_MODEL {folder} is not a sherpa-onnx transducer folder (want exactly one of each): "
                           + "; ".join(problems))
    found["tokens"] = folder / "tokens.txt"
    return found


class SherpaOnnxASR:
    """A sherpa-onnx offline transducer on CPU, bounded like ``FasterWhisperASR``."""

    name = "sherpa-onnx"

    def __init__(self, folder: Path, threads: int = 2, phrases: Sequence[str] = ()) -> None:
        """Load the recogniser once (sherpa_onnx is imported only here) and run one warm-up decode."""
        import sherpa_onnx

        files = model_files(folder)
        bpe_vocab = folder / "bpe.vocab"
        self.hotwords_enabled = bpe_vocab.is_file()
        options: dict[str, Any] = {}
        if self.hotwords_enabled:
            options = {"decoding_method": "modified_beam_search", "modeling_unit": "bpe",
                       "bpe_vocab": str(bpe_vocab), "hotwords_score": HOTWORDS_SCORE}
        self.recognizer = sherpa_onnx.OfflineRecognizer.from_transducer(
            str(files["encoder"]), str(files["decoder"]), str(files["joiner"]), str(files["tokens"]),
            num_threads=max(1, threads), sample_rate=SAMPLE_RATE, **options,
        )
        self.bias(phrases)
        self.transcribe(np.zeros(RATE, np.int16))

    def bias(self, phrases: Sequence[str]) -> None:
        """Set the hotwords (they take effect only when the folder has ``bpe.vocab``)."""
        cleaned = [" ".join(p.split()).strip(" ,.;/").lower() for p in phrases]
        self.phrases = list(dict.fromkeys(p for p in cleaned if p))[:MAX_HOTWORDS]
        self.hotwords = "/".join(self.phrases) if self.hotwords_enabled else ""

    def decode(self, pcm: np.ndarray, rate: int = RATE) -> Transcript:
        """Transcribe one utterance within the bounds; a discarded text comes back in ``raw``."""
        t0 = time.perf_counter()
        audio = resample(pcm, rate, SAMPLE_RATE).astype(np.float32) / 32768.0
        audio_s = len(audio) / SAMPLE_RATE
        stream = self.recognizer.create_stream(self.hotwords) if self.hotwords else self.recognizer.create_stream()
        stream.accept_waveform(SAMPLE_RATE, audio)
        self.recognizer.decode_stream(stream)
        raw = " ".join(str(stream.result.text).split())
        why = rejection(raw, audio_s)
        seconds = time.perf_counter() - t0
        if why:
            log.info("ASR output discarded (%s, %.1f s of audio)", why, audio_s)
            return Transcript("", why, seconds, raw)
        return Transcript(raw, "", seconds, raw)

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Transcribe one utterance ('' when nothing usable)."""
        return self.decode(pcm, rate).text
