"""The ``gemini`` kind: ``generateContent`` / ``streamGenerateContent?alt=sse``, natively.

Structured output: ``generationConfig.responseMimeType = application/json``
and ``responseSchema`` (the OpenAPI subset, see :func:`.schema.gemini`).
The key travels in the ``x-goog-api-key`` header, never in the URL.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from .schema import for_kind
from .transport import HttpRequest, ProviderFailure, UsageStream, stream_chunk
from .types import Completion, CompletionRequest, ProviderConfig

DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com"
_BLOCKING = {"SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII"}


class GeminiGenerate:
    kind = "gemini"

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest:
        base = (cfg.base_url or DEFAULT_BASE_URL).rstrip("/")
        if not base.endswith(("/v1beta", "/v1")):
            base += "/v1beta"
        model = req.model if req.model.startswith("models/") else f"models/{req.model}"
        action = ":streamGenerateContent?alt=sse" if req.stream else ":generateContent"
        headers = {"content-type": "application/json"}
        if cfg.api_key:
            headers["x-goog-api-key"] = cfg.api_key
        contents: list[dict[str, Any]] = []
        for m in req.messages:
            if m.role == "system" or not m.content.strip():
                continue  # an empty part is a 400
            role = "model" if m.role == "assistant" else "user"
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"].append({"text": m.content})
            else:
                contents.append({"role": role, "parts": [{"text": m.content}]})
        if not contents:
            contents.append({"role": "user", "parts": [{"text": "Give your answer."}]})
        config: dict[str, Any] = {
            "responseMimeType": "application/json",
            "responseSchema": for_kind(self.kind, req.schema),
            "maxOutputTokens": req.max_tokens,
        }
        if req.temperature is not None:
            config["temperature"] = req.temperature
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        system = "\n\n".join(m.content for m in req.messages if m.role == "system" and m.content.strip())
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        return HttpRequest(f"{base}/{quote(model, safe='/-._')}{action}", headers, body, "sse" if req.stream else None)

    def parse(self, data: Any) -> Completion:
        if not isinstance(data, dict):
            raise ProviderFailure(f"unexpected answer shape: {str(data)[:200]}", retryable=True)
        text, finish = _candidate(data)
        if finish is None and not text:
            raise ProviderFailure(f"no candidates in the answer: {str(data)[:200]}", retryable=True)
        usage = data.get("usageMetadata") or {}
        return Completion(text=text, **_usage(usage), model=str(data.get("modelVersion") or ""), finish=_finish(finish))

    def decoder(self) -> "_Stream":
        return _Stream()


def _usage(usage: dict[str, Any]) -> dict[str, int]:
    """promptTokenCount includes the cached part (cachedContentTokenCount); thoughts are billed as output."""
    return {
        "tokens_in": int(usage.get("promptTokenCount") or 0),
        "tokens_out": int(usage.get("candidatesTokenCount") or 0) + int(usage.get("thoughtsTokenCount") or 0),
        "tokens_cached": int(usage.get("cachedContentTokenCount") or 0),
    }


def _finish(reason: Any) -> str:
    return "length" if reason == "MAX_TOKENS" else str(reason or "STOP").lower()


def _candidate(data: dict[str, Any]) -> tuple[str, str | None]:
    """(text, finishReason) of the first candidate; a blocked prompt is an error."""
    candidates = data.get("candidates") or []
    if not candidates:
        block = (data.get("promptFeedback") or {}).get("blockReason")
        if block:
            raise ProviderFailure(f"the prompt was blocked: {block}")
        return "", None
    cand = candidates[0]
    parts = (cand.get("content") or {}).get("parts") or []
    text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
    finish = cand.get("finishReason")
    if finish in _BLOCKING:
        raise ProviderFailure(f"the answer was blocked: finishReason {finish}")
    return text, finish


class _Stream(UsageStream):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def feed(self, event: str | None, data: str) -> str:
        chunk = stream_chunk(data)
        if isinstance(chunk, dict) and chunk.get("error"):
            err = chunk["error"]
            raise ProviderFailure(f"error in stream: {err.get('message') if isinstance(err, dict) else err}", retryable=True)
        text, finish = _candidate(chunk)
        usage = chunk.get("usageMetadata")
        if usage:
            self.usage = _usage(usage)
        self.model = chunk.get("modelVersion") or self.model
        if finish:
            self.done = True
            self.finish = _finish(finish)
        if text:
            self.parts.append(text)
        return text

    def result(self) -> Completion:
        return Completion(text="".join(self.parts), **self.usage, model=self.model, finish=self.finish)
