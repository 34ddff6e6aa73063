"""AI provider configuration (DESIGN.md section 6).  Keys go in, never out:
results say only whether a provider has a key."""

from __future__ import annotations

from typing import Literal, Union

from msgspec import UNSET, UnsetType

from ._base import Empty, Method, Params, Result

Kind = Literal["openai", "anthropic", "gemini", "ollama"]


class ProviderInfo(Result, kw_only=True):
    name: str
    kind: str
    model: str
    base_url: Union[str, None] = None
    #: a key is configured (the key itself is never shown)
    has_key: bool = False
    #: where it is configured: stored (providers.set), config (config.toml) or env
    source: str = "stored"
    #: this is the provider used when a task names none
    default: bool = False
    timeout_s: Union[float, None] = None
    structured: Union[str, None] = None


class ProviderError(Result):
    name: str
    error: str


class ListResult(Result, kw_only=True):
    providers: list[ProviderInfo]
    #: the provider used when a task names none ("offline" when none is configured)
    default: str
    #: config.toml provider tables that cannot be used, and why
    errors: list[ProviderError] = []


class SetParams(Params, kw_only=True):
    name: str
    kind: Kind
    model: str
    base_url: Union[str, None] = None
    #: absent: keep the stored key; null: remove it
    api_key: Union[str, None, UnsetType] = UNSET
    #: bound on one exchange with the provider, seconds (default 600)
    timeout_s: Union[float, None] = None
    #: openai kind: json_schema (strict, the default), json_schema_loose (not strict), json_object or none
    structured: Union[Literal["json_schema", "json_schema_loose", "json_object", "none"], None] = None


class NameParams(Params):
    name: str


class RemoveResult(Result):
    removed: str


class TestParams(Params, kw_only=True):
    name: str
    model: Union[str, None] = None


class TestResult(Result, kw_only=True):
    name: str
    kind: str
    model: str
    latency_ms: float
    #: what the model answered ("pong" when all is well)
    answer: str
    tokens_in: int = 0
    tokens_out: int = 0
    attempts: int = 1


METHODS = {
    "providers.list": Method(Empty, ListResult, "Configured AI providers (stored, config.toml, environment) and the default."),
    "providers.set": Method(SetParams, ProviderInfo, "Store a provider configuration (a key is kept unless replaced)."),
    "providers.remove": Method(NameParams, RemoveResult, "Remove a stored provider."),
    "providers.test": Method(TestParams, TestResult, "One tiny structured call: latency and the model's answer."),
}
