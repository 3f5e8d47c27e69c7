"""An external recogniser over HTTP (a GPU box or a provider), with the local engine as fallback.

Protocol: ``POST ASR_HTTP_URL`` with body ``audio/wav`` (8 kHz mono 16-bit PCM, one utterance),
header ``X-Language: vi``, optional ``Authorization: Bearer ASR_HTTP_TOKEN``; the server answers
``200`` with JSON ``{"text": "..."}`` (optionally ``"alternatives": ["...", ...]``, ignored for now).
Any other status, malformed JSON, or no answer within ``ASR_HTTP_TIMEOUT_S`` → the utterance is
decoded by the local engine instead (the caller only notices the delay).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request

import numpy as np

from connectors.voice.audio import RATE, resample, wav_bytes
from connectors.voice.guard import ASR, Transcript, recognise, rejection

log = logging.getLogger(__name__)
MAX_RESPONSE_BYTES = 64 * 1024


class HttpASR:
    """Remote first, local on any failure."""

    name = "http"

    def __init__(self, url: str, token: str, timeout_s: float, fallback: ASR) -> None:
        """Remember the endpoint and the fallback engine."""
        self.url, self.token, self.timeout_s, self.fallback = url, token, timeout_s, fallback
        self.failures = 0

    def _remote(self, pcm: np.ndarray) -> str:
        """One request; raises on any failure."""
        headers = {"Content-Type": "audio/wav", "X-Language": "vi"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(self.url, data=wav_bytes(pcm), headers=headers, method="POST")
        with urllib.request.urlopen(request, timeout=self.timeout_s) as resp:
            if resp.status != 200:
                raise ValueError(f"HTTP {resp.status}")
            body = json.loads(resp.read(MAX_RESPONSE_BYTES + 1)[:MAX_RESPONSE_BYTES])
        text = body.get("text") if isinstance(body, dict) else None
        if not isinstance(text, str):
            raise ValueError("no 'text' in the answer")
        return text[:1000]

    def decode(self, pcm: np.ndarray, rate: int = RATE) -> Transcript:
        """Ask the remote engine; fall back to the local one on error or timeout."""
        t0 = time.perf_counter()
        audio = pcm if rate == RATE else resample(pcm, rate, RATE)
        try:
            raw = self._remote(audio)
        except (OSError, ValueError, urllib.error.URLError, json.JSONDecodeError) as exc:
            self.failures += 1
            log.warning("external ASR failed (%s): local engine", type(exc).__name__)
            local = recognise(self.fallback, audio, RATE)
            local.seconds = time.perf_counter() - t0
            return local
        why = rejection(raw, len(audio) / RATE)
        return Transcript("" if why else raw, why, time.perf_counter() - t0, raw)

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """The text only."""
        return self.decode(pcm, rate).text
