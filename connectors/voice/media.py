"""The RTP media of one call: audio and keypad events in, reply audio (or silence) out every 20 ms, barge-in."""

from __future__ import annotations

import asyncio
import random
import time
from collections import deque

import numpy as np

from connectors.voice import audio
from connectors.voice.config import VoiceSettings
from connectors.voice.rtp import DtmfEvent, JitterBuffer, RtpEndpoint, RtpError, RtpPacket
from connectors.voice.turns import CallRecord, Endpointer, Turn


class CallMedia:
    """RTP in and out of one call; the conversation built on it overrides the three hooks below."""

    def __init__(self, settings: VoiceSettings, record: CallRecord, codec: str, codec_pt: int, dtmf_pt: int | None,
                 remote_rtp: tuple[str, int], endpoint: RtpEndpoint, keep_audio: bool = False) -> None:
        """Take over the RTP socket; ``keep_audio`` keeps every sent frame in the record (tests)."""
        self.record = record
        self.codec, self.codec_pt, self.dtmf_pt = codec, codec_pt, dtmf_pt
        self.remote_rtp = remote_rtp
        self.endpoint = endpoint
        endpoint.on_packet = self.on_rtp
        self.keep_audio = keep_audio
        self.jitter = JitterBuffer()
        self.rx_frames: deque[np.ndarray] = deque(maxlen=500)
        self.playout: deque[np.ndarray] = deque()
        self.endpointer = Endpointer(settings.vad_aggressiveness, settings.end_silence_ms, settings.max_utterance_s,
                                     early_ms=settings.early_decode_ms)
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.closed = False
        self.generation = 0  # bumped on barge-in: stale reply sentences are not queued
        self.last_rx = 0.0
        self.last_activity = time.monotonic()
        self.dtmf_ts: deque[int] = deque(maxlen=32)
        self.pending_turn: Turn | None = None  # its first reply audio is the next frame sent

    # ----------------------------------------------------------------------------------- hooks
    def on_key(self, key: str) -> None:
        """Hook: a keypad digit arrived as an RFC 4733 telephone event."""

    def on_utterance(self, pcm: np.ndarray, end: float) -> None:
        """Hook: the caller finished an utterance (``end`` is when speech stopped, monotonic clock)."""

    def on_pause(self, pcm: np.ndarray) -> None:
        """Hook: the caller paused; ``pcm`` is the utterance so far (its final audio unless speech resumes)."""

    def on_resume(self) -> None:
        """Hook: the caller spoke again after a pause."""

    def after_tick(self) -> None:
        """Hook: one 20 ms packet has just been sent."""

    # ----------------------------------------------------------------------------------- RTP in
    def on_rtp(self, data: bytes, addr: tuple[str, int]) -> None:
        """Handle one incoming datagram: audio into the jitter buffer, telephone-events to the keypad."""
        if self.closed:
            return
        try:
            packet = RtpPacket.parse(data)
        except RtpError:
            self.record.rx_bad += 1
            return
        self.record.rx_packets += 1
        if self.dtmf_pt is not None and packet.payload_type == self.dtmf_pt:
            try:
                event = DtmfEvent.parse(packet.payload)
            except RtpError:
                self.record.rx_bad += 1
                return
            if event.digit and packet.timestamp not in self.dtmf_ts:
                self.dtmf_ts.append(packet.timestamp)
                self.on_key(event.digit)
            return
        if packet.payload_type != self.codec_pt or not packet.payload:
            return
        self.last_rx = time.monotonic()
        for payload in self.jitter.push(packet.seq, packet.payload):
            pcm = audio.decode(payload, self.codec) if payload is not None else np.zeros(audio.FRAME_SAMPLES,
                                                                                        np.int16)
            for frame in audio.frames(pcm) if len(pcm) != audio.FRAME_SAMPLES else [pcm]:
                self.rx_frames.append(frame)

    # ----------------------------------------------------------------------------------- RTP out
    async def _send_loop(self) -> None:
        """Send one 20 ms packet per tick: queued reply audio or silence (keeps the stream alive)."""
        loop = asyncio.get_running_loop()
        silence = audio.encode(np.zeros(audio.FRAME_SAMPLES, np.int16), self.codec)
        next_tick = loop.time()
        marker = True
        while not self.closed:
            cpu0 = time.process_time()
            playing = bool(self.playout)
            if playing:
                frame = self.playout.popleft()
                payload = audio.encode(frame, self.codec)
                if self.keep_audio:
                    self.record.sent_audio.append(frame)
                turn = self.pending_turn
                if turn is not None and not turn.first_audio:
                    turn.first_audio = time.monotonic()
                    self.pending_turn = None
                if not self.playout:
                    self.last_activity = time.monotonic()
            else:
                payload = silence
            packet = RtpPacket(self.codec_pt, self.seq, self.ts, self.ssrc, payload, marker)
            marker = False
            self.seq = (self.seq + 1) & 0xFFFF
            self.ts = (self.ts + audio.FRAME_SAMPLES) & 0xFFFFFFFF
            if self.endpoint.transport is not None:
                self.endpoint.transport.sendto(packet.to_bytes(), self.remote_rtp)
                self.record.tx_packets += 1
            self.after_tick()
            self.record.cpu_s += time.process_time() - cpu0
            next_tick += 0.02
            delay = next_tick - loop.time()
            if delay < -0.2:  # fell far behind (overloaded loop): resynchronise instead of bursting
                next_tick = loop.time()
                delay = 0
            await asyncio.sleep(max(0.0, delay))

    def play(self, pcm: np.ndarray, generation: int) -> None:
        """Queue audio for sending unless a barge-in happened since ``generation``."""
        if generation == self.generation and not self.closed:
            self.playout.extend(audio.frames(pcm))

    def barge_in(self) -> None:
        """The caller started talking or typing: stop the current reply."""
        if self.playout:
            self.playout.clear()
            self.record.barge_ins += 1
        self.generation += 1
        self.last_activity = time.monotonic()

    # ----------------------------------------------------------------------------------- listening
    async def _listen_loop(self) -> None:
        """Run the end-of-speech detector over received audio every 20 ms."""
        stall = np.zeros(audio.FRAME_SAMPLES, np.int16)
        while not self.closed:
            await asyncio.sleep(0.02)
            cpu0 = time.process_time()
            now = time.monotonic()
            frames: list[np.ndarray] = []
            while self.rx_frames:
                frames.append(self.rx_frames.popleft())
            if not frames and self.endpointer.in_speech and now - self.last_rx > 0.1:
                # The caller's stream paused (e.g. a client that stops sending at end of file).
                self.jitter.flush()
                frames = [stall]
            for frame in frames:
                event, utterance = self.endpointer.feed(frame)
                if event == "start":
                    self.barge_in()
                    self.last_activity = now
                elif event == "pause" and utterance is not None:
                    self.on_pause(utterance)
                elif event == "resume":
                    self.on_resume()
                elif event == "end":
                    self.last_activity = now
                    if utterance is not None:
                        # The detector waited end_silence_ms after the last voiced frame.
                        end = now - self.endpointer.end_frames * 0.02
                        self.on_utterance(utterance, end)
            self.record.cpu_s += time.process_time() - cpu0
