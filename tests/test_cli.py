"""octractl as a user runs it: autostart, exit codes, --json, raw rpc."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time



def ctl(oenv, *args, env=None, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "octractl", *args],
        env={**oenv.env, **(env or {})}, capture_output=True, text=True, timeout=timeout,
    )


def _pid_of_socket_owner(oenv) -> int:
    out = ctl(oenv, "--no-autostart", "--json", "status")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)["pid"]


def test_autostart_starts_the_daemon_and_reuses_it(octra_env):
    assert not os.path.exists(octra_env.socket)
    out = ctl(octra_env, "status")
    try:
        assert out.returncode == 0, out.stderr
        assert "octrad" in out.stdout and octra_env.socket in out.stdout
        pid = _pid_of_socket_owner(octra_env)
        # a second call talks to the same daemon instead of starting another
        again = ctl(octra_env, "--json", "status")
        assert json.loads(again.stdout)["pid"] == pid
        # the started daemon is detached from octractl and logs to the log folder
        assert "ready on" in octra_env.log_file.read_text()
    finally:
        pid = json.loads(ctl(octra_env, "--no-autostart", "--json", "status").stdout)["pid"]
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            if not os.path.exists(octra_env.socket):
                break
            time.sleep(0.05)
    assert not os.path.exists(octra_env.socket)


def test_no_autostart_means_exit_3(octra_env):
    for args, env in ((["--no-autostart", "status"], None), (["status"], {"OCTRA_NO_AUTOSTART": "1"})):
        out = ctl(octra_env, *args, env=env)
        assert out.returncode == 3, out
        assert "no daemon answers" in out.stderr and "Traceback" not in out.stderr
        assert out.stderr.count("\n") == 1, "one clear line"
    assert not os.path.exists(octra_env.socket)


def test_autostart_failure_is_reported(octra_env):
    octra_env.config.write_text("log_level = 'loud'\n")
    out = ctl(octra_env, "status")
    assert out.returncode == 3
    assert "failed to start" in out.stderr and "log_level" in out.stderr


def test_exit_codes_and_messages(daemon):
    ok = daemon.ctl("--json", "status")
    assert ok.returncode == 0 and json.loads(ok.stdout)["pid"] == daemon.proc.pid
    # the daemon answers with an error: 1, one line, no traceback
    err = daemon.ctl("rpc", "no.such.method")
    assert err.returncode == 1 and "method not found" in err.stderr and "Traceback" not in err.stderr
    bad = daemon.ctl("rpc", "settings.set", '{"temperature": 9}')
    assert bad.returncode == 1 and "temperature" in bad.stderr
    # usage errors: 2
    assert daemon.ctl("rpc", "daemon.status", "{not json").returncode == 2
    assert daemon.ctl("rpc", "daemon.status", "[1]").returncode == 2
    assert daemon.ctl("frobnicate").returncode == 2


def test_rpc_reads_params_from_stdin_and_prints_json(daemon):
    out = daemon.ctl("rpc", "settings.set", "-", input='{"max_parallel_llm_calls": 7}')
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["max_parallel_llm_calls"] == 7
    got = daemon.ctl("settings", "get", "max_parallel_llm_calls")
    assert got.stdout.strip() == "7"


def test_settings_survive_a_restart(daemon):
    assert daemon.ctl("settings", "set", "publish_repositories", "true", "sandbox", "none").returncode == 0
    daemon.restart()
    values = json.loads(daemon.ctl("--json", "settings", "get").stdout)
    assert values["publish_repositories"] is True and values["sandbox"] == "none"
    bad = daemon.ctl("settings", "set", "sandbox", "docker")
    assert bad.returncode == 1 and "sandbox" in bad.stderr


def test_protocol_mismatch_exits_2(daemon):
    code = (
        "import sys, anyio, octra_protocol, octra_protocol.client as c;"
        "octra_protocol.PROTOCOL_VERSION = '9.0'; c.PROTOCOL_VERSION = '9.0';"
        "from octractl.cli import main; sys.argv = ['octractl', 'rpc', 'daemon.status']; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], env=daemon.oenv.env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "protocol mismatch" in out.stderr


def test_status_fast_path_matches_full_cli(daemon):
    fast = json.loads(daemon.ctl("--json", "status").stdout)
    full = json.loads(daemon.ctl("--json", "rpc", "daemon.status").stdout)
    assert set(fast) == set(full) and fast["pid"] == full["pid"]


#: every protocol method and the octractl command that speaks it (initialize and
#: events.unsubscribe come with every connection and every `events` stream)
COMMANDS = {
    "initialize": ["status"], "daemon.status": ["status"], "daemon.shutdown": ["shutdown"],
    "events.subscribe": ["events"], "events.unsubscribe": ["events"],
    "project.list": ["projects"], "project.snapshots": ["snapshots"], "project.restore": ["restore"], "project.gc": ["gc"],
    "task.create": ["run"], "task.list": ["tasks"], "task.get": ["show"], "task.cancel": ["cancel"],
    "task.resume": ["resume"], "task.approve": ["approve"], "task.message": ["reply"],
    "context.list": ["context", "list"], "context.add": ["context", "add"], "context.forget": ["context", "forget"],
    "context.prompt": ["context", "show"],
    "skills.catalog": ["skills", "catalog"], "skills.search": ["skills", "search"], "skills.select": ["skills", "show"],
    "guides.list": ["guides", "list"], "guides.get": ["guides", "show"],
    "settings.get": ["settings", "get"], "settings.set": ["settings", "set"],
    "providers.list": ["providers", "list"], "providers.set": ["providers", "set"],
    "providers.remove": ["providers", "remove"], "providers.test": ["providers", "test"],
    "github.status": ["github", "status"], "github.set_token": ["github", "token", "set"],
}


def test_every_method_has_a_command_with_help_and_json():
    import click

    from octra_protocol.methods import all_methods
    from octractl.cli import cli

    assert set(COMMANDS) == set(all_methods()), "a protocol method without an octractl command (or a stale entry)"
    for method, path in COMMANDS.items():
        cmd = cli
        for name in path:
            assert isinstance(cmd, click.Group) and name in cmd.commands, f"{method}: no `octractl {' '.join(path)}`"
            cmd = cmd.commands[name]
        assert (cmd.help or "").strip(), f"`octractl {' '.join(path)}` has no help text"
    assert any(p.name == "as_json" for p in cli.params), "--json is global"
