"""Start a real ``octrad serve`` in a private temporary environment (for benchmarks)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRUB = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "DEEPSEEK_API_KEY", "GITHUB_TOKEN", "OCTRA_PROVIDER")


def private_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SCRUB}
    (root / "rt").mkdir(mode=0o700)
    env.update(
        HOME=str(root), XDG_RUNTIME_DIR=str(root / "rt"),
        OCTRA_SOCKET=str(root / "rt" / "octra" / "octrad.sock"),
        OCTRA_DATA_DIR=str(root / "data"), OCTRA_LOG_DIR=str(root / "log"),
        OCTRA_CONFIG=str(root / "config.toml"), PYTHONPATH=str(ROOT),
    )
    return env


@contextmanager
def running_daemon():
    """Yield (socket path, env) of a fresh daemon; stop it afterwards."""
    from octra_protocol.autostart import daemon_answers

    root = Path(tempfile.mkdtemp(prefix="octb-", dir="/tmp"))
    env = private_env(root)
    proc = subprocess.Popen([sys.executable, "-m", "octrad", "serve"], env=env, cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not daemon_answers(env["OCTRA_SOCKET"]):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("octrad did not start")
            time.sleep(0.02)
        yield env["OCTRA_SOCKET"], env
    finally:
        proc.terminate()
        proc.wait(20)
        shutil.rmtree(root, ignore_errors=True)


def percentile(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]
