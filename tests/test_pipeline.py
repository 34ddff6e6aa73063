"""The pipeline end to end: a real daemon, a fake provider speaking the OpenAI
wire format, whole scripted runs with faults on the way."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import anyio
import pytest

from octra_protocol.errors import RpcError
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider, Reply

from tests.tasks import KEY, events_of, git_log, use_fake, wait_status  # noqa: F401  (fixtures and helpers)


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


# -- a whole plausible run ---------------------------------------------------

MAIN_BROKEN = "import sys\nfrom greet.text import greeting\nprint(greeting(sys.argv[1]))\n"
MAIN_FIXED = "import sys\nfrom greet.text import hello\nprint(hello(sys.argv[1]))\n"
TEXT_V1 = "def hello(name):\n    return f'Hello, {name}!'\n"
TEXT_V2 = '"""Greeting texts."""\n\n\ndef hello(name):\n    """The greeting for name."""\n    return f\'Hello, {name}!\'\n'


def whole_run_script() -> Script:
    def work(ask, n):
        if ask.worker == "models":
            if ask.has("Feedback to address"):
                return files(("greet/text.py", TEXT_V2))
            if ask.refine:
                return files()
            return files(("greet/__init__.py", ""), ("greet/text.py", TEXT_V1), commands=["python3 -m py_compile greet/text.py"])
        if ask.worker == "cli":
            if ask.refine:
                assert "greet/text.py (by models)" in ask.prompt, "round 2 must show the peers' files"
                return files()
            return files(("greet/__main__.py", MAIN_BROKEN), ("../escape.txt", "x"), ("/etc/passwd", "root::0:0"),
                         (".git/config", "[core]"), done=False)
        if ask.worker == "readme":
            if ask.has("Feedback to address"):
                return files(("README.md", "# greet\n\nUsage: `python3 -m greet NAME`\n"))
            return files(("README.md", "# greet\n"))
        raise AssertionError(ask)

    def review(ask, n):
        if ask.manager == "backend" and n == 1:
            return {"approved": False, "feedback": "text.py needs docstrings", "rework": ["models"]}
        return {"approved": True, "feedback": "good"}

    def validate(ask, n):
        if n == 1:
            return {"approved": False, "feedback": "the README must show usage", "failing_managers": ["docs"]}
        return {"approved": True}

    return Script(
        plan=lambda a, n: plan(("backend", "the greeting code"), ("docs", "the README"),
                               files=[{"path": "greet/text.py", "owner": "backend", "purpose": "texts", "interface": "hello(name)"},
                                      {"path": "greet/__main__.py", "owner": "backend", "purpose": "the command"},
                                      {"path": "README.md", "owner": "docs", "purpose": "usage"}],
                               checks=[{"name": "smoke", "command": "python3 -m greet World"}]),
        staff=lambda a, n: staff(("models", "greeting texts", ["greet/text.py"]), ("cli", "the command", ["greet/__main__.py"]))
        if a.manager == "backend" else staff(("readme", "usage docs", ["README.md"])),
        work=work,
        debug=lambda a, n: {"files": [{"path": "greet/__main__.py", "content": MAIN_FIXED}], "explanation": "wrong import"},
        review=review,
        validate=validate,
    )


async def test_whole_run_with_refinement_fix_rework_and_validation(daemon, fake, tmp_path):
    script = whole_run_script()
    script.fault("staff", "docs", Reply(text="Sure! Here is the plan: {not json"))  # recovered by a retry
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        created = await c.call("task.create", {"description": "a greeting command", "provider": "fake",
                                               "meta": {"max_rounds": 2}})
        tid = created["task_id"]
        task = await wait_status(c, tid, timeout=120)
        assert task["status"] == "done", task["error"]
        evs = await events_of(c, tid)

    # the agent tree: boss -> backend(models, cli), docs(readme)
    (boss,) = task["agents"]
    assert boss["kind"] == "boss" and boss["status"] == "done"
    teams = {m["role"]: sorted(w["role"] for w in m["children"]) for m in boss["children"] if m["kind"] == "manager"}
    assert teams == {"backend": ["cli", "models"], "docs": ["readme"]}
    assert [(m["kind"], m["role"]) for m in boss["children"] if m["kind"] != "manager"] == [("worker", "debug")]

    # the journal of questions: round 2 happened for backend only, one debug step, one rework each
    assert script.count("work", "cli") == 2 and script.count("work", "models") == 3
    assert script.count("debug") == 1
    assert task["verified"] is True and [c["name"] for c in task["checks"]] == ["smoke"] and task["checks"][0]["passed"]
    assert script.count("review", "backend") == 2 and script.count("validate") == 2
    assert script.count("work", "readme") == 2  # first answer, then the validation rework

    # files: the fixed, reworked versions; hostile paths nowhere
    store = Path(task["store_path"])
    assert (store / "greet" / "__main__.py").read_text() == MAIN_FIXED
    assert (store / "greet" / "text.py").read_text() == TEXT_V2
    assert "Usage" in (store / "README.md").read_text()
    assert not (store.parent / "escape.txt").exists() and not (Path(daemon.oenv.data_dir) / "projects" / "escape.txt").exists()
    assert sorted(task["files"]) == [".gitignore", "README.md", "greet/__init__.py", "greet/__main__.py", "greet/text.py"]
    rejected = [e.data["text"] for e in evs if e.kind == "agent.log" and e.data.get("level") == "warning"]
    assert any("'..'" in t for t in rejected) and any("absolute" in t for t in rejected) and any(".git" in t for t in rejected)

    # git: who wrote what, restored with the history
    dest = tmp_path / "restored"
    async with daemon.connect() as c:
        await c.call("project.restore", {"task_id": tid, "dest": str(dest)})
    authors = {a for a, _ in git_log(dest)}
    assert {"models (backend)", "cli (backend)", "readme (docs)"} <= authors
    assert any("debug: `python3 -m greet World`" in s for _, s in git_log(dest))
    out = subprocess.run(["python3", "-m", "greet", "World"], cwd=dest, capture_output=True, text=True)
    assert out.stdout.strip() == "Hello, World!"

    # events: the story a watcher needs, in order
    kinds = [e.kind for e in evs]
    statuses = [e.data["status"] for e in evs if e.kind == "task.status"]
    assert statuses == ["planning", "building", "validating", "snapshotting", "done"]
    assert kinds.count("agent.spawned") == 7  # boss, 2 managers, 3 workers, the debug step
    cmds = [e.data for e in evs if e.kind == "command.finished" and e.data["command"] == "python3 -m greet World"]
    assert cmds[0]["exit_code"] != 0 and cmds[1]["exit_code"] == 0
    verdicts = [(e.data["by"], e.data["approved"]) for e in evs if e.kind == "review.verdict"]
    assert ("boss", False) in verdicts and verdicts[-1] == ("boss", True)
    assert kinds[-1] == "task.finished" and "snapshot.created" in kinds
    assert [e.seq for e in evs] == sorted(e.seq for e in evs)

    # usage: every request the fake answered, the malformed one included, and each in its agent's usage
    assert task["usage"]["calls"] == len(fake.requests)

    def calls_in(node):
        return node["usage"]["calls"] + sum(calls_in(ch) for ch in node["children"])

    assert calls_in(boss) == len(fake.requests)
    assert task["usage"]["tokens_in"] == 11 * len(fake.requests) and task["usage"]["tokens_out"] == 7 * len(fake.requests)
    assert all(r.headers.get("authorization") == f"Bearer {KEY}" for r in fake.requests)
    assert all(r.body["temperature"] == pytest.approx(0.2) for r in fake.requests)
    assert KEY not in daemon.oenv.log_file.read_text()


# -- selectors ---------------------------------------------------------------

async def test_round_robin_sees_this_rounds_files(daemon, fake):
    """Sequential selectors: the second speaker of a round sees the first's new file and what it said."""
    seen = {}

    def work(ask, n):
        if not ask.refine:
            return files((f"{ask.worker}.txt", "v1"), done=False)
        seen[ask.worker] = ask.prompt
        return files((f"{ask.worker}.txt", "v2"), done=True)

    fake.responder = Script(plan=lambda a, n: plan(("core", "x")),
                            staff=lambda a, n: staff(("a", "first", []), ("b", "second", [])),
                            work=work, review=lambda a, n: {"approved": True},
                            validate=lambda a, n: {"approved": True})
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "two files", "provider": "fake",
                                            "meta": {"selector": "round_robin", "max_rounds": 2}}))["task_id"]
        task = await wait_status(c, tid)
    assert task["status"] == "done", task["error"]
    # round 1 starts with a, round 2 with b; a speaks after b wrote v2 and sees what b said
    assert "### b.txt (by b)\nv2" in seen["a"] and "- b: wrote b.txt; done" in seen["a"]
    assert "### a.txt (by a)\nv1" in seen["b"]


