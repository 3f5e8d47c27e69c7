"""The typed settings layer: one frozen object per process, read from the environment and ``.env``.

Every variable is a field alias on a subclass of :class:`EnvSettings`. Each capability declares its
own class (``KnowledgeSettings``, ``DossierSettings``, ...); a process that runs several capabilities
declares one class inheriting theirs (e.g. ``bot.settings.ActionServerSettings``), loads it once at
start-up with :func:`load_or_exit` and registers it with :func:`use_settings`; code anywhere then asks
``get_settings(KnowledgeSettings)`` and receives that one object. Empty values count as unset,
environment variables win over ``.env`` at the repo root, and a malformed value raises
:class:`SettingsError` naming the variable and the form it should take. Variables that more than one
process reads (Rasa, the gateway's push endpoint, the hotline) are defined once, in the mixins below.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, ClassVar, Self, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from common.tokens import PUSH_TOKEN_FILE, load_or_create_token

REPO_ROOT = Path(__file__).resolve().parents[1]
ENV_FILE = REPO_ROOT / ".env"
EXIT_CONFIG = 2  # exit status of a process that refused to start on a malformed setting

T = TypeVar("T")
S = TypeVar("S", bound="EnvSettings")
# Set while from_env() builds from an explicit mapping: then neither the environment nor .env is read.
_MAPPING_ONLY: ContextVar[bool] = ContextVar("settings_mapping_only", default=False)

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
# What a value should look like, by pydantic error type; other errors keep pydantic's message.
_EXPECTED = {
    "int_parsing": "an integer",
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_parsing": "a number",
    "float_type": "a number",
    "bool_parsing": "one of 1/true/yes or 0/false/no",
    "bool_type": "one of 1/true/yes or 0/false/no",
}


class SettingsError(ValueError):
    """A malformed setting; the message names the variable and the expected form."""


def invalid(expected: str) -> PydanticCustomError:
    """The error a field validator raises: ``expected`` completes "VAR='value': expected ..."."""
    return PydanticCustomError("settings", "expected {expected}", {"expected": expected})


def _flag(value: Any) -> Any:
    """Parse a boolean written 1/true/yes/on or 0/false/no/off (any case)."""
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _TRUE:
            return True
        if word in _FALSE:
            return False
        raise invalid("one of 1/true/yes or 0/false/no")
    return value


def _resolved(path: Path) -> Path:
    """Expand ``~`` and make the path absolute."""
    try:
        return path.expanduser().resolve()
    except (OSError, RuntimeError, ValueError):  # a NUL byte, an unknown ~user, a symlink loop
        raise invalid("a directory path") from None


Flag = Annotated[bool, BeforeValidator(_flag)]
Url = Annotated[str, AfterValidator(lambda url: url.rstrip("/"))]
Dir = Annotated[Path, AfterValidator(_resolved)]


def _variable(cls: type[BaseSettings], loc: tuple[int | str, ...]) -> str:
    """The environment variable behind an error location (a field name or an alias)."""
    key = str(loc[0]) if loc else "?"
    field = cls.model_fields.get(key)
    return field.alias if field is not None and field.alias else key


def describe(cls: type[BaseSettings], exc: ValidationError) -> str:
    """One line per malformed variable, joined: ``GATEWAY_PORT='abc': expected an integer``."""
    parts = []
    for error in exc.errors(include_url=False):
        expected = _EXPECTED.get(error["type"])
        message = f"expected {expected}" if expected else error["msg"]
        parts.append(f"{_variable(cls, error['loc'])}={error['input']!r}: {message}")
    return "; ".join(parts)


class EnvSettings(BaseSettings):
    """Base of every settings class: frozen, env var names as aliases, ``data_dir`` shared."""

    model_config = SettingsConfigDict(
        frozen=True,
        extra="ignore",
        case_sensitive=True,
        env_ignore_empty=False,  # _EmptyIsUnset drops them, except where empty is a value
        env_file=ENV_FILE,
        env_file_encoding="utf-8",
    )

    # Variables for which an empty value is a value (it turns a feature off), not "use the default".
    empty_is_a_value: ClassVar[frozenset[str]] = frozenset()

    data_dir: Dir = Field(REPO_ROOT / "var", alias="TTHC_DATA_DIR")

    def __init__(self, **values: Any) -> None:
        """Build from keyword arguments (field names or aliases), then the environment, then ``.env``."""
        fields = type(self).model_fields
        known = set(fields) | {f.alias for f in fields.values() if f.alias}
        unknown = sorted(k for k in values if k not in known and not k.startswith("_"))
        if unknown:
            raise TypeError(f"{type(self).__name__} has no setting {', '.join(unknown)}")
        by_alias = {(fields[k].alias or k) if k in fields else k: v for k, v in values.items()}
        try:
            super().__init__(**by_alias)
        except ValidationError as exc:
            raise SettingsError(describe(type(self), exc)) from None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Keyword arguments, then the environment, then ``.env`` (not under TTHC_TEST=1: tests stay isolated)."""
        if _MAPPING_ONLY.get():
            return (init_settings,)
        env = _EmptyIsUnset(env_settings, cls.empty_is_a_value)
        if os.environ.get("TTHC_TEST"):
            return init_settings, env
        return init_settings, env, _EmptyIsUnset(dotenv_settings, cls.empty_is_a_value)

    @classmethod
    def env_vars(cls) -> dict[str, str]:
        """Field name -> environment variable, for every setting of this class."""
        return {name: field.alias or name for name, field in cls.model_fields.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Self:
        """Settings from the process environment and ``.env``, or from ``env`` alone when given."""
        if env is None:
            return cls()
        values = {var: env[var] for var in cls.env_vars().values()
                  if env.get(var) or (var in env and var in cls.empty_is_a_value)}
        with _mapping_only():
            return cls(**values)


class _EmptyIsUnset(PydanticBaseSettingsSource):
    """Another source's values without the empty ones (so the next source or the default applies)."""

    def __init__(self, source: PydanticBaseSettingsSource, keep: frozenset[str]) -> None:
        """Wrap ``source``; empty values of the variables in ``keep`` stay."""
        super().__init__(source.settings_cls)
        self.source, self.keep = source, keep

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        """Unused: values come from the wrapped source as a whole."""
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        """The wrapped source's values, empty ones dropped."""
        return {var: value for var, value in self.source().items() if value != "" or var in self.keep}


@contextmanager
def _mapping_only() -> Iterator[None]:
    """While active, settings are built from keyword arguments alone."""
    token = _MAPPING_ONLY.set(True)
    try:
        yield
    finally:
        _MAPPING_ONLY.reset(token)


class RasaSettings(EnvSettings):
    """Where the Rasa server answers (the gateway and the voice gateway ask it)."""

    rasa_url: Url = Field("http://127.0.0.1:5005", alias="RASA_URL")
    rasa_timeout: float = Field(20.0, alias="RASA_TIMEOUT")


class PushTokenSettings(EnvSettings):
    """The bearer token of the gateway's ``POST /internal/push`` (the gateway checks it, others send it)."""

    push_token: str = Field("", alias="GATEWAY_PUSH_TOKEN")

    def push_bearer(self) -> str:
        """The push token: ``GATEWAY_PUSH_TOKEN``, else the one generated under the data dir (mode 0600)."""
        return self.push_token or load_or_create_token(self.data_dir / PUSH_TOKEN_FILE)


class GatewayClientSettings(PushTokenSettings):
    """How a process pushes messages through the gateway (the admin, the notifier)."""

    gateway_url: Url = Field("http://127.0.0.1:8080", alias="GATEWAY_URL")


class StorageSettings(EnvSettings):
    """Where our own stores live, and how long a replica's claims last.

    An empty ``STATE_DB_URL`` keeps one SQLite file per store under the data dir; a PostgreSQL URL puts
    them all in that database (one schema per store, created by ``python -m common.migrate``).
    """

    state_db_url: str = Field("", alias="STATE_DB_URL")
    # A replica that stops running (kill -9, power loss) gives up its claims on queued work after this.
    lease_s: float = Field(30.0, gt=0, alias="CLUSTER_LEASE_S")


class RetentionSettings(EnvSettings):
    """How long personal data is kept (conversations, hand-overs, phone numbers of SMS users)."""

    retention_days: float = Field(90.0, alias="RETENTION_DAYS")

    @property
    def retention_s(self) -> float:
        """Personal data older than this many seconds is deleted (at least one day)."""
        return max(self.retention_days, 1.0) * 86400


class HotlineSettings(EnvSettings):
    """The centre's hotline, quoted in replies."""

    hotline: str = Field("1900 1234", alias="HOTLINE_NUMBER")


def load_or_exit(load: Callable[[], T]) -> T:
    """Call ``load``; on a malformed setting print one line to stderr and exit with status 2."""
    try:
        return load()
    except SettingsError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_CONFIG) from None


class _Registry:
    """The process's settings object, and objects read on demand for classes it does not cover."""

    def __init__(self) -> None:
        """Start empty."""
        self.process: EnvSettings | None = None
        self.extra: dict[type[EnvSettings], EnvSettings] = {}
        self.lock = threading.Lock()


_REGISTRY = _Registry()


def use_settings(settings: EnvSettings) -> None:
    """Make ``settings`` the process's one settings object (entry points call this once at start-up)."""
    with _REGISTRY.lock:
        _REGISTRY.process = settings
        _REGISTRY.extra.clear()


def get_settings(kind: type[S]) -> S:
    """The process's settings object as a ``kind``; without one, a ``kind`` read from the environment once."""
    with _REGISTRY.lock:
        if isinstance(_REGISTRY.process, kind):
            return _REGISTRY.process
        found = _REGISTRY.extra.get(kind)
        if not isinstance(found, kind):
            found = _REGISTRY.extra[kind] = kind.from_env()
        return found


def reset_settings() -> None:
    """Forget every settings object, so the next ``get_settings`` reads the environment again (tests)."""
    with _REGISTRY.lock:
        _REGISTRY.process = None
        _REGISTRY.extra.clear()
