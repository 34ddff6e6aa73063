"""The values that cross the provider layer: who calls, what is said, what
comes back.  Kept free of I/O so every other module can import them."""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import msgspec

T = TypeVar("T")

Role = Literal["system", "user", "assistant"]
#: the wire formats we speak
KINDS = ("openai", "anthropic", "gemini", "ollama")
#: provider names that are not HTTP providers
PSEUDO = ("replay", "offline")


class CallSite(msgspec.Struct, kw_only=True):
    """Who is calling: used for usage, events, budgets and replay matching.

    ``meta`` is the task's meta dict: budgets (``max_llm_calls``,
    ``max_tokens``, ``max_cost_usd``) and ``replay_from`` (the task whose
    recorded calls the ``replay`` provider answers from).
    """

    task_id: str | None = None
    agent_id: str | None = None
    role: str = ""
    step: str = ""
    meta: dict[str, Any] = {}


class Message(msgspec.Struct):
    """One turn of a prompt.

    ``cache=True`` marks the message that ends the prompt's *shared prefix*:
    everything up to and including it is the same across the calls of a task
    (rules, task, plan, guide, skills), everything after varies (files,
    feedback).  Providers with explicit prompt caching (Anthropic) get a cache
    breakpoint there; the others cache prefixes by themselves.  Mark at most
    a few messages (Anthropic allows 4 breakpoints; the last marks win).
    """

    role: Role
    content: str
    cache: bool = False


class Usage(msgspec.Struct):
    #: every prompt token, cached ones included
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    #: prompt tokens read from the provider's cache (priced lower)
    tokens_cached: int = 0
    #: prompt tokens written to the cache (Anthropic; priced higher)
    tokens_cache_write: int = 0

    def __add__(self, other: "Usage") -> "Usage":
        return Usage(
            self.tokens_in + other.tokens_in, self.tokens_out + other.tokens_out, self.cost_usd + other.cost_usd,
            self.tokens_cached + other.tokens_cached, self.tokens_cache_write + other.tokens_cache_write,
        )


class Answer(msgspec.Struct, Generic[T], kw_only=True):
    """What :meth:`LLMService.ask` returns."""

    value: T
    text: str
    usage: Usage
    latency_ms: float
    model: str
    provider: str
    attempts: int


class ProviderConfig(msgspec.Struct, kw_only=True):
    """One configured provider, wherever it came from (stored, config.toml, environment)."""

    name: str
    kind: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    #: "stored" (providers.set), "config" (config.toml), "env" (conventional variables)
    source: str = "stored"
    #: bound on one HTTP exchange (connect + whole answer), seconds
    timeout_s: float | None = None
    #: openai kind only: "json_schema" (strict), "json_schema_loose" (not strict),
    #: "json_object" (schema in the prompt) or "none"; None: the model table's
    structured: str | None = None
    #: model-table fields overridden for all this provider's models (see models.py)
    overrides: dict[str, Any] = {}
    #: model-table fields overridden per model prefix
    models: dict[str, dict[str, Any]] = {}
    #: bound on one step: every attempt and retry of one ask(), seconds
    step_timeout_s: float | None = None
    #: the largest answer body accepted, bytes
    max_answer_bytes: int | None = None


class CompletionRequest(msgspec.Struct, kw_only=True):
    """One request to a provider, in provider-neutral form."""

    messages: list[Message]
    #: JSON Schema of the answer, refs inlined (see :mod:`.schema`)
    schema: dict[str, Any]
    schema_name: str
    model: str
    #: None: send no temperature (the model accepts only its default, or none)
    temperature: float | None
    #: the output limit of this call (always sent)
    max_tokens: int
    stream: bool = False
    #: openai kind: the structured-output mode (see models.STRUCTURED_MODES)
    structured: str = "json_schema"
    #: openai kind: the name of the output-limit field
    token_field: str = "max_tokens"
    #: ollama: the context size to ask for (prompt + output)
    num_ctx: int | None = None


class Completion(msgspec.Struct, kw_only=True):
    """A provider's raw answer: the text (JSON, hopefully) and what it cost."""

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    #: prompt tokens that were cache hits / cache writes (part of tokens_in)
    tokens_cached: int = 0
    tokens_cache_write: int = 0
    model: str = ""
    #: why the model stopped, normalised: "stop", "length" (cut at the output limit), or the provider's word
    finish: str = "stop"
    #: HTTP exchanges it took (transport retries included)
    tries: int = 1
