"""Speech synthesis behind one interface (``TTS_ENGINE``), with recorded prompts played when present.

- ``espeak`` (default, offline): espeak-ng's Vietnamese voice. Intelligible enough for tests, robotic.
- ``http``: POST ``{"text", "voice", "sample_rate": 8000}`` as JSON to ``TTS_HTTP_URL`` (optional bearer
  ``TTS_HTTP_TOKEN``), expect a WAV back: an adapter for a cloud or self-hosted Vietnamese voice.
- ``piper``: a Piper (VITS) voice converted for sherpa-onnx, in the folder ``TTS_MODEL`` (``tts_sherpa``).
- Recorded prompts: ``VOICE_PROMPTS_DIR/<key>.wav`` where key is a gateway prompt name (``greeting``,
  ``reprompt``, ``goodbye``, ``not_heard``, ``busy``, ``transfer_failed``) or ``prompt_key(sentence)``
  for a bot sentence. Each sentence of a reply is looked up; the others are synthesised.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

import aiohttp
import numpy as np

from common.text import nfc
from connectors.voice.audio import RATE, read_wav
from connectors.voice.config import VoiceSettings
from connectors.voice.tts_error import TTSError

log = logging.getLogger(__name__)


class TTS(Protocol):
    """A synthesiser: text in, 8 kHz int16 audio out."""

    async def synthesize(self, text: str) -> np.ndarray:
        """Return the audio for ``text``."""
        ...


class EspeakTTS:
    """espeak-ng in a subprocess (about 10 ms per sentence)."""

    def __init__(self, voice: str = "vi", rate: int = 160, binary: str = "espeak-ng") -> None:
        """Remember voice and speed (words per minute)."""
        self.voice, self.rate, self.binary = voice, rate, binary

    async def synthesize(self, text: str) -> np.ndarray:
        """Run espeak-ng and read its WAV from stdout."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-v", self.voice, "-s", str(self.rate), "--stdout", "--", text,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0 or not out:
            raise TTSError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        return await asyncio.to_thread(read_wav, out, RATE)


class HttpTTS:
    """A remote synthesiser speaking a small JSON-in, WAV-out protocol."""

    def __init__(self, url: str, token: str = "", voice: str = "vi", timeout: float = 10.0) -> None:
        """Remember the endpoint."""
        self.url, self.token, self.voice = url, token, voice
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self.session: aiohttp.ClientSession | None = None

    async def synthesize(self, text: str) -> np.ndarray:
        """POST the text, decode the WAV."""
        if self.session is None:
            self.session = aiohttp.ClientSession()
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        try:
            async with self.session.post(
                self.url, json={"text": text, "voice": self.voice, "sample_rate": RATE}, headers=headers,
                timeout=self.timeout,
            ) as resp:
                if resp.status != 200:
                    raise TTSError(f"HTTP {resp.status}")
                data = await resp.read()
            return await asyncio.to_thread(read_wav, data, RATE)
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, EOFError) as exc:
            raise TTSError(str(exc)) from exc

    async def close(self) -> None:
        """Close the HTTP session."""
        if self.session is not None:
            await self.session.close()


def prompt_key(sentence: str) -> str:
    """File name stem of the recorded prompt for a sentence: 16 hex digits of its SHA-1 (NFC, trimmed)."""
    return hashlib.sha1(" ".join(nfc(sentence).split()).encode()).hexdigest()[:16]


_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+")


def split_sentences(text: str) -> list[str]:
    """Split spoken text into sentences (prompts are recorded per sentence)."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(text)) if s]


class Voice:
    """What the calls use: recorded prompts first, then the engine; caches synthesised sentences."""

    def __init__(self, engine: TTS, prompts_dir: Path | None = None, cache_size: int = 256) -> None:
        """Index the prompt folder once."""
        self.engine = engine
        self.prompts: dict[str, np.ndarray] = {}
        if prompts_dir is not None and prompts_dir.is_dir():
            for path in sorted(prompts_dir.glob("*.wav")):
                try:
                    self.prompts[path.stem] = read_wav(path)
                except (ValueError, EOFError, OSError) as exc:
                    log.warning("skipping prompt %s: %s", path.name, exc)
        self.cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self.pinned: dict[str, np.ndarray] = {}  # fixed prompts synthesised at start-up, never evicted
        self.cache_size = cache_size

    async def sentence(self, text: str) -> np.ndarray:
        """Audio of one sentence: its recording if any, else synthesised (cached)."""
        key = prompt_key(text)
        if key in self.prompts:
            return self.prompts[key]
        if key in self.pinned:
            return self.pinned[key]
        if key in self.cache:
            self.cache.move_to_end(key)
            return self.cache[key]
        pcm = await self.engine.synthesize(text)
        self.cache[key] = pcm
        if len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return pcm

    async def warm(self, texts: Iterable[str]) -> None:
        """Synthesise fixed prompts ahead of the first call and keep them (failures are left for later)."""
        for text in texts:
            for sentence in split_sentences(text):
                try:
                    self.pinned[prompt_key(sentence)] = await self.sentence(sentence)
                except TTSError as exc:
                    log.warning("prompt not pre-synthesised: %s", exc)
                    return

    async def say(self, text: str, name: str = "") -> list[np.ndarray]:
        """Audio chunks for a reply (one per sentence); a named gateway prompt wins when recorded."""
        if name and name in self.prompts:
            return [self.prompts[name]]
        return [await self.sentence(s) for s in split_sentences(text)]


def load_tts(settings: VoiceSettings) -> Voice:
    """Instantiate the configured engine with the recorded prompts."""
    engine: TTS
    if settings.tts_engine == "http":
        if not settings.tts_http_url:
            raise RuntimeError("TTS_ENGINE=http needs TTS_HTTP_URL")
        engine = HttpTTS(settings.tts_http_url, settings.tts_http_token, settings.tts_voice)
    elif settings.tts_engine == "espeak":
        engine = EspeakTTS(settings.tts_voice, settings.tts_rate)
    elif settings.tts_engine == "piper":
        from connectors.voice.tts_sherpa import PiperTTS

        engine = PiperTTS(settings.tts_model, settings.tts_voice)
    else:
        raise RuntimeError(f"unknown TTS_ENGINE {settings.tts_engine!r} (espeak | http | piper)")
    return Voice(engine, settings.prompts_dir)
