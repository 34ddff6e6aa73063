"""A fake AI provider: a real loopback HTTP server that speaks the wire formats
of OpenAI (Chat Completions), Anthropic (Messages), Gemini (generateContent)
and Ollama (/api/chat), as JSON and as streams (SSE / NDJSON, chunked), and
records every request it gets.

Usage::

    with FakeProvider() as fake:
        fake.push(Reply.json({"answer": "pong"}))            # the next answer, in whatever format was asked
        fake.push(Reply.status(429, retry_after=0.1), Reply.text("```json\\n{...}\\n```"))
        fake.responder = lambda req: Reply.json(...)         # when nothing is queued (e.g. per prompt)
        url = fake.base_url("anthropic")                     # what to configure as the provider's base_url
        ...
        req = fake.requests[0]                               # FakeRequest: kind, path, headers, body, stream,
        req.schema, req.model, req.prompt                    # the schema as sent, the model, all message text

The wire format is chosen by the request path (``/v1/chat/completions``,
``/v1/messages``, ``/v1beta/models/M:generateContent`` or
``:streamGenerateContent``, ``/api/chat``), streaming by the request itself.
A :class:`Reply` can inject faults: an HTTP error with ``Retry-After``, a
``delay`` before answering (timeouts), a stream ``cut_after`` some characters
(the connection is dropped mid-body), malformed or fenced text.  With nothing
queued and no responder, the fake answers 500 ``no reply scripted`` so a test
fails loudly instead of hanging.

It is as strict as the real services (their documented rules, written in
tests/fakes/request_rules.py and schema_rules.py independently of Octra's own
schema code): a request the real API would refuse gets the real API's kind of
400, in its words.

- OpenAI: a strict ``json_schema`` must follow the Structured Outputs rules
  (``schema_rules.openai_strict_problems``); reasoning models (o1/o3/o4, gpt-5*)
  refuse ``temperature`` other than 1 and ``max_tokens``.
- Anthropic: ``max_tokens`` is required; empty content, a first turn that is
  not the user's, temperature outside 0..1, and any temperature on models
  that refuse it (Opus 4.7 and later, the 5 line) are refused.
- Gemini: ``responseSchema`` must be the OpenAPI subset
  (``schema_rules.gemini_schema_problems``); empty parts are refused.
- Every kind: a request without an output limit is refused (Octra promises
  one on every call; ``require_output_limit = False`` to relax).

Server modes: ``json_schema = False`` (an OpenAI-compatible server without
json_schema support, like DeepSeek), ``strict_schema = False`` (one that
refuses ``strict``), ``context_tokens = N`` (prompts that do not fit are
refused in each provider's words; ``overflow_style = "llamacpp"`` answers
llama-server's 500 "Context size has been exceeded").  A :class:`Reply` can
be ``finish="length"`` (cut at the output limit: ``length`` /
``max_tokens`` / ``MAX_TOKENS``), a ``refusal``, a 429 with Gemini's
``retry_delay`` in the body, and report ``cached`` prompt tokens.

It runs in its own threads, so it serves both in-process async tests and a
daemon subprocess.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.fakes.http import Handler, Service
from tests.fakes.request_rules import refusal_of

KINDS = ("openai", "anthropic", "gemini", "ollama")


@dataclass
class Reply:
    """One scripted answer.  ``text`` is what the model "says" (JSON or not)."""

    text: str = ""
    status: int = 200
    #: error message for status >= 400 (wrapped in the provider's error format)
    message: str = ""
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    #: seconds to wait before answering
    delay: float = 0.0
    #: seconds between streamed pieces
    gap: float = 0.0
    #: drop the connection after this many characters of text (stream) or half the body (JSON)
    cut_after: int | None = None
    usage: tuple[int, int] = (11, 7)
    #: characters of text per streamed piece
    piece: int = 8
    model: str | None = None
    #: "stop", or "length": the answer was cut at the output limit
    finish: str = "stop"
    #: the model refuses, with this explanation
    refusal: str | None = None
    #: Gemini-style wait in the error body (google.rpc.RetryInfo.retryDelay, e.g. "37s")
    retry_delay: str | None = None
    #: prompt tokens read from / written to the cache
    cached: tuple[int, int] = (0, 0)
    #: send these bytes as the whole (non-streamed) body instead of a well-formed answer
    raw: bytes | None = None

    @classmethod
    def json(cls, value: Any, **kw: Any) -> "Reply":
        return cls(text=json.dumps(value), **kw)

    @classmethod
    def of_text(cls, text: str, **kw: Any) -> "Reply":
        return cls(text=text, **kw)

    @classmethod
    def error(cls, status: int, message: str = "", *, retry_after: float | None = None, **kw: Any) -> "Reply":
        return cls(status=status, message=message or f"fake error {status}", retry_after=retry_after, **kw)

    @classmethod
    def truncated(cls, value: Any, at: int | None = None, **kw: Any) -> "Reply":
        """The JSON of ``value`` cut after ``at`` characters (default: half), marked as cut at the output limit."""
        text = json.dumps(value)
        return cls(text=text[: len(text) // 2 if at is None else at], finish="length", **kw)


@dataclass
class FakeRequest:
    kind: str
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any
    at: float

    @property
    def stream(self) -> bool:
        if self.kind == "gemini":
            return ":streamGenerateContent" in self.path
        return bool(isinstance(self.body, dict) and self.body.get("stream"))

    @property
    def model(self) -> str:
        if self.kind == "gemini":
            return self.path.rsplit("/models/", 1)[-1].split(":", 1)[0]
        return (self.body or {}).get("model", "")

    @property
    def schema(self) -> Any:
        """The answer schema as this request carried it (in its provider's native place)."""
        b = self.body or {}
        if self.kind == "openai":
            return ((b.get("response_format") or {}).get("json_schema") or {}).get("schema")
        if self.kind == "anthropic":
            tools = b.get("tools") or []
            return tools[0].get("input_schema") if tools else None
        if self.kind == "gemini":
            return (b.get("generationConfig") or {}).get("responseSchema")
        return b.get("format")

    @property
    def messages(self) -> list[dict[str, str]]:
        """The conversation as role/content pairs, whatever the format (system first)."""
        b = self.body or {}
        if self.kind == "gemini":
            out = []
            sys_parts = (b.get("systemInstruction") or {}).get("parts") or []
            if sys_parts:
                out.append({"role": "system", "content": "".join(p.get("text", "") for p in sys_parts)})
            for c in b.get("contents") or []:
                out.append({"role": "assistant" if c.get("role") == "model" else "user",
                            "content": "".join(p.get("text", "") for p in c.get("parts") or [])})
            return out
        out = [{"role": "system", "content": _text(b["system"])}] if self.kind == "anthropic" and b.get("system") else []
        return out + [{"role": m.get("role", ""), "content": _text(m.get("content", ""))} for m in b.get("messages") or []]

    @property
    def prompt(self) -> str:
        return "\n".join(m["content"] for m in self.messages)


def _text(content: Any) -> str:
    """Anthropic content: a string or a list of blocks."""
    if isinstance(content, list):
        return "\n\n".join(c.get("text", "") for c in content if isinstance(c, dict))
    return content or ""


def kind_of(path: str) -> str | None:
    p = path.split("?", 1)[0]
    if p.endswith("/chat/completions"):
        return "openai"
    if p.endswith("/messages"):
        return "anthropic"
    if ":generateContent" in p or ":streamGenerateContent" in p:
        return "gemini"
    if p.endswith("/api/chat"):
        return "ollama"
    return None


class FakeProvider(Service):
    def __init__(self, host: str = "127.0.0.1"):
        self._queue: list[Reply] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.requests: list[FakeRequest] = []
        #: called for a request when nothing is queued
        self.responder: Callable[[FakeRequest], Reply] | None = None
        #: connections the fake saw closed by the client while it was still answering
        self.aborted = 0
        #: an OpenAI-compatible server that takes response_format json_schema (False: like DeepSeek)
        self.json_schema = True
        #: ... and json_schema with strict: true
        self.strict_schema = True
        #: refuse requests without an output limit
        self.require_output_limit = True
        #: the model's context (prompt estimate + output limit); None: unlimited
        self.context_tokens: int | None = None
        #: "native" (each provider's own words) or "llamacpp" (llama-server's 500)
        self.overflow_style = "native"
        #: requests refused by the strictness checks, with why (for assertions)
        self.rejected: list[tuple[FakeRequest, str]] = []
        self._serve(_Handler, host)

    # -- scripting ----------------------------------------------------------
    def base_url(self, kind: str) -> str:
        """The base URL to configure for a provider of ``kind``."""
        return f"{self.url}/v1" if kind == "openai" else self.url

    def push(self, *replies: Reply) -> "FakeProvider":
        with self._lock:
            self._queue.extend(replies)
        return self

    def pending(self) -> int:
        with self._lock:
            return len(self._queue)

    def reset(self) -> None:
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.responder = None
            self.aborted = 0

    def wait_for(self, n: int, timeout: float = 10.0) -> list[FakeRequest]:
        """Block until ``n`` requests have arrived (for use from threads or sync tests)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < n:
            if time.monotonic() > deadline:
                raise TimeoutError(f"fake provider got {len(self.requests)} requests, expected {n}")
            time.sleep(0.01)
        return self.requests

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- used by the handler --------------------------------------------------
    def _next(self, req: FakeRequest) -> Reply:
        with self._lock:
            self.requests.append(req)
            if self._queue:
                return self._queue.pop(0)
            responder = self.responder
        if responder is not None:
            return responder(req)
        return Reply.error(500, "fake provider: no reply scripted for this request")


class _Handler(Handler):
    owner: FakeProvider

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length)
        split = urlsplit(self.path)
        kind = kind_of(split.path)
        if kind is None:
            self._send_json(404, {"error": f"fake provider: no such endpoint {split.path}"})
            return
        try:
            body = json.loads(raw or b"null")
        except json.JSONDecodeError:
            self._send_json(400, _error_body(kind, 400, "request body is not JSON"))
            return
        req = FakeRequest(kind, "POST", split.path, parse_qs(split.query), {k.lower(): v for k, v in self.headers.items()}, body, time.monotonic())
        refused = refusal_of(self.owner, req)
        if refused is not None:
            status, message = refused
            with self.owner._lock:
                self.owner.requests.append(req)
                self.owner.rejected.append((req, message))
            self._send_json(status, _error_body(kind, status, message, req))
            return
        reply = self.owner._next(req)
        try:
            if reply.delay and self.owner._stop.wait(reply.delay):
                return
            if reply.status >= 400:
                headers = dict(reply.headers)
                if reply.retry_after is not None:
                    headers["Retry-After"] = f"{reply.retry_after:g}"
                err = _error_body(kind, reply.status, reply.message)
                if reply.retry_delay is not None and kind == "gemini":
                    err["error"]["details"] = [
                        {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [{"quotaMetric": "generate_content"}]},
                        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": reply.retry_delay},
                    ]
                self._send_json(reply.status, err, headers)
            elif reply.raw is not None:
                self._send_bytes(reply.raw)
            elif req.stream:
                self._stream(kind, req, reply)
            else:
                self._send_json(200, _answer(kind, req, reply), reply.headers, cut=reply.cut_after is not None)
        except (BrokenPipeError, ConnectionResetError):
            self.owner.aborted += 1
            self.close_connection = True

    # -- writing ----------------------------------------------------------------
    def _send_json(self, status: int, obj: Any, headers: dict[str, str] | None = None, cut: bool = False) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if cut:
            self.wfile.write(data[: len(data) // 2])
            self._drop()
            return
        self.wfile.write(data)

    def _send_bytes(self, data: bytes) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _stream(self, kind: str, req: FakeRequest, reply: Reply) -> None:
        ctype = "application/x-ndjson" if kind == "ollama" else "text/event-stream"
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Transfer-Encoding", "chunked")
        for k, v in reply.headers.items():
            self.send_header(k, v)
        self.end_headers()
        text = reply.text
        if reply.cut_after is not None:
            text = text[: reply.cut_after]
        pieces = [text[i : i + reply.piece] for i in range(0, len(text), reply.piece)] or [""]
        events = _stream_events(kind, req, reply, pieces)
        for i, ev in enumerate(events):
            if reply.cut_after is not None and ev is _END:
                self._drop()
                return
            if ev is _END:
                continue
            self._chunk(ev)
            if reply.gap and 0 < i < len(events) - 1:
                if self.owner._stop.wait(reply.gap):
                    return
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


#: marks where the body text ends and the closing events begin
_END = object()


def _sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    return (head + "data: " + (data if isinstance(data, str) else json.dumps(data)) + "\n\n").encode()


def _model(req: FakeRequest, reply: Reply) -> str:
    return reply.model or req.model or "fake-model"


def _tool_input(req: FakeRequest, text: str) -> Any:
    """Anthropic with a tool: a JSON object becomes the tool's input; anything else stays text."""
    if not (req.body or {}).get("tools"):
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _answer(kind: str, req: FakeRequest, reply: Reply) -> Any:
    tin, tout = reply.usage
    model = _model(req, reply)
    cut = reply.finish == "length"
    if kind == "openai":
        message: dict[str, Any] = {"role": "assistant", "content": None if reply.refusal else reply.text}
        if reply.refusal:
            message["refusal"] = reply.refusal
        return {
            "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": message, "finish_reason": "length" if cut else "stop"}],
            "usage": _openai_usage(reply),
        }
    if kind == "anthropic":
        if reply.refusal:
            return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": reply.refusal}], "stop_reason": "refusal", "stop_sequence": None,
                    "usage": _anthropic_usage(reply)}
        tool = None if cut else _tool_input(req, reply.text)
        block = (
            {"type": "tool_use", "id": "toolu_fake", "name": req.body["tools"][0]["name"], "input": tool}
            if tool is not None else {"type": "text", "text": reply.text}
        )
        return {
            "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [block],
            "stop_reason": "max_tokens" if cut else "tool_use" if tool is not None else "end_turn", "stop_sequence": None,
            "usage": _anthropic_usage(reply),
        }
    if kind == "gemini":
        if reply.refusal:
            return {"candidates": [{"content": {"parts": [], "role": "model"}, "finishReason": "SAFETY", "index": 0}],
                    "usageMetadata": _gemini_usage(reply), "modelVersion": model}
        return {
            "candidates": [{"content": {"parts": [{"text": reply.text}], "role": "model"},
                            "finishReason": "MAX_TOKENS" if cut else "STOP", "index": 0}],
            "usageMetadata": _gemini_usage(reply),
            "modelVersion": model,
        }
    return {
        "model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": reply.text},
        "done": True, "done_reason": "length" if cut else "stop", "prompt_eval_count": tin, "eval_count": tout,
    }


