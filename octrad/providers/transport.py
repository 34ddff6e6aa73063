"""HTTP exchanges with a provider: one request, its answer (JSON, SSE or
NDJSON), and the retries that make an unreliable network usable.

Retried: 408/409/425/429 and 5xx (honouring ``Retry-After`` /
``retry-after-ms``, and Gemini's ``google.rpc.RetryInfo.retryDelay`` in the
body), connect errors, timeouts, and a stream cut before the provider said it
was finished; ``x-should-retry: true|false`` overrides the status, as in the
official SDKs.  Not retried: other 4xx (bad key, bad request), which fail at
once with the provider's own explanation, and a prompt too long for the
model's context (any status: repeating it cannot help).  Bodies are read as
a stream with a size cap (``max_answer_bytes``), never whole into memory.
Cancellation stops the request immediately (httpx runs on anyio).
"""

from __future__ import annotations

import codecs
import hashlib
import logging
import random
import re
from collections import OrderedDict
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, NamedTuple, Protocol

import anyio
import httpx
import msgspec

from ..retry import parse_retry_after
from .types import Completion, CompletionRequest, ProviderConfig

log = logging.getLogger(__name__)

RETRY_STATUS = {408, 409, 425, 429}
DEFAULT_TIMEOUT_S = 600.0
CONNECT_TIMEOUT_S = 10.0
#: the largest answer body read (a bigger one is refused, never buffered whole)
MAX_ANSWER_BYTES = 8 * 1024 * 1024

#: how providers say the prompt does not fit the model's context
_OVERFLOW = re.compile(
    r"context_length_exceeded|maximum context length|context size has been exceeded|exceeds? the available context"
    r"|prompt is too long|input token count.*exceeds|exceeds the maximum number of tokens|context window|too many tokens",
    re.I | re.S,
)
#: how an OpenAI-compatible server says it does not take the structured-output request
_STRUCTURED = re.compile(r"response_format|json_schema|json schema|structured output|\bstrict\b", re.I)


class ProviderFailure(Exception):
    """A provider exchange failed; the message is for people and holds no key.

    ``kind``: "transport" (network, HTTP, shape), "too_large" (the answer
    passed the size cap), "context_overflow" (the prompt does not fit),
    "structured_rejected" (a 400 about response_format), "refusal".
    """

    def __init__(
        self, message: str, *, retryable: bool = False, status: int | None = None, retry_after: float | None = None,
        kind: str = "transport",
    ):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        self.kind = kind


class Progress:
    """What an exchange has produced so far: kept when it fails or is cancelled,
    so its tokens are still recorded (a runaway answer counts against budgets)."""

    def __init__(self) -> None:
        self.chars_out = 0
        self.tokens_in = 0
        self.tokens_out = 0
        #: (tokens_in, tokens_out, chars_out) of earlier tries that broke off after the answer began
        self.abandoned: list[tuple[int, int, int]] = []

    def reset(self) -> None:
        if self.chars_out or self.tokens_out:
            self.abandoned.append((self.tokens_in, self.tokens_out, self.chars_out))
        self.chars_out = self.tokens_in = self.tokens_out = 0


class RetryPolicy(msgspec.Struct, kw_only=True):
    #: transport retries after the first try
    max_retries: int = 4
    base_s: float = 0.5
    cap_s: float = 20.0
    #: the longest Retry-After we are willing to wait
    retry_after_cap_s: float = 60.0

    def delay(self, retry: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.retry_after_cap_s)
        ceiling = min(self.cap_s, self.base_s * (2**retry))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


class HttpRequest(NamedTuple):
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    #: None: one JSON answer; "sse" or "ndjson": a stream
    stream: str | None = None


class StreamDecoder(Protocol):
    done: bool

    def feed(self, event: str | None, data: str) -> str:
        """Take one SSE event / NDJSON line; return the text it adds."""

    def result(self) -> Completion: ...


def stream_chunk(data: str, what: str = "event") -> Any:
    """One SSE event's data or NDJSON line, decoded; a malformed one is a retryable failure."""
    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        raise ProviderFailure(f"malformed stream {what}: {data[:120]!r}", retryable=True) from None


class UsageStream:
    """The state a stream decoder keeps that the transport reads as the answer
    streams: ``done``, and the tokens counted so far (``tokens_in`` /
    ``tokens_out``, for progress), with the answer's model and finish reason.
    ``usage`` holds ``tokens_in``, ``tokens_out``, ``tokens_cached`` and any
    ``extra`` counters the provider reports."""

    def __init__(self, *extra: str) -> None:
        self.done = False
        self.usage = {"tokens_in": 0, "tokens_out": 0, "tokens_cached": 0, **dict.fromkeys(extra, 0)}
        self.model = ""
        self.finish = "stop"

    @property
    def tokens_in(self) -> int:
        return self.usage["tokens_in"]

    @property
    def tokens_out(self) -> int:
        return self.usage["tokens_out"]


class Adapter(Protocol):
    """One wire format (see the kind modules)."""

    kind: str

    def build(self, cfg: ProviderConfig, req: CompletionRequest) -> HttpRequest: ...

    def parse(self, data: Any) -> Completion: ...

    def decoder(self) -> StreamDecoder: ...


