"""The typed settings layer: parsing, derived values, malformed values, and .env.example kept complete."""

from __future__ import annotations

import re
import shlex
import sys
from pathlib import Path

import pytest

from admin.config import AdminSettings
from bot.settings import ActionServerSettings
from common.settings import REPO_ROOT, EnvSettings, SettingsError, get_settings, load_or_exit, use_settings
from connectors.config import GatewayProcessSettings, GatewaySettings
from connectors.voice.config import VoiceSettings
from desk.settings import DeskSettings
from dossier.settings import DossierSettings
from knowledge.config import KnowledgeSettings

SETTINGS_CLASSES: list[type[EnvSettings]] = [
    KnowledgeSettings, DossierSettings, DeskSettings, GatewaySettings, VoiceSettings, AdminSettings,
    ActionServerSettings, GatewayProcessSettings,
]
ENV_EXAMPLE = REPO_ROOT / ".env.example"
LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def name(value: object) -> str:
    """Test id: the settings class with its module (two are called Settings)."""
    return f"{value.__module__}.{value.__name__}" if isinstance(value, type) else ""


def documented() -> dict[str, str]:
    """Variable -> the default written in .env.example ("" when it is computed)."""
    found = {}
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = LINE.match(line)
        if match:
            found[match.group(1)] = " ".join(shlex.split(match.group(2)))
    return found


def test_every_settings_variable_is_in_env_example() -> None:
    names = documented()
    missing = sorted({var for cls in SETTINGS_CLASSES for var in cls.env_vars().values()} - set(names))
    assert not missing, f"add to .env.example: {missing}"


@pytest.mark.parametrize("cls", SETTINGS_CLASSES, ids=name)
def test_defaults_written_in_env_example_are_the_code_defaults(cls: type[EnvSettings]) -> None:
    defaults = cls.from_env({})
    for field, var in cls.env_vars().items():
        value = documented().get(var)
        if value:
            assert getattr(cls.from_env({var: value}), field) == getattr(defaults, field), var


@pytest.mark.parametrize(("cls", "env", "message"), [
    (KnowledgeSettings, {"KNOWLEDGE_MIN_SCORE": "high"}, "KNOWLEDGE_MIN_SCORE='high': expected a number"),
    (DossierSettings, {"ONESTOP_RETRIES": "two"}, "ONESTOP_RETRIES='two': expected an integer"),
    (DeskSettings, {"TTHC_DATA_DIR": "var\0"}, "TTHC_DATA_DIR='var\\x00': expected a directory path"),
    (GatewaySettings, {"GATEWAY_PORT": "abc"}, "GATEWAY_PORT='abc': expected an integer"),
    (VoiceSettings, {"VOICE_DTMF_CODE_LETTER": "X"}, "VOICE_DTMF_CODE_LETTER='X': expected G or H"),
    (AdminSettings, {"ADMIN_AUTO_REBUILD": "maybe"},
     "ADMIN_AUTO_REBUILD='maybe': expected one of 1/true/yes or 0/false/no"),
], ids=name)
def test_a_malformed_value_names_the_variable_and_the_form(
    cls: type[EnvSettings], env: dict[str, str], message: str
) -> None:
    with pytest.raises(SettingsError) as raised:
        cls.from_env(env)
    assert str(raised.value) == message


def test_every_malformed_variable_is_reported_on_one_line() -> None:
    with pytest.raises(SettingsError) as raised:
        GatewaySettings.from_env({"GATEWAY_PORT": "abc", "RASA_TIMEOUT": "soon"})
    assert str(raised.value) == "RASA_TIMEOUT='soon': expected a number; GATEWAY_PORT='abc': expected an integer"


