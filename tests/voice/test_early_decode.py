"""Early decoding: a decode starts at a pause in the caller's speech and is used when the caller says no more.

Also the encoder window sized to the utterance (``ASR_WINDOW_PAD_S``).
"""

from __future__ import annotations

import asyncio
import copy
import threading
import time

import numpy as np
from conftest import Sample, VoiceRig, wer
from sipclient import TestPhone
from test_calls import connected, wait_for

from connectors.voice.asr import ASR, FasterWhisperASR, Transcript, recognise
from connectors.voice.audio import FRAME_SAMPLES, RATE, frames
from connectors.voice.decoding import DecodePool
from connectors.voice.turns import Endpointer


class CountingASR:
    """The real engine, recording the length of every utterance it decodes (optionally slowed down)."""

    name = "counting"

    def __init__(self, asr: ASR, delay: float = 0.0) -> None:
        """Wrap ``asr``."""
        self.asr, self.delay = asr, delay
        self.decoded: list[int] = []
        self.active = self.peak = 0
        self.lock = threading.Lock()

    def decode(self, pcm: np.ndarray, rate: int = RATE) -> Transcript:
        """Decode and count."""
        with self.lock:
            self.active += 1
            self.peak = max(self.peak, self.active)
        try:
            time.sleep(self.delay)
            self.decoded.append(len(pcm))
            return recognise(self.asr, pcm, rate)
        finally:
            with self.lock:
                self.active -= 1

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Text only."""
        return self.decode(pcm, rate).text


def feed_all(endpointer: Endpointer, pcm: np.ndarray) -> list[tuple[str, np.ndarray | None]]:
    """Every event the endpointer reports over ``pcm``."""
    events = []
    for frame in frames(pcm):
        if len(frame) == FRAME_SAMPLES:
            event, audio = endpointer.feed(frame)
            if event:
                events.append((event, audio))
    return events


def silence(seconds: float) -> np.ndarray:
    """Digital silence."""
    return np.zeros(int(RATE * seconds), np.int16)


def test_pause_reports_the_utterance_it_will_end_with(samples: list[Sample]) -> None:
    speech = samples[0].pcm
    events = feed_all(Endpointer(end_silence_ms=700, early_ms=200), np.concatenate([silence(0.5), speech,
                                                                                      silence(1.0)]))
    kinds = [e for e, _ in events]
    assert kinds[0] == "start" and kinds[-1] == "end" and "pause" in kinds
    pause = [a for e, a in events if e == "pause"][-1]
    end = events[-1][1]
    assert pause is not None and end is not None and np.array_equal(pause, end)
    # Without early decoding nothing but start and end.
    plain = feed_all(Endpointer(end_silence_ms=700), np.concatenate([silence(0.5), speech, silence(1.0)]))
    assert {e for e, _ in plain} == {"start", "end"}


def test_speech_after_a_pause_resumes_the_utterance(samples: list[Sample]) -> None:
    endpointer = Endpointer(end_silence_ms=700, early_ms=200)
    audio = np.concatenate([silence(0.5), samples[0].pcm, silence(0.4), samples[1].pcm, silence(1.0)])
    events = feed_all(endpointer, audio)
    kinds = [e for e, _ in events]
    first_pause = kinds.index("pause")
    assert "resume" in kinds[first_pause:] and kinds.count("end") == 1
    end = events[-1][1]
    assert end is not None and len(end) > len(samples[0].pcm) + len(samples[1].pcm)  # one utterance, both parts
    assert not np.array_equal(next(a for e, a in events if e == "pause"), end)


async def test_pool_starts_an_early_decode_only_on_a_free_decoder(asr: ASR, samples: list[Sample]) -> None:
    slow = CountingASR(asr, 1.0)
    pool = DecodePool(slow, workers=1, budget_s=30.0)
    held: list[int] = []
    first = pool.transcribe_early(samples[0].pcm)
    assert first is not None
    await asyncio.sleep(0.1)
    assert pool.transcribe_early(samples[1].pcm) is None  # busy: no waiting, no hold prompt
    result = await pool.transcribe(samples[1].pcm, lambda: held.append(1))
    assert (await first).text and result.text and held == [1] and slow.peak == 1
    assert pool.stats["early"] == 1 and pool.stats["decodes"] == 2
    pool.shutdown()


async def speak_and_wait(rig: VoiceRig, phone: TestPhone, parts: list[np.ndarray], turns: int) -> None:
    """Stream ``parts`` back to back, then silence until the gateway has answered ``turns`` speech turns."""
    for part in parts:
        await phone.speak(part, tail_s=0.0)

    def answered() -> bool:
        record = rig.gateway.records[0]
        return len([t for t in record.turns if t.source == "speech" and t.first_audio]) >= turns

    for _ in range(40):
        if answered():
            break
        await phone.speak(silence(0.5), tail_s=0.0)
    else:
        raise AssertionError("no reply to the speech turn")
    call = rig.gateway.dialogs[phone.call_id].call
    assert call is not None
    # Let the reply's synthesis finish: a TTS subprocess cut off at teardown outlives the test's loop.
    await wait_for(lambda: not call.busy, 20, "the end of the turn")


async def test_early_result_is_used_when_the_caller_stops(make_rig, asr: ASR, samples: list[Sample]) -> None:
    rig = await make_rig(greeting_payload="", early_decode_ms=200, end_silence_ms=700)
    counting = CountingASR(asr)
    rig.gateway.decoder.asr = counting
    phone = await connected(rig)
    try:
        await speak_and_wait(rig, phone, [silence(0.3), samples[0].pcm], 1)
        record = rig.gateway.records[0]
        turn = next(t for t in record.turns if t.source == "speech")
        assert turn.early and record.early_decodes >= 1 and record.early_decodes == record.early_wasted + 1
        assert len(counting.decoded) == record.early_decodes  # no decode after the end of speech
        assert wer(samples[0].text, turn.heard) < 0.5, turn.heard
        await wait_for(lambda: len(rig.rasa.received) >= 1, 10, "question at Rasa")
    finally:
        await phone.close()


async def test_early_result_is_discarded_when_speech_resumes(make_rig, asr: ASR, samples: list[Sample]) -> None:
    rig = await make_rig(greeting_payload="", early_decode_ms=200, end_silence_ms=700)
    counting = CountingASR(asr)
    rig.gateway.decoder.asr = counting
    phone = await connected(rig)
    try:
        # A 400 ms pause: long enough for an early decode, too short to end the utterance.
        await speak_and_wait(rig, phone, [silence(0.3), samples[1].pcm, silence(0.4), samples[2].pcm], 1)
        record = rig.gateway.records[0]
        turns = [t for t in record.turns if t.source == "speech"]
        assert len(turns) == 1 and record.early_wasted >= 1
        heard = turns[0].heard
        # The reply used the whole utterance, not the part before the pause.
        assert wer(samples[1].text + " " + samples[2].text, heard) < 0.6, heard
        assert max(counting.decoded) >= len(samples[1].pcm) + len(samples[2].pcm)
    finally:
        await phone.close()


async def test_no_early_decode_when_disabled(make_rig, asr: ASR, samples: list[Sample]) -> None:
    rig = await make_rig(greeting_payload="", early_decode_ms=0)
    counting = CountingASR(asr)
    rig.gateway.decoder.asr = counting
    phone = await connected(rig)
    try:
        await speak_and_wait(rig, phone, [silence(0.3), samples[0].pcm], 1)
        record = rig.gateway.records[0]
        turn = next(t for t in record.turns if t.source == "speech")
        assert not turn.early and record.early_decodes == 0 and len(counting.decoded) == 1
    finally:
        await phone.close()


def test_short_encoder_window_keeps_the_transcript(asr: ASR, samples: list[Sample]) -> None:
    assert isinstance(asr, FasterWhisperASR)
    full = copy.copy(asr)
    full.window_pad_s = 30.0
    short = copy.copy(asr)
    short.window_pad_s = 2.0
    assert full.window(400) == 3000 and short.window(401) == 602 and short.window(2999) == 3000
    for sample in samples[:3]:
        a, b = recognise(full, sample.pcm), recognise(short, sample.pcm)
        assert wer(sample.text, b.text) <= wer(sample.text, a.text) + 0.2, (a.text, b.text)
    assert recognise(short, silence(2.0)).text == ""
