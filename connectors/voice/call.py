"""One call's media and conversation: RTP in/out, VAD, ASR → Rasa → TTS, DTMF, barge-in, timers."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from common.messages import BUSY_TEXT
from common.rasa import RasaUnavailable
from common.text import mask_pii
from connectors.voice import audio
from connectors.voice.dialog import Endpointer, Turn, keypad_to_text
from connectors.voice.normalize import button_choice, normalize_spoken, render_for_speech
from connectors.voice.replies import BotReply, parse_reply
from connectors.voice.rtp import DtmfEvent, JitterBuffer, RtpError, RtpPacket
from connectors.voice.tts import TTSError, split_sentences

if TYPE_CHECKING:
    from connectors.voice.gateway import Gateway

log = logging.getLogger(__name__)

PROMPTS = {
    "greeting": "Xin chào, đây là tổng đài hỗ trợ thủ tục hành chính. Anh chị cần hỏi gì ạ?",
    "reprompt": "Anh chị còn nghe máy không ạ? Anh chị cần em hỗ trợ gì ạ?",
    "goodbye": "Cảm ơn anh chị đã gọi. Xin chào và hẹn gặp lại.",
    "not_heard": "Xin lỗi, em chưa nghe rõ. Anh chị vui lòng nói lại giúp em.",
    "busy": BUSY_TEXT,
    "transfer_failed": "Xin lỗi, hiện em chưa chuyển được cuộc gọi tới tổng đài viên. Anh chị vui lòng gọi lại sau.",
    "max_length": "Cuộc gọi đã quá thời gian cho phép. Cảm ơn anh chị đã gọi.",
}


class RtpEndpoint(asyncio.DatagramProtocol):
    """The call's RTP socket; hands datagrams to the call and never raises."""

    def __init__(self, on_packet: Callable[[bytes, tuple[str, int]], None]) -> None:
        """Remember the callback."""
        self.on_packet = on_packet
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        """Forward to the call; bad packets are dropped."""
        try:
            self.on_packet(data, addr)
        except Exception:  # pragma: no cover - defensive: a packet must never kill the socket
            log.exception("RTP packet handler failed")


@dataclass
class CallRecord:
    """What happened in a call (for tests, benchmarks and logs)."""

    call_id: str
    remote: str = ""
    codec: str = ""
    turns: list[Turn] = field(default_factory=list)
    dtmf: str = ""
    barge_ins: int = 0
    reprompts: int = 0
    refer_target: str = ""
    refer_status: int = 0
    end_reason: str = ""
    rx_packets: int = 0
    rx_bad: int = 0
    tx_packets: int = 0
    sent_audio: list[np.ndarray] = field(default_factory=list)
    cpu_s: float = 0.0
    started: float = 0.0
    ended: float = 0.0


