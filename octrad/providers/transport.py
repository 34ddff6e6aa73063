"""HTTP exchanges with a provider: one request, its answer (JSON, SSE or
NDJSON), and the retries that make an unreliable network usable.

Retried: 408/409/425/429 and 5xx (honouring ``Retry-After`` /
``retry-after-ms``), connect errors, timeouts, and a stream cut before the
provider said it was finished.  Not retried: other 4xx (bad key, bad request),
which fail at once with the provider's own explanation.  Cancellation stops
the request immediately (httpx runs on anyio).
"""

from __future__ import annotations

import hashlib
import logging
import random
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


class ProviderFailure(Exception):
    """A provider exchange failed; the message is for people and holds no key."""

    def __init__(self, message: str, *, retryable: bool = False, status: int | None = None, retry_after: float | None = None):
        super().__init__(message)
        self.message = message
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after


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




def error_detail(body: bytes) -> str:
    """The provider's own explanation of an error answer, short."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError:
        text = body.decode("utf-8", "replace").strip()
        return text[:300] or "(empty body)"
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            msg = err.get("message") or err.get("msg") or err.get("type") or err.get("status")
            if msg:
                return str(msg)[:300]
        elif isinstance(err, str):
            return err[:300]
    return msgspec.json.encode(data).decode()[:300]


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
    on_retry: Callable[[ProviderFailure, float], Any] | None = None,
) -> Completion:
    """One completion, retried through transient failures; raises :class:`ProviderFailure`."""
    timeout_s = cfg.timeout_s or DEFAULT_TIMEOUT_S
    http = adapter.build(cfg, req)
    retry = 0
    while True:
        try:
            with anyio.fail_after(timeout_s):
                async with pool.lease(http.url, cfg.api_key, timeout_s) as client:
                    done = await _once(client, adapter, http, on_text)
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
        if not failure.retryable or retry >= policy.max_retries:
            if retry:
                failure.message += f" (after {retry + 1} tries)"
            raise failure
        wait = policy.delay(retry, failure.retry_after)
        if on_retry is not None:
            await on_retry(failure, wait)
        log.info("%s (model %s): %s; retrying in %.2fs", cfg.name, req.model, failure.message, wait)
        await anyio.sleep(wait)
        retry += 1


async def _once(client: httpx.AsyncClient, adapter: Adapter, http: HttpRequest, on_text) -> Completion:
    if http.stream is None:
        resp = await client.post(http.url, headers=http.headers, json=http.body)
        _check(resp, resp.content)
        try:
            data = msgspec.json.decode(resp.content)
        except msgspec.DecodeError as exc:
            raise ProviderFailure(f"the provider's answer is not JSON: {exc}", retryable=True) from None
        return adapter.parse(data)
    async with client.stream("POST", http.url, headers=http.headers, json=http.body) as resp:
        if resp.status_code >= 400:
            _check(resp, await resp.aread())
        decoder = adapter.decoder()
        events = sse_events(resp.aiter_lines()) if http.stream == "sse" else ndjson_events(resp.aiter_lines())
        async for event, data in events:
            if decoder.done:
                continue  # read to the end, so the connection can be reused
            text = decoder.feed(event, data)
            if text and on_text is not None:
                await on_text(text)
        if not decoder.done:
            raise ProviderFailure("the stream ended before the answer was complete", retryable=True)
        return decoder.result()


def _check(resp: httpx.Response, body: bytes) -> None:
    status = resp.status_code
    if status < 400:
        return
    retryable = status in RETRY_STATUS or status >= 500
    raise ProviderFailure(
        f"HTTP {status}: {error_detail(body)}",
        retryable=retryable,
        status=status,
        retry_after=parse_retry_after(resp.headers) if retryable else None,
    )