class ClientPool:
    """httpx clients per (origin, key) scope, so connections are reused
    without any client ever carrying another key.  Keys go in per-request
    headers; the pool only holds a hash of them.  Past ``size`` scopes the
    least recently used client is retired and closed once its last request ends."""

    def __init__(self, size: int = 32):
        self.size = size
        self._clients: OrderedDict[tuple[str, str, float], httpx.AsyncClient] = OrderedDict()
        self._busy: dict[int, int] = {}
        self._retired: list[httpx.AsyncClient] = []
        #: building an SSL context costs milliseconds; one serves every client
        self._ssl: Any = None

    def warm(self) -> None:
        """Build the SSL context now rather than in the first call."""
        if self._ssl is None:
            self._ssl = httpx.create_ssl_context()

    @asynccontextmanager
    async def lease(self, url: str, api_key: str | None, timeout_s: float) -> AsyncIterator[httpx.AsyncClient]:
        origin = httpx.URL(url)
        scope = (f"{origin.scheme}://{origin.netloc.decode()}", hashlib.sha256((api_key or "").encode()).hexdigest(), timeout_s)
        client = self._clients.get(scope)
        if client is not None:
            self._clients.move_to_end(scope)
        else:
            self.warm()
            client = httpx.AsyncClient(
                timeout=httpx.Timeout(timeout_s, connect=min(CONNECT_TIMEOUT_S, timeout_s)), verify=self._ssl
            )
            self._clients[scope] = client
            while len(self._clients) > self.size:
                self._retired.append(self._clients.popitem(last=False)[1])
        self._busy[id(client)] = self._busy.get(id(client), 0) + 1
        try:
            yield client
        finally:
            left = self._busy[id(client)] = self._busy[id(client)] - 1
            if not left:
                del self._busy[id(client)]
            idle = [c for c in self._retired if id(c) not in self._busy]
            if idle:
                self._retired = [c for c in self._retired if id(c) in self._busy]
                with anyio.CancelScope(shield=True):
                    for c in idle:
                        await c.aclose()

    async def aclose(self) -> None:
        clients = [*self._clients.values(), *self._retired]
        self._clients, self._retired = OrderedDict(), []
        for c in clients:
            with anyio.CancelScope(shield=True):
                await c.aclose()




def _error_obj(body: bytes) -> Any:
    try:
        data = msgspec.json.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    return data


def error_detail(body: bytes) -> str:
    """The provider's own explanation of an error answer, short."""
    data = _error_obj(body)
    if data is None:
        text = body.decode("utf-8", "replace").strip()
        return text[:500] or "(empty body)"
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("type") or err.get("status")
            code = err.get("code")
            if msg:
                text = str(msg)
                if isinstance(code, str) and code not in text:
                    text = f"{code}: {text}"
                return text[:500]
        elif isinstance(err, str):
            return err[:500]
    return msgspec.json.encode(data).decode()[:500]


def _duration(value: Any) -> float | None:
    """A protobuf Duration as JSON ("37s", "1.5s") in seconds."""
    if isinstance(value, str) and value.endswith("s"):
        try:
            return max(0.0, float(value[:-1]))
        except ValueError:
            return None
    if isinstance(value, dict):
        return float(value.get("seconds") or 0) + float(value.get("nanos") or 0) / 1e9
    return None


def body_retry_delay(body: bytes) -> float | None:
    """Gemini (Google APIs) put the wait in ``error.details[]`` as a ``google.rpc.RetryInfo``."""
    data = _error_obj(body)
    err = data.get("error") if isinstance(data, dict) else None
    details = err.get("details") if isinstance(err, dict) else None
    for d in details if isinstance(details, list) else ():
        if isinstance(d, dict) and str(d.get("@type", "")).endswith("google.rpc.RetryInfo"):
            return _duration(d.get("retryDelay"))
    return None


async def sse_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, str]]:
    """(event, data) pairs of a server-sent event stream."""
    event: str | None = None
    data: list[str] = []
    async for line in lines:
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = None, []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        if value.startswith(" "):
            value = value[1:]
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


async def ndjson_events(lines: AsyncIterator[str]) -> AsyncIterator[tuple[str | None, str]]:
    async for line in lines:
        if line.strip():
            yield None, line