# -- waiting for the user ----------------------------------------------------

async def test_questions_then_approval_gate(daemon, fake):
    def plan_or_ask(ask, n):
        if "Answers from the user" not in ask.prompt:
            return {"questions": ["Which language?"], "managers": []}
        if "Feedback on the previous plan" in ask.prompt:
            assert "use two workers" in ask.prompt
            return plan(("core", "the code v2"), stack="python")
        return plan(("core", "the code"), stack="python")

    fake.responder = Script(plan=plan_or_ask, staff=lambda a, n: staff(("w", "write", ["main.py"])),
                            work=lambda a, n: files(("main.py", "print('hi')\n")),
                            review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "make something", "provider": "fake",
                                            "meta": {"approve_plan": True}}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "awaiting_input" and task["questions"] == ["Which language?"]
        with pytest.raises(RpcError) as err:
            await c.call("task.approve", {"task_id": tid, "approved": True})
        assert err.value.code == -32003
        assert (await c.call("task.message", {"task_id": tid, "content": "Python, please"}))["task_id"] == tid
        task = await wait_status(c, tid, ("awaiting_approval", "failed", "done"))
        assert task["status"] == "awaiting_approval" and task["plan"]["managers"][0]["description"] == "the code"
        await c.call("task.approve", {"task_id": tid, "approved": False, "feedback": "use two workers"})
        task = await wait_status(c, tid, ("awaiting_approval", "failed", "done"))
        assert task["status"] == "awaiting_approval" and task["plan"]["managers"][0]["description"] == "the code v2"
        await c.call("task.approve", {"task_id": tid, "approved": True})
        task = await wait_status(c, tid, ("done", "failed"))
    assert task["status"] == "done", task["error"]
    assert "main.py" in task["files"]


