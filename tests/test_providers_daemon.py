"""Provider management through a real daemon: providers.list/set/remove/test
over the socket and through octractl, providers from config.toml and the
environment, and keys that never leak into logs, events or errors."""

from __future__ import annotations

import json
import sqlite3

import anyio
import pytest

from octra_protocol.errors import RpcError
from tests.conftest import DaemonProcess
from tests.fakes.providers import FakeProvider, Reply

pytestmark = pytest.mark.anyio

#: what providers.test asks for: a real Plan, the way a task's first call asks
PLAN = {"task_type": "cli", "tech_stack": "python", "architecture_notes": "one file",
        "managers": [{"role": "backend", "description": "write hello.py", "priority": 1}]}
PONG = Reply.json(PLAN, usage=(21, 4))
ANSWER = "a valid Plan: 1 manager(s), stack 'python'"
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


async def test_set_list_test_remove_over_the_socket(daemon, fake):
    key = "sk-socket-test-0123456789"
    async with daemon.connect() as c:
        assert await c.call("providers.list") == {"providers": [], "default": "offline", "errors": []}
        info = await c.call(
            "providers.set",
            {"name": "work", "kind": "anthropic", "model": "claude-3-5-haiku-latest", "base_url": fake.base_url("anthropic"), "api_key": key},
        )
        assert info["has_key"] is True and info["source"] == "stored" and info["default"] is True
        assert key not in json.dumps(info)
        fake.push(PONG)
        res = await c.call("providers.test", {"name": "work"})
        assert res["answer"] == ANSWER and res["kind"] == "anthropic" and res["latency_ms"] > 0
        assert (res["tokens_in"], res["tokens_out"]) == (21, 4)
        [req] = fake.requests
        assert req.headers["x-api-key"] == key and req.model == "claude-3-5-haiku-latest"
        assert req.schema["type"] == "object" and "managers" in req.schema["properties"]
        # updating without a key keeps the stored one
        await c.call("providers.set", {"name": "work", "kind": "anthropic", "model": "claude-sonnet-4", "base_url": fake.base_url("anthropic")})
        fake.push(PONG)
        await c.call("providers.test", {"name": "work"})
        assert fake.requests[-1].headers["x-api-key"] == key and fake.requests[-1].model == "claude-sonnet-4"
        listed = await c.call("providers.list")
        assert [(p["name"], p["model"], p["has_key"]) for p in listed["providers"]] == [("work", "claude-sonnet-4", True)]
        # but a stored key never follows the provider to another endpoint
        with pytest.raises(RpcError) as err:
            await c.call("providers.set", {"name": "work", "kind": "anthropic", "model": "m", "base_url": "https://elsewhere.example"})
        assert err.value.code == -32602 and "give its api_key again" in err.value.message
        assert key not in json.dumps(listed)
        # bad input says what is wrong
        with pytest.raises(RpcError) as err:
            await c.call("providers.set", {"name": "x", "kind": "watson", "model": "m"})
        assert err.value.code == -32602 and "kind" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("providers.set", {"name": "Bad Name!", "kind": "openai", "model": "m"})
        assert err.value.code == -32602 and "provider name" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("providers.set", {"name": "replay", "kind": "openai", "model": "m"})
        assert "built-in" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("providers.test", {"name": "nobody"})
        assert err.value.kind == "not_found" and "work" in err.value.message
        assert await c.call("providers.remove", {"name": "work"}) == {"removed": "work"}
        with pytest.raises(RpcError) as err:
            await c.call("providers.remove", {"name": "work"})
        assert err.value.kind == "not_found"
        assert (await c.call("providers.list"))["default"] == "offline"
    # stored providers survive a restart
    async with daemon.connect() as c:
        await c.call("providers.set", {"name": "keep", "kind": "openai", "model": "gpt-4o", "base_url": fake.base_url("openai"), "api_key": key})
    daemon.restart()
    async with daemon.connect() as c:
        fake.push(PONG)
        assert (await c.call("providers.test", {"name": "keep"}))["answer"] == ANSWER
    assert fake.requests[-1].headers["authorization"] == f"Bearer {key}"


