"""The Unix socket server: binding (or taking a systemd-passed socket), peer
checks, and one :class:`Connection` per client reading NDJSON frames."""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import socket
import struct
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import msgspec
from anyio.abc import SocketAttribute, SocketListener

from octra_protocol import errors as E
from octra_protocol.errors import RpcError
from octra_protocol.paths import APP_NAME
from octra_protocol.wire import MAX_LINE, ErrorResponse, LineReader, LineTooLong, encode_line

from .rpc import Call, error_response, too_deep

if TYPE_CHECKING:
    from .daemon import Daemon

log = logging.getLogger(__name__)


class StartupError(Exception):
    """The daemon cannot start (another one runs, the socket path is unusable)."""


def peer_uid(sock: socket.socket) -> int:
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid


class SocketLock:
    """An exclusive lock beside the socket, held for the daemon's lifetime, so
    two daemons starting at once cannot both take the same socket."""

    def __init__(self, socket_path: str):
        self.path = socket_path + ".lock"
        self._fd: int | None = None

    def _refused(self, holder: str) -> StartupError:
        return StartupError(f"another octrad (pid {holder.split()[0] if holder else '?'}) is already running on {self.path[:-5]}")

    def _content(self) -> str:
        return str(os.getpid())

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 4096).decode(errors="replace").strip()
            os.close(fd)
            raise self._refused(holder) from None
        os.ftruncate(fd, 0)
        os.write(fd, self._content().encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
            os.close(self._fd)
            self._fd = None


class DataLock(SocketLock):
    """An exclusive lock on the data folder (its database): a second daemon on the
    same data, whatever its socket, refuses to start instead of marking the first
    one's running tasks interrupted.  The file stays (unlinking a lock file that
    another process may have just opened would let two processes hold it)."""

    def __init__(self, data_dir: str, socket_path: str):
        self.path = str(Path(data_dir) / "octrad.lock")
        self.socket = socket_path
        self._fd = None

    def _content(self) -> str:
        return f"{os.getpid()} {self.socket}"

    def _refused(self, holder: str) -> StartupError:
        pid, _, sock = holder.partition(" ")
        where = f" (its socket: {sock})" if sock else ""
        return StartupError(
            f"another octrad (pid {pid or '?'}) is already running on the data folder {Path(self.path).parent}{where}; "
            "stop it first (octractl shutdown), or give this daemon its own data folder (OCTRA_DATA_DIR)"
        )

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            os.close(self._fd)
            self._fd = None


def prepare_socket_dir(path: str) -> None:
    """Create the socket's folder 0700; tighten our own default folder if needed."""
    parent = Path(path).parent
    if not parent.exists():
        parent.mkdir(parents=True, mode=0o700)
        os.chmod(parent, 0o700)
    elif parent.name == APP_NAME and parent.stat().st_uid == os.getuid():
        os.chmod(parent, 0o700)


def bind_socket(path: str) -> socket.socket:
    """Bind a socket at ``path`` (0600), replacing a stale socket file.

    It does not listen yet: until the daemon is ready, a client's connect is
    refused, so "answers on the socket" means "ready to serve"."""
    if len(path.encode()) > 107:
        raise StartupError(f"socket path is too long for a Unix socket ({len(path)} bytes): {path}")
    prepare_socket_dir(path)
    if os.path.lexists(path):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        probe.settimeout(1.0)
        try:
            probe.connect(path)
        except OSError:
            log.info("removing stale socket %s", path)
            os.unlink(path)
        else:
            raise StartupError(f"a daemon already answers on {path}")
        finally:
            probe.close()
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        sock.bind(path)
    except OSError as exc:
        sock.close()
        raise StartupError(f"cannot bind {path}: {exc.strerror}") from None
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    return sock


class Connection:
    """One client: frames in, answers and event notifications out."""

    _ids = itertools.count(1)

    def __init__(self, daemon: "Daemon", stream: Any):
        self.daemon = daemon
        self.router = daemon.router
        self.stream = stream
        self.id = next(self._ids)
        self._lock = anyio.Lock()
        self.subscriptions: set[str] = set()
        self.client_name = "?"
        #: the client closed its end; nothing more is sent
        self.gone = False
        self.tg: Any = None

    async def send(self, data: bytes) -> None:
        """Send a frame; a client that went away is not an error (its reader ends the connection)."""
        async with self._lock:
            if self.gone:
                return
            try:
                await self.stream.send(data)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError) as exc:
                self.gone = True
                log.debug("client %s went away: %s", self.client_name, exc)

    async def send_message(self, msg: Any) -> None:
        await self.send(encode_line(msg))

    async def serve(self) -> None:
        reader = LineReader(self.stream, MAX_LINE)
        try:
            async with anyio.create_task_group() as tg:
                self.tg = tg
                while True:
                    try:
                        line = await reader.readline()
                    except LineTooLong:
                        await self.send_message(
                            error_response(None, RpcError(E.INVALID_REQUEST, f"line exceeds {MAX_LINE} bytes; closing"))
                        )
                        break
                    if line is None:
                        break
                    line = line.strip()
                    if not line:
                        continue
                    if line[:1] == b"[":
                        tg.start_soon(self._batch, line)
                    else:
                        await self._single(line, tg)
                tg.cancel_scope.cancel()
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, ConnectionError):
            pass
        except Exception:  # one connection's failure never takes the daemon down
            log.exception("connection from %s failed", self.client_name)
        finally:
            for sid in list(self.subscriptions):
                self.daemon.bus.unsubscribe(sid)
            self.subscriptions.clear()
            with anyio.CancelScope(shield=True):
                await self.stream.aclose()

    async def _single(self, line: bytes, tg: Any) -> None:
        req = self.router.parse(line)
        if isinstance(req, ErrorResponse):
            await self.send_message(req)
            return
        route = self.router.route(req)
        if isinstance(route, ErrorResponse):
            if not req.is_notification:
                await self.send_message(route)
            return
        if route.inline:
            await self._answer(route, req)
        else:
            tg.start_soon(self._answer, route, req)

    async def _answer(self, route: Any, req: Any) -> None:
        call = Call(self.daemon, self, req.method)
        resp = await self.router.run(route, req, call)
        try:
            if resp is not None:
                await self.send_message(resp)
        finally:
            for fn in call.after_reply:
                fn()

    async def _batch(self, line: bytes) -> None:
        try:
            items = msgspec.json.decode(line, type=list[msgspec.Raw])
        except msgspec.ValidationError as exc:
            await self.send_message(error_response(None, RpcError(E.INVALID_REQUEST, f"invalid batch: {exc}")))
            return
        except msgspec.DecodeError as exc:
            await self.send_message(error_response(None, RpcError(E.PARSE_ERROR, f"parse error: {exc}")))
            return
        except RecursionError:
            await self.send_message(error_response(None, too_deep()))
            return
        if not items:
            await self.send_message(error_response(None, RpcError(E.INVALID_REQUEST, "invalid request: empty batch")))
            return
        answers: list[Any] = [None] * len(items)
        calls: list[Call] = []

        async def one(i: int, raw: msgspec.Raw) -> None:
            req = self.router.parse(raw)
            if isinstance(req, ErrorResponse):
                answers[i] = req
                return
            route = self.router.route(req)
            if isinstance(route, ErrorResponse):
                answers[i] = None if req.is_notification else route
                return
            call = Call(self.daemon, self, req.method)
            calls.append(call)
            answers[i] = await self.router.run(route, req, call)

        async with anyio.create_task_group() as tg:
            for i, raw in enumerate(items):
                tg.start_soon(one, i, raw)
        out = [a for a in answers if a is not None]
        try:
            if out:
                await self.send_message(out)
        finally:
            for call in calls:
                for fn in call.after_reply:
                    fn()


