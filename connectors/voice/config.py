"""Voice gateway settings, read once from environment variables (defaults work offline)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, BeforeValidator, Field

from common.settings import REPO_ROOT, Flag, GatewayClientSettings, RasaSettings, invalid


def _under_data_dir(*parts: str) -> Callable[[dict[str, Any]], Path]:
    """A default below the (already validated) data dir."""
    return lambda data: Path(data.get("data_dir", REPO_ROOT / "var"), *parts)


def _vad_level(level: int) -> int:
    """Clamp to the levels webrtcvad knows, 0..3."""
    return min(3, max(0, level))


def _dtmf_letter(value: Any) -> Any:
    """The DTMF key that stands for the code's letter: G or H, any case."""
    if isinstance(value, str):
        letter = value.strip().upper()
        if letter not in ("G", "H"):
            raise invalid("G or H")
        return letter
    return value


class VoiceSettings(RasaSettings, GatewayClientSettings):
    """Every setting of the voice gateway."""

    # Empty greeting: play the recorded greeting without asking Rasa; empty operator payload: key 0 is inert.
    empty_is_a_value: ClassVar[frozenset[str]] = frozenset({"VOICE_GREETING_PAYLOAD", "VOICE_OPERATOR_PAYLOAD"})

    sip_host: str = Field("127.0.0.1", alias="VOICE_SIP_HOST")
    sip_port: int = Field(5060, ge=0, le=65535, alias="VOICE_SIP_PORT")
    public_host: str = Field(default_factory=lambda data: data.get("sip_host", ""), alias="VOICE_PUBLIC_HOST")
    rtp_port_min: int = Field(16000, ge=0, le=65535, alias="VOICE_RTP_PORT_MIN")
    rtp_port_max: int = Field(16999, ge=0, le=65535, alias="VOICE_RTP_PORT_MAX")
    http_port: int = Field(8090, ge=0, le=65535, alias="VOICE_HTTP_PORT")
    asr_engine: str = Field("faster-whisper", alias="ASR_ENGINE")
    asr_model: Path = Field(default_factory=_under_data_dir("models", "whisper-base"), alias="ASR_MODEL")
    asr_threads: int = Field(2, alias="ASR_THREADS")
    asr_workers: int = Field(1, alias="ASR_WORKERS")
    asr_beam_size: int = Field(1, alias="ASR_BEAM_SIZE")
    asr_n_best: int = Field(1, ge=1, le=8, alias="ASR_N_BEST")
    asr_bias: Flag = Field(True, alias="ASR_BIAS")
    asr_window_pad_s: float = Field(5.0, ge=0, le=30, alias="ASR_WINDOW_PAD_S")
    asr_budget_s: float = Field(8.0, gt=0, le=60, alias="ASR_BUDGET_S")
    asr_keep_warm_s: float = Field(120.0, ge=0, alias="ASR_KEEP_WARM_S")
    asr_http_url: str = Field("", alias="ASR_HTTP_URL")
    asr_http_token: str = Field("", alias="ASR_HTTP_TOKEN")
    asr_http_timeout_s: float = Field(3.0, gt=0, le=60, alias="ASR_HTTP_TIMEOUT_S")
    tts_engine: str = Field("espeak", alias="TTS_ENGINE")
    tts_voice: str = Field("vi", alias="TTS_VOICE")
    tts_rate: int = Field(160, alias="TTS_RATE")
    tts_http_url: str = Field("", alias="TTS_HTTP_URL")
    tts_http_token: str = Field("", alias="TTS_HTTP_TOKEN")
    tts_model: Path = Field(default_factory=_under_data_dir("models", "piper-vi"), alias="TTS_MODEL")
    prompts_dir: Path = Field(default_factory=_under_data_dir("voice", "prompts"), alias="VOICE_PROMPTS_DIR")
    human_agent_uri: str = Field("", alias="HUMAN_AGENT_SIP_URI")
    greeting_payload: str = Field("/greet", alias="VOICE_GREETING_PAYLOAD")
    max_calls: int = Field(8, alias="VOICE_MAX_CALLS")
    max_call_s: float = Field(600.0, alias="VOICE_MAX_CALL_S")
    silence_s: float = Field(8.0, alias="VOICE_SILENCE_S")
    max_reprompts: int = Field(1, alias="VOICE_MAX_REPROMPTS")
    end_silence_ms: int = Field(700, alias="VOICE_END_SILENCE_MS")
    short_end_silence_ms: int = Field(400, ge=100, alias="VOICE_SHORT_END_SILENCE_MS")
    early_decode_ms: int = Field(200, ge=0, alias="VOICE_EARLY_DECODE_MS")
    max_utterance_s: float = Field(15.0, alias="VOICE_MAX_UTTERANCE_S")
    vad_aggressiveness: Annotated[int, AfterValidator(_vad_level)] = Field(2, alias="VOICE_VAD_AGGRESSIVENESS")
    dtmf_timeout_s: float = Field(5.0, alias="VOICE_DTMF_TIMEOUT_S")
    dtmf_button_wait_s: float = Field(1.5, alias="VOICE_DTMF_BUTTON_WAIT_S")
    dtmf_code_letter: Annotated[str, BeforeValidator(_dtmf_letter)] = Field("H", alias="VOICE_DTMF_CODE_LETTER")
    answer_delay_s: float = Field(0.0, alias="VOICE_ANSWER_DELAY_S")
    operator_payload: str = Field("/request_human", alias="VOICE_OPERATOR_PAYLOAD")
    menu: Flag = Field(True, alias="VOICE_MENU")
    match_min: float = Field(0.3, ge=0, le=1, alias="VOICE_MATCH_MIN")
    match_sure: float = Field(0.7, ge=0, le=1, alias="VOICE_MATCH_SURE")
    docs_per_chunk: int = Field(3, ge=1, le=20, alias="VOICE_DOCS_PER_CHUNK")
    sms_offer: Flag = Field(True, alias="VOICE_SMS_OFFER")
    hash_key: str = Field("", alias="TTHC_HASH_KEY")

    @property
    def default_asr_model(self) -> Path:
        """Where setup assembles the bundled Whisper base model."""
        return self.data_dir / "models" / "whisper-base"

    @property
    def samples_dir(self) -> Path:
        """Natural test recordings extracted at setup (tests and benchmarks)."""
        return self.data_dir / "voice" / "samples"
