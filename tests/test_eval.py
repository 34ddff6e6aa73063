"""``octractl eval``: a real daemon, the scripted fake provider on loopback, the
real CLI; tasks run to their end, their snapshots are judged by acceptance
scripts the model never saw, in the sandbox (``task.accept``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import anyio
import pytest

from octra_protocol.errors import RpcError
from tests.conftest import ROOT
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import use_fake, wait_status

GOOD = 'import sys\nprint("hello " + sys.argv[1])\n'
SNEAKY = 'import sys\nprint("hi " + sys.argv[1])\n'  # its own check (it compiles) passes; the greeting is wrong
SYNTAX_CHECK = {"name": "compile", "command": "python3 -m py_compile greet.py"}
GREETS_CHECK = {"name": "greets", "command": "python3 greet.py Bob | grep -q '^hello Bob$'"}
ACCEPT = """out=$(python3 greet.py Ada) || exit 1
[ "$out" = "hello Ada" ] || { echo "expected 'hello Ada', got '$out'"; exit 1; }
echo accepted
"""


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


def write_suite(root: Path) -> Path:
    """Three tasks: a correct answer, one its own checks miss, one that fails its checks."""
    for name, extra in (("good", ""), ("sneaky", ""), ("broken", "meta = { max_fix_attempts = 1 }\n")):
        d = root / name
        (d / "accept").mkdir(parents=True)
        (d / "task.toml").write_text(f'description = "EVAL-{name.upper()}: greet.py prints hello NAME"\n'
                                     f'stack = "python"\n{extra}')
        (d / "accept" / "accept.sh").write_text(ACCEPT)
    return root


def eval_script(sneaky_answer: str = SNEAKY) -> Script:
    def which(ask) -> str:
        return next(n for n in ("GOOD", "SNEAKY", "BROKEN") if ask.has(f"EVAL-{n}"))

    return Script(
        plan=lambda a, n: plan(("app", "the tool"), files=[{"path": "greet.py", "owner": "app", "purpose": "the tool"}],
                               checks=[GREETS_CHECK if which(a) == "BROKEN" else SYNTAX_CHECK]),
        staff=lambda a, n: staff(("dev", "greet.py", ["greet.py"])),
        work=lambda a, n: files(("greet.py", {"GOOD": GOOD, "SNEAKY": sneaky_answer, "BROKEN": SNEAKY}[which(a)])),
        debug=lambda a, n: {"files": [{"path": "greet.py", "content": SNEAKY}], "explanation": "still wrong"},
        review=lambda a, n: {"approved": True},
        validate=lambda a, n: {"approved": True},
    )


def with_cache(script: Script):
    """Every answer says 4 of its 11 prompt tokens came from the provider's cache."""
    return lambda req: replace(script(req), cached=(4, 0))


def asked_for(script: Script, name: str) -> list:
    return [a for a in script.asked if a.has(f"EVAL-{name.upper()}")]


def ctl(daemon, *args: str) -> subprocess.CompletedProcess:
    return daemon.ctl(*args, timeout=240)


