"""flake.nix and nix/*.nix parse; the systemd unit speaks Type=notify."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT

NIX_FILES = [ROOT / "flake.nix", *sorted((ROOT / "nix").glob("*.nix"))]


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")
@pytest.mark.parametrize("path", NIX_FILES, ids=lambda p: p.name)
def test_nix_file_parses(path):
    out = subprocess.run(["nix-instantiate", "--parse", str(path)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_user_unit():
    unit = (ROOT / "nix" / "octrad.service").read_text()
    assert "Type=notify" in unit and "Restart=on-failure" in unit and "octrad serve" in unit