def _openai_usage(reply: Reply) -> dict[str, Any]:
    tin, tout = reply.usage
    return {"prompt_tokens": tin, "completion_tokens": tout, "total_tokens": tin + tout,
            "prompt_tokens_details": {"cached_tokens": reply.cached[0]}}


def _anthropic_usage(reply: Reply) -> dict[str, Any]:
    """input_tokens is only the uncached part."""
    tin, tout = reply.usage
    read, write = reply.cached
    return {"input_tokens": tin - read - write, "output_tokens": tout,
            "cache_read_input_tokens": read, "cache_creation_input_tokens": write}


def _gemini_usage(reply: Reply) -> dict[str, Any]:
    tin, tout = reply.usage
    out = {"promptTokenCount": tin, "candidatesTokenCount": tout, "totalTokenCount": tin + tout}
    if reply.cached[0]:
        out["cachedContentTokenCount"] = reply.cached[0]
    return out


def _stream_events(kind: str, req: FakeRequest, reply: Reply, pieces: list[str]) -> list[Any]:
    tin, tout = reply.usage
    model = _model(req, reply)
    if kind == "openai":
        def chunk(delta: dict, finish: str | None = None) -> bytes:
            return _sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                         "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
        return [
            chunk({"role": "assistant", "content": ""}),
            *[chunk({"content": p}) for p in pieces],
            _END,
            chunk({}, "length" if reply.finish == "length" else "stop"),
            _sse({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model, "choices": [],
                  "usage": _openai_usage(reply)}),
            _sse("[DONE]"),
        ]
    if kind == "anthropic":
        tool = _tool_input(req, reply.text)
        if tool is not None:
            start = {"type": "tool_use", "id": "toolu_fake", "name": req.body["tools"][0]["name"], "input": {}}
            delta = lambda p: {"type": "input_json_delta", "partial_json": p}  # noqa: E731
        else:
            start = {"type": "text", "text": ""}
            delta = lambda p: {"type": "text_delta", "text": p}  # noqa: E731
        return [
            _sse({"type": "message_start", "message": {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                  "content": [], "stop_reason": None, "usage": {**_anthropic_usage(reply), "output_tokens": 1}}}, "message_start"),
            _sse({"type": "content_block_start", "index": 0, "content_block": start}, "content_block_start"),
            _sse({"type": "ping"}, "ping"),
            *[_sse({"type": "content_block_delta", "index": 0, "delta": delta(p)}, "content_block_delta") for p in pieces],
            _END,
            _sse({"type": "content_block_stop", "index": 0}, "content_block_stop"),
            _sse({"type": "message_delta", "delta": {"stop_reason": "max_tokens" if reply.finish == "length" else "tool_use" if tool is not None else "end_turn", "stop_sequence": None},
                  "usage": {"output_tokens": tout}}, "message_delta"),
            _sse({"type": "message_stop"}, "message_stop"),
        ]
    if kind == "gemini":
        def part(text: str) -> dict:
            return {"candidates": [{"content": {"parts": [{"text": text}], "role": "model"}, "index": 0}], "modelVersion": model}
        last = part(pieces[-1])
        last["candidates"][0]["finishReason"] = "MAX_TOKENS" if reply.finish == "length" else "STOP"
        last["usageMetadata"] = _gemini_usage(reply)
        return [*[_sse(part(p)) for p in pieces[:-1]], _END, _sse(last)]
    line = lambda obj: (json.dumps(obj) + "\n").encode()  # noqa: E731
    return [
        *[line({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": p}, "done": False}) for p in pieces],
        _END,
        line({"model": model, "created_at": "2026-01-01T00:00:00Z", "message": {"role": "assistant", "content": ""},
              "done": True, "done_reason": "length" if reply.finish == "length" else "stop", "prompt_eval_count": tin, "eval_count": tout}),
    ]


def _error_body(kind: str, status: int, message: str, req: FakeRequest | None = None) -> Any:
    if kind == "anthropic":
        etype = {429: "rate_limit_error", 401: "authentication_error", 529: "overloaded_error"}.get(status, "api_error" if status >= 500 else "invalid_request_error")
        return {"type": "error", "error": {"type": etype, "message": message}}
    if kind == "gemini":
        status_name = {429: "RESOURCE_EXHAUSTED", 400: "INVALID_ARGUMENT"}.get(status, "ERROR")
        return {"error": {"code": status, "message": message, "status": status_name}}
    if kind == "ollama":
        return {"error": message}
    if message.startswith("llama.cpp:"):
        return {"error": {"code": status, "message": message.split(":", 1)[1].strip(), "type": "server_error"}}
    code, _, text = message.partition("|") if "|" in message else (status, "", message)
    return {"error": {"message": text, "type": "invalid_request_error" if status == 400 else "fake_error", "code": code,
                      "param": "response_format" if code == "invalid_json_schema" else None}}
