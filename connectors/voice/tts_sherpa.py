"""``TTS_ENGINE=piper``: a Piper (VITS) voice converted to sherpa-onnx's layout, from an operator-provided folder.

``TTS_MODEL`` names a folder with exactly one ``*.onnx`` (metadata ``comment=piper``, ``sample_rate``,
``n_speakers``, ``language``) and its ``tokens.txt`` (one phoneme symbol and id per line). sherpa-onnx 2.x no
longer phonemizes, so each sentence is phonemized here by the system espeak-ng (``--ipa``, the same binary as
``TTS_ENGINE=espeak``) and handed over as code points; an ``espeak-ng-data`` folder shipped with the voice is not
used. The folder is checked before sherpa-onnx sees it: its loader ends the process on a bad file.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from pathlib import Path
from typing import Any

import numpy as np

from connectors.voice.audio import RATE, resample
from connectors.voice.tts_error import TTSError

log = logging.getLogger(__name__)

MAX_TEXT_CHARS = 500  # one spoken sentence; longer text is cut at a word boundary
REQUIRED_METADATA = ("sample_rate", "n_speakers", "language", "comment")
PIPER_SYMBOLS = ("_", "^", "$")  # pad, bos, eos: sherpa-onnx frames the phoneme ids with them


def read_tokens(path: Path) -> dict[str, int]:
    """Piper's ``tokens.txt`` (``symbol id``; a line ``" id"`` is the space), checked as sherpa-onnx reads it."""
    tokens: dict[str, int] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        parts = line.split()
        if len(parts) == 1 and line.startswith(" "):
            symbol, value = " ", parts[0]
        elif len(parts) == 2:
            symbol, value = parts
        else:
            raise RuntimeError(f"TTS_MODEL {path}: line {number} is not 'symbol id'")
        if symbol == "<BLNK>":
            continue
        if len(symbol) != 1 or not value.isdigit() or symbol in tokens:
            raise RuntimeError(f"TTS_MODEL {path}: line {number} is not a new one-character symbol and an id")
        tokens[symbol] = int(value)
    missing = [s for s in PIPER_SYMBOLS if s not in tokens]
    if missing:
        raise RuntimeError(f"TTS_MODEL {path}: no Piper symbol(s) {' '.join(missing)}")
    return tokens


def model_files(folder: Path) -> dict[str, Path]:
    """The voice's model and tokens in ``folder``; a clear error naming what is missing or wrong."""
    if not folder.is_dir():
        raise RuntimeError(f"TTS_ENGINE=piper: TTS_MODEL {folder} is not a folder (no Piper voice ships; "
                           "see README, voice section)")
    models = sorted(folder.glob("*.onnx"))
    problems = [] if len(models) == 1 else ["*.onnx: " + (", ".join(p.name for p in models) or "none")]
    if not (folder / "tokens.txt").is_file():
        problems.append("tokens.txt: none")
    if problems:
        raise RuntimeError(f"TTS_MODEL {folder} is not a sherpa-onnx Piper voice folder (want exactly one of each): "
                           + "; ".join(problems))
    metadata = _metadata(models[0])
    missing = [key for key in REQUIRED_METADATA if key not in metadata]
    if missing:
        raise RuntimeError(f"TTS_MODEL {models[0]}: metadata lacks {', '.join(missing)} (convert the voice with "
                           "sherpa-onnx's Piper script)")
    if "piper" not in metadata["comment"]:
        raise RuntimeError(f"TTS_MODEL {models[0]}: metadata comment {metadata['comment'][:40]!r} is not a Piper voice")
    return {"model": models[0], "tokens": folder / "tokens.txt"}


def _metadata(model: Path) -> dict[str, str]:
    """The ONNX model's custom metadata, read with onnxruntime."""
    import onnxruntime

    try:
        session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors on a bad file
        raise RuntimeError(f"TTS_MODEL {model}: not a loadable ONNX model ({str(exc)[:200]})") from exc
    return dict(session.get_modelmeta().custom_metadata_map)


class PiperTTS:
    """A Piper voice run by sherpa-onnx on CPU; espeak-ng phonemizes, synthesis runs in a worker thread."""

    def __init__(self, folder: Path, voice: str = "vi", threads: int = 1, binary: str = "espeak-ng") -> None:
        """Check the folder, then load the voice once (sherpa_onnx is imported only here)."""
        import sherpa_onnx

        files = model_files(folder)
        self.tokens = read_tokens(files["tokens"])
        self.voice, self.binary = voice, binary
        vits = sherpa_onnx.OfflineTtsVitsModelConfig(model=str(files["model"]), tokens=str(files["tokens"]))
        config = sherpa_onnx.OfflineTtsConfig(
            model=sherpa_onnx.OfflineTtsModelConfig(vits=vits, num_threads=max(1, threads)))
        self.tts: Any = sherpa_onnx.OfflineTts(config)
        self.sample_rate = int(self.tts.sample_rate)
        self.lock = threading.Lock()

    async def phonemes(self, text: str) -> str:
        """IPA of ``text`` from espeak-ng, clauses joined by commas."""
        proc = await asyncio.create_subprocess_exec(
            self.binary, "-v", self.voice, "-q", "--ipa", "--", text,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise TTSError(f"espeak-ng failed: {err.decode(errors='replace')[:200]}")
        clauses = [" ".join(line.split()) for line in out.decode(errors="replace").splitlines()]
        return ", ".join(c for c in clauses if c)

    def generate(self, phonemes: str) -> np.ndarray:
        """Synthesise known phonemes (others are dropped) and resample to the gateway's rate."""
        import sherpa_onnx

        codepoints = [ord(c) for c in phonemes if c in self.tokens]
        if not codepoints:
            raise TTSError("nothing the voice can say")
        config = sherpa_onnx.GenerationConfig()
        config.phoneme_codepoints = [codepoints]
        with self.lock:
            audio = self.tts.generate(phonemes, config)
        samples = np.clip(np.asarray(audio.samples, np.float32), -1.0, 1.0) * 32767
        if not len(samples):
            raise TTSError("the voice returned no audio")
        return resample(samples, int(audio.sample_rate), RATE)

    async def synthesize(self, text: str) -> np.ndarray:
        """Phonemize with espeak-ng, synthesise off the event loop."""
        if len(text) > MAX_TEXT_CHARS:
            log.info("TTS text cut from %d to %d characters", len(text), MAX_TEXT_CHARS)
            text = text[:MAX_TEXT_CHARS].rsplit(" ", 1)[0]
        return await asyncio.to_thread(self.generate, await self.phonemes(text))
