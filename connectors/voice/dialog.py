"""Per-call dialogue pieces that need no network: the end-of-speech detector and keypad input."""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from connectors.voice.audio import FRAME_SAMPLES, RATE, rms


class Endpointer:
    """WebRTC VAD over 20 ms frames: finds the start (with pre-roll) and the end of each utterance."""

    def __init__(self, aggressiveness: int = 2, end_silence_ms: int = 700, max_utterance_s: float = 15.0,
                 min_speech_ms: int = 240, min_rms: float = 150.0) -> None:
        """Configure thresholds (frames are 20 ms)."""
        import webrtcvad

        self.vad = webrtcvad.Vad(aggressiveness)
        self.end_frames = max(1, end_silence_ms // 20)
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
        """Feed a frame; return ("start"|"end"|"", utterance audio on "end")."""
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
            audio = np.concatenate(self.speech[: len(self.speech) - self.silent_run + 10])
            enough = self.voiced >= self.min_voiced
            self.reset()
            return ("end", audio) if enough else ("end", None)
        return "", None

    def reset(self) -> None:
        """Forget the current utterance."""
        self.in_speech = False
        self.speech, self.voiced, self.silent_run = [], 0, 0
        self.window.clear()


_GROUP_LENGTHS = (3, 2, 2, 2, 6, 4)


def keypad_to_text(keys: str, default_letter: str = "H") -> str:
    """Turn keypad input into the text sent to the bot.

    - 19 digits, or groups separated by ``*`` (3*2*2*2*6*4 digits) → a dossier code; the agency
      letter cannot be typed as a digit, so it defaults to ``default_letter`` (H: provinces), or the
      caller may type it as its own group: ``4`` = G, ``44`` = H (multi-tap on key 4).
    - Anything else: the digits themselves (e.g. the 4 verification digits).
    """
    keys = keys.strip("#*")
    groups = [g for g in keys.split("*") if g]
    letter = default_letter
    if len(groups) == 7 and groups[3] in ("4", "44"):
        letter = "G" if groups[3] == "4" else "H"
        groups = groups[:3] + groups[4:]
    digits = "".join(groups)
    if not digits.isdigit():
        return re.sub(r"\D", "", digits)
    lengths = tuple(len(g) for g in groups)
    if len(digits) == 19 and (lengths == _GROUP_LENGTHS or len(groups) == 1):
        d = digits
        return f"{d[0:3]}.{d[3:5]}.{d[5:7]}.{letter}{d[7:9]}-{d[9:15]}-{d[15:19]}"
    return digits


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

    @property
    def latency(self) -> float | None:
        """Seconds from the caller's end of input to the first reply RTP packet."""
        return self.first_audio - self.end_of_input if self.first_audio and self.end_of_input else None
