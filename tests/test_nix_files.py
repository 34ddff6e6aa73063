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


def nix_eval(module: str, values: dict) -> dict:
    """Evaluate one of our modules with stubbed lib/pkgs (nixpkgs cannot be fetched here)."""
    import json

    expr = (
        f"import {ROOT / 'tests' / 'nix' / 'eval.nix'} {{ module = {ROOT / 'nix' / module}; "
        f"values = builtins.fromJSON ''{json.dumps(values)}''; }}"
    )
    out = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "-E", expr], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_home_manager_module_renders_the_user_unit():
    values = {"services": {"octra": {"enable": True, "package": "/nix/store/p-octra", "environmentFile": "%h/.config/octra/env",
                                     "settings": {"settings": {"max_parallel_llm_calls": 8}}}}}
    ev = nix_eval("home-module.nix", values)
    unit = ev["config"]["systemd"]["user"]["services"]["octrad"]
    assert unit["Service"] == {"Type": "notify", "ExecStart": "/nix/store/p-octra/bin/octrad serve", "Restart": "on-failure",
                               "RestartSec": 2, "EnvironmentFile": "-%h/.config/octra/env"}
    assert unit["Install"] == {"WantedBy": ["default.target"]}
    source = ev["config"]["xdg"]["configFile"]["octra/config.toml"]["source"]
    assert '"max_parallel_llm_calls":8' in source
    assert set(ev["options"]["services"]["octra"]) == {"enable", "package", "settings", "environmentFile"}
    off = nix_eval("home-module.nix", {"services": {"octra": {"enable": False}}})
    assert off["config"] == {}


@pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")
def test_nixos_module_system_and_user_services():
    base = {"enable": True, "package": "/nix/store/p-octra", "settings": {"default_provider": "anthropic"},
            "environment": {"OCTRA_LOG_LEVEL": "debug"}, "environmentFile": "/run/secrets/octra.env"}
    system = nix_eval("nixos-module.nix", {"services": {"octra-orchestrator": {**base, "users": []}}})["config"]
    svc = system["systemd"]["services"]["octrad"]
    assert svc["serviceConfig"]["Type"] == "notify" and svc["serviceConfig"]["ExecStart"] == "/nix/store/p-octra/bin/octrad serve"
    assert svc["serviceConfig"]["EnvironmentFile"] == "/run/secrets/octra.env" and svc["serviceConfig"]["StateDirectory"] == "octra"
    assert svc["environment"]["OCTRA_SOCKET"] == "/run/octra/octrad.sock" and svc["environment"]["OCTRA_LOG_LEVEL"] == "debug"
    assert '"default_provider":"anthropic"' in svc["environment"]["OCTRA_CONFIG"]
    assert system["systemd"]["user"]["services"]["octrad"] == {}
    users = nix_eval("nixos-module.nix", {"services": {"octra-orchestrator": {**base, "users": ["alice", "bob"]}}})["config"]
    user = users["systemd"]["user"]["services"]["octrad"]
    assert user["unitConfig"]["ConditionUser"] == ["|alice", "|bob"] and user["wantedBy"] == ["default.target"]
    assert users["systemd"]["services"]["octrad"] == {}
    assert users["environment"]["systemPackages"] == ["/nix/store/p-octra"]


def test_flake_exposes_the_modules():
    text = (ROOT / "flake.nix").read_text()
    for name in ("nixosModules.octra-orchestrator", "homeModules.default", "homeManagerModules", "overlays.default",
                 "devShells", "packages"):
        assert name in text