def test_octractl_providers(daemon, fake):
    key = "gm-cli-key-abcdef123456"
    out = daemon.ctl("providers", "set", "gem", "--kind", "gemini", "--model", "gemini-2.5-flash",
                     "--base-url", fake.base_url("gemini"), "--api-key-stdin", input=key + "\n")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "gem: gemini gemini-2.5-flash, key stored"
    out = daemon.ctl("providers", "list")
    assert out.returncode == 0 and key not in out.stdout
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["NAME", "KIND", "MODEL", "KEY", "SOURCE", "BASE", "URL"]
    assert lines[1].split()[:6] == ["*", "gem", "gemini", "gemini-2.5-flash", "yes", "stored"]
    assert lines[-1] == "default: gem"
    fake.push(PONG)
    out = daemon.ctl("providers", "test", "gem")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("ok: gem (gemini, gemini-2.5-flash) answered " + repr(ANSWER) + " in ")
    assert fake.requests[-1].headers["x-goog-api-key"] == key
    fake.push(Reply.error(403, "API key not valid"))
    out = daemon.ctl("providers", "test", "gem")
    assert out.returncode == 1 and "provider_error" in out.stderr and "API key not valid" in out.stderr
    out = daemon.ctl("--json", "providers", "list")
    assert json.loads(out.stdout)["providers"][0]["name"] == "gem"
    out = daemon.ctl("providers", "set", "x", "--kind", "openai", "--model", "m", "--api-key-env", "NOT_SET_ANYWHERE")
    assert out.returncode == 2 and "NOT_SET_ANYWHERE" in out.stderr
    out = daemon.ctl("providers", "remove", "gem")
    assert out.returncode == 0 and out.stdout.strip() == "removed gem"
    assert daemon.ctl("providers", "list").stdout.strip() == "no providers configured\ndefault: offline"


async def test_keys_never_reach_logs_events_or_errors(octra_env, fake):
    key = "sk-leak-canary-9f8e7d6c5b4a"
    env_key = "sk-env-canary-1a2b3c4d5e6f"
    d = DaemonProcess(octra_env).start(
        env={**NO_PROXY, "OPENAI_API_KEY": env_key, "OPENAI_BASE_URL": fake.base_url("openai"), "OCTRA_LOG_LEVEL": "debug"}
    )
    try:
        # a misbehaving endpoint that echoes the credentials it was given
        def echo(req):
            sent = req.headers.get("authorization", "")
            return Reply.error(500 if len(fake.requests) % 2 else 401, f"rejected credentials {sent}")

        fake.responder = echo
        errors = []
        async with d.connect() as c:
            await c.call("providers.set", {"name": "leaky", "kind": "openai", "model": "gpt-4o", "base_url": fake.base_url("openai"), "api_key": key})
            for name in ("leaky", "openai"):
                with pytest.raises(RpcError) as err:
                    await c.call("providers.test", {"name": name})
                errors.append(err.value)
            fake.responder = lambda req: Reply.of_text(f"my key is {req.headers['authorization']}")
            with pytest.raises(RpcError) as err:
                await c.call("providers.test", {"name": "leaky"})
            errors.append(err.value)
            listed = await c.call("providers.list")
            events = []
            async with c.subscribe(since_seq=0) as sub:
                with anyio.move_on_after(1.0):
                    async for ev in sub:
                        events.append(ev)
        # the provider really got the keys, and really echoed them
        sent = {r.headers["authorization"] for r in fake.requests}
        assert {f"Bearer {key}", f"Bearer {env_key}"} <= sent
        assert any(e.kind == "llm.call" for e in events)
        assert all(e.kind == "provider_error" for e in errors)
        assert "rejected credentials Bearer ***" in errors[0].message
        texts = {
            "errors": json.dumps([(e.message, e.data) for e in errors]),
            "events": json.dumps([{"kind": e.kind, "data": e.data} for e in events]),
            "list": json.dumps(listed),
        }
        d.stop()
        texts["log"] = octra_env.log_file.read_text()
        texts["stderr"] = d.stderr()
        db = sqlite3.connect(octra_env.data_dir / "octra.db")
        texts["llm_calls"] = json.dumps(db.execute("SELECT request, response, error FROM llm_calls").fetchall())
        db.close()
        assert "retrying" in texts["log"]  # the failures were logged, masked
        for where, text in texts.items():
            assert key not in text, f"the stored key leaked into {where}"
            assert env_key not in text, f"the environment key leaked into {where}"
    finally:
        d.kill()


