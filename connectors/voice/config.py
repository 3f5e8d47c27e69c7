"""Voice gateway settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from common.settings import REPO_ROOT
from connectors.config import env_float, env_int


@dataclass(frozen=True)
class VoiceSettings:
    """Every setting of the voice gateway."""

    sip_host: str = "127.0.0.1"
    sip_port: int = 5060
    public_host: str = "127.0.0.1"
    rtp_port_min: int = 16000
    rtp_port_max: int = 16999
    http_port: int = 8090
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_timeout: float = 20.0
    data_dir: Path = REPO_ROOT / "var"
    asr_engine: str = "faster-whisper"
    asr_model: Path = REPO_ROOT / "var" / "models" / "whisper-base"
    asr_threads: int = 2
    asr_workers: int = 1
    asr_beam_size: int = 1
    tts_engine: str = "espeak"
    tts_voice: str = "vi"
    tts_rate: int = 160
    tts_http_url: str = ""
    tts_http_token: str = ""
    prompts_dir: Path = REPO_ROOT / "var" / "voice" / "prompts"
    human_agent_uri: str = ""
    greeting_payload: str = "/greet"
    max_calls: int = 8
    max_call_s: float = 600.0
    silence_s: float = 8.0
    max_reprompts: int = 1
    end_silence_ms: int = 700
    max_utterance_s: float = 15.0
    vad_aggressiveness: int = 2
    dtmf_timeout_s: float = 5.0
    dtmf_button_wait_s: float = 1.5
    dtmf_code_letter: str = "H"
    answer_delay_s: float = 0.0
    operator_payload: str = "/request_human"

    @property
    def default_asr_model(self) -> Path:
        """Where setup assembles the bundled Whisper base model."""
        return self.data_dir / "models" / "whisper-base"

    @property
    def samples_dir(self) -> Path:
        """Natural test recordings extracted at setup (tests and benchmarks)."""
        return self.data_dir / "voice" / "samples"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> VoiceSettings:
        """Build settings from ``env`` (default: the process environment)."""
        e = os.environ if env is None else env
        data_dir = Path(e.get("TTHC_DATA_DIR") or (REPO_ROOT / "var"))
        sip_host = e.get("VOICE_SIP_HOST") or "127.0.0.1"
        letter = (e.get("VOICE_DTMF_CODE_LETTER") or "H").upper()
        return cls(
            sip_host=sip_host,
            sip_port=env_int(e, "VOICE_SIP_PORT", 5060),
            public_host=e.get("VOICE_PUBLIC_HOST") or sip_host,
            rtp_port_min=env_int(e, "VOICE_RTP_PORT_MIN", 16000),
            rtp_port_max=env_int(e, "VOICE_RTP_PORT_MAX", 16999),
            http_port=env_int(e, "VOICE_HTTP_PORT", 8090),
            rasa_url=(e.get("RASA_URL") or "http://127.0.0.1:5005").rstrip("/"),
            rasa_timeout=env_float(e, "RASA_TIMEOUT", 20.0),
            data_dir=data_dir,
            asr_engine=e.get("ASR_ENGINE") or "faster-whisper",
            asr_model=Path(e.get("ASR_MODEL") or (data_dir / "models" / "whisper-base")),
            asr_threads=env_int(e, "ASR_THREADS", 2),
            asr_workers=env_int(e, "ASR_WORKERS", 1),
            asr_beam_size=env_int(e, "ASR_BEAM_SIZE", 1),
            tts_engine=e.get("TTS_ENGINE") or "espeak",
            tts_voice=e.get("TTS_VOICE") or "vi",
            tts_rate=env_int(e, "TTS_RATE", 160),
            tts_http_url=e.get("TTS_HTTP_URL", ""),
            tts_http_token=e.get("TTS_HTTP_TOKEN", ""),
            prompts_dir=Path(e.get("VOICE_PROMPTS_DIR") or (data_dir / "voice" / "prompts")),
            human_agent_uri=e.get("HUMAN_AGENT_SIP_URI", ""),
            greeting_payload=e.get("VOICE_GREETING_PAYLOAD", "/greet"),
            max_calls=env_int(e, "VOICE_MAX_CALLS", 8),
            max_call_s=env_float(e, "VOICE_MAX_CALL_S", 600.0),
            silence_s=env_float(e, "VOICE_SILENCE_S", 8.0),
            max_reprompts=env_int(e, "VOICE_MAX_REPROMPTS", 1),
            end_silence_ms=env_int(e, "VOICE_END_SILENCE_MS", 700),
            max_utterance_s=env_float(e, "VOICE_MAX_UTTERANCE_S", 15.0),
            vad_aggressiveness=min(3, max(0, env_int(e, "VOICE_VAD_AGGRESSIVENESS", 2))),
            dtmf_timeout_s=env_float(e, "VOICE_DTMF_TIMEOUT_S", 5.0),
            dtmf_button_wait_s=env_float(e, "VOICE_DTMF_BUTTON_WAIT_S", 1.5),
            dtmf_code_letter=letter if letter in ("G", "H") else "H",
            answer_delay_s=env_float(e, "VOICE_ANSWER_DELAY_S", 0.0),
            operator_payload=e.get("VOICE_OPERATOR_PAYLOAD", "/request_human"),
        )