async def exchange(
    pool: ClientPool,
    adapter: Adapter,
    cfg: ProviderConfig,
    req: CompletionRequest,
    *,
    policy: RetryPolicy,
    on_text: Callable[[str], Any] | None = None,
    on_retry: Callable[[ProviderFailure, float, int], Any] | None = None,
    progress: Progress | None = None,
) -> Completion:
    """One completion, retried through transient failures; raises :class:`ProviderFailure`.

    ``on_retry(failure, wait, retry)`` is awaited before each retry;
    ``progress`` tracks the text of the exchange under way.
    """
    timeout_s = cfg.timeout_s or DEFAULT_TIMEOUT_S
    cap = cfg.max_answer_bytes or MAX_ANSWER_BYTES
    http = adapter.build(cfg, req)
    progress = progress if progress is not None else Progress()
    retry = 0
    while True:
        progress.reset()
        try:
            with anyio.fail_after(timeout_s):
                async with pool.lease(http.url, cfg.api_key, timeout_s) as client:
                    done = await _once(client, adapter, http, on_text, cap, progress)
            done.tries = retry + 1
            return done
        except TimeoutError:
            failure = ProviderFailure(f"no complete answer within {timeout_s:g}s", retryable=True)
        except httpx.TimeoutException as exc:
            failure = ProviderFailure(f"timed out ({type(exc).__name__})", retryable=True)
        except httpx.ConnectError as exc:
            failure = ProviderFailure(f"cannot connect to {httpx.URL(http.url).host}: {exc}", retryable=True)
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            failure = ProviderFailure(f"connection broke off: {exc}", retryable=True)
        except httpx.HTTPError as exc:
            failure = ProviderFailure(f"HTTP failure: {type(exc).__name__}: {exc}", retryable=False)
        except ProviderFailure as exc:
            failure = exc
        except RecursionError:
            failure = ProviderFailure("the provider's answer is JSON nested too deeply to read", retryable=True)
        if not failure.retryable or retry >= policy.max_retries:
            if retry:
                failure.message += f" (after {retry + 1} tries)"
            raise failure
        wait = policy.delay(retry, failure.retry_after)
        if on_retry is not None:
            await on_retry(failure, wait, retry + 1)
        log.info("%s (model %s): %s; retrying in %.2fs", cfg.name, req.model, failure.message, wait)
        await anyio.sleep(wait)
        retry += 1


async def _capped_lines(resp: httpx.Response, cap: int) -> AsyncIterator[str]:
    """The body's lines, refusing to read past ``cap`` bytes (one huge line included)."""
    decoder = codecs.getincrementaldecoder("utf-8")("replace")
    seen = 0
    buf = ""
    async for chunk in resp.aiter_bytes():
        seen += len(chunk)
        if seen > cap:
            raise _too_large(cap)
        text = decoder.decode(chunk)
        buf += text
        if "\n" not in text:
            continue
        *lines, buf = buf.split("\n")
        for line in lines:
            yield line[:-1] if line.endswith("\r") else line
    buf += decoder.decode(b"", final=True)
    if buf:
        yield buf.removesuffix("\r")


def _too_large(cap: int) -> ProviderFailure:
    return ProviderFailure(
        f"the answer is larger than {cap:,} bytes (max_answer_bytes); it was not read further",
        kind="too_large",
    )


async def _read_capped(resp: httpx.Response, cap: int) -> bytes:
    parts: list[bytes] = []
    seen = 0
    async for chunk in resp.aiter_bytes():
        seen += len(chunk)
        if seen > cap:
            raise _too_large(cap)
        parts.append(chunk)
    return b"".join(parts)


async def _once(
    client: httpx.AsyncClient, adapter: Adapter, http: HttpRequest, on_text, cap: int, progress: Progress
) -> Completion:
    async with client.stream("POST", http.url, headers=http.headers, json=http.body) as resp:
        if resp.status_code >= 400:
            _check(resp, await _read_capped(resp, 64 * 1024))
        if http.stream is None:
            body = await _read_capped(resp, cap)
            try:
                data = msgspec.json.decode(body)
            except msgspec.DecodeError as exc:
                raise ProviderFailure(f"the provider's answer is not JSON: {exc}", retryable=True) from None
            return adapter.parse(data)
        decoder = adapter.decoder()
        lines = _capped_lines(resp, cap)
        events = sse_events(lines) if http.stream == "sse" else ndjson_events(lines)
        async for event, data in events:
            if decoder.done:
                continue  # read to the end, so the connection can be reused
            text = decoder.feed(event, data)
            progress.tokens_in = getattr(decoder, "tokens_in", 0) or progress.tokens_in
            progress.tokens_out = getattr(decoder, "tokens_out", 0) or progress.tokens_out
            if text:
                progress.chars_out += len(text)
                if on_text is not None:
                    await on_text(text)
        if not decoder.done:
            raise ProviderFailure("the stream ended before the answer was complete", retryable=True)
        return decoder.result()


def _check(resp: httpx.Response, body: bytes) -> None:
    status = resp.status_code
    if status < 400:
        return
    detail = error_detail(body)
    if status != 429 and _OVERFLOW.search(detail):  # a rate limit on tokens per minute is not an overflow
        raise ProviderFailure(f"HTTP {status}: {detail}", status=status, kind="context_overflow")
    retryable = status in RETRY_STATUS or status >= 500
    should = resp.headers.get("x-should-retry", "").strip().lower()
    if should in ("true", "false"):
        retryable = should == "true"
    kind = "structured_rejected" if status == 400 and _STRUCTURED.search(detail) else "transport"
    wait = None
    if retryable:
        wait = parse_retry_after(resp.headers)
        if wait is None:
            wait = body_retry_delay(body)
    raise ProviderFailure(f"HTTP {status}: {detail}", retryable=retryable, status=status, retry_after=wait, kind=kind)
