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
    assert bad.returncode == 2 and "sandbox must be one of auto, bwrap, none" in bad.stderr, "refused before it is sent"


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
    "task.accept": ["eval", "run"],
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


# -- the honest end: checks, verified, sandbox in summaries ---------------------

def protocol_task(**fields) -> dict:
    """A task.get answer built through the protocol's own types (what the daemon sends)."""
    import msgspec

    from octra_protocol.methods.tasks import CheckResult, Task, TaskError, Usage

    base = dict(task_id="t1", project_id="p1", project="words", description="count words", status="done",
                provider="offline", model=None, stack="python", plan=None, agents=[], files=["a.py"],
                usage=Usage(), store_path=None, repo_url=None, pull_request_url=None, error=None,
                created_at=1.0, updated_at=2.0)
    base.update(fields)
    base["checks"] = [c if isinstance(c, CheckResult) else CheckResult(**c) for c in base.get("checks", [])]
    if isinstance(base.get("error"), dict):
        base["error"] = TaskError(**base["error"])
    return msgspec.to_builtins(Task(**base))


PASSED = {"name": "build", "command": "pip install -e .", "exit_code": 0, "passed": True, "duration_s": 2.5}
FAILED = {"name": "test", "command": "pytest -q", "exit_code": 1, "passed": False, "duration_s": 0.75,
          "output_tail": "collected 3 items\nE   AssertionError: 2 != 3\n1 failed, 2 passed"}
SKIPPED = {"name": "smoke", "command": "words --help", "skipped_reason": "the tool words is not installed"}


def test_summary_shows_each_check_and_the_verdict():
    from octractl.taskview import summary

    ok = summary(protocol_task(checks=[PASSED], verified=True, sandbox="bwrap"))
    assert "checks    verified: 1 check passed" in ok
    assert "✓ build  pip install -e .  exit 0, 2.5s" in ok
    assert "UNSANDBOXED" not in ok

    bad = summary(protocol_task(status="failed", checks=[PASSED, FAILED], verified=False, sandbox="none",
                                error={"kind": "checks_failed", "message": "1 check still fails after 2 fix attempts"}))
    assert "checks    failed checks: test" in bad
    assert "✗ test  pytest -q  exit 1, 0.8s" in bad
    assert "      | E   AssertionError: 2 != 3" in bad, "the failed check's output tail"
    assert "collected" in bad and bad.count("      | ") == 3
    assert "UNSANDBOXED" in bad, "a loud line when commands ran without a sandbox"
    assert "octractl resume t1 --meta max_fix_attempts=" in bad

    unverified = summary(protocol_task(checks=[SKIPPED], verified=None, notes=["cargo is missing"]))
    assert "checks    unverified: the tool words is not installed" in unverified
    assert "- smoke  words --help  not run: the tool words is not installed" in unverified
    none_ran = summary(protocol_task(verified=None, notes=["no toolchain for this stack"]))
    assert "unverified: no check could run (see the notes)" in none_ran
    # still building, or failed before verification: no verdict at all
    assert "checks " not in summary(protocol_task(status="building"))


def test_run_exit_code_and_summary_through_a_real_daemon(daemon):
    """`octractl run` exits 0 only for done; the summary carries the verdict whatever the daemon fills."""
    out = daemon.ctl("run", "a python command-line tool that greets the user", "--provider", "offline", timeout=240)
    task = json.loads(daemon.ctl("--json", "rpc", "task.list", '{"limit": 1}').stdout)["tasks"][0]
    full = json.loads(daemon.ctl("--json", "show", task["task_id"]).stdout)
    assert out.returncode == (0 if full["status"] == "done" else 1), out.stdout + out.stderr
    if full.get("verified") is True:
        assert "checks    verified" in out.stdout
    elif full.get("verified") is False:
        assert "checks    failed checks" in out.stdout and out.returncode == 1
    elif full["status"] == "done":
        assert "checks    unverified" in out.stdout
    if full.get("sandbox") == "none":
        assert "UNSANDBOXED" in out.stdout


def test_resume_passes_meta(daemon):
    bad = daemon.ctl("resume", "tnope", "--meta", "max_fix_attempts")
    assert bad.returncode == 2 and "KEY=VALUE" in bad.stderr
    # the daemon takes the meta (a task.resume param); an unknown task is its answer, not a usage error
    out = daemon.ctl("resume", "tnope", "--meta", "max_fix_attempts=5")
    assert out.returncode == 1 and "invalid" not in out.stderr.lower(), out.stderr