class Server:
    def __init__(self, daemon: "Daemon", sock: socket.socket, owned: bool):
        self.daemon = daemon
        self.sock = sock
        #: False when systemd passed the socket: then we never unlink it
        self.owned = owned
        self.connections: set[Connection] = set()

    async def serve(self) -> None:
        listener = await SocketListener.from_socket(self.sock)
        async with listener, anyio.create_task_group() as tg:
            while True:
                try:
                    stream = await listener.accept()
                except OSError as exc:  # e.g. out of file descriptors: wait, then go on
                    log.error("accept failed: %s", exc)
                    await anyio.sleep(0.5)
                    continue
                tg.start_soon(self._handle, stream)

    async def _handle(self, stream: Any) -> None:
        raw = stream.extra(SocketAttribute.raw_socket)
        try:
            uid = peer_uid(raw)
        except OSError:
            uid = -1
        if uid != os.getuid():
            log.warning("refused a connection from uid %s", uid)
            err = RpcError(E.FORBIDDEN, f"peer uid {uid} is not the daemon's uid {os.getuid()}")
            with anyio.move_on_after(1):
                await stream.send(encode_line(error_response(None, err)))
            await stream.aclose()
            return
        conn = Connection(self.daemon, stream)
        self.connections.add(conn)
        try:
            await conn.serve()
        finally:
            self.connections.discard(conn)
