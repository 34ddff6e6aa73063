"""Configuration precedence: flag > OCTRA_* environment > config.toml > default."""

from __future__ import annotations

import os

import pytest

from octrad.config import ConfigError, load


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for var in ("OCTRA_SOCKET", "OCTRA_CONFIG", "OCTRA_DATA_DIR", "OCTRA_LOG_DIR", "OCTRA_LOG_LEVEL", "OCTRA_PROVIDER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "rt"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "share"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    return tmp_path


def test_defaults_come_from_platformdirs(clean_env):
    cfg = load()
    assert cfg.socket == str(clean_env / "rt" / "octra" / "octrad.sock")
    assert cfg.config_file == str(clean_env / "cfg" / "octra" / "config.toml")
    assert cfg.data_dir == str(clean_env / "share" / "octra")
    assert cfg.log_dir == str(clean_env / "state" / "octra" / "log")
    assert cfg.log_level == "info" and cfg.default_provider == ""


def test_precedence(clean_env, monkeypatch):
    conf = clean_env / "c.toml"
    conf.write_text(
        f'data_dir = "{clean_env}/from-file"\nlog_level = "warning"\ndefault_provider = "anthropic"\n'
        "[settings]\nsandbox = 'none'\n[providers.local]\nkind = 'ollama'\n"
    )
    monkeypatch.setenv("OCTRA_CONFIG", str(conf))
    cfg = load()
    assert cfg.data_dir == str(clean_env / "from-file")
    assert (cfg.log_level, cfg.default_provider) == ("warning", "anthropic")
    assert cfg.settings == {"sandbox": "none"} and cfg.providers == {"local": {"kind": "ollama"}}
    monkeypatch.setenv("OCTRA_DATA_DIR", str(clean_env / "from-env"))
    monkeypatch.setenv("OCTRA_LOG_LEVEL", "error")
    monkeypatch.setenv("OCTRA_PROVIDER", "openai")
    cfg = load()
    assert cfg.data_dir == str(clean_env / "from-env")
    assert (cfg.log_level, cfg.default_provider) == ("error", "openai")
    cfg = load(data_dir=str(clean_env / "from-flag"), log_level="debug", socket="~/x.sock")
    assert cfg.data_dir == str(clean_env / "from-flag") and cfg.log_level == "debug"
    assert cfg.socket == os.path.expanduser("~/x.sock")


def test_bad_file_names_the_file_and_key(clean_env, monkeypatch):
    conf = clean_env / "c.toml"
    monkeypatch.setenv("OCTRA_CONFIG", str(conf))
    conf.write_text("colour = 'blue'\n")
    with pytest.raises(ConfigError, match="colour") as err:
        load()
    assert str(conf) in str(err.value)
    conf.write_text("data_dir = 5\n")
    with pytest.raises(ConfigError, match="data_dir"):
        load()
