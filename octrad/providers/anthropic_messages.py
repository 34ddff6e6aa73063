"""The ``anthropic`` kind: the Messages API, natively.

Structured output: one tool named ``answer`` whose ``input_schema`` is the
schema, forced with ``tool_choice: {type: tool, name: answer}``; the answer
is the tool call's input.

Prompt caching: a message marked ``cache=True`` (the end of the shared
prefix) gets a ``cache_control: {type: ephemeral}`` breakpoint; the tool
definition and system text before it are cached with it.  The API rejects
empty content, so blank turns are never sent.
"""

from __future__ import annotations

from typing import Any

import msgspec

from .schema import for_kind
from .transport import HttpRequest, ProviderFailure, UsageStream, stream_chunk
from .types import Completion, CompletionRequest, ProviderConfig

DEFAULT_BASE_URL = "https://api.anthropic.com"
API_VERSION = "2023-06-01"
TOOL = "answer"
#: the API allows 4 cache breakpoints per request
MAX_BREAKPOINTS = 4
_EPHEMERAL = {"type": "ephemeral"}
_RETRYABLE_ERRORS = {"overloaded_error", "api_error", "rate_limit_error", "timeout_error"}


class AnthropicMessages:
    kind = "anthropic"

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest:
        base = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/")
        url = base + ("/messages" if base.endswith("/v1") else "/v1/messages")
        headers = {"content-type": "application/json", "anthropic-version": API_VERSION}
        if cfg.api_key:
            headers["x-api-key"] = cfg.api_key
        marked = [i for i, m in enumerate(req.messages) if m.cache][-MAX_BREAKPOINTS:]
        system: list[dict[str, Any]] = []
        turns: list[dict[str, Any]] = []
        for i, m in enumerate(req.messages):
            if not m.content.strip():
                continue  # "all messages must have non-empty content"
            block: dict[str, Any] = {"type": "text", "text": m.content}
            if i in marked:
                block["cache_control"] = _EPHEMERAL
            if m.role == "system":
                system.append(block)
            elif turns and turns[-1]["role"] == m.role:
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": m.role, "content": [block]})
        if not turns or turns[0]["role"] != "user":
            turns.insert(0, {"role": "user", "content": [{"type": "text", "text": "Give your answer."}]})
        body: dict[str, Any] = {
            "model": req.model,
            "max_tokens": req.max_tokens,
            "messages": [_plain(t) for t in turns],
            "tools": [{"name": TOOL, "description": f"Give your answer: one {req.schema_name}.", "input_schema": for_kind(self.kind, req.schema)}],
            "tool_choice": {"type": "tool", "name": TOOL},
        }
        if req.temperature is not None:
            body["temperature"] = req.temperature
        if system:
            body["system"] = system if marked else "\n\n".join(b["text"] for b in system)
        if req.stream:
            body["stream"] = True
        return HttpRequest(url, headers, body, "sse" if req.stream else None)

    def parse(self, data: Any) -> Completion:
        if isinstance(data, dict) and data.get("stop_reason") == "refusal":
            raise ProviderFailure("the model refused to answer (stop_reason refusal)", kind="refusal")
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
            **_usage(usage),
            model=str(data.get("model") or ""),
            finish=_finish(data.get("stop_reason")),
        )

    def decoder(self) -> "_Stream":
        return _Stream()


def _plain(turn: dict[str, Any]) -> dict[str, Any]:
    """A turn with one uncached text block is sent as a plain string."""
    blocks = turn["content"]
    if len(blocks) == 1 and "cache_control" not in blocks[0]:
        return {"role": turn["role"], "content": blocks[0]["text"]}
    return turn


def _finish(reason: Any) -> str:
    if reason == "refusal":
        raise ProviderFailure("the model refused to answer (stop_reason refusal)", kind="refusal")
    return "length" if reason == "max_tokens" else str(reason or "stop")


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    """input_tokens counts only the uncached part: tokens_in is the sum of all three."""
    read = int(usage.get("cache_read_input_tokens") or 0)
    write = int(usage.get("cache_creation_input_tokens") or 0)
    return {
        "tokens_in": int(usage.get("input_tokens") or 0) + read + write,
        "tokens_out": int(usage.get("output_tokens") or 0),
        "tokens_cached": read,
        "tokens_cache_write": write,
    }


class _Stream(UsageStream):
    def __init__(self) -> None:
        super().__init__("tokens_cache_write")
        self.text: list[str] = []
        self.tool: list[str] = []
        self.tool_seen = False

    def feed(self, event: str | None, data: str) -> str:
        ev = stream_chunk(data)
        kind = ev.get("type") or event
        if kind == "message_start":
            msg = ev.get("message") or {}
            self.model = msg.get("model") or ""
            self.usage = _usage(msg.get("usage") or {})
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
            self.finish = _finish((ev.get("delta") or {}).get("stop_reason"))
            usage = ev.get("usage") or {}
            if "output_tokens" in usage:
                self.usage["tokens_out"] = int(usage["output_tokens"] or 0)
            if usage.get("input_tokens"):
                self.usage.update({k: v for k, v in _usage(usage).items() if k != "tokens_out"})
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
        return Completion(text=text, **self.usage, model=self.model, finish=self.finish)
