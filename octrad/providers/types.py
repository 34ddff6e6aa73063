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
    role: Role
    content: str


class Usage(msgspec.Struct):
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0


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
    #: openai kind only: "json_schema" (strict), "json_object" (schema in the prompt) or "none"
    structured: str | None = None
    #: USD per million tokens, overriding the price table
    price_in: float | None = None
    price_out: float | None = None


class CompletionRequest(msgspec.Struct, kw_only=True):
    """One request to a provider, in provider-neutral form."""

    messages: list[Message]
    #: JSON Schema of the answer, refs inlined (see :mod:`.schema`)
    schema: dict[str, Any]
    schema_name: str
    model: str
    temperature: float
    max_tokens: int | None = None
    stream: bool = False


class Completion(msgspec.Struct, kw_only=True):
    """A provider's raw answer: the text (JSON, hopefully) and what it cost."""

    text: str
    tokens_in: int = 0
    tokens_out: int = 0
    model: str = ""
    #: HTTP exchanges it took (transport retries included)
    tries: int = 1
