"""Configuration: command-line flag > ``OCTRA_*`` environment > config file >
built-in default (DESIGN.md section 3).  Paths come from platformdirs."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import platformdirs

from octra_protocol.paths import APP_NAME, socket_path

LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """The configuration cannot be used; the message names the file and key."""


class Config(msgspec.Struct, kw_only=True):
    socket: str
    config_file: str
    data_dir: str
    log_dir: str
    log_level: str = "info"
    #: provider used when a task names none; "" means: the configured one, else offline
    default_provider: str = ""
    #: where default_provider was set (for errors): the flag, the variable, or the file
    default_provider_source: str = ""
    #: the [settings] table: defaults for the runtime settings
    settings: dict[str, Any] = {}
    #: the [providers.NAME] tables
    providers: dict[str, dict[str, Any]] = {}

    @property
    def db_path(self) -> Path:
        return Path(self.data_dir) / "octra.db"

    @property
    def projects_dir(self) -> Path:
        return Path(self.data_dir) / "projects"

    @property
    def gcroots_dir(self) -> Path:
        return Path(self.data_dir) / "gcroots"


class FileConfig(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """What config.toml may hold."""

    data_dir: str | None = None
    log_dir: str | None = None
    log_level: str | None = None
    default_provider: str | None = None
    settings: dict[str, Any] = {}
    providers: dict[str, dict[str, Any]] = {}


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def _path(value: str) -> str:
    return str(Path(value).expanduser().resolve())


def read_file(path: str) -> FileConfig:
    p = Path(path)
    if not p.exists():
        return FileConfig()
    try:
        raw = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    try:
        fc = msgspec.convert(raw, FileConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{path}: {_plain(exc)}") from None
    from .settings import problem

    bad = [f"[settings] {why}" for key, value in fc.settings.items() if (why := problem(key, value))]
    if "default_provider" in fc.settings:
        bad.append("[settings] default_provider: put it at the top of the file (default_provider = \"NAME\"), "
                   "or choose it with `octractl providers default NAME`")
    if bad:
        raise ConfigError("\n".join(f"{path}: {b}" for b in bad))  # each line names the file
    return fc


def _plain(exc: msgspec.ValidationError) -> str:
    """msgspec's message in the file's words: the key first, then what it allows."""
    msg = str(exc)
    unknown = re.match(r"Object contains unknown field `(.+?)`", msg)
    if unknown:
        known = ", ".join(f for f in FileConfig.__struct_fields__ if f not in ("settings", "providers"))
        return f"unknown key {unknown.group(1)!r}; allowed at the top: {known} (and the tables [settings], [providers.NAME])"
    where = re.search(r" - at `\$\.(.+?)`$", msg)
    if where:
        key = where.group(1)
        what = msg[: where.start()].replace("Expected `", "").replace("`, got `", ", not ").replace("`", "").replace(" | null", "")
        kinds = {"str": "a string", "object": "a table", "int": "a whole number", "float": "a number"}
        for word, words in kinds.items():
            what = re.sub(rf"\b{word}\b", words, what)
        return f"{key} must be {what}"
    return msg


def load(
    *,
    socket: str | None = None,
    config_file: str | None = None,
    data_dir: str | None = None,
    log_dir: str | None = None,
    log_level: str | None = None,
    default_provider: str | None = None,
) -> Config:
    """Resolve the configuration from flags (the arguments), environment, file."""
    cfg_path = _path(
        config_file
        or _env("OCTRA_CONFIG")
        or os.path.join(platformdirs.user_config_dir(APP_NAME), "config.toml")
    )
    fc = read_file(cfg_path)

    def pick(flag: str | None, env: str, file_value: str | None, default: str) -> str:
        return flag or _env(env) or file_value or default

    level = pick(log_level, "OCTRA_LOG_LEVEL", fc.log_level, "info").lower()
    if level not in LOG_LEVELS:
        where = "--log-level" if log_level else "OCTRA_LOG_LEVEL" if _env("OCTRA_LOG_LEVEL") else f"{cfg_path}: log_level"
        raise ConfigError(f"{where} must be one of {', '.join(LOG_LEVELS)}, not {level!r}")
    provider_source = ("--provider" if default_provider else "OCTRA_PROVIDER" if _env("OCTRA_PROVIDER")
                       else cfg_path if fc.default_provider else "")
    return Config(
        socket=socket_path(socket),
        config_file=cfg_path,
        data_dir=_path(pick(data_dir, "OCTRA_DATA_DIR", fc.data_dir, platformdirs.user_data_dir(APP_NAME))),
        log_dir=_path(pick(log_dir, "OCTRA_LOG_DIR", fc.log_dir, platformdirs.user_log_dir(APP_NAME))),
        log_level=level,
        default_provider=pick(default_provider, "OCTRA_PROVIDER", fc.default_provider, "").strip().lower(),
        default_provider_source=provider_source,
        settings=dict(fc.settings),
        providers={k: dict(v) for k, v in fc.providers.items()},
    )
