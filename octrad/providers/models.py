"""What each model family accepts and costs: one table, so no client carries
its own ``if`` chain about temperatures, token fields or output limits.

A model is matched by the longest family prefix of its name (the last path
part, so ``openai/gpt-5.4-mini`` on OpenRouter and ``models/gemini-2.5-flash``
find their family).  A provider's config.toml table may override any field,
for all its models (flat keys) or per model prefix (``[providers.NAME.models."PREFIX"]``)::

    [providers.local]
    kind = "openai"
    model = "smollm2"
    base_url = "http://127.0.0.1:8080/v1"
    max_output_tokens = 2048        # this server's limit
    context_tokens = 8192
    [providers.local.models."smollm2"]
    temperature_rule = "any"

Prices are USD per million tokens, list prices as published by the vendors
(checked :data:`PRICES_CHECKED`); unknown models cost 0 and say so.
"""

from __future__ import annotations

from typing import Any, Literal

import msgspec

#: when the prices below were last compared with the vendors' public pricing pages
PRICES_CHECKED = "2026-12-07"

#: "any": the model takes a temperature in [0, temperature_max];
#: "fixed": only the default is accepted (reasoning models): none is sent;
#: "none": the parameter is rejected (newer Claude models): none is sent
TemperatureRule = Literal["any", "fixed", "none"]
#: openai kind: how the answer schema is sent, strictest first (see openai_chat)
STRUCTURED_MODES = ("json_schema", "json_schema_loose", "json_object", "none")


class ModelSpec(msgspec.Struct, kw_only=True, frozen=True):
    """The quirks and limits of one model family."""

    family: str = ""
    temperature_rule: TemperatureRule = "any"
    temperature_max: float = 2.0
    #: openai kind: the request field of the output limit
    token_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    #: openai kind: the structured-output mode this family supports best
    structured: str = "json_schema"
    #: the most output tokens one call may ask for
    max_output_tokens: int = 4096
    #: what a call asks for unless told otherwise (a truncated answer is retried once with more)
    default_output_tokens: int = 4096
    #: the context window (prompt + output), tokens
    context_tokens: int = 32768
    #: USD per million tokens; None: unknown (costs 0)
    price_in: float | None = None
    price_out: float | None = None
    #: cached prompt tokens (a cache hit); None: the input price
    price_cached_in: float | None = None
    #: prompt tokens written to the cache (Anthropic); None: the input price
    price_cache_write: float | None = None

    @property
    def priced(self) -> bool:
        return self.price_in is not None or self.price_out is not None


#: the fields config.toml may override
OVERRIDABLE = tuple(f for f in ModelSpec.__struct_fields__ if f != "family")


def _claude(prices: tuple[float, float], *, ctx: int, out: int, temperature: TemperatureRule = "any") -> dict[str, Any]:
    pin, pout = prices
    return dict(
        temperature_rule=temperature, temperature_max=1.0, max_output_tokens=out, default_output_tokens=min(out, 16384),
        context_tokens=ctx, price_in=pin, price_out=pout, price_cached_in=round(pin * 0.1, 4),
        price_cache_write=round(pin * 1.25, 4),
    )


def _openai(prices: tuple[float, float, float], *, ctx: int, out: int, reasoning: bool) -> dict[str, Any]:
    pin, pcached, pout = prices
    return dict(
        temperature_rule="fixed" if reasoning else "any", token_field="max_completion_tokens",
        max_output_tokens=out, default_output_tokens=min(out, 16384), context_tokens=ctx,
        price_in=pin, price_out=pout, price_cached_in=pcached,
    )


def _gemini(prices: tuple[float, float, float], *, ctx: int = 1_048_576, out: int = 65536) -> dict[str, Any]:
    pin, pcached, pout = prices
    return dict(
        max_output_tokens=out, default_output_tokens=16384, context_tokens=ctx,
        price_in=pin, price_out=pout, price_cached_in=pcached,
    )


