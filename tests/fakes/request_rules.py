"""What the real AI APIs refuse in a request body, in their own words, so the
fake provider (tests/fakes/providers.py) answers such a request with the 400
(or llama-server's 500) the real service would give instead of accepting it.

Covers the output limit Octra promises on every call, a prompt that does not fit
the context, OpenAI's reasoning-model parameters and temperature range, the
json_schema modes a server may lack, Anthropic's required ``max_tokens``, first
user turn, non-empty content and temperature rules, Gemini's empty parts and
temperature range, and the answer schemas (tests/fakes/schema_rules.py).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from tests.fakes.schema_rules import anthropic_schema_problems, gemini_schema_problems, openai_strict_problems

if TYPE_CHECKING:
    from tests.fakes.providers import FakeProvider, FakeRequest


def _openai_reasoning(model: str) -> bool:
    name = model.rsplit("/", 1)[-1]
    return name.startswith(("o1", "o3", "o4", "gpt-5"))


def _claude_without_temperature(model: str) -> bool:
    name = model.rsplit("/", 1)[-1]
    return name.startswith(("claude-opus-4-7", "claude-opus-4-8", "claude-opus-5", "claude-sonnet-5", "claude-fable-5"))


def _prompt_estimate(req: FakeRequest) -> int:
    return len(json.dumps(req.body)) // 4


def _output_limit(req: FakeRequest) -> int | None:
    b = req.body or {}
    if req.kind == "openai":
        return b.get("max_completion_tokens") or b.get("max_tokens")
    if req.kind == "anthropic":
        return b.get("max_tokens")
    if req.kind == "gemini":
        return (b.get("generationConfig") or {}).get("maxOutputTokens")
    return (b.get("options") or {}).get("num_predict")


def refusal_of(fake: FakeProvider, req: FakeRequest) -> tuple[int, str] | None:
    """(status, message) when the real service would refuse the request."""
    b = req.body if isinstance(req.body, dict) else {}
    limit = _output_limit(req)
    if fake.require_output_limit and not limit:
        return 400, "fake provider: the request carries no output limit (Octra promises one on every call)"
    if fake.context_tokens is not None and _prompt_estimate(req) + (limit or 0) > fake.context_tokens:
        need = _prompt_estimate(req) + (limit or 0)
        if fake.overflow_style == "llamacpp":
            return 500, "llama.cpp: Context size has been exceeded."
        if req.kind == "openai":
            return 400, (f"context_length_exceeded|This model's maximum context length is {fake.context_tokens} tokens. "
                         f"However, you requested {need} tokens. Please reduce the length of the messages.")
        if req.kind == "anthropic":
            return 400, f"prompt is too long: {need} tokens > {fake.context_tokens} maximum"
        if req.kind == "gemini":
            return 400, f"The input token count ({need}) exceeds the maximum number of tokens allowed ({fake.context_tokens})."
        return 400, f"the input length exceeds the context length ({fake.context_tokens})"
    if req.kind == "openai":
        model = b.get("model", "")
        if _openai_reasoning(model):
            if "temperature" in b and b["temperature"] != 1:
                return 400, (f"unsupported_value|Unsupported value: 'temperature' does not support {b['temperature']} with this model. "
                             "Only the default (1) value is supported.")
            if "max_tokens" in b:
                return 400, ("unsupported_parameter|Unsupported parameter: 'max_tokens' is not supported with this model. "
                             "Use 'max_completion_tokens' instead.")
        if "temperature" in b and not 0 <= b["temperature"] <= 2:
            return 400, f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, but got {b['temperature']} instead."
        rf = b.get("response_format") or {}
        if rf.get("type") == "json_schema":
            js = rf.get("json_schema") or {}
            if not fake.json_schema:
                return 400, "invalid_request_error|This response_format type is unavailable now"
            if js.get("strict") and not fake.strict_schema:
                return 400, "invalid_request_error|response_format.json_schema.strict is not supported by this server"
            if js.get("strict"):
                problems = openai_strict_problems(js.get("schema"))
                if problems:
                    return 400, f"invalid_json_schema|Invalid schema for response_format '{js.get('name')}': In context={problems[0]}"
        return None
    if req.kind == "anthropic":
        if not b.get("max_tokens"):
            return 400, "max_tokens: Field required"
        msgs = b.get("messages") or []
        if not msgs or msgs[0].get("role") != "user":
            return 400, "messages: first message must use the \"user\" role"
        for i, m in enumerate(msgs):
            content = m.get("content")
            empty = not content if isinstance(content, str) else (
                not content or any(c.get("type") == "text" and not c.get("text") for c in content))
            if empty:
                return 400, f"messages.{i}: all messages must have non-empty content except for the optional final assistant message"
        if "temperature" in b:
            if _claude_without_temperature(b.get("model", "")):
                return 400, "temperature: this model does not support the temperature parameter"
            if not 0 <= b["temperature"] <= 1:
                return 400, f"temperature: range: 0..1 (got {b['temperature']})"
        for tool in b.get("tools") or []:
            problems = anthropic_schema_problems(tool.get("input_schema"))
            if problems:
                return 400, problems[0]
        return None
    if req.kind == "gemini":
        for i, c in enumerate(b.get("contents") or []):
            parts = c.get("parts") or []
            if not parts or any("text" in p and not p["text"] for p in parts):
                return 400, f"* GenerateContentRequest.contents[{i}].parts: contains an empty part"
        cfg = b.get("generationConfig") or {}
        if "responseSchema" in cfg:
            problems = gemini_schema_problems(cfg["responseSchema"])
            if problems:
                return 400, "Invalid JSON payload received. " + problems[0]
        if "temperature" in cfg and not 0 <= cfg["temperature"] <= 2:
            return 400, "generation_config.temperature: must be in [0, 2]"
    return None