class Call:
    """Media and conversation of one established call."""

    def __init__(self, gateway: Gateway, call_id: str, codec: str, codec_pt: int, dtmf_pt: int | None,
                 remote_rtp: tuple[str, int], endpoint: RtpEndpoint) -> None:
        """Set up state; ``start`` begins media once the call is confirmed."""
        self.gw, self.settings = gateway, gateway.settings
        self.call_id, self.codec, self.codec_pt, self.dtmf_pt = call_id, codec, codec_pt, dtmf_pt
        self.remote_rtp = remote_rtp
        self.endpoint = endpoint
        endpoint.on_packet = self.on_rtp
        self.record = CallRecord(call_id, codec=codec, started=time.time())
        self.sender = f"call:{call_id}"
        self.jitter = JitterBuffer()
        self.rx_frames: deque[np.ndarray] = deque(maxlen=500)
        self.playout: deque[np.ndarray] = deque()
        self.endpointer = Endpointer(self.settings.vad_aggressiveness, self.settings.end_silence_ms,
                                     self.settings.max_utterance_s)
        self.inputs: asyncio.Queue[tuple[str, object, float]] = asyncio.Queue()
        self.ssrc = random.getrandbits(32)
        self.seq = random.getrandbits(16)
        self.ts = random.getrandbits(32)
        self.tasks: list[asyncio.Task[None]] = []
        self.closed = False
        self.generation = 0  # bumped on barge-in: stale reply sentences are not queued
        self.last_rx = 0.0
        self.last_activity = time.monotonic()
        self.dtmf_ts: deque[int] = deque(maxlen=32)
        self.keys = ""
        self.key_task: asyncio.Task[None] | None = None
        self.buttons: list[tuple[str, str]] = []
        self.pending_turn: Turn | None = None
        self.busy = False
        self.hangup_after_playout = ""
        self.done = asyncio.Event()

    # ----------------------------------------------------------------------------------- lifecycle
    def start(self) -> None:
        """Start sending and listening (after ACK)."""
        if self.tasks or self.closed:
            return
        loop = asyncio.get_running_loop()
        self.tasks = [loop.create_task(self._send_loop()), loop.create_task(self._listen_loop()),
                      loop.create_task(self._conversation())]

    async def stop(self, reason: str) -> None:
        """Stop media and tasks; idempotent."""
        if self.closed:
            return
        self.closed = True
        self.record.end_reason = self.record.end_reason or reason
        self.record.ended = time.time()
        current = asyncio.current_task()
        for task in [*self.tasks, self.key_task]:
            if task is not None and task is not current:
                task.cancel()
        if self.endpoint.transport is not None:
            self.endpoint.transport.close()
        self.done.set()
        turns = [t.latency for t in self.record.turns if t.latency is not None]
        log.info("call %s ended (%s): %d turns, latencies %s", self.call_id, self.record.end_reason,
                 len(self.record.turns), [round(x, 2) for x in turns])

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
                if self.gw.keep_audio:
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
            if not self.playout and self.hangup_after_playout and not self.busy:
                reason, self.hangup_after_playout = self.hangup_after_playout, ""
                self.gw.spawn(self.gw.hangup(self, reason))
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
                elif event == "end":
                    self.last_activity = now
                    if utterance is not None:
                        # The detector waited end_silence_ms after the last voiced frame.
                        end = now - self.endpointer.end_frames * 0.02
                        self.inputs.put_nowait(("speech", utterance, end))
            self.record.cpu_s += time.process_time() - cpu0

    # ----------------------------------------------------------------------------------- keypad
    def on_key(self, key: str) -> None:
        """A keypad digit (RFC 4733 or SIP INFO): collect until '#', or a short wait for a choice."""
        self.record.dtmf += key
        self.barge_in()
        if self.key_task is not None:
            self.key_task.cancel()
        if key == "#":
            keys, self.keys = self.keys, ""
            if keys:
                self.inputs.put_nowait(("keys", keys, time.monotonic()))
            return
        self.keys += key
        choice = len(self.keys) == 1 and self.keys.isdigit() and 1 <= int(self.keys) <= len(self.buttons)
        wait = self.settings.dtmf_button_wait_s if choice else self.settings.dtmf_timeout_s
        self.key_task = asyncio.get_running_loop().create_task(self._keys_timeout(wait))

    async def _keys_timeout(self, wait: float) -> None:
        """Submit collected keys after the inter-digit timeout."""
        await asyncio.sleep(wait)
        keys, self.keys = self.keys, ""
        if keys:
            self.inputs.put_nowait(("keys", keys, time.monotonic()))

    # ----------------------------------------------------------------------------------- conversation
    async def _conversation(self) -> None:
        """Greet, then answer each input; re-prompt on silence, then say goodbye."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.max_call_s
        try:
            await self._turn(Turn("greeting"), self.settings.greeting_payload, fallback="greeting")
            while not self.closed:
                if loop.time() >= deadline:
                    await self._say_and_hangup("max_length", "max call length")
                    return
                try:
                    kind, value, t_end = await asyncio.wait_for(self.inputs.get(), 0.2)
                except asyncio.TimeoutError:
                    await self._check_silence()
                    continue
                self.last_activity = time.monotonic()
                if kind == "speech":
                    await self._speech_turn(value, t_end)  # type: ignore[arg-type]
                elif kind == "keys":
                    await self._keys_turn(str(value), t_end)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: conversation failed", self.call_id)
            await self.gw.hangup(self, "internal error")

    async def _check_silence(self) -> None:
        """Re-prompt after ``silence_s`` of nothing; after the last re-prompt, say goodbye."""
        idle = (not self.playout and not self.endpointer.in_speech and not self.busy and not self.keys
                and not self.hangup_after_playout)
        if not idle or time.monotonic() - self.last_activity < self.settings.silence_s:
            return
        if self.record.reprompts < self.settings.max_reprompts:
            self.record.reprompts += 1
            await self._say(Turn("reprompt"), PROMPTS["reprompt"], "reprompt")
        else:
            await self._say_and_hangup("goodbye", "silence")

    async def _speech_turn(self, pcm: np.ndarray, t_end: float) -> None:
        """ASR, then the bot."""
        turn = Turn("speech", end_of_input=t_end)
        self.busy = True
        try:
            t0 = time.monotonic()
            text = await self.gw.transcribe(pcm)
            turn.asr_s = time.monotonic() - t0
            turn.heard = text
            if not text:
                await self._say(turn, PROMPTS["not_heard"], "not_heard")
                return
            spoken = normalize_spoken(text)
            choice = button_choice(spoken, [title for title, _ in self.buttons])
            if choice is not None:
                turn.source = "button"
                spoken = self.buttons[choice][1]
            await self._turn(turn, spoken)
        finally:
            self.busy = False

    async def _keys_turn(self, keys: str, t_end: float) -> None:
        """Keypad input: a button choice, a dossier code or digits."""
        turn = Turn("dtmf", heard=keys, end_of_input=t_end)
        self.busy = True
        try:
            if len(keys) == 1 and keys.isdigit() and 1 <= int(keys) <= len(self.buttons):
                turn.source = "button"
                await self._turn(turn, self.buttons[int(keys) - 1][1])
            elif keys == "0" and self.settings.operator_payload:
                turn.source = "operator"  # the usual IVR convention: 0 for a person
                await self._turn(turn, self.settings.operator_payload)
            else:
                text = keypad_to_text(keys, self.settings.dtmf_code_letter)
                if text:
                    await self._turn(turn, text)
        finally:
            self.busy = False

    async def _turn(self, turn: Turn, message: str, fallback: str = "") -> None:
        """Send ``message`` to Rasa and speak the answer; handle hand-over and hang-up requests."""
        self.record.turns.append(turn)
        if not message:
            if fallback:
                await self._say(turn, PROMPTS[fallback], fallback)
            return
        turn.sent = message
        t0 = time.monotonic()
        try:
            reply = parse_reply(await self.gw.rasa.post(self.sender, message, "voice"))
        except RasaUnavailable as exc:
            log.error("call %s: rasa unavailable: %s", self.call_id, exc)
            reply = BotReply(texts=[PROMPTS[fallback or "busy"]])
        turn.rasa_s = time.monotonic() - t0
        turn.replies = list(reply.texts)
        self.log_turn(turn)
        if reply.texts or reply.buttons:
            self.buttons = reply.buttons
        titles = [title for title, _ in reply.buttons]
        texts = reply.texts or ([""] if titles else [])
        spoken = [render_for_speech(t, titles if i == len(texts) - 1 else ()) for i, t in enumerate(texts)]
        await self._speak(turn, [s for s in spoken if s])
        if reply.handoff:
            self.gw.transfer_soon(self)
        elif reply.hangup:
            self.hangup_after_playout = "bot ended the call"

    async def _say(self, turn: Turn, text: str, name: str) -> None:
        """Speak a gateway prompt (a recorded one when present)."""
        if turn not in self.record.turns:
            self.record.turns.append(turn)
        turn.replies.append(text)
        generation = self.generation
        try:
            chunks = await self.gw.voice.say(text, name)
        except TTSError as exc:
            log.error("call %s: TTS failed: %s", self.call_id, exc)
            return
        turn.spoken.append(text)
        self._mark_latency(turn)
        for pcm in chunks:
            self.play(pcm, generation)

    async def _speak(self, turn: Turn, texts: list[str]) -> None:
        """Synthesize sentence by sentence, queueing each as soon as it is ready."""
        generation = self.generation
        for text in texts:
            turn.spoken.append(text)
            for sentence in split_sentences(text):
                if generation != self.generation or self.closed:
                    return
                try:
                    pcm = await self.gw.voice.sentence(sentence)
                except TTSError as exc:
                    log.error("call %s: TTS failed: %s", self.call_id, exc)
                    continue
                self._mark_latency(turn)
                self.play(pcm, generation)

    def _mark_latency(self, turn: Turn) -> None:
        """The next packet sent from the playout queue is this turn's first reply audio."""
        if turn.end_of_input and not turn.first_audio and self.pending_turn is None:
            self.pending_turn = turn

    async def _say_and_hangup(self, name: str, reason: str) -> None:
        """Speak a closing prompt, then hang up once it has been played."""
        await self._say(Turn(name), PROMPTS[name], name)
        self.hangup_after_playout = reason

    def log_turn(self, turn: Turn) -> None:
        """Log a turn without personal data."""
        log.info("call %s %s: heard=%r sent=%r", self.call_id, turn.source, mask_pii(turn.heard),
                 mask_pii(turn.sent))