async def test_eval_runs_a_suite_judges_it_resumes_and_compares(daemon, fake, tmp_path):
    suite = write_suite(tmp_path / "suite")
    script = eval_script()
    fake.responder = with_cache(script)
    async with daemon.connect() as c:
        await use_fake(c, fake)
    a_dir = tmp_path / "run-a"

    # two of the three tasks; the third comes with --resume
    out = await anyio.to_thread.run_sync(lambda: ctl(daemon, "eval", str(suite), "--provider", "fake", "--tasks",
                                                     "good,sneaky", "--parallel", "2", "--out", str(a_dir)))
    assert out.returncode == 0, out.stderr + out.stdout
    data = json.loads((a_dir / "results.json").read_text())
    assert set(data["tasks"]) == {"good", "sneaky"} and data["provider"] == "fake"
    good, sneaky = data["tasks"]["good"], data["tasks"]["sneaky"]
    assert (good["status"], good["verified"], good["accepted"]) == ("done", True, True), good
    # the eval catches what the task's own checks did not
    assert (sneaky["status"], sneaky["verified"], sneaky["accepted"]) == ("done", True, False), sneaky
    assert "expected 'hello Ada', got 'hi Ada'" in sneaky["accept_output"]
    for name, rec in (("good", good), ("sneaky", sneaky)):
        calls = len(asked_for(script, name))
        assert calls >= 5 and rec["calls"] == calls, (name, rec["calls"], calls)
        assert (rec["tokens_in"], rec["tokens_out"], rec["tokens_cached"]) == (11 * calls, 7 * calls, 4 * calls)
        assert rec["lines"] >= 2 and rec["tokens_per_line"] == round(18 * calls / rec["lines"], 1)
        assert rec["sandbox"] == "bwrap" and rec["wall_s"] > 0
    assert "good" in out.stdout and "1/2 accepted (50%)" in out.stdout
    assert "sneaky: [" in out.stderr and "REJECTED" in out.stderr  # plain progress lines (not a terminal)

    # --resume runs only what is missing: the good and sneaky tasks are not asked again
    before = {n: len(asked_for(script, n)) for n in ("good", "sneaky")}
    out = await anyio.to_thread.run_sync(lambda: ctl(daemon, "eval", "--resume", str(a_dir), "--tasks", "good,sneaky,broken"))
    assert out.returncode == 0, out.stderr + out.stdout
    assert {n: len(asked_for(script, n)) for n in ("good", "sneaky")} == before
    assert "good: already judged" in out.stderr
    data = json.loads((a_dir / "results.json").read_text())
    broken = data["tasks"]["broken"]
    assert (broken["status"], broken["error_kind"], broken["verified"], broken["accepted"]) == \
        ("failed", "checks_failed", False, False), broken
    assert broken["checks"] == [{"name": "greets", "passed": False}]
    assert data["tasks"]["good"] == good  # kept as it was
    assert "1/3 accepted (33%)" in out.stdout

    html = (a_dir / "report.html").read_text()
    assert html.startswith("<!doctype html>") and "<svg" in html and "</html>" in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html
    for name in ("good", "sneaky", "broken"):
        assert f"<td>{name}</td>" in html
    assert "expected &#x27;hello Ada&#x27;, got &#x27;hi Ada&#x27;" in html

    # a second run in which the sneaky answer is right: compare shows it flipped
    script.handlers["work"] = eval_script(sneaky_answer=GOOD).handlers["work"]
    b_dir = tmp_path / "run-b"
    out = await anyio.to_thread.run_sync(lambda: ctl(daemon, "eval", str(suite), "--provider", "fake",
                                                     "--tasks", "sneaky", "--out", str(b_dir)))
    assert out.returncode == 0, out.stderr + out.stdout
    assert json.loads((b_dir / "results.json").read_text())["tasks"]["sneaky"]["accepted"] is True
    out = ctl(daemon, "eval", "compare", str(a_dir), str(b_dir))
    assert out.returncode == 0, out.stderr
    assert "flipped: 1: sneaky: fail -> pass" in out.stdout
    assert "1/3 (33%)" in out.stdout and "1/1 (100%)" in out.stdout
    lines = {ln.split()[0]: ln.split() for ln in out.stdout.splitlines() if ln.startswith(("sneaky", "good", "broken"))}
    assert lines["sneaky"][-1] == "FIXED" and lines["good"][1:3] == ["pass", "absent"]

    # a results folder is never overwritten by a new run
    out = ctl(daemon, "eval", str(suite), "--provider", "fake", "--out", str(a_dir))
    assert out.returncode == 2 and f"--resume {a_dir}" in out.stderr