def test_a_second_daemon_on_the_same_data_refuses(daemon, octra_env):
    """A mistyped --socket must not start a second daemon on the same data folder."""
    other = str(octra_env.runtime / "other.sock")
    out = daemon.ctl("--socket", other, "status")
    assert out.returncode == 3, out
    assert f"pid {daemon.proc.pid}" in out.stderr and str(octra_env.data_dir) in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert not os.path.exists(other)
    # the first daemon is untouched and still the one answering
    assert json.loads(daemon.ctl("--json", "status").stdout)["pid"] == daemon.proc.pid
    # the same daemon started again after a stop takes the lock again (it is not left held)
    daemon.restart()
    assert json.loads(daemon.ctl("--json", "status").stdout)["pid"] == daemon.proc.pid


def test_a_bad_config_names_the_file_the_key_and_what_is_allowed(octra_env):
    octra_env.config.write_text("[settings]\ntemperature = \"hot\"\n")
    out = ctl(octra_env, "status")
    assert out.returncode == 3 and "Traceback" not in out.stderr and "ExceptionGroup" not in out.stderr
    assert str(octra_env.config) in out.stderr and "temperature" in out.stderr and "from 0 to 2" in out.stderr, out.stderr
    # the daemon's log says it too (a daemon started in the background is looked for there)
    assert "temperature" in octra_env.log_file.read_text()
    serve = subprocess.run([sys.executable, "-m", "octrad", "serve"], env=octra_env.env, capture_output=True, text=True, timeout=60)
    assert serve.returncode == 1 and "Traceback" not in serve.stderr and "temperature must be a number" in serve.stderr

    octra_env.config.write_text("[settings]\nsandbox = 'docker'\n")
    out = ctl(octra_env, "status")
    assert out.returncode == 3 and "sandbox must be one of auto, bwrap, none, not 'docker'" in out.stderr, out.stderr


def test_an_unknown_default_provider_stops_the_start(octra_env):
    """Every run would fail on it: the daemon says so at once, naming where it was set and what is allowed."""
    octra_env.config.write_text('default_provider = "ghost"\n')
    out = ctl(octra_env, "status")
    assert out.returncode == 3 and "Traceback" not in out.stderr
    assert str(octra_env.config) in out.stderr and "default_provider 'ghost'" in out.stderr and "offline" in out.stderr, out.stderr
    out = ctl(octra_env, "status", env={"OCTRA_PROVIDER": "ghost2"})
    assert out.returncode == 3 and "OCTRA_PROVIDER" in out.stderr and "ghost2" in out.stderr, out.stderr
    # OFFLINE is offline
    octra_env.config.write_text('default_provider = "OFFLINE"\n')
    out = ctl(octra_env, "--json", "status")
    try:
        assert out.returncode == 0 and json.loads(out.stdout)["default_provider"] == "offline", out.stderr
    finally:
        ctl(octra_env, "shutdown")


def test_choosing_the_default_provider(daemon):
    def default() -> str:
        return json.loads(daemon.ctl("--json", "providers", "default").stdout)["default"]

    def add(name: str) -> None:
        out = daemon.ctl("providers", "set", name, "--kind", "openai", "--model", "m", "--base-url", "http://127.0.0.1:9/v1")
        assert out.returncode == 0, out.stderr

    assert default() == "offline"
    add("first")
    assert default() == "first", "the first provider added becomes the default"
    add("second")
    assert default() == "first", "adding another does not move the default"
    add("first")  # changing the default's settings does not move it either
    assert default() == "first"
    assert daemon.ctl("providers", "default", "second").stdout.strip() == "default provider: second"
    assert default() == "second"
    assert daemon.ctl("providers", "default", "OFFLINE").returncode == 0 and default() == "offline"
    bad = daemon.ctl("providers", "default", "ghost")
    assert bad.returncode == 1 and "first, second" in bad.stderr and "offline" in bad.stderr, bad.stderr
    assert default() == "offline"
    # the same through settings, and it survives a restart
    assert daemon.ctl("settings", "set", "default_provider", "first").returncode == 0
    daemon.restart()
    assert default() == "first"
    assert json.loads(daemon.ctl("--json", "status").stdout)["default_provider"] == "first"
    # removing the chosen one falls back to the first configured, and says so
    out = daemon.ctl("providers", "remove", "first")
    assert out.returncode == 0 and "the default provider is now second" in out.stderr, out.stderr
    assert daemon.ctl("providers", "default", "--auto").returncode == 0 and default() == "second"