def test_process_environment_wins_over_env_file_and_malformed_env_raises(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TTHC_TEST", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text('GATEWAY_PORT=9001\nGATEWAY_HOST=0.0.0.0\nHOTLINE_NUMBER="1900 9999"\n', encoding="utf-8")
    monkeypatch.setenv("GATEWAY_PORT", "9002")
    monkeypatch.setenv("GATEWAY_HOST", "")  # empty counts as unset: .env applies
    settings = GatewaySettings(_env_file=dotenv)
    assert (settings.port, settings.host) == (9002, "0.0.0.0")
    assert DeskSettings(_env_file=dotenv).hotline == "1900 9999"
    monkeypatch.setenv("GATEWAY_PORT", "abc")
    with pytest.raises(SettingsError, match="GATEWAY_PORT='abc': expected an integer"):
        GatewaySettings.from_env()


def test_empty_means_default_except_where_empty_turns_a_feature_off(monkeypatch: pytest.MonkeyPatch) -> None:
    assert DeskSettings.from_env({"HOTLINE_NUMBER": "", "OFFICE_HOURS": ""}) == DeskSettings.from_env({})
    voice = VoiceSettings.from_env({"VOICE_GREETING_PAYLOAD": "", "VOICE_OPERATOR_PAYLOAD": "", "TTS_VOICE": ""})
    assert (voice.greeting_payload, voice.operator_payload, voice.tts_voice) == ("", "", "vi")
    monkeypatch.setenv("VOICE_GREETING_PAYLOAD", "")
    monkeypatch.setenv("VOICE_SIP_PORT", "")
    assert (VoiceSettings.from_env().greeting_payload, VoiceSettings.from_env().sip_port) == ("", 5060)


def test_env_file_is_ignored_under_tthc_test(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TTHC_TEST", "1")
    monkeypatch.delenv("GATEWAY_PORT", raising=False)
    dotenv = tmp_path / ".env"
    dotenv.write_text("GATEWAY_PORT=9001\n", encoding="utf-8")
    assert GatewaySettings(_env_file=dotenv).port == 8080


def test_an_explicit_mapping_is_the_only_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GATEWAY_PORT", "abc")
    monkeypatch.setenv("RASA_URL", "http://elsewhere:5005")
    settings = GatewaySettings.from_env({"GATEWAY_HOST": "0.0.0.0", "port": "1", "GATEWAY_PUSH_TOKEN": ""})
    assert (settings.host, settings.port, settings.rasa_url, settings.push_token) == (
        "0.0.0.0", 8080, "http://127.0.0.1:5005", "")


def test_keyword_arguments_take_field_names_and_reject_typos() -> None:
    settings = DossierSettings(data_dir=Path("/srv/tthc"), backend=" HTTP ", onestop_url="http://x/api/")
    assert (settings.data_dir, settings.backend, settings.onestop_url) == (Path("/srv/tthc"), "http", "http://x/api")
    with pytest.raises(TypeError, match="onestop_ulr"):
        DossierSettings(onestop_ulr="http://x")
    with pytest.raises(ValueError):  # frozen
        settings.backend = "sqlite"  # type: ignore[misc]


def test_derived_values_keep_their_meaning() -> None:
    admin = AdminSettings.from_env({
        "TTHC_DATA_DIR": "~/tthc", "ADMIN_SESSION_IDLE_MINUTES": "30", "ADMIN_SESSION_MAX_HOURS": "2",
        "ADMIN_LOCKOUT_MINUTES": "5", "ADMIN_MAX_UPLOAD_MB": "3", "ADMIN_INDEX_BUILD_CMD": "make 'index build'",
        "ADMIN_AUTO_REBUILD": "yes", "ADMIN_SEMANTIC_SEARCH": "0", "ADMIN_SECURE_COOKIE": "Always",
        "GATEWAY_URL": "http://gw:8080/",
    })
    assert admin.data_dir == Path("~/tthc").expanduser().resolve()
    assert (admin.session_idle_s, admin.session_max_s) == (1800, 7200)
    assert (admin.failure_window_s, admin.lockout_s) == (300, 300)
    assert admin.max_upload_bytes == 3 * 1024 * 1024
    assert admin.index_build_cmd == ("make", "index build")
    assert (admin.auto_rebuild, admin.semantic_search, admin.secure_cookie) == (True, False, "always")
    assert admin.gateway_url == "http://gw:8080"
    assert AdminSettings.from_env({}).index_build_cmd == (sys.executable, "-m", "knowledge", "build")
    for word, value in (("1", True), ("true", True), ("yes", True), ("0", False), ("false", False), ("no", False)):
        assert AdminSettings.from_env({"ADMIN_AUTO_REBUILD": word}).auto_rebuild is value
    with pytest.raises(SettingsError, match="ADMIN_INDEX_BUILD_CMD"):
        AdminSettings.from_env({"ADMIN_INDEX_BUILD_CMD": "'unclosed"})


def test_voice_defaults_follow_other_settings_and_clamp() -> None:
    voice = VoiceSettings.from_env({"TTHC_DATA_DIR": "/srv/tthc", "VOICE_SIP_HOST": "10.0.0.2",
                                    "VOICE_VAD_AGGRESSIVENESS": "9", "VOICE_DTMF_CODE_LETTER": "g"})
    assert voice.public_host == "10.0.0.2"
    assert voice.asr_model == Path("/srv/tthc/models/whisper-base")
    assert voice.prompts_dir == Path("/srv/tthc/voice/prompts")
    assert (voice.vad_aggressiveness, voice.dtmf_code_letter) == (3, "G")
    assert VoiceSettings.from_env({"VOICE_VAD_AGGRESSIVENESS": "-1"}).vad_aggressiveness == 0


def test_shared_variables_are_read_the_same_way_everywhere() -> None:
    env = {"RASA_URL": "http://rasa:5005/", "GATEWAY_PUSH_TOKEN": "t", "GATEWAY_URL": "http://gw/",
           "HOTLINE_NUMBER": "1800 0000"}
    assert GatewaySettings.from_env(env).rasa_url == VoiceSettings.from_env(env).rasa_url == "http://rasa:5005"
    dossier, admin = DossierSettings.from_env(env), AdminSettings.from_env(env)
    assert dossier.gateway_token == admin.push_token == GatewaySettings.from_env(env).push_token == "t"
    assert dossier.gateway_url == admin.gateway_url == "http://gw"
    assert dossier.hotline == DeskSettings.from_env(env).hotline == "1800 0000"
    knowledge = KnowledgeSettings.from_env({"TTHC_DATA_DIR": "/srv/tthc"})
    assert knowledge.catalogue_db_url == "sqlite:////srv/tthc/catalogue.db"


def test_load_or_exit_prints_one_line_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert load_or_exit(lambda: GatewaySettings.from_env({"GATEWAY_PORT": "81"})).port == 81
    with pytest.raises(SystemExit) as exited:
        load_or_exit(lambda: GatewaySettings.from_env({"GATEWAY_PORT": "abc"}))
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err == "configuration error: GATEWAY_PORT='abc': expected an integer\n"


def test_a_process_has_one_settings_object_for_every_capability_it_runs(tmp_path: Path) -> None:
    process = ActionServerSettings.from_env({"TTHC_DATA_DIR": str(tmp_path), "HOTLINE_NUMBER": "1800 0000"})
    use_settings(process)
    assert get_settings(KnowledgeSettings) is process
    assert get_settings(DossierSettings) is process
    assert get_settings(DeskSettings) is process
    assert get_settings(DossierSettings).hotline == get_settings(DeskSettings).hotline == "1800 0000"
    assert get_settings(KnowledgeSettings).catalogue_db_url == f"sqlite:///{tmp_path / 'catalogue.db'}"


def test_a_class_the_process_object_does_not_cover_is_read_once(monkeypatch: pytest.MonkeyPatch) -> None:
    use_settings(KnowledgeSettings.from_env({}))
    monkeypatch.setenv("VOICE_SIP_PORT", "5070")
    voice = get_settings(VoiceSettings)
    assert voice.sip_port == 5070
    monkeypatch.setenv("VOICE_SIP_PORT", "5080")
    assert get_settings(VoiceSettings) is voice
