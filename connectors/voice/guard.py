"""Checks on a recogniser's output before the bot sees it (loops, prompt echoes, too long for the audio).

Whisper hallucinates on short, quiet or unclear audio: it repeats a phrase until the token limit,
writes far more words than the audio can hold, or copies its own initial prompt (the hotline's
vocabulary) into the transcript. Any of these is discarded and the caller is asked to repeat.
"""

from __future__ import annotations

import re
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import numpy as np

from common.text import fold_diacritics, nfc
from connectors.voice.audio import RATE

# Vietnamese speech runs at about 4-6 syllables a second; 8 a second plus slack is never real speech.
MAX_SYLLABLES_PER_S = 8.0
SYLLABLE_SLACK = 4
# Whisper's BPE spends about 2-3 tokens per Vietnamese syllable (diacritics cost bytes).
TOKENS_PER_SYLLABLE = 3
# Folded words of a dossier code read aloud (digits, the letter, separators).
CODE_WORDS = frozenset({"khong", "linh", "mot", "hai", "ba", "bon", "tu", "nam", "lam", "sau", "bay", "tam", "chin",
                        "cham", "gach", "ngang", "noi", "hat"})
DIGIT_REPEATS = 6


def syllables(text: str) -> list[str]:
    """Lower-case folded syllables (words) of ``text``."""
    return re.findall(r"\w+", fold_diacritics(nfc(text)).lower())


def max_syllables(audio_s: float) -> int:
    """The most syllables a real utterance of ``audio_s`` seconds can hold."""
    return int(MAX_SYLLABLES_PER_S * max(0.0, audio_s)) + SYLLABLE_SLACK


def max_new_tokens(audio_s: float, cap: int = 200) -> int:
    """Decoder token limit for an utterance: enough for the fastest real speech, never a 30 s loop."""
    return max(8, min(cap, TOKENS_PER_SYLLABLE * max_syllables(audio_s)))


def repeats(words: Sequence[str], min_repeats: int = 3, max_n: int = 6) -> bool:
    """Whether an n-gram (2 ≤ n ≤ ``max_n``) occurs ``min_repeats`` times in a row, or one word one time more.

    "không không không" can be a real answer; "không không không không" and phrase loops are not. Digits
    read one by one repeat for real (a code ending 1111, "không một, không một"): a gram of digits and code
    separators only counts as a loop from ``DIGIT_REPEATS`` times in a row.
    """
    for n in range(1, max_n + 1):
        least = min_repeats + 1 if n == 1 else min_repeats
        for start in range(0, len(words) - n * least + 1):
            gram = list(words[start:start + n])
            digits = all(w.isdigit() or w in CODE_WORDS for w in gram)
            times = max(least, DIGIT_REPEATS) if digits else least
            if all(list(words[start + k * n:start + (k + 1) * n]) == gram for k in range(1, times)):
                return True
    return False


def compression_ratio(text: str) -> float:
    """The zlib ratio of the UTF-8 text: looping text compresses far better than speech."""
    data = text.encode()
    return len(data) / max(1, len(zlib.compress(data))) if data else 0.0


def prompt_echo(words: Sequence[str], prompt_phrases: Sequence[str], min_run: int = 4) -> bool:
    """Whether the transcript copies the prompt across a phrase boundary.

    A caller naming one procedure legitimately repeats one phrase of the prompt; only Whisper
    copying the prompt itself runs from one phrase into the next.
    """
    stream: list[str] = []
    boundaries: list[int] = []
    for phrase in prompt_phrases:
        stream.extend(syllables(phrase))
        boundaries.append(len(stream))
    if len(words) < min_run:
        return False
    text = " " + " ".join(words) + " "
    for start in range(len(stream) - min_run + 1):
        end = start + min_run
        if any(start < b < end for b in boundaries) and " " + " ".join(stream[start:end]) + " " in text:
            return True
    return False


def rejection(text: str, audio_s: float, prompt_phrases: Sequence[str] = ()) -> str:
    """Why ``text`` cannot be what the caller said ('' when it is plausible)."""
    words = syllables(text)
    if not words:
        return ""
    if len(words) > max_syllables(audio_s):
        return "too long for the audio"
    if repeats(words):
        return "repetition"
    if len(text) > 40 and compression_ratio(text) > 2.4:
        return "repetitive text"
    if prompt_echo(words, prompt_phrases):
        return "prompt echoed"
    return ""


@dataclass
class Transcript:
    """One decode: the text ('' when nothing usable), why a text was discarded, and the seconds it took.

    ``alternatives`` are the decoder's next-best readings (n-best, best first, each passed the same
    checks): the menu may prefer one that names a procedure, answers yes/no or holds a dossier code.
    """

    text: str
    rejected: str = ""
    seconds: float = 0.0
    raw: str = ""
    alternatives: list[str] = field(default_factory=list)

    @property
    def hypotheses(self) -> list[str]:
        """The text and its alternatives, best first ([] when nothing was usable)."""
        return [t for t in (self.text, *self.alternatives) if t]


class ASR(Protocol):
    """A speech recogniser: 8 kHz int16 audio of one utterance in, text out (blocking; run it off-loop)."""

    name: str

    def transcribe(self, pcm: np.ndarray, rate: int = RATE) -> str:
        """Return the recognised text ('' when nothing was understood)."""
        ...


def recognise(asr: ASR, pcm: np.ndarray, rate: int = RATE) -> Transcript:
    """Decode with any engine; engines without ``decode`` get the same output checks."""
    decode = getattr(asr, "decode", None)
    if decode is not None:
        return cast(Transcript, decode(pcm, rate))
    t0 = time.perf_counter()
    raw = asr.transcribe(pcm, rate)
    why = rejection(raw, len(pcm) / rate)
    return Transcript("" if why else raw, why, time.perf_counter() - t0, raw)
