"""The ``openai`` kind: Chat Completions, as spoken by OpenAI and every
compatible server (DeepSeek, OpenRouter, vLLM, LM Studio, Ollama's /v1).

Structured output, by mode (``CompletionRequest.structured``, from the model
table, the provider's ``structured`` or what a server was found to accept):
``json_schema`` (``response_format: {type: json_schema, json_schema: {name,
schema, strict: true}}``), ``json_schema_loose`` (the same with ``strict:
false``), ``json_object`` (JSON mode, schema in the prompt) or ``none``
(schema in the prompt only).  The output limit goes in the model family's
field (``max_completion_tokens`` for reasoning models, else ``max_tokens``).
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from .schema import for_kind
from .transport import HttpRequest, ProviderFailure, stream_chunk
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
        body: dict[str, Any] = {"model": req.model, "messages": messages}
        if req.temperature is not None:
            body["temperature"] = req.temperature
        mode = req.structured
        if mode in ("json_schema", "json_schema_loose"):
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": _NAME.sub("_", req.schema_name)[:64] or "answer",
                    "schema": for_kind(self.kind, req.schema, mode),
                    "strict": mode == "json_schema",
                },
            }
        else:
            messages.insert(0, {"role": "system", "content": schema_prompt(req.schema_name, for_kind(self.kind, req.schema, mode))})
            if mode == "json_object":
                body["response_format"] = {"type": "json_object"}
        body[req.token_field] = req.max_tokens
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
            raise ProviderFailure(f"the model refused: {message['refusal']}", kind="refusal")
        usage = data.get("usage") or {}
        return Completion(
            text=message.get("content") or "",
            **_usage(usage),
            model=str(data.get("model") or ""),
            finish=_finish(choice.get("finish_reason")),
        )

    def decoder(self) -> "_Stream":
        return _Stream()


def _finish(reason: Any) -> str:
    if reason == "content_filter":
        raise ProviderFailure("the answer was stopped by the provider's content filter (finish_reason content_filter)", kind="refusal")
    return "length" if reason == "length" else str(reason or "stop")


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    details = usage.get("prompt_tokens_details") or {}
    return {
        "tokens_in": int(usage.get("prompt_tokens") or 0),
        "tokens_out": int(usage.get("completion_tokens") or 0),
        "tokens_cached": int(details.get("cached_tokens") or 0),
    }


class _Stream:
    def __init__(self) -> None:
        self.done = False
        self.parts: list[str] = []
        self.tokens_in = self.tokens_out = self.tokens_cached = 0
        self.model = ""
        self.refusal = ""
        self.finish = "stop"

    def feed(self, event: str | None, data: str) -> str:
        if data.strip() == "[DONE]":
            self.done = True
            return ""
        chunk = stream_chunk(data)
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            err = chunk["error"]
            raise ProviderFailure(f"error in stream: {err.get('message') if isinstance(err, dict) else err}", retryable=True)
        self.model = chunk.get("model") or self.model
        usage = chunk.get("usage")
        if usage:
            u = _usage(usage)
            self.tokens_in, self.tokens_out, self.tokens_cached = u["tokens_in"], u["tokens_out"], u["tokens_cached"]
        text = ""
        for choice in chunk.get("choices") or ():
            if choice.get("finish_reason"):
                self.finish = _finish(choice["finish_reason"])
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
            raise ProviderFailure(f"the model refused: {self.refusal}", kind="refusal")
        return Completion(
            text="".join(self.parts), tokens_in=self.tokens_in, tokens_out=self.tokens_out,
            tokens_cached=self.tokens_cached, model=self.model, finish=self.finish,
        )
