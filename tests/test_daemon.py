"""The daemon over its real socket: handshake, errors, batches, concurrency,
permissions, single instance, stale sockets, signals, systemd notify."""

from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys

import anyio
import pytest

from octra_protocol import PROTOCOL_VERSION
from octra_protocol.errors import RpcError
from tests.conftest import DaemonProcess
from tests.rawsock import RawConn


def req(method, params=None, id=1):
    r = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        r["params"] = params
    return r


async def test_handshake_and_status(daemon):
    async with daemon.connect() as c:
        assert c.server["protocol_version"] == PROTOCOL_VERSION
        st = await c.call("daemon.status")
    assert st["pid"] == daemon.proc.pid
    assert st["socket"] == daemon.socket
    assert st["data_dir"] == str(daemon.oenv.data_dir)
    assert st["default_provider"] == "offline"
    assert st["tasks_running"] == 0


def test_protocol_mismatch(daemon):
    conn = RawConn(daemon.socket)
    ans = conn.call(req("initialize", {"client": "old", "protocol_version": "2.0"}))
    assert ans["error"]["code"] == -32002
    assert ans["error"]["data"]["kind"] == "protocol_mismatch"
    # a matching minor version is fine
    ans = conn.call(req("initialize", {"client": "new", "protocol_version": "1.7"}, id=2))
    assert ans["result"]["protocol_version"] == PROTOCOL_VERSION


def test_error_codes_and_survival(daemon):
    conn = RawConn(daemon.socket)
    conn.send(b"this is not json\n")
    ans = conn.recv_json()
    assert ans["error"]["code"] == -32700 and ans["id"] is None
    ans = conn.call({"jsonrpc": "2.0", "id": 7, "method": 42})
    assert ans["error"]["code"] == -32600 and ans["id"] == 7
    ans = conn.call({"hello": "world", "id": 8})
    assert ans["error"]["code"] == -32600
    ans = conn.call({"jsonrpc": "1.0", "id": 9, "method": "daemon.status"})
    assert ans["error"]["code"] == -32600 and ans["id"] == 9
    ans = conn.call(req("no.such.method", id=10))
    assert ans["error"]["code"] == -32601 and ans["id"] == 10
    ans = conn.call(req("initialize", {"client": 5, "protocol_version": "1.0"}, id=11))
    assert ans["error"]["code"] == -32602
    assert "client" in ans["error"]["data"]["detail"]
    ans = conn.call(req("daemon.status", {"unexpected": True}, id=12))
    assert ans["error"]["code"] == -32602 and "unexpected" in ans["error"]["message"]
    ans = conn.call(req("daemon.status", [1, 2], id=13))
    assert ans["error"]["code"] == -32602
    # the same connection still works after all of that
    ans = conn.call(req("daemon.status", id=14))
    assert ans["result"]["pid"] == daemon.proc.pid


def test_oversize_line_is_refused_and_connection_closed(daemon):
    conn = RawConn(daemon.socket, timeout=30)
    chunk = b"x" * (1 << 20)
    try:
        for _ in range(17):
            conn.send(chunk)
    except (BrokenPipeError, ConnectionResetError):
        pass
    ans = conn.recv_json()
    assert ans["error"]["code"] == -32600 and "exceeds" in ans["error"]["message"]
    with pytest.raises((EOFError, ConnectionResetError)):
        conn.line()
    # the daemon lives on
    assert RawConn(daemon.socket).call(req("daemon.status"))["result"]["pid"] == daemon.proc.pid


def test_batch(daemon):
    conn = RawConn(daemon.socket)
    batch = [
        req("initialize", {"client": "b", "protocol_version": PROTOCOL_VERSION}, id="a"),
        req("daemon.status", id=2),
        {"jsonrpc": "2.0", "method": "daemon.status"},  # a notification: no answer
        req("nope", id=3),
        {"id": 4},
    ]
    ans = conn.call(batch)
    assert isinstance(ans, list)
    by_id = {a["id"]: a for a in ans}
    assert set(by_id) == {"a", 2, 3, 4}
    assert by_id["a"]["result"]["protocol_version"] == PROTOCOL_VERSION
    assert by_id[2]["result"]["pid"] == daemon.proc.pid
    assert by_id[3]["error"]["code"] == -32601
    assert by_id[4]["error"]["code"] == -32600
    assert conn.call([])["error"]["code"] == -32600
    conn.send(b"[1, 2\n")
    assert conn.recv_json()["error"]["code"] == -32700


