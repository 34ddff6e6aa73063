"""The tool executor with real subprocesses: timeouts kill the whole group,
output is capped to its tail, secrets never reach the child, bubblewrap keeps
writes inside the project and the network off, nix develop falls back with a
reason, and real toolchains (cargo, npm) scaffold real projects."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from octra_protocol.methods.settings import SettingsResult
from octrad import redact
from octrad.scaffold import netfence, sandbox
from octrad.scaffold.executor import BadCommand, Executor, missing_program, needs_registry
from octrad.scaffold.flake import write_flake

BWRAP_OK = sandbox.probe()[0]
needs_bwrap = pytest.mark.skipif(not BWRAP_OK, reason=f"bubblewrap cannot run here: {sandbox.probe()[1]}")
MODES = ["none", pytest.param("bwrap", marks=needs_bwrap)]
#: explicit, so the anyio plugin sees it at collection time and parametrize works
pytestmark = pytest.mark.anyio


@pytest.fixture
def projects(tmp_path):
    d = tmp_path / "projects"
    (d / "demo").mkdir(parents=True)
    return d


def executor(projects, mode="none", events=None, **kw):
    settings = SettingsResult(sandbox=mode, sandbox_network=kw.pop("sandbox_network", True))
    hide = kw.pop("hide", None)

    async def publish(kind, data):
        if events is not None:
            events.append((kind, data))

    return Executor(settings, projects_dir=projects, hide=hide, publish=publish, **kw)


def alive(marker: str) -> list[int]:
    """Pids of live (non-zombie) processes whose command line contains marker."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if marker in cmd and state != "Z":
            found.append(int(pid))
    return found


