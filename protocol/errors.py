"""JSON-RPC error codes (DESIGN.md section 4) and the exception that carries them.

Kept free of third-party imports: the fast CLI path raises these too.
"""

from __future__ import annotations

from typing import Any

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603

NOT_FOUND = -32001
PROTOCOL_MISMATCH = -32002
CONFLICT = -32003
FORBIDDEN = -32004
BUDGET_EXCEEDED = -32005
PROVIDER_ERROR = -32006
SNAPSHOT_ERROR = -32007
UNAVAILABLE = -32008

#: Octra's own codes and the ``data.kind`` each one carries.
KINDS: dict[int, str] = {
    NOT_FOUND: "not_found",
    PROTOCOL_MISMATCH: "protocol_mismatch",
    CONFLICT: "conflict",
    FORBIDDEN: "forbidden",
    BUDGET_EXCEEDED: "budget_exceeded",
    PROVIDER_ERROR: "provider_error",
    SNAPSHOT_ERROR: "snapshot_error",
    UNAVAILABLE: "unavailable",
    PARSE_ERROR: "parse_error",
    INVALID_REQUEST: "invalid_request",
    METHOD_NOT_FOUND: "method_not_found",
    INVALID_PARAMS: "invalid_params",
    INTERNAL_ERROR: "internal_error",
}
CODES: dict[str, int] = {kind: code for code, kind in KINDS.items()}


class RpcError(Exception):
    """An error answer: raised by daemon handlers, and by clients on receipt."""

    def __init__(self, code: int, message: str, data: dict[str, Any] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.data = dict(data or {})
        self.data.setdefault("kind", KINDS.get(code, "error"))

    @property
    def kind(self) -> str:
        return self.data["kind"]

    @classmethod
    def of(cls, kind: str, message: str, **data: Any) -> "RpcError":
        """Build an error from its kind name, e.g. ``RpcError.of("not_found", ...)``."""
        return cls(CODES[kind], message, {"kind": kind, **data})

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "data": self.data}

    def __repr__(self) -> str:
        return f"RpcError({self.code}, {self.message!r}, {self.data!r})"


class ConnectionLost(Exception):
    """The daemon went away while a call was waiting for its answer."""


class DaemonUnreachable(Exception):
    """No daemon answers on the socket (and autostart was off or failed)."""