async def test_concurrent_requests_on_one_connection(daemon):
    results = {}
    async with daemon.connect() as c:

        async def one(i):
            method = "daemon.status" if i % 2 else "settings.get"
            results[i] = (method, await c.call(method))

        async with anyio.create_task_group() as tg:
            for i in range(200):
                tg.start_soon(one, i)
        with pytest.raises(RpcError) as err:
            await c.call("daemon.status", {"bad": 1})
        assert err.value.code == -32602
    assert len(results) == 200
    for method, res in results.values():
        assert ("pid" in res) == (method == "daemon.status")
        assert ("sandbox_network" in res) == (method == "settings.get")


def test_socket_and_folder_permissions(daemon):
    assert stat.S_IMODE(os.stat(daemon.socket).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(os.path.dirname(daemon.socket)).st_mode) == 0o700
    assert stat.S_ISSOCK(os.stat(daemon.socket).st_mode)


def test_second_daemon_is_refused(daemon):
    second = subprocess.run(
        [sys.executable, "-m", "octrad", "serve"], env=daemon.oenv.env, capture_output=True, text=True, timeout=30
    )
    assert second.returncode == 1
    assert "already running" in second.stderr or "already answers" in second.stderr
    # the first one is unharmed
    assert RawConn(daemon.socket).call(req("daemon.status"))["result"]["pid"] == daemon.proc.pid


def test_stale_socket_is_replaced(octra_env):
    os.makedirs(os.path.dirname(octra_env.socket), mode=0o700)
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(octra_env.socket)
    stale.close()  # the file stays, nobody listens
    assert os.path.exists(octra_env.socket)
    d = DaemonProcess(octra_env).start()
    try:
        assert RawConn(d.socket).call(req("daemon.status"))["result"]["pid"] == d.proc.pid
    finally:
        d.stop()


def test_sigterm_shuts_down_cleanly(daemon):
    conn = RawConn(daemon.socket)
    conn.call(req("daemon.status"))
    assert daemon.stop(signal.SIGTERM) == 0
    assert not os.path.exists(daemon.socket)
    assert not os.path.exists(daemon.socket + ".lock")
    assert conn.closed()
    log = daemon.oenv.log_file.read_text()
    assert "signal SIGTERM" in log and "octrad stopped" in log


def test_sigint_and_shutdown_method(daemon):
    conn = RawConn(daemon.socket)
    assert conn.call(req("daemon.shutdown")) == {"jsonrpc": "2.0", "id": 1, "result": {}}
    assert daemon.proc.wait(20) == 0
    assert not os.path.exists(daemon.socket)
    d = DaemonProcess(daemon.oenv).start()
    assert d.stop(signal.SIGINT) == 0


def test_sd_notify_ready(octra_env):
    addr = str(octra_env.root / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(addr)
    listener.settimeout(20)
    d = DaemonProcess(octra_env).start(env={"NOTIFY_SOCKET": addr})
    try:
        assert listener.recv(100) == b"READY=1"
        # a SIGTERM at once after READY is a clean shutdown, not a kill
        assert d.stop() == 0
        assert listener.recv(100) == b"STOPPING=1"
    finally:
        listener.close()
        d.kill()


@pytest.mark.skipif(os.getuid() != 0, reason="needs root to connect as another uid")
def test_peer_of_another_uid_is_refused(daemon):
    # open the doors just enough for uid 65534 to reach the socket at all
    os.chmod(daemon.oenv.root, 0o755)
    os.chmod(daemon.oenv.runtime, 0o755)
    os.chmod(os.path.dirname(daemon.socket), 0o755)
    os.chmod(daemon.socket, 0o666)
    code = (
        "import os, socket, json\n"
        "os.setgid(65534); os.setuid(65534)\n"
        f"s=socket.socket(socket.AF_UNIX); s.connect({daemon.socket!r})\n"
        "try:\n"
        "    s.sendall(b'{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"daemon.status\"}\\n')\n"
        "except BrokenPipeError:\n"
        "    pass  # the daemon may have answered and closed first\n"
        "print(s.recv(65536).decode())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    ans = json.loads(out.stdout.splitlines()[0])
    assert ans["error"]["code"] == -32004
    assert "pid" not in out.stdout


def test_log_file_written(daemon):
    assert "ready on" in daemon.oenv.log_file.read_text()


def test_bad_config_is_a_clear_error(octra_env):
    octra_env.config.write_text("log_level = 'loud'\n")
    out = subprocess.run([sys.executable, "-m", "octrad", "serve"], env=octra_env.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1
    assert "log_level" in out.stderr and "Traceback" not in out.stderr
    octra_env.config.write_text("[settings\n")
    out = subprocess.run([sys.executable, "-m", "octrad", "serve"], env=octra_env.env, capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and str(octra_env.config) in out.stderr and "invalid TOML" in out.stderr
