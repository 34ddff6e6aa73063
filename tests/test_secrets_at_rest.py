"""Files and secrets at rest, through a real daemon: the data folder 0700 and
the database files 0600 from their first byte, provider keys and the GitHub
token in the keyring (a backend chosen through keyring's own configuration)
or else a 0600 file, never in the database's bytes; keys that older versions
stored in the database are moved out at start."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import time
from pathlib import Path

import anyio
import pytest

from tests.conftest import ROOT, DaemonProcess
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import wait_status

KEY = "sk-at-rest-0123456789abcdefXYZ"
TOKEN = "ghp_atrest0123456789abcdefghijklmnopqrs"
DB_FILES = ("octra.db", "octra.db-wal", "octra.db-shm")


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def assert_not_in_db(data_dir: Path, *secrets: str) -> None:
    seen = [f for f in DB_FILES if (data_dir / f).exists()]
    assert "octra.db" in seen
    for name in seen:
        raw = (data_dir / name).read_bytes()
        for s in secrets:
            assert s.encode() not in raw, f"{s[:6]}... is in {name}"


@pytest.fixture
def fake():
    with FakeProvider() as f:
        f.responder = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "write", ["a.txt"])),
                             work=lambda a, n: files(("a.txt", "A\n")), review=lambda a, n: {"approved": True},
                             validate=lambda a, n: {"approved": True})
        yield f


async def use_key_and_token(d: DaemonProcess, fake) -> None:
    """Store a key and a token, and run a task that uses the key (it reaches the provider)."""
    async with d.connect() as c:
        await c.call("providers.set", {"name": "fake", "kind": "openai", "base_url": fake.base_url("openai"),
                                       "model": "gpt-test", "api_key": KEY})
        await c.call("github.set_token", {"token": TOKEN, "check": False})
        tid = (await c.call("task.create", {"description": "use the key", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "done", task["error"]
    assert fake.requests and all(r.headers.get("authorization") == f"Bearer {KEY}" for r in fake.requests)


def test_data_folder_and_database_files_are_private_from_the_first_byte(octra_env):
    data = octra_env.data_dir
    data.mkdir(mode=0o755)
    os.chmod(data, 0o755)  # there already, and open to everyone
    d = DaemonProcess(octra_env).start(wait=False, umask=0)  # the widest umask: nothing may rely on it
    widest: dict[str, int] = {}
    try:
        deadline = time.monotonic() + 20
        from octra_protocol.autostart import daemon_answers

        while time.monotonic() < deadline:  # watch the files appear while the daemon starts
            for name in DB_FILES:
                try:
                    widest[name] = widest.get(name, 0) | mode(data / name)
                except FileNotFoundError:
                    pass
            if daemon_answers(d.socket, timeout=0.05):
                break
        assert daemon_answers(d.socket, timeout=2), d.stderr()
        st = d.ctl("--json", "status")
        assert json.loads(st.stdout)["keys"] == f"0600 file {data / 'secrets.json'}"
        assert f"keys      0600 file {data / 'secrets.json'}" in d.ctl("status").stdout
        assert mode(data) == 0o700
        for name in DB_FILES:
            assert mode(data / name) == 0o600, name
            assert widest.get(name, 0o600) == 0o600, (name, oct(widest[name]))
        r = d.ctl("github", "token", "set", "--no-check", input=TOKEN + "\n")
        assert r.returncode == 0, r.stderr
        assert mode(data / "secrets.json") == 0o600
    finally:
        d.stop()


async def test_keys_are_kept_in_a_0600_file_and_never_in_the_database(daemon, fake):
    data = daemon.oenv.data_dir
    await use_key_and_token(daemon, fake)
    assert_not_in_db(data, KEY, TOKEN)  # while running: the WAL and SHM too
    secrets = data / "secrets.json"
    assert mode(secrets) == 0o600
    assert {KEY, TOKEN} <= set(json.loads(secrets.read_text()).values())
    async with daemon.connect() as c:
        st = await c.call("daemon.status")
        assert st["keys"] == f"0600 file {secrets}"
    daemon.restart()
    async with daemon.connect() as c:  # read back from the file after a restart
        assert [p["has_key"] for p in (await c.call("providers.list"))["providers"] if p["name"] == "fake"] == [True]
        gh = await c.call("github.status", {"check": False})
        assert gh["has_token"] and gh["token_source"] == "stored"
        await c.call("providers.remove", {"name": "fake"})
        await c.call("github.set_token", {"token": None, "check": False})
    assert KEY not in secrets.read_text() and TOKEN not in secrets.read_text()
    daemon.stop()
    assert_not_in_db(data, KEY, TOKEN)
    log = daemon.oenv.log_file.read_text()
    assert KEY not in log and TOKEN not in log and "Traceback" not in log


async def test_plaintext_keys_of_an_older_version_are_moved_out_at_start(daemon, fake):
    data = daemon.oenv.data_dir
    daemon.stop()
    # what an older octrad left: keys in the tables, changed once (stale copies in free space)
    with sqlite3.connect(data / "octra.db") as db:
        now = time.time()
        db.execute("INSERT INTO providers(name, kind, base_url, model, api_key, extra, created_at, updated_at) "
                   "VALUES ('fake', 'openai', ?, 'gpt-test', ?, '{}', ?, ?)", (fake.base_url("openai"), KEY[::-1], now, now))
        db.execute("UPDATE providers SET api_key = ? WHERE name = 'fake'", (KEY,))
        db.execute("INSERT INTO credentials(name, secret, updated_at) VALUES ('github_token', ?, ?)", (TOKEN, now))
    assert KEY.encode() in b"".join((data / f).read_bytes() for f in DB_FILES if (data / f).exists())
    daemon.start()
    assert_not_in_db(data, KEY, KEY[::-1], TOKEN)
    async with daemon.connect() as c:
        assert [p["has_key"] for p in (await c.call("providers.list"))["providers"] if p["name"] == "fake"] == [True]
        assert (await c.call("github.status", {"check": False}))["token_source"] == "stored"
        tid = (await c.call("task.create", {"description": "use the moved key", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "done", task["error"]
    assert fake.requests[-1].headers["authorization"] == f"Bearer {KEY}"
    assert "moved 2 secret(s) out of the database" in daemon.oenv.log_file.read_text()
    daemon.stop()
    assert_not_in_db(data, KEY, KEY[::-1], TOKEN)


def keyring_env(octra_env, delay: float = 0.0) -> dict:
    return {"PYTHON_KEYRING_BACKEND": "tests.fakes.keyring_backend.FileKeyring",
            "OCTRA_TEST_KEYRING": str(octra_env.root / "keyring.json"),
            "OCTRA_TEST_KEYRING_DELAY": str(delay),
            "PYTHONPATH": str(ROOT)}


async def test_a_configured_keyring_backend_holds_the_keys(octra_env, fake):
    env = keyring_env(octra_env)
    d = DaemonProcess(octra_env).start(env=env)
    try:
        async with d.connect() as c:
            assert (await c.call("daemon.status"))["keys"] == "keyring (FileKeyring)"
        await use_key_and_token(d, fake)
        ring = json.loads(Path(env["OCTRA_TEST_KEYRING"]).read_text())
        assert ring[f"octra {octra_env.data_dir}|provider:fake"] == KEY
        assert ring[f"octra {octra_env.data_dir}|github_token"] == TOKEN
        assert not (octra_env.data_dir / "secrets.json").exists()
        assert_not_in_db(octra_env.data_dir, KEY, TOKEN)
        assert "keys      keyring (FileKeyring)" in d.ctl("status", env=env).stdout
        d.stop()
        d.start(env=env)
        async with d.connect() as c:
            assert [p["has_key"] for p in (await c.call("providers.list"))["providers"] if p["name"] == "fake"] == [True]
    finally:
        d.stop()


async def test_a_slow_keyring_does_not_stall_the_daemon(octra_env, fake):
    """Each keyring call takes 1.5 s (a D-Bus keyring waiting to unlock): other clients are
    answered meanwhile."""
    env = keyring_env(octra_env, delay=1.5)
    d = DaemonProcess(octra_env).start(env=env)
    try:
        async with d.connect() as a, d.connect() as b:
            lags: list[float] = []

            async def set_key():
                await a.call("providers.set", {"name": "slow", "kind": "openai", "base_url": fake.base_url("openai"),
                                               "model": "m", "api_key": KEY})

            async with anyio.create_task_group() as tg:
                tg.start_soon(set_key)
                await anyio.sleep(0.3)  # the write is in the keyring now
                for _ in range(3):
                    t = time.monotonic()
                    await b.call("daemon.status")
                    lags.append(time.monotonic() - t)
            assert max(lags) < 0.7, lags
    finally:
        d.stop()


def test_a_damaged_secrets_file_stops_the_start_with_a_clear_error(octra_env):
    octra_env.data_dir.mkdir(mode=0o700)
    (octra_env.data_dir / "secrets.json").write_text("{not json")
    d = DaemonProcess(octra_env)
    with pytest.raises(RuntimeError) as err:
        d.start()
    assert "secrets file" in str(err.value) and "fix or remove it" in str(err.value)
    assert (octra_env.data_dir / "secrets.json").read_text() == "{not json"  # nothing overwritten
