"""Running as a systemd service: install-service units, socket activation."""

from __future__ import annotations

import os
import shutil
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from octrad.systemd import service_unit, socket_unit
from tests.conftest import ROOT
from tests.rawsock import RawConn


def test_install_service_writes_units(octra_env, tmp_path):
    out = subprocess.run(
        [sys.executable, "-m", "octrad", "install-service", "--dest", str(tmp_path), "--exec", sys.executable],
        env=octra_env.env, capture_output=True, text=True, timeout=60,
    )
    assert out.returncode == 0, out.stderr
    svc = (tmp_path / "octrad.service").read_text()
    assert f"ExecStart={sys.executable} serve" in svc and "Type=notify" in svc and "Restart=on-failure" in svc
    sock = (tmp_path / "octrad.socket").read_text()
    assert "ListenStream=%t/octra/octrad.sock" in sock and "SocketMode=0600" in sock
    assert "systemctl --user enable --now octrad.socket" in out.stdout
    bad = subprocess.run([sys.executable, "-m", "octrad", "install-service", "--dest", str(tmp_path), "--exec", "nope"],
                         env=octra_env.env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "--exec" in bad.stderr


def test_shipped_units_match_the_generator():
    assert (ROOT / "nix" / "octrad.service").read_text() == service_unit("%h/.local/bin/octrad")
    assert (ROOT / "nix" / "octrad.socket").read_text() == socket_unit()


# what systemd does: the socket as fd 3, LISTEN_PID the service's own pid, then exec
ACTIVATE = (
    "import os, sys\n"
    "os.dup2(int(sys.argv[1]), 3)\n"
    "os.environ.update(LISTEN_PID=str(os.getpid()), LISTEN_FDS='1')\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'octrad', 'serve'])\n"
)


def test_socket_activation(octra_env):
    """systemd passes a listening socket as fd 3 with LISTEN_FDS/LISTEN_PID: octrad serves on it."""
    folder = os.path.dirname(octra_env.socket)
    os.makedirs(folder, mode=0o700)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(octra_env.socket)
    os.chmod(octra_env.socket, 0o600)
    listener.listen(16)
    fd = listener.fileno()
    proc = subprocess.Popen(
        [sys.executable, "-c", ACTIVATE, str(fd)],
        env=octra_env.env, pass_fds=(fd,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        ans = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                ans = RawConn(octra_env.socket, timeout=5).call({"jsonrpc": "2.0", "id": 1, "method": "daemon.status"})
                break
            except OSError:
                time.sleep(0.05)
        if ans is None:
            proc.terminate()
            raise AssertionError(f"no answer; exit {proc.wait(10)}: {proc.stderr.read()[-2000:]!r}")
        assert ans["result"]["pid"] == proc.pid
        proc.terminate()
        assert proc.wait(20) == 0
        # the socket belongs to systemd: the daemon leaves it in place
        assert stat.S_ISSOCK(os.stat(octra_env.socket).st_mode)
        assert b"Traceback" not in proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
        listener.close()


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_units_pass_systemd_analyze_verify(octra_env, tmp_path):
    octrad = Path(sys.executable).parent / "octrad"
    out = subprocess.run([sys.executable, "-m", "octrad", "install-service", "--dest", str(tmp_path), "--exec", str(octrad)],
                         env=octra_env.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    verify = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "octrad.service"), str(tmp_path / "octrad.socket")],
                            capture_output=True, text=True, timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_bash_completion_loads():
    script = subprocess.run([sys.executable, "-m", "octractl", "completion", "bash"], capture_output=True, text=True,
                            check=True, timeout=60).stdout
    out = subprocess.run(["bash", "-c", f"{script}\ncomplete -p octractl"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "_octractl_completion" in out.stdout, out.stderr
