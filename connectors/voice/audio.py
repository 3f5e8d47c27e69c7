"""Audio helpers: G.711 µ-law/A-law (ITU-T G.711) with numpy tables, resampling, WAV in/out.

All audio inside the gateway is mono int16 PCM at 8 kHz (``RATE``), cut into 20 ms frames.
"""

from __future__ import annotations

import io
import wave
from functools import lru_cache
from math import gcd
from pathlib import Path

import numpy as np
from scipy.signal import resample_poly

RATE = 8000
FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_BYTES = FRAME_SAMPLES * 2


def _ulaw_decode_one(byte: int) -> int:
    """Decode one µ-law byte."""
    u = ~byte & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return (0x84 - t) if (u & 0x80) else (t - 0x84)


def _alaw_decode_one(byte: int) -> int:
    """Decode one A-law byte."""
    a = byte ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    if seg == 0:
        t += 8
    elif seg == 1:
        t += 0x108
    else:
        t = (t + 0x108) << (seg - 1)
    return t if (a & 0x80) else -t


@lru_cache(maxsize=1)
def _tables() -> dict[str, np.ndarray]:
    """Decode tables (256 entries) and encode tables (65,536 entries, indexed by sample + 32768)."""
    ulaw_dec = np.array([_ulaw_decode_one(b) for b in range(256)], dtype=np.int16)
    alaw_dec = np.array([_alaw_decode_one(b) for b in range(256)], dtype=np.int16)
    samples = np.arange(-32768, 32768, dtype=np.int32)

    def nearest(dec: np.ndarray) -> np.ndarray:
        order = np.argsort(dec.astype(np.int32), kind="stable")
        sorted_vals = dec.astype(np.int32)[order]
        idx = np.clip(np.searchsorted(sorted_vals, samples), 1, 255)
        left, right = sorted_vals[idx - 1], sorted_vals[idx]
        pick = np.where(samples - left <= right - samples, idx - 1, idx)
        return order[pick].astype(np.uint8)

    return {"ulaw_dec": ulaw_dec, "alaw_dec": alaw_dec, "ulaw_enc": nearest(ulaw_dec), "alaw_enc": nearest(alaw_dec)}


def encode(pcm: np.ndarray, codec: str) -> bytes:
    """Encode int16 PCM to G.711 (``codec`` is ``PCMU`` or ``PCMA``)."""
    table = _tables()["ulaw_enc" if codec == "PCMU" else "alaw_enc"]
    return bytes(table[pcm.astype(np.int32) + 32768])


def decode(payload: bytes, codec: str) -> np.ndarray:
    """Decode G.711 bytes to int16 PCM."""
    table = _tables()["ulaw_dec" if codec == "PCMU" else "alaw_dec"]
    return table[np.frombuffer(payload, dtype=np.uint8)]


def resample(pcm: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Resample int16 (or float) audio from ``src`` Hz to ``dst`` Hz; returns int16."""
    if src == dst:
        return pcm.astype(np.int16)
    g = gcd(src, dst)
    out = resample_poly(pcm.astype(np.float32), dst // g, src // g)
    return np.clip(np.round(out), -32768, 32767).astype(np.int16)


def read_wav(data: bytes | Path, rate: int = RATE) -> np.ndarray:
    """Read a PCM WAV (8/16-bit, any rate, mono or stereo) as mono int16 at ``rate``."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    with wave.open(io.BytesIO(raw)) as w:
        channels, width, src_rate = w.getnchannels(), w.getsampwidth(), w.getframerate()
        frames = w.readframes(w.getnframes())
    if width == 2:
        pcm = np.frombuffer(frames, dtype="<i2").astype(np.int32)
    elif width == 1:
        pcm = (np.frombuffer(frames, dtype=np.uint8).astype(np.int32) - 128) << 8
    elif width == 4:
        pcm = np.frombuffer(frames, dtype="<i4").astype(np.int64) >> 16
    else:
        raise ValueError(f"unsupported WAV sample width {width}")
    if channels > 1:
        pcm = pcm[: len(pcm) // channels * channels].reshape(-1, channels).mean(axis=1)
    return resample(np.asarray(pcm), src_rate, rate)


def wav_bytes(pcm: np.ndarray, rate: int = RATE) -> bytes:
    """Encode mono int16 PCM as a WAV file."""
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype("<i2").tobytes())
    return buf.getvalue()


def frames(pcm: np.ndarray) -> list[np.ndarray]:
    """Cut audio into 20 ms frames, zero-padding the last one."""
    n = -(-len(pcm) // FRAME_SAMPLES)
    padded = np.zeros(n * FRAME_SAMPLES, dtype=np.int16)
    padded[: len(pcm)] = pcm
    return [padded[i * FRAME_SAMPLES : (i + 1) * FRAME_SAMPLES] for i in range(n)]


def rms(pcm: np.ndarray) -> float:
    """Root mean square level of int16 audio (0 for empty)."""
    return float(np.sqrt(np.mean(pcm.astype(np.float64) ** 2))) if len(pcm) else 0.0