# -- faults --------------------------------------------------------------------

async def test_failing_provider_fails_the_task_and_keeps_the_work(daemon, fake):
    def work(ask, n):
        if ask.worker == "good":
            return files(("good.txt", "kept"))
        return Reply.error(500, "model overloaded", retry_after=0.01)

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("good", "a", []), ("bad", "b", [])))

    def responder(req):
        from tests.fakes.ai_script import classify

        ask = classify(req)
        if ask.question == "work":
            script.asked.append(ask)
            r = work(ask, 1)
            return r if isinstance(r, Reply) else Reply.json(r)
        return script(req)

    fake.responder = responder
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid, timeout=90)
    assert task["status"] == "failed"
    assert task["error"]["kind"] == "provider_error"
    assert "fake" in task["error"]["message"] and KEY not in task["error"]["message"]
    folder = Path(daemon.oenv.data_dir) / "projects"
    (project,) = list(folder.iterdir())
    assert (project / "good.txt").read_text() == "kept"
    assert any(a == "good (core)" for a, _ in git_log(project))


async def test_budget_stops_at_the_limit(daemon, fake):
    fake.responder = whole_run_script()
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake", "meta": {"max_llm_calls": 3}}))["task_id"]
        task = await wait_status(c, tid, timeout=60)
    assert task["status"] == "failed" and task["error"]["kind"] == "budget_exceeded"
    assert len(fake.requests) == 3 and task["usage"]["calls"] == 3


