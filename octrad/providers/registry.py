"""Where provider configurations come from, and which one is the default.

Three sources, the first that names a provider wins: the ``providers`` table
(``providers.set``; the key itself lives in the secret store, never in the
table), config.toml ``[providers.NAME]`` tables, and the conventional
environment variables (``OPENAI_API_KEY`` ...; DESIGN.md
section 3).  The environment is read at every call, so credentials are always
the current ones; every key is registered with the redactor the moment it is
read.
"""

from __future__ import annotations

import re
import time
from typing import Any

import msgspec

from octra_protocol.errors import RpcError

from .. import redact, secretenv
from ..secretstore import SecretError, SecretStore, provider_key
from ..store import Database
from .models import DEFAULT_MODELS, OVERRIDABLE, STRUCTURED_MODES, check_override
from .types import KINDS, PSEUDO, ProviderConfig

NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,39}$")


class EnvProvider(msgspec.Struct, frozen=True):
    name: str
    kind: str
    key_var: str | None
    base_var: str | None
    base_url: str | None
    model: str
    structured: str | None = None


#: the conventional variables, in the order they are preferred as default
ENV_PROVIDERS = (
    EnvProvider("openai", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL", None, DEFAULT_MODELS["openai"]),
    EnvProvider("anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", None, DEFAULT_MODELS["anthropic"]),
    EnvProvider("gemini", "gemini", "GEMINI_API_KEY", None, None, DEFAULT_MODELS["gemini"]),
    # DeepSeek speaks the OpenAI format but only JSON mode (the model table says so)
    EnvProvider("deepseek", "openai", "DEEPSEEK_API_KEY", None, "https://api.deepseek.com", DEFAULT_MODELS["deepseek"]),
    EnvProvider("ollama", "ollama", None, "OLLAMA_HOST", None, DEFAULT_MODELS["ollama"]),
)

#: what a config.toml [providers.NAME] table may hold, besides the model-table
#: overrides (models.OVERRIDABLE, flat or per model in a ``models`` table)
class FileProvider(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    kind: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    #: read the key from this environment variable instead
    api_key_env: str | None = None
    timeout_s: float | None = None
    structured: str | None = None
    step_timeout_s: float | None = None
    max_answer_bytes: int | None = None


def _split_overrides(name: str, table: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, dict[str, Any]]]:
    """(the provider's own keys, its overrides for all models, per model prefix); ValueError names a bad key."""
    table = dict(table)
    flat = {k: table.pop(k) for k in OVERRIDABLE if k in table and k != "structured"}
    models = table.pop("models", {})
    if not isinstance(models, dict) or not all(isinstance(v, dict) for v in models.values()):
        raise ValueError(f"config.toml [providers.{name}] models must be a table of tables, one per model prefix")
    check_override(f"config.toml [providers.{name}]", flat)
    per = {prefix: check_override(f'config.toml [providers.{name}.models."{prefix}"]', t) for prefix, t in models.items()}
    return table, flat, per


def _env(name: str | None) -> str | None:
    if not name:
        return None
    return secretenv.get(name)


def check_fields(name: str, kind: str, base_url: str | None, model: str, timeout_s: float | None = None, structured: str | None = None) -> None:
    """Raise invalid_params naming the field that is wrong."""
    if not NAME_RE.match(name):
        raise RpcError.of("invalid_params", f"provider name {name!r} must be 1-40 characters of a-z, 0-9, '.', '_', '-'")
    if name in PSEUDO:
        raise RpcError.of("invalid_params", f"{name!r} is a built-in provider and cannot be configured")
    if kind not in KINDS:
        raise RpcError.of("invalid_params", f"provider kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if base_url is not None and not (base_url.startswith(("http://", "https://")) or kind == "ollama"):
        raise RpcError.of("invalid_params", f"base_url must be an http(s) URL, not {base_url!r}")
    if not model.strip():
        raise RpcError.of("invalid_params", "model must not be empty")
    if timeout_s is not None and not (0 < timeout_s <= 3600):
        raise RpcError.of("invalid_params", f"timeout_s must be between 0 and 3600, not {timeout_s}")
    if structured is not None and (kind != "openai" or structured not in STRUCTURED_MODES):
        raise RpcError.of("invalid_params", f"structured is for the openai kind only: {', '.join(STRUCTURED_MODES)}")


class Registry:
    def __init__(self, db: Database, file_providers: dict[str, dict[str, Any]], default_name: str = "",
                 secrets: SecretStore | None = None):
        self.db = db
        #: where stored providers' keys are kept (None: this registry stores no keys)
        self.secrets = secrets
        self._stored: dict[str, ProviderConfig] = {}
        self._stored_order: list[str] = []
        self._file: dict[str, ProviderConfig] = {}
        #: config.toml tables that are wrong, with what is wrong
        self.file_errors: dict[str, str] = {}
        self._file_key_env: dict[str, str] = {}
        self._configured_default = default_name
        #: the user's choice (setting default_provider, ``octractl providers default``); wins over the rest
        self.chosen = ""
        for name, table in file_providers.items():
            try:
                own, overrides, per_model = _split_overrides(name, table)
                fp = msgspec.convert(own, FileProvider)
                check_fields(name, fp.kind, fp.base_url, fp.model, fp.timeout_s, fp.structured)
                if fp.step_timeout_s is not None and fp.step_timeout_s <= 0:
                    raise ValueError("step_timeout_s must be > 0")
                if fp.max_answer_bytes is not None and fp.max_answer_bytes < 1024:
                    raise ValueError("max_answer_bytes must be at least 1024")
            except ValueError as exc:
                self.file_errors[name] = str(exc) if str(exc).startswith("config.toml") else f"config.toml [providers.{name}]: {exc}"
                continue
            except (msgspec.ValidationError, RpcError) as exc:
                self.file_errors[name] = f"config.toml [providers.{name}]: {exc}"
                continue
            redact.register(fp.api_key)
            if fp.api_key_env:
                self._file_key_env[name] = fp.api_key_env
            self._file[name] = ProviderConfig(
                name=name, kind=fp.kind, model=fp.model, base_url=fp.base_url, api_key=fp.api_key, source="config",
                timeout_s=fp.timeout_s, structured=fp.structured, overrides=overrides, models=per_model,
                step_timeout_s=fp.step_timeout_s, max_answer_bytes=fp.max_answer_bytes,
            )

    async def load(self) -> None:
        rows = await self.db.fetchall("SELECT name, kind, base_url, model, extra FROM providers ORDER BY created_at, name")
        stored = {}
        for r in rows:
            extra = msgspec.json.decode(r["extra"] or "{}")
            key = await self._read_key(r["name"])
            redact.register(key)
            stored[r["name"]] = ProviderConfig(
                name=r["name"], kind=r["kind"], model=r["model"] or "", base_url=r["base_url"], api_key=key,
                source="stored", timeout_s=extra.get("timeout_s"), structured=extra.get("structured"),
            )
        self._stored = stored
        self._stored_order = [r["name"] for r in rows]

    async def _read_key(self, name: str) -> str | None:
        if self.secrets is None:
            return None
        try:
            return await self.secrets.get(provider_key(name))
        except SecretError as exc:
            raise RpcError.of("unavailable", f"the key of provider {name!r} cannot be read: {exc}", provider=name) from None

    async def _write_key(self, name: str, key: str | None) -> None:
        if self.secrets is None:
            if key is None:
                return
            raise RpcError.of("unavailable", "this daemon has no secret store; the key cannot be kept", provider=name)
        try:
            await self.secrets.set(provider_key(name), key)
        except (SecretError, OSError) as exc:
            raise RpcError.of("unavailable", f"the key of provider {name!r} cannot be stored: {exc}", provider=name) from None

    # -- reading ------------------------------------------------------------
    def _env_configs(self) -> dict[str, ProviderConfig]:
        out = {}
        for ep in ENV_PROVIDERS:
            key = _env(ep.key_var)
            base = _env(ep.base_var)
            if ep.key_var and not key:
                continue
            if not ep.key_var and not base:
                continue
            redact.register(key)
            out[ep.name] = ProviderConfig(
                name=ep.name, kind=ep.kind, model=ep.model, base_url=base or ep.base_url, api_key=key,
                source="env",
            )
        return out

    def _with_key(self, cfg: ProviderConfig) -> ProviderConfig:
        """Fill a missing key from the environment, but only where it belongs:
        the named variable, or the conventional one of the same service."""
        if cfg.api_key:
            return cfg
        key = _env(self._file_key_env.get(cfg.name))
        if key is None:
            for ep in ENV_PROVIDERS:
                if ep.kind != cfg.kind or not ep.key_var:
                    continue
                # the key belongs to the endpoint its own variables name (None: the service's default)
                home = _env(ep.base_var) or ep.base_url
                if (cfg.base_url or None) == home:
                    key = _env(ep.key_var)
                    break
        if key is None:
            return cfg
        redact.register(key)
        return msgspec.structs.replace(cfg, api_key=key)

    def all(self) -> list[ProviderConfig]:
        """Every configured provider (the first source naming it wins), keys filled."""
        merged: dict[str, ProviderConfig] = {}
        for source in (self._env_configs(), self._file, {n: self._stored[n] for n in self._stored_order}):
            merged.update(source)
        return [self._with_key(c) for c in merged.values()]

    def get(self, name: str) -> ProviderConfig | None:
        cfg = self._stored.get(name) or self._file.get(name) or self._env_configs().get(name)
        return None if cfg is None else self._with_key(cfg)

    def resolve(self, name: str) -> ProviderConfig:
        cfg = self.get(name)
        if cfg is not None:
            return cfg
        if name in self.file_errors:
            raise RpcError.of("provider_error", self.file_errors[name], provider=name)
        known = sorted({c.name for c in self.all()})
        raise RpcError.of(
            "not_found",
            f"no provider named {name!r}; configured: {', '.join(known) or 'none'} "
            "(add one with providers.set, a [providers.NAME] table in config.toml, or an API key variable)",
            provider=name,
        )

    def default_name(self) -> str:
        """The user's choice, else OCTRA_PROVIDER / config default_provider, else the first
        configured one, else ``offline``."""
        if self.chosen:
            return self.chosen
        if self._configured_default:
            return self._configured_default
        if self._stored_order:
            return self._stored_order[0]
        if self._file:
            return next(iter(self._file))
        env = self._env_configs()
        for ep in ENV_PROVIDERS:
            if ep.name in env:
                return ep.name
        return "offline"

    # -- writing ------------------------------------------------------------
    async def set(
        self, name: str, kind: str, model: str, base_url: str | None, api_key: str | None | msgspec.UnsetType,
        timeout_s: float | None = None, structured: str | None = None,
    ) -> ProviderConfig:
        """Store a provider; an absent ``api_key`` (UNSET) keeps the stored one, ``None`` clears it."""
        check_fields(name, kind, base_url, model, timeout_s, structured)
        if api_key is msgspec.UNSET:
            old = self._stored.get(name)
            api_key = old.api_key if old is not None else None
            if api_key and (old.kind, old.base_url) != (kind, base_url):
                # a stored key is never sent to an endpoint it was not given for
                raise RpcError.of(
                    "invalid_params",
                    f"provider {name!r} changes endpoint ({old.kind} {old.base_url or 'default URL'} -> "
                    f"{kind} {base_url or 'default URL'}); give its api_key again, or null for none",
                    provider=name,
                )
        elif api_key is not None:
            api_key = api_key.strip() or None
        redact.register(api_key)
        extra = {k: v for k, v in (("timeout_s", timeout_s), ("structured", structured)) if v is not None}
        now = time.time()
        await self._write_key(name, api_key)  # the key goes to the secret store; the table never holds it
        await self.db.execute(
            "INSERT INTO providers(name, kind, base_url, model, api_key, extra, created_at, updated_at) "
            "VALUES (?,?,?,?,NULL,?,?,?) ON CONFLICT(name) DO UPDATE SET kind=excluded.kind, base_url=excluded.base_url, "
            "model=excluded.model, api_key=NULL, extra=excluded.extra, updated_at=excluded.updated_at",
            (name, kind, base_url, model, msgspec.json.encode(extra).decode(), now, now),
        )
        await self.load()
        return self._stored[name]

    async def remove(self, name: str) -> None:
        if name not in self._stored:
            other = self._file.get(name) or self._env_configs().get(name)
            if other is not None:
                where = "config.toml" if other.source == "config" else "the environment"
                raise RpcError.of("conflict", f"provider {name!r} comes from {where}; remove it there", provider=name)
            raise RpcError.of("not_found", f"no stored provider named {name!r}", provider=name)
        await self.db.execute("DELETE FROM providers WHERE name = ?", (name,))
        await self._write_key(name, None)
        await self.load()
