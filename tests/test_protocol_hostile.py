"""Hostile frames on the real socket: deep nesting, invalid UTF-8, lines at
the size cap.  Each gets a JSON-RPC error, the connection (where DESIGN.md
section 4 keeps it) serves the next request, and the daemon logs no traceback
for a client's bad input."""

from __future__ import annotations

import pytest

from octra_protocol.wire import MAX_LINE
from tests.rawsock import RawConn

STATUS = {"jsonrpc": "2.0", "id": 99, "method": "daemon.status"}


def still_serves(conn: RawConn, daemon) -> None:
    assert conn.call(STATUS)["result"]["pid"] == daemon.proc.pid


def no_traceback(daemon) -> None:
    log = daemon.oenv.log_file.read_text(errors="replace")
    assert "Traceback" not in log and "ERROR" not in log, log[-3000:]


@pytest.mark.parametrize("frame", [
    b"[" * 100_000,  # a batch that never ends
    b"[" * 100_000 + b"]" * 100_000,  # balanced, still far too deep
    b'{"jsonrpc":"2.0","id":1,"method":"daemon.status","params":' + b"[" * 100_000,
    b'{"jsonrpc":"2.0","id":2,"method":"context.add","params":{"project":"p","scope":"global","type":"note",'
    b'"content":' + b"{\"a\":" * 50_000 + b"1" + b"}" * 50_000 + b"}}",
], ids=["open-batch", "balanced-batch", "open-params", "balanced-params"])
def test_deep_nesting_is_an_invalid_request_and_the_connection_lives(daemon, frame):
    conn = RawConn(daemon.socket)
    conn.send(frame + b"\n")
    ans = conn.recv_json()
    assert ans["error"]["code"] in (-32600, -32700), ans
    assert "nested too deeply" in ans["error"]["message"]
    still_serves(conn, daemon)
    no_traceback(daemon)


def test_invalid_utf8_in_params_is_invalid_params(daemon):
    conn = RawConn(daemon.socket)
    conn.send(b'{"jsonrpc":"2.0","id":3,"method":"context.add","params":{"project":"\xff\xfe","scope":"global",'
              b'"type":"note","content":"x"}}\n')
    ans = conn.recv_json()
    assert ans["id"] == 3 and ans["error"]["code"] == -32602, ans
    assert "UTF-8" in ans["error"]["message"]
    # in a batch too
    conn.send(b'[{"jsonrpc":"2.0","id":4,"method":"settings.set","params":{"sandbox":"\xc3"}}]\n')
    (ans,) = conn.recv_json()
    assert ans["id"] == 4 and ans["error"]["code"] == -32602, ans
    # in the envelope itself: a parse error
    conn.send(b'{"jsonrpc":"2.0","id":5,"method":"daemon.st\xffatus"}\n')
    assert conn.recv_json()["error"]["code"] == -32700
    still_serves(conn, daemon)
    no_traceback(daemon)


def padded(n: int) -> bytes:
    """A valid daemon.status request of exactly ``n`` bytes (JSON whitespace inside the object)."""
    head, tail = b'{"jsonrpc":"2.0","id":7,"method":"daemon.status"', b"}"
    return head + b" " * (n - len(head) - len(tail)) + tail


def test_the_line_cap_is_exact(daemon):
    conn = RawConn(daemon.socket, timeout=60)
    line = padded(MAX_LINE)
    assert len(line) == MAX_LINE
    conn.send(line + b"\n")
    ans = conn.recv_json()
    assert ans["id"] == 7 and ans["result"]["pid"] == daemon.proc.pid, ans
    still_serves(conn, daemon)  # accepted, and the connection stays

    conn = RawConn(daemon.socket, timeout=60)
    try:  # the newline arrives in the same chunk: the cap holds all the same
        conn.send(padded(MAX_LINE + 1) + b"\n")
    except (BrokenPipeError, ConnectionResetError):
        pass
    ans = conn.recv_json()
    assert ans["error"]["code"] == -32600 and "exceeds" in ans["error"]["message"], ans
    with pytest.raises((EOFError, ConnectionResetError)):
        conn.line()
    still_serves(RawConn(daemon.socket), daemon)
    no_traceback(daemon)
