"""Bounded decoding with the real Whisper model.

Nothing from silence, a token limit, a time budget, a fixed number of decoders with a hold prompt
beyond it, and the external-ASR fallback.
"""

from __future__ import annotations

import asyncio
import copy
import io
import time
import wave
from typing import Any

import numpy as np
from aiohttp import web
from conftest import Sample, wer

from connectors.voice.asr import ASR, FasterWhisperASR, recognise
from connectors.voice.asr_http import HttpASR
from connectors.voice.audio import RATE
from connectors.voice.decoding import DecodePool
from connectors.voice.guard import max_syllables, syllables


def test_silence_and_noise_give_nothing_plausible(asr: ASR) -> None:
    assert isinstance(asr, FasterWhisperASR) and asr.prompt is not None
    noise = (np.random.default_rng(3).standard_normal(RATE * 3) * 200).astype(np.int16)
    for pcm in (np.zeros(RATE * 2, np.int16), noise):
        result = recognise(asr, pcm)
        assert len(syllables(result.raw)) <= max_syllables(len(pcm) / RATE)
        assert not result.text or not result.rejected
        assert "tra cứu hồ sơ, mã hồ sơ" not in result.text.lower()


def test_biased_decoding_still_transcribes_natural_speech(asr: ASR, samples: list[Sample]) -> None:
    result = recognise(asr, samples[0].pcm)
    assert not result.rejected and wer(samples[0].text, result.text) < 0.5, result.text


def test_n_best_decoding_returns_checked_alternatives(asr: ASR, samples: list[Sample]) -> None:
    assert isinstance(asr, FasterWhisperASR)
    engine = copy.copy(asr)
    engine.n_best = 3
    result = recognise(engine, samples[0].pcm)
    assert not result.rejected and wer(samples[0].text, result.text) < 0.5, result.text
    assert 1 <= len(result.alternatives) <= 2 and result.text not in result.alternatives, result.alternatives
    assert all(wer(samples[0].text, a) < 0.7 for a in result.alternatives), result.alternatives
    assert recognise(engine, np.zeros(RATE * 2, np.int16)).alternatives == []  # none close to the best


class SlowASR:
    """The real engine behind a fixed delay (to hold a decoder busy in the pool tests)."""

    name = "slow"

    def __init__(self, asr: ASR, delay: float) -> None:
        """Wrap ``asr``."""
        self.asr, self.delay, self.active, self.peak = asr, delay, 0, 0

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Sleep, then decode; track how many decodes overlap."""
        self.active += 1
        self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            return self.asr.transcribe(pcm, rate)
        finally:
            self.active -= 1


async def test_pool_holds_callers_beyond_its_decoders_and_keeps_the_budget(asr: ASR, samples: list[Sample]) -> None:
    slow = SlowASR(asr, 1.0)
    pool = DecodePool(slow, workers=1, budget_s=30.0)
    held: list[int] = []
    results = await asyncio.gather(*(pool.transcribe(samples[i].pcm, lambda i=i: held.append(i)) for i in range(3)))
    assert slow.peak == 1 and held == [1, 2] and pool.stats["held"] == 2
    assert all(r.text for r in results)
    tight = DecodePool(SlowASR(asr, 2.0), workers=1, budget_s=0.5)
    first, second = await asyncio.gather(tight.transcribe(samples[0].pcm), tight.transcribe(samples[1].pcm))
    assert first.text == "" and first.rejected == "over the time budget"
    assert second.text == "" and second.rejected in ("over the time budget", "no decoder free within the budget")
    await asyncio.sleep(0.1)
    assert tight.running == 1  # the late decode keeps its slot until it really ends
    pool.shutdown()
    tight.shutdown()


async def fake_asr_server(handler: Any) -> tuple[web.AppRunner, str]:
    """An external ASR stand-in on a free port."""
    app = web.Application()
    app.router.add_post("/asr", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}/asr"  # type: ignore[union-attr]


async def test_external_asr_with_timeout_and_local_fallback(asr: ASR, samples: list[Sample]) -> None:
    seen: list[tuple[str, int, str]] = []
    mode = {"answer": "ok"}

    async def handler(request: web.Request) -> web.Response:
        body = await request.read()
        with wave.open(io.BytesIO(body)) as wav:
            seen.append((request.headers.get("Authorization", ""), wav.getframerate(), request.headers["X-Language"]))
        if mode["answer"] == "slow":
            await asyncio.sleep(3)
        if mode["answer"] == "error":
            return web.json_response({"error": "overloaded"}, status=503)
        if mode["answer"] == "loop":
            return web.json_response({"text": "xin chào " * 30})
        return web.json_response({"text": "cấp lại căn cước"})

    runner, url = await fake_asr_server(handler)
    remote = HttpASR(url, "tok", 1.0, asr)
    sample = samples[0]
    try:
        result = await asyncio.to_thread(remote.decode, sample.pcm)
        assert result.text == "cấp lại căn cước" and seen == [("Bearer tok", 8000, "vi")]
        for answer in ("error", "slow"):
            mode["answer"] = answer
            result = await asyncio.to_thread(remote.decode, sample.pcm)
            assert wer(sample.text, result.text) < 0.5, (answer, result.text)  # the local engine answered
        assert remote.failures == 2
        mode["answer"] = "loop"
        result = await asyncio.to_thread(remote.decode, sample.pcm)
        assert result.text == "" and result.rejected
    finally:
        await runner.cleanup()
