"""The ``ollama`` kind: Ollama's native ``/api/chat``.

Structured output: ``format: <schema>``.  Streams are NDJSON, one object per
line, the last with ``done: true`` and the token counts.  Ollama cuts a
prompt silently to its default context (often 4k tokens), so every call
sends ``num_ctx`` sized to the prompt and the output limit.
"""

from __future__ import annotations

from typing import Any

from .schema import for_kind
from .transport import HttpRequest, ProviderFailure, stream_chunk
from .types import Completion, CompletionRequest, ProviderConfig

DEFAULT_BASE_URL = "http://127.0.0.1:11434"


def host_url(value: str) -> str:
    """OLLAMA_HOST may be ``host:port`` without a scheme."""
    value = value.strip().rstrip("/")
    if "://" not in value:
        value = "http://" + value
    return value


class OllamaChat:
    kind = "ollama"

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest:
        base = host_url(cfg.base_url or DEFAULT_BASE_URL)
        if base.endswith("/api"):
            base = base[: -len("/api")]
        headers = {"content-type": "application/json"}
        if cfg.api_key:
            headers["authorization"] = f"Bearer {cfg.api_key}"
        options: dict[str, Any] = {"num_predict": req.max_tokens}
        if req.temperature is not None:
            options["temperature"] = req.temperature
        if req.num_ctx:
            options["num_ctx"] = req.num_ctx
        body = {
            "model": req.model,
            "messages": [{"role": m.role, "content": m.content} for m in req.messages],
            "format": for_kind(self.kind, req.schema),
            "options": options,
            # Ollama streams unless told otherwise
            "stream": bool(req.stream),
        }
        return HttpRequest(base + "/api/chat", headers, body, "ndjson" if req.stream else None)

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
            raise ProviderFailure(f"unexpected answer shape (no message): {str(data)[:200]}", retryable=True)
        return _completion(data, data["message"].get("content") or "")

    def decoder(self) -> "_Stream":
        return _Stream()


def _completion(data: dict[str, Any], text: str) -> Completion:
    reason = data.get("done_reason")
    return Completion(
        text=text,
        tokens_in=int(data.get("prompt_eval_count") or 0),
        tokens_out=int(data.get("eval_count") or 0),
        model=str(data.get("model") or ""),
        finish="length" if reason == "length" else str(reason or "stop"),
    )


class _Stream:
    def __init__(self) -> None:
        self.done = False
        self.parts: list[str] = []
        self.last: dict[str, Any] = {}

    def feed(self, event: str | None, data: str) -> str:
        chunk = stream_chunk(data, "line")
        if not isinstance(chunk, dict):
            return ""
        if chunk.get("error"):
            raise ProviderFailure(f"error in stream: {chunk['error']}", retryable=True)
        text = (chunk.get("message") or {}).get("content") or ""
        if text:
            self.parts.append(text)
        if chunk.get("done"):
            self.done = True
            self.last = chunk
        return text

    def result(self) -> Completion:
        return _completion(self.last, "".join(self.parts))