async def test_cancel_stops_calls_at_once(daemon, fake):
    script = whole_run_script()
    script.delay = 30
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]
        with anyio.fail_after(10):
            while not fake.requests:
                await anyio.sleep(0.05)
        t0 = time.monotonic()
        await c.call("task.cancel", {"task_id": tid})
        task = await wait_status(c, tid, timeout=10)
        assert time.monotonic() - t0 < 5
        assert task["status"] == "cancelled" and task["error"]["kind"] == "cancelled"
        assert all(a["status"] != "working" for a in task["agents"])
        with pytest.raises(RpcError) as err:
            await c.call("task.cancel", {"task_id": tid})
        assert err.value.code == -32003


async def test_sigkill_mid_run_then_resume_repeats_no_finished_call(daemon, fake):
    script = whole_run_script()
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "a greeting command", "provider": "fake"}))["task_id"]
        # let it get past planning and staffing, then kill it while workers are being asked
        with anyio.fail_after(30):
            while script.count("work") < 2:
                await anyio.sleep(0.01)
        script.delay = 2.0
        await anyio.sleep(0.3)
    daemon.kill()
    before = list(script.asked)
    script.delay = 0.0
    daemon.start()
    async with daemon.connect() as c:
        task = await c.call("task.get", {"task_id": tid})
        assert task["status"] == "interrupted"
        await c.call("task.resume", {"task_id": tid})
        task = await wait_status(c, tid, ("done", "failed"), timeout=120)
    assert task["status"] == "done", task["error"]
    # plan and staffing were finished before the kill: never asked again
    after = script.asked[len(before):]
    assert [a.question for a in before].count("plan") == 1
    assert not [a for a in after if a.question in ("plan", "staff")]


async def test_replay_rebuilds_identical_files(daemon, fake, tmp_path):
    fake.responder = whole_run_script()
    async with daemon.connect() as c:
        await use_fake(c, fake)
        first = (await c.call("task.create", {"description": "a greeting command", "provider": "fake"}))["task_id"]
        t1 = await wait_status(c, first, timeout=120)
        assert t1["status"] == "done", t1["error"]
        asked = len(fake.requests)
        second = (await c.call("task.create", {"description": "a greeting command", "provider": "replay",
                                               "meta": {"replay_from": first}}))["task_id"]
        t2 = await wait_status(c, second, timeout=120)
        assert t2["status"] == "done", t2["error"]
        assert len(fake.requests) == asked, "replay must not ask the provider"
        a, b = tmp_path / "a", tmp_path / "b"
        await c.call("project.restore", {"task_id": first, "dest": str(a)})
        await c.call("project.restore", {"task_id": second, "dest": str(b)})
    for rel in t1["files"]:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
    assert t1["files"] == t2["files"]


async def test_replay_miss_is_a_clear_error(daemon, fake):
    fake.responder = whole_run_script()
    async with daemon.connect() as c:
        await use_fake(c, fake)
        # the donor stops after 3 calls: plan and two staffings are recorded, no worker answer
        donor = (await c.call("task.create", {"description": "x", "provider": "fake", "meta": {"max_llm_calls": 3}}))["task_id"]
        assert (await wait_status(c, donor))["status"] == "failed"
        tid = (await c.call("task.create", {"description": "x", "provider": "replay", "meta": {"replay_from": donor}}))["task_id"]
        task = await wait_status(c, tid)
    assert task["status"] == "failed" and task["error"]["kind"] == "provider_error"
    message = task["error"]["message"]
    assert donor in message and "step 'm" in message and "attempt 1" in message
    assert len(fake.requests) == 3