#: family prefix -> spec fields.  Prices: (input, [cached input,] output) USD per million tokens.
FAMILIES: dict[str, dict[str, Any]] = {
    # OpenAI: the gpt-5 line and the o-series are reasoning models (no temperature, max_completion_tokens)
    "gpt-5.5": _openai((5.00, 0.50, 30.00), ctx=1_000_000, out=128_000, reasoning=True),
    "gpt-5.4-nano": _openai((0.20, 0.02, 1.25), ctx=400_000, out=128_000, reasoning=True),
    "gpt-5.4-mini": _openai((0.75, 0.075, 4.50), ctx=400_000, out=128_000, reasoning=True),
    "gpt-5.4": _openai((2.50, 0.25, 15.00), ctx=1_000_000, out=128_000, reasoning=True),
    "gpt-5-nano": _openai((0.05, 0.005, 0.40), ctx=400_000, out=128_000, reasoning=True),
    "gpt-5-mini": _openai((0.25, 0.025, 2.00), ctx=400_000, out=128_000, reasoning=True),
    "gpt-5": _openai((1.25, 0.125, 10.00), ctx=400_000, out=128_000, reasoning=True),
    "o4-mini": _openai((1.10, 0.275, 4.40), ctx=200_000, out=100_000, reasoning=True),
    "o3-mini": _openai((1.10, 0.55, 4.40), ctx=200_000, out=100_000, reasoning=True),
    "o3": _openai((2.00, 0.50, 8.00), ctx=200_000, out=100_000, reasoning=True),
    "o1": _openai((15.00, 7.50, 60.00), ctx=200_000, out=100_000, reasoning=True),
    "gpt-4.1-nano": _openai((0.10, 0.025, 0.40), ctx=1_047_576, out=32768, reasoning=False),
    "gpt-4.1-mini": _openai((0.40, 0.10, 1.60), ctx=1_047_576, out=32768, reasoning=False),
    "gpt-4.1": _openai((2.00, 0.50, 8.00), ctx=1_047_576, out=32768, reasoning=False),
    "gpt-4o-mini": _openai((0.15, 0.075, 0.60), ctx=128_000, out=16384, reasoning=False),
    "gpt-4o": _openai((2.50, 1.25, 10.00), ctx=128_000, out=16384, reasoning=False),
    # Anthropic: temperature 0..1; Opus 4.7 and later (and the 5 line) reject it
    "claude-fable-5": _claude((10.00, 50.00), ctx=1_000_000, out=128_000, temperature="none"),
    "claude-opus-5": _claude((5.00, 25.00), ctx=1_000_000, out=128_000, temperature="none"),
    "claude-sonnet-5": _claude((2.00, 10.00), ctx=1_000_000, out=128_000, temperature="none"),
    "claude-opus-4-8": _claude((5.00, 25.00), ctx=1_000_000, out=128_000, temperature="none"),
    "claude-opus-4-7": _claude((5.00, 25.00), ctx=1_000_000, out=128_000, temperature="none"),
    "claude-opus-4-6": _claude((5.00, 25.00), ctx=1_000_000, out=128_000),
    "claude-opus-4-5": _claude((5.00, 25.00), ctx=200_000, out=64000),
    "claude-opus-4-1": _claude((15.00, 75.00), ctx=200_000, out=32000),
    "claude-opus-4": _claude((15.00, 75.00), ctx=200_000, out=32000),
    "claude-sonnet-4": _claude((3.00, 15.00), ctx=200_000, out=64000),
    "claude-haiku-4": _claude((1.00, 5.00), ctx=200_000, out=64000),
    "claude-3-7-sonnet": _claude((3.00, 15.00), ctx=200_000, out=64000),
    "claude-3-5-haiku": _claude((0.80, 4.00), ctx=200_000, out=8192),
    "claude-3-haiku": _claude((0.25, 1.25), ctx=200_000, out=4096),
    # Gemini
    "gemini-3.1-pro": _gemini((2.00, 0.20, 12.00)),
    "gemini-3-pro": _gemini((2.00, 0.20, 12.00)),
    "gemini-3-flash": _gemini((0.50, 0.05, 3.00)),
    "gemini-2.5-pro": _gemini((1.25, 0.125, 10.00)),
    "gemini-2.5-flash-lite": _gemini((0.10, 0.01, 0.40)),
    "gemini-2.5-flash": _gemini((0.30, 0.03, 2.50)),
    # DeepSeek speaks the OpenAI format with JSON mode only (no json_schema)
    "deepseek-chat": dict(structured="json_object", max_output_tokens=8192, default_output_tokens=8192,
                          context_tokens=128_000, price_in=0.28, price_out=0.42, price_cached_in=0.028),
    "deepseek-reasoner": dict(structured="json_object", temperature_rule="fixed", max_output_tokens=65536,
                              default_output_tokens=16384, context_tokens=128_000, price_in=0.28, price_out=0.42,
                              price_cached_in=0.028),
}
_ORDERED = sorted(FAMILIES, key=len, reverse=True)