async def test_an_interrupted_eval_picks_its_running_task_up_again(daemon, fake, tmp_path):
    """Ctrl-C stops the eval, not the task; --resume follows that same task to its end (no second run of it)."""
    import signal
    import time

    suite = write_suite(tmp_path / "suite")
    script = eval_script()
    script.delay = 0.5
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
    out_dir = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "octractl", "eval", str(suite), "--provider", "fake", "--tasks", "good",
                             "--out", str(out_dir)], env=daemon.oenv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    record = {}
    while time.monotonic() < deadline and record.get("state") != "running":
        await anyio.sleep(0.1)
        try:
            record = json.loads((out_dir / "results.json").read_text())["tasks"].get("good", {})
        except (OSError, ValueError):
            pass
    assert record.get("state") == "running", record
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and f"octractl eval --resume {out_dir}" in err, err
    script.delay = 0.0
    out = await anyio.to_thread.run_sync(lambda: ctl(daemon, "eval", "--resume", str(out_dir)))
    assert out.returncode == 0, out.stderr + out.stdout
    good = json.loads((out_dir / "results.json").read_text())["tasks"]["good"]
    assert good["task_id"] == record["task_id"] and good["accepted"] is True, good
    async with daemon.connect() as c:
        tasks = (await c.call("task.list"))["tasks"]
    assert [t["task_id"] for t in tasks] == [record["task_id"]]  # the same task; and the run kept to its --tasks
    assert good["calls"] == len(asked_for(script, "good"))


async def test_task_accept_refuses_bad_input_and_never_writes_outside(daemon, fake, tmp_path):
    """The attacker's view: acceptance files and commands go only into a scratch copy."""
    outside = tmp_path / "outside"
    outside.mkdir()
    fake.responder = Script(
        plan=lambda a, n: plan(("app", "the tool"), files=[{"path": "greet.py", "owner": "app", "purpose": "x"}],
                               checks=[SYNTAX_CHECK]),
        staff=lambda a, n: staff(("dev", "greet.py", ["greet.py"])),
        # the model plants a symlink to a folder outside, where an acceptance file would be written
        work=lambda a, n: files(("greet.py", GOOD), commands=[f"ln -s {outside} .octra-accept", f"ln -s {outside} evil"]),
        review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True},
    )
    async with daemon.connect() as c:
        await use_fake(c, fake)
        with pytest.raises(RpcError) as err:
            await c.call("task.accept", {"task_id": "t0000000000", "command": "true"})
        assert err.value.kind == "not_found"
        fake.responder.delay = 1.0
        tid = (await c.call("task.create", {"description": "greet", "provider": "fake"}))["task_id"]
        with pytest.raises(RpcError) as err:
            await c.call("task.accept", {"task_id": tid, "command": "true"})
        assert err.value.kind == "conflict" and "once it has finished" in err.value.message
        fake.responder.delay = 0.0
        task = await wait_status(c, tid, timeout=120)
        assert task["status"] == "done", task["error"]

        for rel in ("../../x", f"{outside}/marker", "a/../../x", ".git/hooks/pre-commit", "x\0y", ""):
            with pytest.raises(RpcError) as err:
                await c.call("task.accept", {"task_id": tid, "files": {rel: "pwned"}, "command": "true"})
            assert err.value.kind == "invalid_params", rel
        for params, words in (({"files": {"big": "x" * 300_000}}, "cap"), ({"timeout_s": 0}, "timeout_s"),
                              ({"timeout_s": 99999}, "timeout_s"), ({"command": "  "}, "command")):
            with pytest.raises(RpcError) as err:
                await c.call("task.accept", {"task_id": tid, "command": "true", **params})
            assert err.value.kind == "invalid_params" and words in err.value.message, params

        # a symlink the project planted is not followed: the acceptance fails, nothing is written
        for rel in (".octra-accept/accept.sh", "evil/marker"):
            res = await c.call("task.accept", {"task_id": tid, "files": {rel: "touch pwned\n"}, "command": "true"})
            assert res["passed"] is False and res["exit_code"] == 126 and "symlink" in res["output_tail"], res
        # the command runs in the sandbox: the folder outside is not there to write to
        res = await c.call("task.accept", {"task_id": tid, "files": {"check.sh": "echo judged\n"},
                                           "command": f"sh check.sh; touch {outside}/marker; python3 greet.py Ada"})
        assert res["sandbox"] == "bwrap" and res["exit_code"] == 0 and res["passed"] is True, res
        assert "judged" in res["output_tail"] and "hello Ada" in res["output_tail"]
        assert res["files"] >= 1 and res["lines"] >= 2 and res["store_path"] == task["store_path"]
        res = await c.call("task.accept", {"task_id": tid, "command": "sleep 30", "timeout_s": 1})
        assert res["timed_out"] is True and res["passed"] is False
    assert list(outside.iterdir()) == [], "an acceptance wrote outside its scratch folder"
    projects = daemon.oenv.data_dir / "projects"
    assert not [p.name for p in projects.iterdir() if p.name.startswith(".accept-")], "a scratch folder was left"


