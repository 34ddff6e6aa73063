"""The wheel as a user gets it: built, installed into a fresh virtualenv, and
run from there (no checkout on sys.path): the daemon starts, skills and guides
come from the installed packages, an offline task builds a project."""

from __future__ import annotations

import json
import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    dist = root / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = dist.glob("octra-*.whl")
    venv.create(root / "venv", with_pip=True)
    py = root / "venv" / "bin" / "python"
    out = subprocess.run([str(py), "-m", "pip", "install", "-q", str(wheel)], capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    return root / "venv" / "bin"


def test_installed_commands_run_a_task(installed, octra_env, tmp_path):
    env = {k: v for k, v in octra_env.env.items() if k != "PYTHONPATH"}
    for cmd in ("octrad", "octractl", "octra-tui"):
        assert (installed / cmd).exists(), cmd
    where = subprocess.run([str(installed / "python"), "-c", "import octrad, octra_skills, octra_guides; print(octrad.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True, check=True).stdout
    assert str(installed.parent) in where and str(ROOT) not in where
    try:
        out = subprocess.run([str(installed / "octractl"), "--json", "run", "a small command-line tool in Rust"],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, out.stderr
        task = json.loads(out.stdout.splitlines()[-1])["task"]
        assert task["status"] == "done" and "Cargo.toml" in task["files"]
        st = json.loads(subprocess.run([str(installed / "octractl"), "--json", "status"], cwd=tmp_path, env=env,
                                       capture_output=True, text=True, check=True).stdout)
        assert st["default_provider"] == "offline"
        skills = json.loads(subprocess.run([str(installed / "octractl"), "--json", "skills", "catalog"], cwd=tmp_path,
                                           env=env, capture_output=True, text=True, check=True).stdout)
        assert len(skills["skills"]) >= 42
        guides = json.loads(subprocess.run([str(installed / "octractl"), "--json", "guides", "list"], cwd=tmp_path,
                                           env=env, capture_output=True, text=True, check=True).stdout)
        assert {"cargo", "npm", "pip", "go"} <= {g["tool"] for g in guides["guides"]}
    finally:
        subprocess.run([str(installed / "octractl"), "--no-autostart", "shutdown"], cwd=tmp_path, env=env,
                       capture_output=True, timeout=60)
    # the daemon that ran was the installed one
    log = Path(octra_env.log_dir, "octrad.log").read_text()
    assert "ready on" in log
