"""signpipe's settings: environment variables over a TOML file over defaults.

Every setting has an environment variable named ``SIGNPIPE_<NAME>`` (upper case), and
a key of the same name in ``settings.toml`` in the user's config folder. The window's
settings dialog writes that same file, so the CLI, the worker and the window agree.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import tomli_w

logger = logging.getLogger(__name__)

APP_NAME = "signpipe"

# The vehicle logger names a recording by its start time, e.g. 2024_05_20_23_32_53_415.
# Named groups let the validator check that the time is a real one.
DEFAULT_RECORDING_ID_PATTERN = (
    r"(?P<year>\d{4})_(?P<month>\d{2})_(?P<day>\d{2})"
    r"_(?P<hour>\d{2})_(?P<minute>\d{2})_(?P<second>\d{2})_(?P<ms>\d{3})"
)


REDIS_URL_SCHEMES = ("redis", "rediss", "unix")


class SettingsError(ValueError):
    """A setting signpipe cannot use; the message names it and says why."""


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def _default_config_dir() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


@dataclass
class Settings:
    """All of signpipe's settings in one object."""

    # Where things live.
    data_dir: Path = field(default_factory=_default_data_dir)
    store: Path | None = None
    # Redis: empty means "start or reuse the embedded redis-server".
    redis_url: str = ""
    redis_socket_timeout: float = 5.0
    redis_connect_timeout: float = 3.0
    job_ttl_days: int = 30
    # Ingest.
    recording_id_pattern: str = DEFAULT_RECORDING_ID_PATTERN
    concurrent_extractions: int = 2
    progress_interval: float = 0.1
    max_files: int = 200_000
    max_total_bytes: int = 2 * 1024**4
    max_member_ratio: float = 200.0
    max_total_ratio: float = 100.0
    # Pipeline and workers.
    run_worker: bool = True
    worker_concurrency: int = 0
    pipeline_time_limit: int = 6 * 3600
    visibility_timeout: int = 12 * 3600
    pipeline_max_attempts: int = 3
    detector: str = "builtin"
    model_file: str = ""
    video_frame_rate: float = 2.0

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir).expanduser()
        if self.store is None:
            self.store = self.data_dir / "recordings"
        self.store = Path(self.store).expanduser()

    @property
    def store_path(self) -> Path:
        """The recordings store, always a path (``store`` is filled in after init)."""
        assert self.store is not None
        return self.store

    @property
    def job_ttl_seconds(self) -> int:
        return self.job_ttl_days * 86400

    @property
    def uses_embedded_redis(self) -> bool:
        return not self.redis_url

    @classmethod
    def load(
        cls,
        env: dict[str, str] | None = None,
        config_file: Path | None = None,
        **overrides: Any,
    ) -> Settings:
        """Read defaults, then the TOML file, then the environment, then overrides."""
        env = dict(os.environ if env is None else env)
        config_file = config_file or settings_file(env)
        values: dict[str, Any] = {}

        values.update(_read_toml(config_file))
        values.update(_read_env(env))
        values.update({k: v for k, v in overrides.items() if v is not None})

        settings = cls(**_coerce(values))
        check_redis_url(settings.redis_url)
        return settings

    def save(self, config_file: Path | None = None) -> Path:
        """Write every setting that differs from its default to the TOML file."""
        config_file = config_file or settings_file()
        defaults = Settings(data_dir=self.data_dir)
        changed = {
            f.name: _to_toml(getattr(self, f.name))
            for f in fields(self)
            if getattr(self, f.name) != getattr(defaults, f.name) or f.name == "store"
        }

        config_file.parent.mkdir(parents=True, exist_ok=True)
        tmp = config_file.with_suffix(".toml.tmp")
        tmp.write_text(tomli_w.dumps(changed), encoding="utf-8")
        os.replace(tmp, config_file)
        return config_file


def settings_file(env: Mapping[str, str] | None = None) -> Path:
    """The settings file: ``SIGNPIPE_CONFIG`` or settings.toml in the config folder."""
    variables = os.environ if env is None else env
    if variables.get("SIGNPIPE_CONFIG"):
        return Path(variables["SIGNPIPE_CONFIG"]).expanduser()
    return _default_config_dir() / "settings.toml"


_FIELD_TYPES = {f.name: f.type for f in fields(Settings)}


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        logger.warning("Settings file %s is unreadable, using defaults: %s", path, exc)
        return {}

    unknown = sorted(set(data) - set(_FIELD_TYPES))
    if unknown:
        logger.warning("Settings file %s has unknown keys %s", path, unknown)
    return {k: v for k, v in data.items() if k in _FIELD_TYPES}


def _read_env(env: dict[str, str]) -> dict[str, Any]:
    return {
        name: env[f"SIGNPIPE_{name.upper()}"]
        for name in _FIELD_TYPES
        if f"SIGNPIPE_{name.upper()}" in env
    }


def settings_env(
    settings: Settings, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """An environment in which ``Settings.load()`` gives exactly ``settings``.

    For signpipe's own child processes; the Redis URL (with its password) travels
    here rather than on a command line that ``ps`` shows.
    """
    env = dict(os.environ if base is None else base)
    for item in fields(settings):
        value = getattr(settings, item.name)
        if isinstance(value, bool):
            value = "true" if value else "false"
        env[f"SIGNPIPE_{item.name.upper()}"] = "" if value is None else str(value)
    return env


def check_redis_url(url: str) -> None:
    """Raise SettingsError unless ``url`` is empty or a Redis URL clients can use.

    The message never repeats the URL: it may hold the password.
    """
    if url and not _usable_redis_url(url):
        raise SettingsError(
            "The Redis URL (redis_url) cannot be read. Write it as "
            "redis://:PASSWORD@HOST:PORT/DB (rediss:// for TLS, "
            "unix:///path/to/socket); a password holding /, ?, # or @ must be "
            "percent-encoded (%2F, %3F, %23, %40)."
        )


def _usable_redis_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
        _ = parts.port  # a port that is no number raises ValueError
    except ValueError:
        return False
    if parts.scheme == "unix":
        return bool(parts.path)
    database = parts.path.strip("/")
    # A password with an unencoded "/" or "?" ends the host early: no host is left,
    # or the rest of the password becomes the database.
    return (
        parts.scheme in REDIS_URL_SCHEMES
        and bool(parts.hostname)
        and (database == "" or database.isdigit())
    )


def _coerce(values: dict[str, Any]) -> dict[str, Any]:
    """Turn strings from the environment into the field's type."""
    out: dict[str, Any] = {}
    for name, value in values.items():
        kind = str(_FIELD_TYPES[name])
        if isinstance(value, str):
            value = _parse(name, kind, value)
        if "Path" in kind and value not in (None, ""):
            value = Path(value)
        elif "Path" in kind:
            value = None
        out[name] = value
    return out


def _parse(name: str, kind: str, text: str) -> Any:
    try:
        if kind == "bool":
            return text.strip().lower() in {"1", "true", "yes", "on"}
        if kind == "int":
            return int(text)
        if kind == "float":
            return float(text)
    except ValueError:
        what = "a whole number" if kind == "int" else "a number"
        raise SettingsError(
            f"The setting {name} (SIGNPIPE_{name.upper()}) must be {what}, "
            f"not {text!r}."
        ) from None
    return text


def _to_toml(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    return value


def replace(settings: Settings, **changes: Any) -> Settings:
    """A copy of ``settings`` with some fields changed."""
    return dataclasses.replace(settings, **changes)
