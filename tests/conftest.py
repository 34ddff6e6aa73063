"""Shared fixtures: every test that needs a daemon gets a real ``octrad``
process in a private temporary environment, reached over its real socket."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: variables a test environment must not inherit (keys, real paths)
SCRUB = (
    "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "GEMINI_API_KEY",
    "DEEPSEEK_API_KEY", "OLLAMA_HOST", "GITHUB_TOKEN", "OCTRA_PROVIDER", "OCTRA_NO_AUTOSTART",
    "NOTIFY_SOCKET", "LISTEN_FDS", "LISTEN_PID", "JOURNAL_STREAM", "OCTRA_DAEMON_COMMAND",
    "OCTRA_GITHUB_API_URL",
)


@pytest.fixture
def anyio_backend():
    return "asyncio"


class OctraEnv:
    """A private set of Octra paths (short enough for a Unix socket path)."""

    def __init__(self, root: Path):
        self.root = root
        self.runtime = root / "rt"
        self.socket = str(self.runtime / "octra" / "octrad.sock")
        self.data_dir = root / "data"
        self.log_dir = root / "log"
        self.config = root / "config.toml"
        self.home = root / "home"
        self.home.mkdir(parents=True)
        self.runtime.mkdir(mode=0o700)
        env = {k: v for k, v in os.environ.items() if k not in SCRUB}
        # the toolchains stay the machine's own although HOME is private
        real_home = Path(os.path.expanduser("~"))
        for var, folder in (("RUSTUP_HOME", ".rustup"), ("CARGO_HOME", ".cargo")):
            if var not in env and (real_home / folder).is_dir():
                env[var] = str(real_home / folder)
        env.update(
            HOME=str(self.home),
            XDG_RUNTIME_DIR=str(self.runtime),
            XDG_CONFIG_HOME=str(root / "xdg-config"),
            XDG_DATA_HOME=str(root / "xdg-data"),
            XDG_STATE_HOME=str(root / "xdg-state"),
            XDG_CACHE_HOME=str(root / "xdg-cache"),
            OCTRA_SOCKET=self.socket,
            OCTRA_DATA_DIR=str(self.data_dir),
            OCTRA_LOG_DIR=str(self.log_dir),
            OCTRA_CONFIG=str(self.config),
            GIT_AUTHOR_NAME="Octra Test", GIT_AUTHOR_EMAIL="test@octra.invalid",
            GIT_COMMITTER_NAME="Octra Test", GIT_COMMITTER_EMAIL="test@octra.invalid",
            PYTHONUNBUFFERED="1",
        )
        self.env = env

    @property
    def log_file(self) -> Path:
        return self.log_dir / "octrad.log"


class DaemonProcess:
    """``octrad serve`` as a child process of the test."""

    def __init__(self, oenv: OctraEnv, extra_args: list[str] | None = None):
        self.oenv = oenv
        self.socket = oenv.socket
        self.extra_args = extra_args or []
        self.proc: subprocess.Popen | None = None
        self.stderr_path = oenv.root / f"octrad-stderr-{time.monotonic_ns()}.txt"

    def start(self, wait: bool = True, env: dict | None = None, **popen) -> "DaemonProcess":
        self._stderr = open(self.stderr_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "octrad", "serve", *self.extra_args],
            env={**self.oenv.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=self._stderr,
            stderr=self._stderr,
            **popen,
        )
        if wait:
            self.wait_ready()
        return self

    def wait_ready(self, timeout: float = 20.0) -> None:
        from octra_protocol.autostart import daemon_answers

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if daemon_answers(self.socket, timeout=0.5):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise RuntimeError(f"octrad exited with {self.proc.returncode}: {self.stderr()}")
            time.sleep(0.02)
        raise RuntimeError(f"octrad not ready after {timeout}s: {self.stderr()}")

    def stderr(self) -> str:
        try:
            return self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError(f"octrad did not stop within {timeout}s after signal {sig}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> "DaemonProcess":
        self.stop()
        return self.start()

    @asynccontextmanager
    async def connect(self, client: str = "pytest"):
        from octra_protocol.client import connect

        async with connect(self.socket, client=client) as c:
            yield c

    def ctl(self, *args: str, input: str | None = None, timeout: float = 120, env: dict | None = None):
        """Run ``octractl`` as a user would; returns the CompletedProcess."""
        return subprocess.run(
            [sys.executable, "-m", "octractl", *args],
            env={**self.oenv.env, **(env or {})},
            input=input,
            capture_output=True,
            text=True,
            timeout=timeout,
        )


@pytest.fixture
def octra_env():
    root = Path(tempfile.mkdtemp(prefix="oct-", dir="/tmp"))
    try:
        yield OctraEnv(root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


@pytest.fixture
def daemon(octra_env, request):
    d = DaemonProcess(octra_env).start()
    try:
        yield d
    finally:
        rep = getattr(request.node, "rep_call", None)
        if rep is not None and rep.failed:
            # show the daemon's side of a failure (pytest prints it with the test)
            code = d.proc.poll() if d.proc is not None else None
            print(f"octrad exit code: {code}\n--- stderr ---\n{d.stderr()[-4000:]}")
            if octra_env.log_file.exists():
                print("--- log ---\n" + octra_env.log_file.read_text(errors="replace")[-6000:])
        try:
            d.stop()
        except RuntimeError:
            d.kill()