# -- the suite itself ------------------------------------------------------------

def test_the_shipped_suite_loads_and_its_follow_ups_come_after_their_tasks():
    from octractl.eval.suite import default_suite, load_suite, select

    tasks = load_suite(default_suite())
    names = [t.name for t in tasks]
    assert len(tasks) >= 19
    stacks = {t.stack for t in tasks}
    assert {"python", "node", "typescript", "rust", "go", "c", "web"} <= stacks
    follow_ups = [t for t in tasks if t.follows]
    assert len(follow_ups) >= 2 and all(names.index(t.follows) < names.index(t.name) for t in follow_ups)
    assert any(t.github for t in tasks)
    assert all(".octra-accept/accept.sh" in t.accept_files for t in tasks)
    assert [t.name for t in select(tasks, ["py-wordfreq-minlen"])] == ["py-wordfreq", "py-wordfreq-minlen"]


@pytest.mark.parametrize("task_toml, words", [
    ('description = ""', "description"),
    ('description = "x"\nfollows = "nope"', "no such task"),
    ('description = "x"\ncolour = "red"', "unknown key"),
    ('description = "x', "task.toml"),
])
def test_a_bad_suite_is_refused_naming_the_file(tmp_path, task_toml, words):
    from octractl.eval.suite import SuiteError, load_suite

    d = tmp_path / "t1"
    (d / "accept").mkdir(parents=True)
    (d / "accept" / "accept.sh").write_text("true\n")
    (d / "task.toml").write_text(task_toml)
    with pytest.raises(SuiteError) as err:
        load_suite(tmp_path)
    assert words in str(err.value) and str(d) in str(err.value)


def test_follow_ups_in_a_circle_are_refused(tmp_path):
    from octractl.eval.suite import SuiteError, load_suite

    for a, b in (("a", "b"), ("b", "a")):
        (tmp_path / a / "accept").mkdir(parents=True)
        (tmp_path / a / "accept" / "accept.sh").write_text("true\n")
        (tmp_path / a / "task.toml").write_text(f'description = "x"\nfollows = "{b}"\n')
    with pytest.raises(SuiteError, match="circle"):
        load_suite(tmp_path)


FAST = [t for t in sorted(p.name for p in (ROOT / "eval").iterdir() if (p / "reference").is_dir())
        if not t.startswith(("rust-", "go-"))]  # the compiled ones take their toolchains' time; run them by hand


@pytest.mark.parametrize("name", FAST)
def test_each_acceptance_script_takes_its_reference_and_rejects_an_empty_project(tmp_path, name):
    """An acceptance script that rejects a right answer, or takes nothing, measures nothing."""
    task = ROOT / "eval" / name
    for kind, src in (("reference", task / "reference"), ("empty", None)):
        d = tmp_path / kind
        if src is not None:
            shutil.copytree(src, d)
        shutil.copytree(task / "accept", d / ".octra-accept")
        p = subprocess.run(["sh", ".octra-accept/accept.sh"], cwd=d, capture_output=True, text=True, timeout=120,
                           env={k: v for k, v in os.environ.items() if not k.startswith("PYTEST")})
        if p.returncode == 77:
            pytest.skip(f"{name}: {p.stdout.strip().splitlines()[-1]}")
        if kind == "reference":
            assert p.returncode == 0, p.stdout + p.stderr
        else:
            assert p.returncode != 0, p.stdout + p.stderr


def test_octractl_help_does_not_import_the_eval_harness():
    """The harness (and tomllib, anyio) loads only when `octractl eval` runs: --help stays as quick as it was."""
    code = ("import sys; sys.argv = ['octractl', '--help']\nfrom octractl.cli import cli\n"
            "try:\n    cli(prog_name='octractl')\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('octractl.eval') or m in ('tomllib', 'anyio')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert out.returncode == 0 and "eval" in out.stdout, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
