"""Method dispatch: decode a frame, validate params against the protocol's
types, run the handler, encode the answer.  Errors become JSON-RPC errors with
the codes of DESIGN.md section 4; nothing a client sends can crash the daemon.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable

import msgspec

from octra_protocol import errors as E
from octra_protocol.errors import RpcError
from octra_protocol.methods import all_methods
from octra_protocol.wire import ErrorObject, ErrorResponse, Request, Response

from .redact import redact, redact_obj

if TYPE_CHECKING:
    from .daemon import Daemon
    from .server import Connection

log = logging.getLogger(__name__)

Handler = Callable[["Call", Any], Awaitable[Any]]


@dataclass
class Call:
    """What a handler gets besides its params."""

    daemon: "Daemon"
    conn: "Connection"
    method: str
    #: callables run once the answer has been sent (e.g. shutting down)
    after_reply: list = field(default_factory=list)


@dataclass
class Route:
    name: str
    params_type: type
    fn: Handler
    #: runs in the connection's reader without a task of its own (quick, never waits on I/O)
    inline: bool = False


class Router:
    """The table of implemented methods.  Handlers register with :meth:`method`."""

    def __init__(self) -> None:
        self.protocol = all_methods()
        self.routes: dict[str, Route] = {}

    def method(self, name: str, *, inline: bool = False) -> Callable[[Handler], Handler]:
        if name not in self.protocol:
            raise KeyError(f"{name} is not a protocol method (add it to octra_protocol.methods)")

        def register(fn: Handler) -> Handler:
            self.routes[name] = Route(name, self.protocol[name].params, fn, inline)
            return fn

        return register

    # -- frames -----------------------------------------------------------
    def parse(self, raw: bytes | msgspec.Raw) -> Request | ErrorResponse:
        """A request, or the error answer for a frame that is not one."""
        try:
            req = msgspec.json.decode(raw, type=Request)
        except msgspec.ValidationError as exc:
            return error_response(_guess_id(raw), RpcError(E.INVALID_REQUEST, f"invalid request: {exc}"))
        except msgspec.DecodeError as exc:
            return error_response(None, RpcError(E.PARSE_ERROR, f"parse error: {exc}"))
        except RecursionError:
            return error_response(None, too_deep())
        if req.jsonrpc != "2.0":
            return error_response(_id(req), RpcError(E.INVALID_REQUEST, 'invalid request: jsonrpc must be "2.0"'))
        return req

    def route(self, req: Request) -> Route | ErrorResponse:
        route = self.routes.get(req.method)
        if route is None:
            if req.method in self.protocol:
                msg = f"method {req.method!r} is part of the protocol but not implemented by this daemon yet"
            else:
                msg = f"method not found: {req.method!r}"
            return error_response(_id(req), RpcError(E.METHOD_NOT_FOUND, msg))
        return route

    async def run(self, route: Route, req: Request, call: Call) -> Response | ErrorResponse | None:
        rid = _id(req)
        try:
            raw = bytes(req.params)
            if raw in (b"null", b""):
                raw = b"{}"
            elif raw[:1] != b"{":
                raise RpcError(E.INVALID_PARAMS, "invalid params: params must be an object", {"detail": "not an object"})
            try:
                params = msgspec.json.decode(raw, type=route.params_type)
            except msgspec.DecodeError as exc:  # wrong types, and text the envelope skipped over (invalid UTF-8)
                raise RpcError(E.INVALID_PARAMS, f"invalid params for {req.method}: {exc}", {"detail": str(exc)}) from None
            except RecursionError:
                raise too_deep() from None
            result = await route.fn(call, params)
            if req.is_notification:
                return None
            return Response(id=rid, result=result if result is not None else {})
        except RpcError as exc:
            return None if req.is_notification else error_response(rid, exc)
        except Exception as exc:
            log.exception("internal error in %s", req.method)
            err = RpcError(E.INTERNAL_ERROR, f"internal error in {req.method}: {type(exc).__name__}: {exc}")
            return None if req.is_notification else error_response(rid, err)


def _id(req: Request) -> Any:
    return None if req.id is msgspec.UNSET else req.id


def _guess_id(raw: bytes | msgspec.Raw) -> Any:
    try:
        obj = msgspec.json.decode(raw)
    except (msgspec.DecodeError, RecursionError):
        return None
    if isinstance(obj, dict) and isinstance(obj.get("id"), (int, str)) and not isinstance(obj.get("id"), bool):
        return obj["id"]
    return None


def too_deep() -> RpcError:
    """The answer to JSON nested past the decoder's recursion limit (a valid text, but no request of ours)."""
    return RpcError(E.INVALID_REQUEST, "invalid request: JSON nested too deeply; no Octra message nests "
                                       "more than a few levels")


def error_response(rid: Any, exc: RpcError) -> ErrorResponse:
    return ErrorResponse(
        id=rid,
        error=ErrorObject(code=exc.code, message=redact(exc.message), data=redact_obj(exc.data) or None),
    )