async def test_bad_create_params(daemon):
    async with daemon.connect() as c:
        for params, code in (
            ({"description": "  "}, -32602),
            ({"description": "x", "provider": "nope"}, None),
            ({"description": "x", "provider": "replay"}, -32602),
            ({"description": "x", "meta": []}, -32602),
            ({"description": "x", "meta": {"max_rounds": "many"}}, -32602),
            ({"description": "x", "meta": {"max_rounds": 0}}, -32602),
            ({"description": "x", "meta": {"selector": "loudest"}}, -32602),
            ({"description": "x", "meta": {"skill_categories": ["Cooking"]}}, -32602),
            ({"description": "x", "meta": {"max_llm_calls": -1}}, -32602),
            ({"description": "x", "meta": {"github_fork_timeout_s": "soon"}}, -32602),
        ):
            with pytest.raises(RpcError) as err:
                await c.call("task.create", params)
            if code:
                assert err.value.code == code, (params, err.value)
            if "meta" in params and isinstance(params["meta"], dict):
                assert "meta." in err.value.message, err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("task.get", {"task_id": "tnope"})
        assert err.value.code == -32001


# -- knowledge in the prompts --------------------------------------------------

async def test_skill_categories_and_context_from_answers(daemon, fake):
    prompts = {}

    def section(prompt: str, title: str) -> str:
        return prompt.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0] if f"## {title}\n" in prompt else ""

    def plan_(ask, n):
        prompts["plan"] = section(ask.prompt, "Skill catalogue")
        return plan(("web", "the page"))

    def staff_(ask, n):
        prompts["staff"] = section(ask.prompt, "Candidate skills")
        return {"workers": [{"role": "page", "description": "index.html", "files_hint": ["index.html"],
                             "skills": ["frontend-state", "api-pagination"]},
                            {"role": "style", "description": "style.css", "files_hint": ["style.css"], "skills": []}]}

    def work(ask, n):
        if ask.worker == "page":
            prompts["page"] = ask.prompt
            return files(("index.html", "<html></html>\n"),
                         context={"scope": "team", "type": "interface", "content": "the page loads /api/v2/notes"})
        return files(("style.css", "body{}\n"), context={"scope": "global", "type": "rule", "content": "indent with two spaces"})

    fake.responder = Script(plan=plan_, staff=staff_, work=work, review=lambda a, n: {"approved": True},
                            validate=lambda a, n: {"approved": True})
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "a notes page", "provider": "fake",
                                            "meta": {"skill_categories": ["frontend"]}}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "done", task["error"]
        entries = (await c.call("context.list", {"project": task["project_id"], "include_forgotten": True}))["entries"]
        evs = await events_of(c, tid)
    # the Boss and the managers see only the chosen category
    assert "(Frontend)" in prompts["plan"] and "(Backend)" not in prompts["plan"]
    assert prompts["staff"] and "(Backend)" not in prompts["staff"]
    # the worker gets the chosen fragment of that category, not the other one
    skills = section(prompts["page"], "Skills")
    assert "Client state and server data" in skills and "Pagination of list endpoints" not in skills
    # answers' context: saved with its scope; the team's entry retired when its manager finished
    by_content = {e["content"]: e for e in entries}
    rule = by_content["indent with two spaces"]
    assert rule["scope"] == "global" and rule["type"] == "rule" and not rule["forgotten"]
    note = by_content["the page loads /api/v2/notes"]
    assert note["scope"] == "team" and note["target"] == f"{tid}-m1" and note["forgotten"]
    assert sum(1 for e in evs if e.kind == "context.saved") == 2


async def test_cancel_kills_a_running_command(daemon, fake):
    marker = "61.4321"
    fake.responder = Script(
        plan=lambda a, n: plan(("core", "x")),
        staff=lambda a, n: staff(("w", "wait", [])),
        work=lambda a, n: files(("a.txt", "a"), commands=[f"sleep {marker}"]),
    )
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]

        def sleeping() -> bool:
            return subprocess.run(["pgrep", "-f", f"sleep {marker}"], capture_output=True).returncode == 0

        with anyio.fail_after(30):
            while not sleeping():
                await anyio.sleep(0.05)
        t0 = time.monotonic()
        await c.call("task.cancel", {"task_id": tid})
        task = await wait_status(c, tid, timeout=15)
        assert task["status"] == "cancelled"
        with anyio.fail_after(10):
            while sleeping():
                await anyio.sleep(0.05)
        assert time.monotonic() - t0 < 10


