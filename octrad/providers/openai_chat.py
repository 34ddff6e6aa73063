"""The ``openai`` kind: Chat Completions, as spoken by OpenAI and every
compatible server (DeepSeek, OpenRouter, vLLM, LM Studio, Ollama's /v1).

Structured output: ``response_format: {type: json_schema, json_schema:
{name, schema, strict: true}}``.  Servers without json_schema support can be
configured with ``structured = "json_object"`` (JSON mode, schema in the
prompt) or ``"none"`` (schema in the prompt only).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .schema import openai_strict
from .transport import HttpRequest, ProviderFailure
from .types import Completion, CompletionRequest, ProviderConfig

DEFAULT_BASE_URL = "https://api.openai.com/v1"
_NAME = re.compile(r"[^A-Za-z0-9_-]")


def schema_prompt(name: str, schema: dict[str, Any]) -> str:
    """The schema as an instruction, for servers that cannot take it natively."""
    return (
        f"Answer with exactly one JSON object (the {name}) matching this JSON Schema, and nothing else:\n"
        + msgspec.json.encode(schema).decode()
    )


class OpenAIChat:
    kind = "openai"

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest:
        base = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/")
        headers = {"content-type": "application/json", "accept": "text/event-stream" if req.stream else "application/json"}
        if cfg.api_key:
            headers["authorization"] = f"Bearer {cfg.api_key}"
        messages = [{"role": m.role, "content": m.content} for m in req.messages]
        body: dict[str, Any] = {"model": req.model, "messages": messages, "temperature": req.temperature}
        mode = cfg.structured or "json_schema"
        if mode == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": _NAME.sub("_", req.schema_name)[:64] or "answer", "schema": openai_strict(req.schema), "strict": True},
            }
        else:
            messages.insert(0, {"role": "system", "content": schema_prompt(req.schema_name, req.schema)})
            if mode == "json_object":
                body["response_format"] = {"type": "json_object"}
        if req.max_tokens:
            # OpenAI itself renamed the field; compatible servers know the old name
            key = "max_completion_tokens" if base.startswith("https://api.openai.com") else "max_tokens"
            body[key] = req.max_tokens
        if req.stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return HttpRequest(base + "/chat/completions", headers, body, "sse" if req.stream else None)

    def parse(self, data: Any) -> Completion:
        try:
            choice = data["choices"][0]
            message = choice["message"]
        except (KeyError, IndexError, TypeError):
            raise ProviderFailure(f"unexpected answer shape (no choices[0].message): {str(data)[:200]}", retryable=True) from None
        if message.get("refusal"):
            raise ProviderFailure(f"the model refused: {message['refusal']}")
        usage = data.get("usage") or {}
        return Completion(
            text=message.get("content") or "",
            tokens_in=int(usage.get("prompt_tokens") or 0),
            tokens_out=int(usage.get("completion_tokens") or 0),
            model=str(data.get("model") or ""),
        )

    def decoder(self) -> "_Stream":
        return _Stream()


class _Stream:
    def __init__(self) -> None:
        self.done = False
        self.parts: list[str] = []
        self.tokens_in = self.tokens_out = 0
        self.model = ""
        self.refusal = ""

    def feed(self, event: str | None, data: str) -> str:
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        try:
            chunk = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise ProviderFailure(f"malformed stream event: {data[:120]!r}", retryable=True) from None
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            err = chunk["error"]
            raise ProviderFailure(f"error in stream: {err.get('message') if isinstance(err, dict) else err}", retryable=True)
        self.model = chunk.get("model") or self.model
        usage = chunk.get("usage")
        if usage:
            self.tokens_in = int(usage.get("prompt_tokens") or 0)
            self.tokens_out = int(usage.get("completion_tokens") or 0)
        text = ""
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            if delta.get("refusal"):
                self.refusal += delta["refusal"]
            if delta.get("content"):
                text += delta["content"]
        if text:
            self.parts.append(text)
        return text

    def result(self) -> Completion:
        if self.refusal:
            raise ProviderFailure(f"the model refused: {self.refusal}")
        return Completion(text="".join(self.parts), tokens_in=self.tokens_in, tokens_out=self.tokens_out, model=self.model)
