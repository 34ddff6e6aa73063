"""The daemon: opens the store, binds the socket, runs the event writer and the
server, and shuts all of it down cleanly on a signal or ``daemon.shutdown``."""

from __future__ import annotations

import logging
import os
import signal
import time
from pathlib import Path

import anyio
import anyio.abc

from . import systemd
from .api import areas
from .config import Config
from .events import EventBus
from .rpc import Router
from .secretstore import SecretError, SecretStore, move_plaintext_out
from .server import DataLock, Server, SocketLock, StartupError, bind_socket
from .store import Database

log = logging.getLogger(__name__)


class Daemon:
    def __init__(self, config: Config, log_file: Path | None = None):
        self.config = config
        self.log_file = log_file
        self.started = time.monotonic()
        self.db = Database(config.db_path)
        self.bus = EventBus(self.db)
        self.router = Router()
        self.areas = areas()
        for area in self.areas:
            area.register(self.router)
        #: the daemon's long-lived task group (background work that outlives a request)
        self.tg: anyio.abc.TaskGroup | None = None
        self._shutdown = anyio.Event()
        self.shutdown_reason = ""

    # -- facts for daemon.status -----------------------------------------
    def tasks_running(self) -> int:
        tasks = getattr(self, "tasks", None)
        return len(tasks.running) if tasks is not None else 0

    def default_provider(self) -> str:
        llm = getattr(self, "llm", None)
        return llm.default_provider() if llm is not None else (self.config.default_provider or "offline")

    # -- lifecycle ---------------------------------------------------------
    def request_shutdown(self, reason: str) -> None:
        if not self._shutdown.is_set():
            self.shutdown_reason = reason
            self._shutdown.set()

    async def run(self) -> None:
        cfg = self.config
        for d in (cfg.data_dir, cfg.projects_dir, cfg.gcroots_dir):
            Path(d).mkdir(parents=True, exist_ok=True, mode=0o700)
        # the data first: a second daemon on the same data must not even take a socket
        data_lock = DataLock(cfg.data_dir, cfg.socket)
        data_lock.acquire()
        try:
            await self._run_locked()
        finally:
            data_lock.release()

    async def _run_locked(self) -> None:
        cfg = self.config
        lock: SocketLock | None = None
        passed = systemd.listen_fds()
        if passed:
            sock, owned = passed[0], False
            log.info("using the socket passed by systemd (fd %d)", sock.fileno())
        else:
            Path(cfg.socket).parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            lock = SocketLock(cfg.socket)
            lock.acquire()
            try:
                sock = bind_socket(cfg.socket)
            except StartupError:
                lock.release()
                raise
            owned = True
        # projects' git directories and trusted flakes live in the data folder, out of the projects' reach
        from . import statedirs
        from .pipeline import gitrepo

        statedirs.configure(cfg.data_dir)
        for folder in gitrepo.migrate_old_layout(cfg.projects_dir):
            log.info("moved the git directory of %s to %s", folder, gitrepo.git_dir(folder))
        server = Server(self, sock, owned)
        try:
            await self.db.open()
            try:
                self.secrets = await SecretStore.open(cfg.data_dir)
            except SecretError as exc:
                raise StartupError(str(exc)) from None
            await move_plaintext_out(self.db, self.secrets)
            await self.bus.start()
            async with anyio.create_task_group() as tg:
                self.tg = tg
                tg.start_soon(self.bus.run_writer)
                for area in self.areas:
                    if hasattr(area, "setup"):
                        await area.setup(self)
                async with anyio.create_task_group() as front:
                    # signals are ours before anyone can see us ready (a SIGTERM
                    # right after READY=1 must be a clean shutdown, not a kill)
                    await front.start(self._watch_signals)
                    if owned:
                        sock.listen(128)  # ready: from now on connections are accepted
                    front.start_soon(server.serve)
                    log.info("octrad %s ready on %s (pid %d)", _version(), cfg.socket, os.getpid())
                    systemd.notify("READY=1")
                    await self._shutdown.wait()
                    log.info("shutting down: %s", self.shutdown_reason)
                    systemd.notify("STOPPING=1")
                    front.cancel_scope.cancel()
                for area in reversed(self.areas):
                    if hasattr(area, "teardown"):
                        with anyio.CancelScope(shield=True):
                            await area.teardown(self)
                await self.bus.close()
        finally:
            with anyio.CancelScope(shield=True):
                await self.db.close()
            if owned:
                try:
                    os.unlink(cfg.socket)
                except FileNotFoundError:
                    pass
            sock.close()
            if lock is not None:
                lock.release()
            log.info("octrad stopped")

    async def _watch_signals(self, *, task_status: anyio.abc.TaskStatus = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                self.request_shutdown(f"signal {signal.Signals(signum).name}")
                return


def _version() -> str:
    from . import __version__

    return __version__