def test_json_after_the_command_task_references_and_settings_in_words(daemon):
    out = daemon.ctl("run", "a python tool that greets", "--provider", "OFFLINE", "--no-wait", "--json")
    assert out.returncode == 0, out.stderr
    tid = json.loads(out.stdout)["task_id"]
    assert json.loads(daemon.ctl("show", "--json").stdout)["task_id"] == tid, "show without TASK: the newest"
    assert json.loads(daemon.ctl("show", "last", "--json").stdout)["task_id"] == tid
    assert json.loads(daemon.ctl("show", tid[:5], "--json").stdout)["task_id"] == tid, "a unique prefix"
    assert json.loads(daemon.ctl("settings", "get", "--json").stdout)["sandbox"]
    nope = daemon.ctl("show", "tzz")
    assert nope.returncode == 1 and "no task 'tzz'" in nope.stderr, nope.stderr
    assert daemon.ctl("watch", "last", "--json").returncode in (0, 1)
    assert "no task" in daemon.ctl("restore", "tnope").stderr
    events = daemon.ctl("events", "--task", "tnope", timeout=20)
    assert events.returncode == 1 and "no task" in events.stderr, "an unknown task is an error, not a wait"
    assert daemon.ctl("tasks", "--limit", "0").returncode == 2
    assert daemon.ctl("tasks").stdout.splitlines()[0].split() == ["TASK", "STATUS", "PROJECT", "DESCRIPTION"]
    assert daemon.ctl("projects").stdout.splitlines()[0].split() == ["PROJECT", "NAME", "TASKS", "STACK", "FOLDER"]

    def complete(*words: str) -> list[str]:
        env = {"COMP_WORDS": " ".join(("octractl", *words)), "COMP_CWORD": str(len(words)), "_OCTRACTL_COMPLETE": "bash_complete"}
        return [line.split(",", 1)[1] for line in daemon.ctl(env=env).stdout.split()]

    assert complete("show", tid[:3]) == [tid], "completion of task ids"
    assert "cargo" in complete("guides", "show", "ca")
    assert complete("settings", "get", "sand") == ["sandbox", "sandbox_network"]

    for args, words in ((["sandbox", "docker"], "sandbox must be one of auto, bwrap, none"),
                        (["max_parallel_llm_calls", "lots"], "max_parallel_llm_calls must be a whole number"),
                        (["colour", "blue"], "there is no setting 'colour'")):
        bad = daemon.ctl("settings", "set", *args)
        assert bad.returncode == 2 and words in bad.stderr, bad.stderr
    neg = daemon.ctl("settings", "set", "command_timeout_s", "-1")
    assert neg.returncode == 1 and "command_timeout_s must be a number from 1 to 86400" in neg.stderr, neg.stderr
    assert daemon.ctl("settings", "set", "publish_repositories", "yes").stdout.strip() == "publish_repositories = true"


def test_interrupting_run_says_what_happens_to_the_task(daemon):
    """Ctrl-C stops following, not the task; a daemon that stops during a run says how to resume."""
    from tests.fakes.ai_script import Script
    from tests.fakes.providers import FakeProvider

    with FakeProvider() as fake:
        script = Script(plan=lambda a, n: {"questions": [], "managers": []})
        script.delay = 30
        fake.responder = script
        assert daemon.ctl("providers", "set", "slow", "--kind", "openai", "--model", "m",
                          "--base-url", fake.base_url("openai"), "--no-key").returncode == 0
        proc = subprocess.Popen([sys.executable, "-m", "octractl", "run", "slow thing", "--provider", "slow"],
                                env=daemon.oenv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            while "status: planning" not in proc.stdout.readline():  # it follows the task now
                assert proc.poll() is None, proc.stderr.read()
            proc.send_signal(signal.SIGINT)
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill()
        tid = json.loads(daemon.ctl("show", "--json").stdout)["task_id"]
        assert proc.returncode == 130 and f"octractl watch {tid}" in err and f"octractl cancel {tid}" in err, err
        assert json.loads(daemon.ctl("show", tid, "--json").stdout)["status"] == "planning", "the task goes on"

        proc = subprocess.Popen([sys.executable, "-m", "octractl", "watch", tid],
                                env=daemon.oenv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            time.sleep(1.5)
            daemon.stop()
            out, err = proc.communicate(timeout=30)
        finally:
            proc.kill()
        assert proc.returncode == 3 and f"octractl resume {tid}" in err, err


def test_a_new_project_name_is_said(daemon):
    out = daemon.ctl("run", "a python tool", "--project", "nosuch", "--no-wait")
    assert out.returncode == 0 and "there is no project 'nosuch' yet: this task starts it" in out.stderr, out.stderr
    daemon.ctl("cancel", "last")