async def test_providers_from_the_environment_and_config_file(octra_env, fake):
    octra_env.config.write_text(
        "[providers.local]\n"
        f'kind = "ollama"\nmodel = "qwen2.5"\nbase_url = "{fake.url}"\n'
        "[providers.broken]\n"
        'kind = "openai"\nmodel = "gpt-4o"\nbase_url = "ftp://nowhere"\n'
    )
    env = {**NO_PROXY, "GEMINI_API_KEY": "gm-env-key-123456", "OLLAMA_HOST": fake.url.removeprefix("http://")}
    d = DaemonProcess(octra_env).start(env=env)
    try:
        async with d.connect() as c:
            listed = await c.call("providers.list")
            got = {p["name"]: (p["kind"], p["source"], p["has_key"], p["model"]) for p in listed["providers"]}
            assert got == {
                "gemini": ("gemini", "env", True, "gemini-2.5-flash"),
                "local": ("ollama", "config", False, "qwen2.5"),
                "ollama": ("ollama", "env", False, "llama3.1"),
            }
            # a config.toml provider comes before the environment's as the default
            assert listed["default"] == "local"
            assert [e["name"] for e in listed["errors"]] == ["broken"] and "base_url" in listed["errors"][0]["error"]
            with pytest.raises(RpcError) as err:
                await c.call("providers.test", {"name": "broken"})
            assert "config.toml [providers.broken]" in err.value.message
            fake.push(PONG, PONG)
            assert (await c.call("providers.test", {"name": "local"}))["answer"] == ANSWER
            assert (await c.call("providers.test", {"name": "ollama"}))["answer"] == ANSWER
            assert [r.model for r in fake.requests] == ["qwen2.5", "llama3.1"]
            with pytest.raises(RpcError) as err:
                await c.call("providers.remove", {"name": "local"})
            assert err.value.kind == "conflict" and "config.toml" in err.value.message
    finally:
        d.stop()
    # OCTRA_PROVIDER names the default outright
    d = DaemonProcess(octra_env).start(env={**env, "OCTRA_PROVIDER": "gemini"})
    try:
        async with d.connect() as c:
            assert (await c.call("providers.list"))["default"] == "gemini"
    finally:
        d.stop()



def test_keys_leave_the_daemons_environment(octra_env, tmp_path):
    """Keys given to octrad in its environment are taken out of it at start, so no
    process it starts inherits one, whoever starts it (gitpython runs git with the
    whole environment, from `git version` at import on)."""
    import os
    import shutil
    import subprocess
    import sys

    from tests.conftest import DaemonProcess

    real_git = shutil.which("git")
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    wrapper.write_text(f"#!/bin/sh\nenv > '{dumps}'/git-$$.env\nexec '{real_git}' \"$@\"\n")
    wrapper.chmod(0o755)
    secret, token = "sk-env-secret-0123456789abcdef", "tok-0123456789abcdef"
    d = DaemonProcess(octra_env).start(env={"OPENAI_API_KEY": secret, "MY_SERVICE_TOKEN": token,
                                            "PATH": f"{wrapper.parent}:{os.environ['PATH']}"})
    try:
        out = subprocess.run([sys.executable, "-m", "octractl", "--json", "run", "a tiny tool", "--stack", "zig",
                              "--provider", "offline"], env=octra_env.env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        listed = subprocess.run([sys.executable, "-m", "octractl", "--json", "providers", "list"], env=octra_env.env,
                                capture_output=True, text=True, timeout=60)
        assert '"openai"' in listed.stdout and secret not in listed.stdout  # the key is still usable, never shown
    finally:
        d.stop()
    seen = list(dumps.glob("git-*.env"))
    assert seen, "the daemon ran git"
    for f in seen:
        text = f.read_text()
        assert secret not in text and token not in text, f.name
