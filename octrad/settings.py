"""Runtime settings: built-in defaults < config.toml [settings] < values set
through the protocol (stored in the ``settings`` table)."""

from __future__ import annotations

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


def check(values: dict[str, Any]) -> None:
    for key, value in values.items():
        lo, hi = _LIMITS.get(key, (None, None))
        if value is None or lo is None:
            continue
        if value < lo or (hi is not None and value > hi):
            bound = f"between {lo} and {hi}" if hi is not None else f">= {lo}"
            raise RpcError.of("invalid_params", f"{key} must be {bound}, not {value}")
    url = values.get("github_api_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise RpcError.of("invalid_params", f"github_api_url must be an http(s) URL, not {url!r}")


class SettingsStore:
    def __init__(self, db: Database, defaults: dict[str, Any]):
        self.db = db
        unknown = set(defaults) - set(FIELDS)
        if unknown:
            raise ValueError(f"unknown settings in config.toml [settings]: {', '.join(sorted(unknown))}")
        self._defaults = defaults
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