#: the default model of each kind when a provider is configured by key alone
DEFAULT_MODELS = {
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-5",
    "gemini": "gemini-2.5-flash",
    "deepseek": "deepseek-chat",
    "ollama": "llama3.1",
}


def family_of(model: str) -> str | None:
    name = model.rsplit("/", 1)[-1].lower()
    for prefix in _ORDERED:
        if name.startswith(prefix):
            return prefix
    return None


def spec_for(model: str, overrides: dict[str, Any] | None = None, per_model: dict[str, dict[str, Any]] | None = None) -> ModelSpec:
    """The spec of ``model``: the table's family, then the provider's overrides
    for all its models, then those for the longest matching model prefix."""
    family = family_of(model)
    fields: dict[str, Any] = dict(FAMILIES.get(family, {})) if family else {}
    fields.update({k: v for k, v in (overrides or {}).items() if v is not None})
    if per_model:
        name = model.rsplit("/", 1)[-1].lower()
        for prefix in sorted(per_model, key=len, reverse=True):
            if name.startswith(prefix.lower()):
                fields.update({k: v for k, v in per_model[prefix].items() if v is not None})
                break
    spec = ModelSpec(family=family or "", **fields)
    if spec.default_output_tokens > spec.max_output_tokens:
        spec = msgspec.structs.replace(spec, default_output_tokens=spec.max_output_tokens)
    return spec


def check_override(where: str, table: dict[str, Any]) -> dict[str, Any]:
    """Validate a config.toml override table; ValueError names the bad key."""
    unknown = sorted(set(table) - set(OVERRIDABLE))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(OVERRIDABLE)}")
    try:
        msgspec.convert({"family": "", **table}, ModelSpec)
    except msgspec.ValidationError as exc:
        raise ValueError(f"{where}: {exc}") from None
    for key in ("max_output_tokens", "default_output_tokens", "context_tokens"):
        if key in table and table[key] <= 0:
            raise ValueError(f"{where}: {key} must be > 0")
    if "structured" in table and table["structured"] not in STRUCTURED_MODES:
        raise ValueError(f"{where}: structured must be one of {', '.join(STRUCTURED_MODES)}")
    return dict(table)


def estimate_tokens(text: str) -> int:
    """A deliberately high estimate of a text's tokens (about 3 characters each):
    budgets and context sizes must not be undercut."""
    return len(text) // 3 + 1


def cost_usd(spec: ModelSpec, tokens_in: int, tokens_out: int, cached: int = 0, cache_write: int = 0) -> float:
    """What a call cost: fresh, cached and cache-written prompt tokens at their own prices.
    ``tokens_in`` counts every prompt token (cached ones included)."""
    pin = spec.price_in or 0.0
    pout = spec.price_out or 0.0
    pcached = pin if spec.price_cached_in is None else spec.price_cached_in
    pwrite = pin if spec.price_cache_write is None else spec.price_cache_write
    fresh = max(tokens_in - cached - cache_write, 0)
    return round((fresh * pin + cached * pcached + cache_write * pwrite + tokens_out * pout) / 1_000_000, 8)
