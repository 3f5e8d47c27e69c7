"""One call's conversation on top of its media: ASR → Rasa → TTS, keypad input, menus, re-prompts, timers."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, cast

import numpy as np

from common.messages import BUSY_TEXT
from common.rasa import RasaClient, RasaUnavailable
from common.text import mask_pii
from connectors.voice.asr import Transcript
from connectors.voice.catalogue import ProcedureMatcher, documents_message
from connectors.voice.config import VoiceSettings
from connectors.voice.keypad import Keypad, keypad_to_text
from connectors.voice.media import CallMedia
from connectors.voice.menu import SMS_FAILED, SMS_SENT, Dialogue, Step
from connectors.voice.normalize import button_choice, normalize_spoken, render_for_speech
from connectors.voice.replies import BotReply, parse_reply
from connectors.voice.rtp import RtpEndpoint
from connectors.voice.tts import TTSError, Voice, split_sentences
from connectors.voice.turns import CallRecord, Turn

log = logging.getLogger(__name__)

PROMPTS = {
    "greeting": "Xin chào, đây là tổng đài hỗ trợ thủ tục hành chính. Anh chị cần hỏi gì ạ?",
    "reprompt": "Anh chị còn nghe máy không ạ? Anh chị cần em hỗ trợ gì ạ?",
    "goodbye": "Cảm ơn anh chị đã gọi. Xin chào và hẹn gặp lại.",
    "not_heard": "Xin lỗi, em chưa nghe rõ. Anh chị vui lòng nói lại giúp em.",
    "busy": BUSY_TEXT,
    "transfer_failed": "Xin lỗi, hiện em chưa chuyển được cuộc gọi tới tổng đài viên. Anh chị vui lòng gọi lại sau.",
    "max_length": "Cuộc gọi đã quá thời gian cho phép. Cảm ơn anh chị đã gọi.",
    "hold": "Dạ, anh chị vui lòng chờ em một chút.",
}


class CallHost(Protocol):
    """What a call needs from the gateway that runs it: shared engines, background tasks, SIP actions."""

    @property
    def settings(self) -> VoiceSettings:
        """The gateway's settings."""

    @property
    def keep_audio(self) -> bool:
        """Whether calls keep the audio they sent (tests)."""

    @property
    def rasa(self) -> RasaClient:
        """The Rasa client shared by all calls."""

    @property
    def voice(self) -> Voice:
        """The text-to-speech engine shared by all calls."""

    @property
    def matcher(self) -> ProcedureMatcher | None:
        """The catalogue's spoken names (None: no local procedure answers)."""

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        """Run a background task."""

    async def transcribe(self, pcm: np.ndarray, on_hold: Callable[[], None] | None = None) -> Transcript:
        """Speech to text, off the event loop, bounded (``on_hold`` when the decoders are all busy)."""

    def transcribe_early(self, pcm: np.ndarray) -> asyncio.Task[Transcript] | None:
        """Start decoding at a pause if a decoder is free right now (None if not)."""

    async def send_sms(self, number: str, text: str) -> bool:
        """Queue a text message to the caller's number."""

    async def hangup(self, call: Call, reason: str, wait: bool = True) -> None:
        """Send BYE and end the call."""

    def transfer_soon(self, call: Call) -> None:
        """Blind-transfer the caller once the current reply has been played."""