async def test_sigterm_checkpoints_running_tasks(daemon, fake):
    script = whole_run_script()
    script.delay = 1.0
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "a greeting command", "provider": "fake"}))["task_id"]
        with anyio.fail_after(30):
            while script.count("staff") < 1:
                await anyio.sleep(0.02)
    t0 = time.monotonic()
    assert daemon.stop() == 0
    assert time.monotonic() - t0 < 10, "shutdown waits for nothing but the checkpoint"
    script.delay = 0.0
    daemon.start()
    async with daemon.connect() as c:
        task = await c.call("task.get", {"task_id": tid})
        assert task["status"] == "interrupted" and task["error"]["kind"] == "interrupted"
        assert all(a["status"] != "working" for a in task["agents"])
        await c.call("task.resume", {"task_id": tid})
        task = await wait_status(c, tid, ("done", "failed"), timeout=120)
    assert task["status"] == "done", task["error"]
    assert script.count("plan") == 1


async def test_debug_loop_is_bounded_and_the_task_fails_honestly(daemon, fake):
    script = Script(
        plan=lambda a, n: plan(("core", "x"), checks=[{"name": "test", "command": "python3 -c 'import sys; sys.exit(3)'"}]),
        staff=lambda a, n: staff(("w", "a file", ["a.txt"])),
        work=lambda a, n: files(("a.txt", "a")),
        debug=lambda a, n: {"files": [{"path": "a.txt", "content": f"try {n}"}, {"path": "../../evil", "content": "x"}],
                            "explanation": "maybe"},
        review=lambda a, n: {"approved": True},
        validate=lambda a, n: {"approved": True},
    )
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake", "meta": {"max_fix_attempts": 2}}))["task_id"]
        task = await wait_status(c, tid)
        evs = await events_of(c, tid)
    assert task["status"] == "failed" and task["error"]["kind"] == "checks_failed", task["error"]
    assert f"octractl resume {tid} --meta max_fix_attempts=4" in task["error"]["message"]
    assert task["verified"] is False and task["checks"][0]["exit_code"] == 3
    assert script.count("debug") == 2
    runs = [e.data for e in evs if e.kind == "command.finished"]
    assert [r["exit_code"] for r in runs] == [3, 3, 3]
    assert any("'..'" in e.data.get("text", "") for e in evs if e.kind == "agent.log")
    assert (Path(task["store_path"]) / "a.txt").read_text() == "try 2"
    assert not (Path(daemon.oenv.data_dir) / "evil").exists()


async def test_odd_answers_and_dependency_folders(daemon, fake):
    """The Boss's team-scoped note (it has no team) is kept for everyone, a malformed note
    is a warning, and prompts list project files, not what a package manager installed."""
    prompts = {}

    def validate(ask, n):
        prompts["validate"] = ask.prompt
        return {"approved": True}

    fake.responder = Script(
        plan=lambda a, n: plan(("core", "x"), context={"scope": "team", "type": "decision", "content": "use tabs"}),
        staff=lambda a, n: {"workers": [{"role": "w", "description": "d", "files_hint": []}],
                            "context": {"scope": "team", "type": "two words", "content": "bad type"}},
        work=lambda a, n: files(("src/main.py", "print(1)\n"), (".gitignore", "node_modules/\n"),
                                commands=["mkdir -p node_modules/dep && for i in $(seq 1 450); do echo x > node_modules/dep/f$i.js; done"]),
        review=lambda a, n: {"approved": True},
        validate=validate,
    )
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        entries = (await c.call("context.list", {"project": task["project_id"]}))["entries"]
        evs = await events_of(c, tid)
    assert task["status"] == "done", task["error"]
    assert [(e["scope"], e["content"]) for e in entries if e["content"] == "use tabs"] == [("global", "use tabs")]
    assert any("context note not saved" in e.data.get("text", "") for e in evs if e.kind == "agent.log")
    assert "### src/main.py" in prompts["validate"] and "node_modules/dep" not in prompts["validate"]
