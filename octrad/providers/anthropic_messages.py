"""The ``anthropic`` kind: the Messages API, natively.

Structured output: one tool named ``answer`` whose ``input_schema`` is the
schema, forced with ``tool_choice: {type: tool, name: answer}``; the answer
is the tool call's input.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .transport import HttpRequest, ProviderFailure
from .types import Completion, CompletionRequest, ProviderConfig

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
TOOL = "answer"
#: max_tokens is required by the API
DEFAULT_MAX_TOKENS = 8192
_RETRYABLE_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


class AnthropicMessages:
    kind = "anthropic"

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest:
        base = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/")
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if cfg.api_key:
            headers["x-api-key"] = cfg.api_key
        system = "\n\n".join(m.content for m in req.messages if m.role == "system")
        turns: list[dict[str, Any]] = []
        for m in req.messages:
            if m.role == "system":
                continue
            if turns and turns[-1]["role"] == m.role:
                turns[-1]["content"] += "\n\n" + m.content
            else:
                turns.append({"role": m.role, "content": m.content})
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": turns,
            "temperature": req.temperature,
            "tools": [{"name": TOOL, "description": f"Give your answer: one {req.schema_name}.", "input_schema": req.schema}],
            "tool_choice": {"type": "tool", "name": TOOL},
        }
        if system:
            body["system"] = system
        if req.stream:
            body["stream"] = True
        return HttpRequest(url, headers, body, "sse" if req.stream else None)

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict) or not isinstance(data.get("content"), list):
            raise ProviderFailure(f"unexpected answer shape (no content list): {str(data)[:200]}", retryable=True)
        tool_input = None
        texts = []
        for block in data["content"]:
            if block.get("type") == "tool_use" and block.get("name") == TOOL:
                tool_input = block.get("input")
            elif block.get("type") == "text":
                texts.append(block.get("text") or "")
        text = msgspec.json.encode(tool_input).decode() if tool_input is not None else "".join(texts)
        usage = data.get("usage") or {}
        return Completion(
            text=text,
            tokens_in=_input_tokens(usage),
            tokens_out=int(usage.get("output_tokens") or 0),
            model=str(data.get("model") or ""),
        )

    def decoder(self) -> "_Stream":
        return _Stream()


def _input_tokens(usage: dict[str, Any]) -> int:
    return sum(int(usage.get(k) or 0) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"))


class _Stream:
    def __init__(self) -> None:
        self.done = False
        self.text: list[str] = []
        self.tool: list[str] = []
        self.tool_seen = False
        self.tokens_in = self.tokens_out = 0
        self.model = ""

    def feed(self, event: str | None, data: str) -> str:
        try:
            ev = msgspec.json.decode(data)
        except msgspec.DecodeError:
            raise ProviderFailure(f"malformed stream event: {data[:120]!r}", retryable=True) from None
        kind = ev.get("type") or event
        if kind == "message_start":
            msg = ev.get("message") or {}
            self.model = msg.get("model") or ""
            self.tokens_in = _input_tokens(msg.get("usage") or {})
            self.tokens_out = int((msg.get("usage") or {}).get("output_tokens") or 0)
        elif kind == "content_block_start":
            block = ev.get("content_block") or {}
            if block.get("type") == "tool_use" and block.get("name") == TOOL:
                self.tool_seen = True
            elif block.get("type") == "text" and block.get("text"):
                self.text.append(block["text"])
                return block["text"]
        elif kind == "content_block_delta":
            delta = ev.get("delta") or {}
            if delta.get("type") == "input_json_delta":
                part = delta.get("partial_json") or ""
                self.tool.append(part)
                return part
            if delta.get("type") == "text_delta":
                part = delta.get("text") or ""
                self.text.append(part)
                return part
        elif kind == "message_delta":
            usage = ev.get("usage") or {}
            if "output_tokens" in usage:
                self.tokens_out = int(usage["output_tokens"] or 0)
            if usage.get("input_tokens"):
                self.tokens_in = _input_tokens(usage)
        elif kind == "message_stop":
            self.done = True
        elif kind == "error":
            err = ev.get("error") or {}
            raise ProviderFailure(
                f"error in stream: {err.get('type', 'error')}: {err.get('message', '')}",
                retryable=err.get("type") in _RETRYABLE_ERRORS,
            )
        return ""

    def result(self) -> Completion:
        text = "".join(self.tool) if self.tool_seen else "".join(self.text)
        return Completion(text=text, tokens_in=self.tokens_in, tokens_out=self.tokens_out, model=self.model)