class Call(CallMedia):
    """Media and conversation of one established call."""

    def __init__(self, host: CallHost, call_id: str, codec: str, codec_pt: int, dtmf_pt: int | None,
                 remote_rtp: tuple[str, int], endpoint: RtpEndpoint) -> None:
        """Set up state; ``start`` begins media once the call is confirmed."""
        self.host, self.settings = host, host.settings
        self.call_id = call_id
        super().__init__(host.settings, CallRecord(call_id, codec=codec, started=time.time()), codec, codec_pt,
                         dtmf_pt, remote_rtp, endpoint, host.keep_audio)
        self.sender = f"call:{call_id}"
        self.inputs: asyncio.Queue[tuple[str, object, float]] = asyncio.Queue()
        self.tasks: list[asyncio.Task[None]] = []
        self.keypad = Keypad(self._submit_keys, self.settings.dtmf_button_wait_s, self.settings.dtmf_timeout_s)
        self.buttons: list[tuple[str, str]] = []
        self.busy = False
        self.hangup_after_playout = ""
        self.done = asyncio.Event()
        self.caller = ""  # the caller's phone number (from the SIP From header), never logged unmasked
        self.sms_sent = 0
        self.dialogue: Dialogue | None = None
        self.early: tuple[np.ndarray, asyncio.Task[Transcript]] | None = None  # decode started at the last pause
        if self.settings.menu:
            self.dialogue = Dialogue(host.matcher, self.settings.match_min, self.settings.match_sure,
                                     self.settings.docs_per_chunk, sms=False)

    def set_caller(self, number: str) -> None:
        """The caller's number: the SMS offer is made only when it is known (and SMS is configured)."""
        self.caller = number
        if self.dialogue is not None:
            self.dialogue.sms = bool(number) and self.settings.sms_offer

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
        if self.early is not None:
            self.early[1].cancel()
        for task in self.tasks:
            if task is not current:
                task.cancel()
        self.keypad.close()
        if self.endpoint.transport is not None:
            self.endpoint.transport.close()
        self.done.set()
        turns = [t.latency for t in self.record.turns if t.latency is not None]
        log.info("call %s ended (%s): %d turns, latencies %s", self.call_id, self.record.end_reason,
                 len(self.record.turns), [round(x, 2) for x in turns])

    # ----------------------------------------------------------------------------------- media hooks
    def on_utterance(self, pcm: np.ndarray, end: float) -> None:
        """Queue a finished utterance, with the decode started at its last pause when that heard all of it."""
        early, self.early = self.early, None
        task = early[1] if early is not None and np.array_equal(early[0], pcm) else None
        if early is not None and task is None:
            early[1].cancel()
            self.record.early_wasted += 1
        self.inputs.put_nowait(("speech", (pcm, task), end))

    def on_pause(self, pcm: np.ndarray) -> None:
        """The caller paused: decode what they said so far while waiting for the end of speech."""
        self.on_resume()
        task = self.host.transcribe_early(pcm)
        if task is not None:
            self.record.early_decodes += 1
            self.early = (pcm, task)

    def on_resume(self) -> None:
        """The caller went on speaking: the early decode (if any) heard only part of the utterance."""
        if self.early is not None:
            self.early[1].cancel()  # frees its place in the queue; a decode already running finishes unheard
            self.early = None
            self.record.early_wasted += 1

    def after_tick(self) -> None:
        """Hang up once a closing prompt has been played (and no turn is in progress)."""
        if not self.playout and self.hangup_after_playout and not self.busy:
            reason, self.hangup_after_playout = self.hangup_after_playout, ""
            self.host.spawn(self.host.hangup(self, reason))

    # ----------------------------------------------------------------------------------- keypad
    def on_key(self, key: str) -> None:
        """A keypad digit (RFC 4733 or SIP INFO): collect until '#', or a short wait for a choice."""
        self.record.dtmf += key
        self.barge_in()
        single = self.dialogue is not None and self.dialogue.state in ("menu", "confirm", "answered", "docs")
        self.keypad.press(key, len(self.buttons), single)

    def _submit_keys(self, keys: str) -> None:
        """Queue a completed keypad input for the conversation."""
        self.inputs.put_nowait(("keys", keys, time.monotonic()))

    # ----------------------------------------------------------------------------------- conversation
    async def _conversation(self) -> None:
        """Greet, then answer each input; re-prompt on silence, then say goodbye."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.max_call_s
        try:
            if self.dialogue is not None:
                await self._step(Turn("greeting"), self.dialogue.greeting())
            else:
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
                    pcm, early = cast(tuple[np.ndarray, "asyncio.Task[Transcript] | None"], value)
                    await self._speech_turn(pcm, t_end, early)
                elif kind == "keys":
                    await self._keys_turn(str(value), t_end)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("call %s: conversation failed", self.call_id)
            await self.host.hangup(self, "internal error")

    async def _check_silence(self) -> None:
        """Re-prompt after ``silence_s`` of nothing; after the last re-prompt, say goodbye."""
        idle = (not self.playout and not self.endpointer.in_speech and not self.busy and not self.keypad.keys
                and not self.hangup_after_playout)
        if not idle or time.monotonic() - self.last_activity < self.settings.silence_s:
            return
        if self.record.reprompts < self.settings.max_reprompts:
            self.record.reprompts += 1
            await self._say(Turn("reprompt"), PROMPTS["reprompt"], "reprompt")
        else:
            await self._say_and_hangup("goodbye", "silence")

    async def _speech_turn(self, pcm: np.ndarray, t_end: float, early: asyncio.Task[Transcript] | None = None) -> None:
        """ASR (the early decode's result when it heard the whole utterance), then the menu or the bot."""
        turn = Turn("speech", end_of_input=t_end, early=early is not None)
        self.busy = True
        try:
            result = await early if early is not None else await self.host.transcribe(pcm, self._hold)
            turn.asr_s, turn.heard, turn.rejected = result.seconds, result.text, result.rejected
            text = result.text
            if not text:
                await self._say(turn, PROMPTS["not_heard"], "not_heard")
                return
            spoken = normalize_spoken(text)
            choice = button_choice(spoken, [title for title, _ in self.buttons])
            if choice is not None and (self.dialogue is None or self.dialogue.state == "bot"):
                turn.source = "button"
                await self._turn(turn, self.buttons[choice][1])
            elif self.dialogue is not None:
                await self._step(turn, self.dialogue.on_speech(text, result.alternatives))
            else:
                await self._turn(turn, spoken)
        finally:
            self.busy = False

    def _hold(self) -> None:
        """Every decoder is busy: tell the caller to wait (not counted as the turn's reply)."""
        self.host.spawn(self._say(Turn("hold"), PROMPTS["hold"], "hold"))

    async def _keys_turn(self, keys: str, t_end: float) -> None:
        """Keypad input: the menu, a button choice, a dossier code or digits."""
        turn = Turn("dtmf", heard=keys, end_of_input=t_end)
        self.busy = True
        try:
            step = self.dialogue.on_keys(keys) if self.dialogue is not None else None
            if step is not None:
                await self._step(turn, step)
            elif len(keys) == 1 and keys.isdigit() and 1 <= int(keys) <= len(self.buttons):
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

    async def _step(self, turn: Turn, step: Step) -> None:
        """Carry out a menu decision: gateway sentences, the bot, an SMS, the operator."""
        assert self.dialogue is not None
        turn.state = self.dialogue.state
        if not any(t is turn for t in self.record.turns):
            self.record.turns.append(turn)
        if step.say:
            turn.replies.extend(step.say)
            self.log_turn(turn)
            await self._speak(turn, [render_for_speech(s) for s in step.say])
        if step.sms_code:
            await self._send_documents(turn, step.sms_code)
        if step.operator:
            turn.source = "operator"
            await self._turn(turn, self.settings.operator_payload, fallback="transfer_failed")
        elif step.bot:
            await self._turn(turn, step.bot)
        short = step.short_answer or (bool(self.buttons) and self.dialogue.state == "bot")
        ms = self.settings.short_end_silence_ms if short else self.settings.end_silence_ms
        self.endpointer.end_frames = max(1, ms // 20)

    async def _send_documents(self, turn: Turn, code: str) -> None:
        """Text the documents list of ``code`` to the caller (once per call)."""
        matcher = self.host.matcher
        procedure = matcher.procedures.get(code) if matcher is not None else None
        ok = False
        if procedure is not None and self.caller and self.sms_sent < 1:
            ok = await self.host.send_sms(self.caller, documents_message(procedure))
            self.sms_sent += ok
        turn.sent = f"sms:{code}" if ok else ""
        await self._speak(turn, [SMS_SENT if ok else SMS_FAILED])

    async def _turn(self, turn: Turn, message: str, fallback: str = "") -> None:
        """Send ``message`` to Rasa and speak the answer; handle hand-over and hang-up requests."""
        if not any(t is turn for t in self.record.turns):
            self.record.turns.append(turn)
        if not message:
            if fallback:
                await self._say(turn, PROMPTS[fallback], fallback)
            return
        turn.sent = message
        t0 = time.monotonic()
        try:
            reply = parse_reply(await self.host.rasa.post(self.sender, message, "voice"))
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
            self.host.transfer_soon(self)
        elif reply.hangup:
            self.hangup_after_playout = "bot ended the call"

    async def _say(self, turn: Turn, text: str, name: str) -> None:
        """Speak a gateway prompt (a recorded one when present)."""
        if not any(t is turn for t in self.record.turns):
            self.record.turns.append(turn)
        turn.replies.append(text)
        generation = self.generation
        try:
            chunks = await self.host.voice.say(text, name)
        except TTSError as exc:
            log.error("call %s: TTS failed: %s", self.call_id, exc)
            return
        turn.spoken.append(text)
        self._mark_latency(turn)
        for pcm in chunks:
            self.play(pcm, generation)

    async def say_prompt(self, name: str) -> None:
        """Speak one of the fixed prompts as part of the last turn (e.g. a failed transfer)."""
        await self._say(self.record.turns[-1], PROMPTS[name], name)

    async def _speak(self, turn: Turn, texts: list[str]) -> None:
        """Synthesize sentence by sentence, queueing each as soon as it is ready."""
        generation = self.generation
        for text in texts:
            turn.spoken.append(text)
            for sentence in split_sentences(text):
                if generation != self.generation or self.closed:
                    return
                try:
                    pcm = await self.host.voice.sentence(sentence)
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
        log.info("call %s %s (%s): heard=%r sent=%r", self.call_id, turn.source, turn.state or "-",
                 mask_pii(turn.heard), mask_pii(turn.sent))
