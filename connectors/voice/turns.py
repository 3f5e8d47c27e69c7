"""Turn-taking pieces that need no network: the end-of-speech detector and the records of turns and calls."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from connectors.voice.audio import FRAME_SAMPLES, RATE, rms

TAIL_FRAMES = 10  # silent frames kept after the last voiced one (200 ms)


class Endpointer:
    """WebRTC VAD over 20 ms frames: finds the start (with pre-roll) and the end of each utterance.

    With ``early_ms`` it also reports a pause: that much silence inside an utterance, with the audio so
    far, which is exactly the utterance it will return at its end unless speech resumes ("resume").
    """

    def __init__(self, aggressiveness: int = 2, end_silence_ms: int = 700, max_utterance_s: float = 15.0,
                 min_speech_ms: int = 240, min_rms: float = 150.0, early_ms: int = 0) -> None:
        """Configure thresholds (frames are 20 ms; ``early_ms`` 0: no pause reports)."""
        import webrtcvad

        self.vad = webrtcvad.Vad(aggressiveness)
        self.end_frames = max(1, end_silence_ms // 20)
        self.early_frames = max(TAIL_FRAMES, early_ms // 20) if early_ms > 0 else 0
        self.paused = False
        self.max_frames = int(max_utterance_s * 50)
        self.min_voiced = max(1, min_speech_ms // 20)
        self.min_rms = min_rms
        self.window: deque[bool] = deque(maxlen=10)
        self.preroll: deque[np.ndarray] = deque(maxlen=15)
        self.speech: list[np.ndarray] = []
        self.voiced = 0
        self.silent_run = 0
        self.in_speech = False

    def is_voiced(self, frame: np.ndarray) -> bool:
        """VAD decision for one frame (quiet frames are never speech)."""
        if len(frame) != FRAME_SAMPLES or rms(frame) < self.min_rms:
            return False
        return bool(self.vad.is_speech(frame.astype("<i2").tobytes(), RATE))

    def feed(self, frame: np.ndarray) -> tuple[str, np.ndarray | None]:
        """Feed a frame; return ("start"|"pause"|"resume"|"end"|"", the audio so far on "pause" and "end")."""
        voiced = self.is_voiced(frame)
        if not self.in_speech:
            self.window.append(voiced)
            self.preroll.append(frame)
            if sum(self.window) >= 6:
                self.in_speech = True
                self.speech = list(self.preroll)
                self.preroll.clear()
                self.voiced, self.silent_run = sum(self.window), 0
                self.window.clear()
                return "start", None
            return "", None
        self.speech.append(frame)
        if voiced:
            self.voiced += 1
            self.silent_run = 0
        else:
            self.silent_run += 1
        if self.silent_run >= self.end_frames or len(self.speech) >= self.max_frames:
            audio = self._so_far()
            enough = self.voiced >= self.min_voiced
            self.reset()
            return ("end", audio) if enough else ("end", None)
        if voiced and self.paused:
            self.paused = False
            return "resume", None
        early = self.early_frames and self.silent_run == self.early_frames < self.end_frames
        if early and self.voiced >= self.min_voiced:
            self.paused = True
            return "pause", self._so_far()
        return "", None

    def _so_far(self) -> np.ndarray:
        """The utterance up to ``TAIL_FRAMES`` after its last voiced frame."""
        return np.concatenate(self.speech[: len(self.speech) - self.silent_run + TAIL_FRAMES])

    def reset(self) -> None:
        """Forget the current utterance."""
        self.in_speech = self.paused = False
        self.speech, self.voiced, self.silent_run = [], 0, 0
        self.window.clear()


@dataclass
class Turn:
    """One exchange, kept for tests, logs and benchmarks (text is masked before logging)."""

    source: str  # "speech" | "dtmf" | "button" | "greeting" | "reprompt"
    heard: str = ""
    sent: str = ""
    replies: list[str] = field(default_factory=list)
    spoken: list[str] = field(default_factory=list)
    end_of_input: float = 0.0
    first_audio: float = 0.0
    asr_s: float = 0.0
    rasa_s: float = 0.0
    rejected: str = ""  # why the recogniser's text was discarded
    early: bool = False  # the text was decoded during the caller's pause, before the end of speech
    state: str = ""  # the menu state the input arrived in

    @property
    def latency(self) -> float | None:
        """Seconds from the caller's end of input to the first reply RTP packet."""
        return self.first_audio - self.end_of_input if self.first_audio and self.end_of_input else None


@dataclass
class CallRecord:
    """What happened in a call (for tests, benchmarks and logs)."""

    call_id: str
    remote: str = ""
    codec: str = ""
    turns: list[Turn] = field(default_factory=list)
    dtmf: str = ""
    barge_ins: int = 0
    early_decodes: int = 0  # decodes started at a pause
    early_wasted: int = 0  # of which the caller spoke again (result thrown away)
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
