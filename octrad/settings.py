"""Runtime settings: built-in defaults < config.toml [settings] < values set
through the protocol (stored in the ``settings`` table)."""

from __future__ import annotations

import typing
from typing import Any

import anyio
import msgspec

from octra_protocol.errors import RpcError
from octra_protocol.methods.settings import SettingsResult as Settings

from .store import Database

_LIMITS = {
    "max_parallel_llm_calls": (1, 256),
    "command_timeout_s": (1, 86400),
    "temperature": (0, 2),
    "max_llm_calls": (0, None),
    "max_tokens": (0, None),
    "max_cost_usd": (0, None),
}
FIELDS = Settings.__struct_fields__
_TYPES = {f.name: f.type for f in msgspec.structs.fields(Settings)}
#: what a string setting must look like, in words
_STRINGS = {
    "github_api_url": "an http(s) URL",
    "default_provider": "a configured provider's name, or offline (empty: the first configured one)",
}


def allowed(key: str) -> str:
    """What ``key`` accepts, in words (for errors in the CLI, the TUI and the log)."""
    if key in _STRINGS:
        return _STRINGS[key]
    tp = _TYPES[key]
    args = set(typing.get_args(tp)) if typing.get_origin(tp) is typing.Union else {tp}
    nullable = type(None) in args
    args.discard(type(None))
    (tp,) = args
    if typing.get_origin(tp) is typing.Literal:
        return "one of " + ", ".join(typing.get_args(tp))
    if tp is bool:
        return "true or false"
    lo, hi = _LIMITS.get(key, (None, None))
    what = "a whole number" if tp is int else "a number"
    if lo is not None:
        what += f" from {lo} to {hi}" if hi is not None else f", {lo} or more"
    return what + (", or null for no limit" if nullable else "")


def problem(key: str, value: Any) -> str | None:
    """Why ``value`` cannot be setting ``key`` (None: it can)."""
    if key not in FIELDS:
        return f"there is no setting {key!r}; known: {', '.join(FIELDS)}"
    if value is None and type(None) not in typing.get_args(_TYPES[key]):
        return f"{key} cannot be null; it must be {allowed(key)}"
    try:
        value = msgspec.convert(value, _TYPES[key])
    except msgspec.ValidationError:
        return f"{key} must be {allowed(key)}, not {value!r}"
    lo, hi = _LIMITS.get(key, (None, None))
    if value is not None and lo is not None and (value < lo or (hi is not None and value > hi)):
        return f"{key} must be {allowed(key)}, not {value!r}"
    if key == "github_api_url" and not value.startswith(("http://", "https://")):
        return f"github_api_url must be {allowed(key)}, not {value!r}"
    return None


def check(values: dict[str, Any]) -> None:
    """Raise invalid_params naming the first bad setting and what it allows."""
    for key, value in values.items():
        why = problem(key, value)
        if why:
            raise RpcError.of("invalid_params", why)


class SettingsStore:
    def __init__(self, db: Database, defaults: dict[str, Any]):
        self.db = db
        self._defaults = defaults  # checked when config.toml was read (config.load)
        self._current: Settings | None = None
        self._lock = anyio.Lock()

    async def get(self) -> Settings:
        if self._current is None:
            stored = {r[0]: msgspec.json.decode(r[1]) for r in await self.db.fetchall("SELECT key, value FROM settings")}
            merged = {**self._defaults, **{k: v for k, v in stored.items() if k in FIELDS}}
            try:
                self._current = msgspec.convert(merged, Settings)
            except msgspec.ValidationError as exc:
                raise RpcError.of("internal_error", f"stored settings are invalid: {exc}") from None
        return self._current

    async def update(self, changes: dict[str, Any]) -> Settings:
        check(changes)
        async with self._lock:  # two concurrent updates must not lose one in memory
            return await self._update(changes)

    async def _update(self, changes: dict[str, Any]) -> Settings:
        current = msgspec.to_builtins(await self.get())
        merged = {**current, **changes}
        new = msgspec.convert(merged, Settings)
        async with self.db.transaction() as w:
            for key, value in changes.items():
                await w.execute(
                    "INSERT INTO settings(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    (key, msgspec.json.encode(value).decode()),
                )
        self._current = new
        return new