@pytest.mark.parametrize("mode", MODES)
async def test_timeout_kills_the_whole_process_group(projects, mode):
    ex = executor(projects, mode)
    marker = f"{41 + time.monotonic_ns() % 1000 / 1000:.3f}"
    # a background child, and a foreground one that ignores SIGTERM
    cmd = f"sleep {marker}1 & trap '' TERM; echo started; sleep {marker}2; echo never"
    t0 = time.monotonic()
    res = await ex.run(cmd, projects / "demo", timeout=1)
    assert res.timed_out and not res.ok
    assert res.exit_code != 0
    assert time.monotonic() - t0 < 10
    assert "started" in res.output_tail and "never" not in res.output_tail
    assert any("timeout" in n for n in res.notes)
    deadline = time.monotonic() + 3
    while alive(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(f"sleep {marker}") == []


async def test_a_finished_command_does_not_wait_for_its_background_children(projects):
    marker = f"{51 + time.monotonic_ns() % 1000 / 1000:.3f}"
    res = await executor(projects).run(f"sleep {marker} & echo done", projects / "demo", timeout=30)
    assert res.ok and not res.timed_out and res.duration_s < 5
    assert res.output_tail == "done\n"
    deadline = time.monotonic() + 3
    while alive(f"sleep {marker}") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert alive(f"sleep {marker}") == []


async def test_output_keeps_its_tail_within_the_cap(projects):
    ex = executor(projects, output_cap=4096)
    code = "import sys\nfor i in range(20000): print('line', i)\nprint('THE END', file=sys.stderr)"
    res = await ex.run([sys.executable, "-u", "-c", code], projects / "demo")
    assert res.ok
    assert res.output_tail.endswith("line 19999\nTHE END\n")
    assert res.output_bytes > 200_000
    head, _, body = res.output_tail.partition("\n")
    assert head.startswith("[... ") and "earlier bytes cut" in head
    assert len(body.encode()) <= 4096
    assert "line 0\n" not in res.output_tail


@pytest.mark.parametrize("mode", MODES)
async def test_no_secret_reaches_the_child(projects, monkeypatch, mode):
    secret = "sk-live-" + os.urandom(8).hex()
    token = "ghp_" + os.urandom(10).hex()
    monkeypatch.setenv("OPENAI_API_KEY", secret)
    monkeypatch.setenv("GITHUB_TOKEN", token)
    monkeypatch.setenv("HTTPS_PROXY", f"http://user:{token}@proxy.invalid:3128")  # allowed name, secret value
    redact.register(secret)
    redact.register(token)
    events = []
    ex = executor(projects, mode, events=events)
    res = await ex.run("env; echo marker-end", projects / "demo", env={"EXTRA_SETTING": "fine", "LEAKY": token})
    assert res.ok and res.output_tail.endswith("marker-end\n")
    assert secret not in res.output_tail and token not in res.output_tail
    for name in ("OPENAI_API_KEY", "GITHUB_TOKEN", "HTTPS_PROXY", "LEAKY"):
        assert f"\n{name}=" not in "\n" + res.output_tail
    assert "\nEXTRA_SETTING=fine\n" in "\n" + res.output_tail
    assert any("LEAKY" in n for n in res.notes)
    # a secret the command prints anyway is masked in the output and the events
    code = "print('key=' + 'sk-live-' + %r)" % secret[len("sk-live-"):]
    # python3 from PATH: the sandbox has the toolchains on PATH, not the test's own venv
    res = await ex.run(["python3", "-c", code], projects / "demo")
    assert res.output_tail == "key=***\n"
    assert secret not in repr(events) and token not in repr(events)
    assert [k for k, _ in events] == ["command.started", "command.finished"] * 2


@needs_bwrap
async def test_bwrap_allows_writes_only_in_the_project(projects, tmp_path):
    # not under /tmp: the sandbox has a private /tmp, so a path there would not even exist
    outside = Path(tempfile.mkdtemp(prefix="octra-outside-", dir="/var/tmp"))
    request_cleanup = lambda: shutil.rmtree(outside, ignore_errors=True)  # noqa: E731
    data = tmp_path / "data"
    data.mkdir()
    (data / "octra.db").write_text("provider keys live here")
    config = outside / "config.toml"  # outside /tmp, so only the masking keeps it from the command
    config.write_text('[providers.x]\napi_key = "in the config"\n')
    ex = executor(projects, "bwrap", hide=[data, Path.home(), config])
    res = await ex.run(f"touch inside.txt && echo ok > {outside}/escape.txt", projects / "demo")
    assert res.sandbox == "bwrap"
    # an allow-list: the folder is not even there
    assert res.exit_code != 0 and ("No such file" in res.output_tail or "nonexistent" in res.output_tail)
    assert (projects / "demo" / "inside.txt").exists()
    assert not (outside / "escape.txt").exists()
    assert res.new_files == ["inside.txt"]
    for target in (projects / "sibling.txt", Path.home() / f"octra-escape-{os.getpid()}", data / "x", outside / "y"):
        res = await ex.run(f"echo x > {target}", projects / "demo")
        # (under /tmp the write may land in the sandbox's own private /tmp: gone with it)
        assert res.exit_code != 0 or str(target).startswith("/tmp/"), target
        assert not target.exists(), target
    res = await ex.run(f"cat {data}/octra.db", projects / "demo")
    assert res.exit_code != 0 and "provider keys" not in res.output_tail
    res = await ex.run(f"cat {config}; echo x > {config}", projects / "demo")
    assert "in the config" not in res.output_tail and res.exit_code != 0
    assert "in the config" in config.read_text()
    request_cleanup()
    (projects / "other").mkdir()
    (projects / "other" / "secret.txt").write_text("another project's file")
    res = await ex.run(f"cat {projects}/other/secret.txt", projects / "demo")
    assert res.exit_code != 0 and "another project" not in res.output_tail
    # the toolchains under the hidden home are still there
    if shutil.which("cargo"):
        assert (await ex.run("cargo --version", projects / "demo")).ok


@needs_bwrap
async def test_bwrap_hides_the_data_folder_by_default(projects):
    data = projects.parent  # the daemon's layout: <data>/projects, <data>/octra.db
    (data / "octra.db").write_text("provider keys live here")
    res = await Executor(SettingsResult(sandbox="bwrap"), projects_dir=projects).run(f"cat {data}/octra.db", projects / "demo")
    assert res.exit_code != 0 and "provider keys" not in res.output_tail


@needs_bwrap
async def test_bwrap_network_only_when_needed_and_allowed(projects):
    """No network by default; a registry command's network (pasta/slirp4netns)
    does not reach the host's loopback; unsandboxed the network is the host's."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    seen = []

    def serve():
        try:
            while True:
                seen.append(server.accept()[0].close())
        except OSError:  # closed at the end of the test
            pass

    threading.Thread(target=serve, daemon=True).start()
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3); print('CONNECTED')"
    argv = ["python3", "-c", code]
    try:
        ex = executor(projects, "bwrap")
        res = await ex.run(argv, projects / "demo")
        assert res.exit_code != 0 and "CONNECTED" not in res.output_tail and res.network == "none"
        res = await ex.run(argv, projects / "demo", network=True)
        assert res.exit_code != 0 and "CONNECTED" not in res.output_tail
        assert res.network == netfence.network_tool()[0], res.notes
        strict = executor(projects, "bwrap", sandbox_network=False)
        res = await strict.run(argv, projects / "demo", network=True)
        assert res.exit_code != 0 and "CONNECTED" not in res.output_tail and res.network == "none"
        assert any("sandbox_network = false" in n for n in res.notes)
        assert seen == []
        # unsandboxed, the network is simply there
        res = await executor(projects, "none").run(argv, projects / "demo")
        assert res.ok and "CONNECTED" in res.output_tail and res.network == "host"
    finally:
        server.close()


def test_registry_guess():
    assert needs_registry("npm install") and needs_registry("cd web && npm ci --silent")
    assert needs_registry("cargo build --release") and needs_registry(["pip", "install", "-r", "requirements.txt"])
    assert needs_registry("FOO=1 go mod tidy")
    assert not needs_registry("cargo init --name demo") and not needs_registry("npm init -y")
    assert not needs_registry("ls -la; echo npm install")


def test_sandbox_bwrap_required_but_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    sandbox.probe.cache_clear()
    try:
        with pytest.raises(sandbox.SandboxUnavailable, match="sandbox = bwrap, but bubblewrap .bwrap. is not installed"):
            sandbox.decide("bwrap")
        assert sandbox.decide("auto") == (False, "commands run unsandboxed (sandbox = auto): bubblewrap (bwrap) is not installed")
    finally:
        monkeypatch.undo()
        sandbox.probe.cache_clear()


async def test_bad_input_is_refused_clearly(projects, tmp_path):
    ex = executor(projects)
    with pytest.raises(BadCommand, match="only inside the projects folder"):
        await ex.run("true", tmp_path)
    with pytest.raises(BadCommand, match="projects folder itself"):
        await ex.run("true", projects)
    with pytest.raises(BadCommand, match="is not a folder"):
        await ex.run("true", projects / "missing")
    with pytest.raises(BadCommand, match="empty"):
        await ex.run("  ", projects / "demo")
    os.symlink(tmp_path, projects / "escape")
    with pytest.raises(BadCommand, match="only inside the projects folder"):
        await ex.run("true", projects / "escape")


def test_missing_program_before_running():
    assert missing_program("cd web && FOO=1 octra-no-such-tool build") == "octra-no-such-tool"
    assert missing_program("cd web && git status; echo ok") is None
    assert missing_program(["./configure"]) == "./configure"
    assert missing_program([sys.executable, "-V"]) is None


async def test_missing_tool_is_reported(projects):
    res = await executor(projects).run("FOO=1 octra-no-such-tool --version", projects / "demo")
    assert res.exit_code == 127 and res.missing_tool == "octra-no-such-tool"
    assert any("octra-no-such-tool is not installed" in n for n in res.notes)


async def test_new_files_come_from_git_status(projects):
    demo = projects / "demo"
    subprocess.run(["git", "init", "-q", str(demo)], check=True)
    (demo / ".gitignore").write_text("*.log\n")
    (demo / "old.txt").write_text("there before\n")
    res = await executor(projects).run("mkdir -p a/b && touch a/b/c x.txt debug.log old.txt", demo)
    assert res.ok and res.new_files == ["a/b/c", "x.txt"]
    res = await executor(projects).run("touch y.txt", demo / "a")
    assert res.new_files == ["a/y.txt"]


@pytest.mark.skipif(shutil.which("nix") is None, reason="nix is not installed")
async def test_nix_develop_falls_back_quickly_with_the_reason(projects, monkeypatch):
    monkeypatch.setenv("NIX_CONFIG", "substituters =")
    demo = projects / "demo"
    write_flake(demo, "python", "demo")
    t0 = time.monotonic()
    res = await executor(projects).run("echo direct", demo)
    assert time.monotonic() - t0 < 30
    if not res.nix_used:  # no network here: nixpkgs cannot be fetched
        assert res.ok and res.output_tail == "direct\n"
        assert any(n.startswith("running directly, not in nix develop: the flake's inputs are not available offline") for n in res.notes)
    res = await executor(projects).run("echo direct", demo, use_nix=False)
    assert not res.nix_used and not any("nix develop" in n for n in res.notes)


@pytest.mark.skipif(not (shutil.which("cargo") and shutil.which("npm")), reason="cargo and npm are needed")
@pytest.mark.parametrize("mode", ["auto"])
async def test_real_scaffolding_with_cargo_and_npm(projects, mode):
    ex = executor(projects, mode)
    rust = projects / "rusty"
    rust.mkdir()
    res = await ex.run("cargo init --name rusty --vcs git", rust, timeout=120)
    assert res.ok, res.output_tail
    assert {"Cargo.toml", "src/main.rs", ".gitignore"} <= set(res.new_files)
    assert 'name = "rusty"' in (rust / "Cargo.toml").read_text() and (rust / ".git").is_dir()
    res = await ex.run("cargo build --offline && ./target/debug/rusty", rust, timeout=300)
    assert res.ok, res.output_tail
    assert res.output_tail.rstrip().endswith("Hello, world!")
    assert "target/debug/rusty" not in res.new_files, "target/ is ignored"

    web = projects / "web"
    web.mkdir()
    res = await ex.run("npm init -y", web, timeout=120)
    assert res.ok, res.output_tail
    assert res.new_files == ["package.json"]
    assert '"name": "web"' in (web / "package.json").read_text()


@needs_bwrap
async def test_bwrap_keeps_a_toolchain_on_path_that_lives_under_tmp(projects):
    """The sandbox's /tmp is private, yet a tool on PATH installed under /tmp (CI's
    virtualenv, a checkout running its own tests) still runs, read-only; a /tmp
    folder a command merely names is not there."""
    tool = Path(tempfile.mkdtemp(prefix="octra-tool-", dir="/tmp"))
    other = Path(tempfile.mkdtemp(prefix="octra-other-", dir="/tmp"))
    try:
        script = tool / "bin" / "hello"
        script.parent.mkdir()
        script.write_text("#!/bin/sh\necho hello from $0\ntouch \"$0.written\" 2>/dev/null && echo wrote\nexit 0\n")
        script.chmod(0o755)
        (other / "secret.txt").write_text("someone else's")
        env = {"PATH": f"{tool}/bin:{os.environ['PATH']}"}
        res = await executor(projects, mode="bwrap").run(f"hello; cat {other}/secret.txt", projects / "demo", env=env)
        assert "hello from" in res.output_tail and "wrote" not in res.output_tail, res.output_tail
        assert "someone else's" not in res.output_tail and res.exit_code != 0
        assert not Path(f"{script}.written").exists()
        # named by its path but not on PATH: not there
        res = await executor(projects, mode="bwrap").run(str(script), projects / "demo")
        assert res.exit_code != 0 and "hello from" not in res.output_tail
    finally:
        shutil.rmtree(tool)
        shutil.rmtree(other)
