"""The closed loop: the plan is a contract, Octra runs its checks on the whole
project, a failing check goes to a debug step, and the task says honestly
how it ended.  A real daemon, the fake provider speaking the OpenAI wire
format, real commands in the sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from octrad.pipeline.groupchat import speakers
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, git_log, run_task, use_fake, wait_status


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


def section(prompt: str, title: str) -> str:
    head = f"## {title}\n"
    return prompt.split(head, 1)[1].split("\n## ", 1)[0] if head in prompt else ""


# -- a two-team Python project: package, then its tests ------------------------

CORE_BUG = "def add(a, b):\n    \"\"\"The sum of a and b.\"\"\"\n    return a - b\n"
TEST_CORE = "from calc.core import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
CONTRACT = [
    {"path": "calc/__init__.py", "owner": "package", "purpose": "the package"},
    {"path": "calc/core.py", "owner": "package", "purpose": "arithmetic", "interface": "add(a, b) -> int"},
    {"path": "tests/test_core.py", "owner": "tests", "purpose": "tests of calc.core"},
]


def two_team_script(debug) -> Script:
    def work(ask, n):
        if ask.worker == "core":
            return files(("calc/__init__.py", ""), ("calc/core.py", CORE_BUG))
        if ask.worker == "tester":
            return files(("tests/test_core.py", TEST_CORE))
        raise AssertionError(ask)

    return Script(
        plan=lambda a, n: plan(("tests", "the tests of the package"), ("package", "the calc package"), files=CONTRACT,
                               checks=[{"name": "test", "command": "python3 -m pytest -q -p no:cacheprovider"}],
                               managers=[{"role": "tests", "description": "the tests", "priority": 1, "depends_on": ["package"]},
                                         {"role": "package", "description": "the calc package", "priority": 2}]),
        staff=lambda a, n: staff(("core", "calc/core.py", ["calc/__init__.py", "calc/core.py"]))
        if a.manager == "package" else staff(("tester", "tests of add", ["tests/test_core.py"])),
        work=work,
        debug=debug,
        review=lambda a, n: {"approved": True},
        validate=lambda a, n: {"approved": True},
    )


async def test_two_teams_tests_see_the_package_and_debug_fixes_the_bug(daemon, fake):
    def debug(ask, n):
        return {"edits": [{"path": "calc/core.py", "search": "return a - b", "replace": "return a + b"}],
                "explanation": "add subtracted"}

    script = two_team_script(debug)
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "a calc package with tests", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid, timeout=120)
        evs = await events_of(c, tid)
    assert task["status"] == "done", task["error"]
    assert task["verified"] is True and [(x["name"], x["passed"]) for x in task["checks"]] == [("test", True)]
    assert task["sandbox"] in ("bwrap", "none")

    # the tests team started after the package team (depends_on), and saw its interface and file
    order = [(a.question, a.manager) for a in script.asked]
    assert order.index(("staff", "tests")) > order.index(("work", "package"))
    tester = next(a for a in script.asked if a.worker == "tester")
    assert "calc/core.py [package]: arithmetic | add(a, b) -> int" in section(tester.prompt, "Contract")
    assert "### calc/core.py\n" + CORE_BUG.rstrip() in section(tester.prompt, "Files you depend on or that relate to your job (current content)")

    # the debug step got the failing output and the other team's file, and its edit made pytest pass
    (dbg,) = [a for a in script.asked if a.question == "debug"]
    assert "python3 -m pytest" in section(dbg.prompt, "Failing check")
    assert "assert -1 == 5" in section(dbg.prompt, "Output (tail)")
    related = section(dbg.prompt, "Related files (current content)")
    assert "### calc/core.py\n" in related and "return a - b" in related and "### tests/test_core.py" in related
    runs = [e.data["exit_code"] for e in evs if e.kind == "command.finished" and "pytest" in e.data["command"]]
    assert runs[0] != 0 and runs[1:] == [0]
    assert "return a + b" in (Path(task["store_path"]) / "calc" / "core.py").read_text()
    assert any("verified: 1 check(s) passed" in n for n in task["notes"])
    # review and validation saw the checks' results
    review = next(a for a in script.asked if a.question == "review")
    assert "`python3 -m pytest -q -p no:cacheprovider` -> exit 0 (passed)" in review.prompt
    validate = next(a for a in script.asked if a.question == "validate")
    assert "exit 0 (passed)" in section(validate.prompt, "Checks (run by Octra on the whole project)")


async def test_fixes_that_never_work_fail_with_checks_failed_and_keep_the_work(daemon, fake, tmp_path):
    script = two_team_script(lambda a, n: {"files": [{"path": "calc/core.py", "content": CORE_BUG.replace("a - b", f"a - b + {n}")}],
                                           "explanation": f"attempt {n}"})
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "a calc package with tests", "provider": "fake",
                                            "meta": {"max_fix_attempts": 2}}))["task_id"]
        task = await wait_status(c, tid, timeout=120)
        evs = await events_of(c, tid)
        assert task["status"] == "failed" and task["error"]["kind"] == "checks_failed", task["error"]
        assert task["verified"] is False and task["checks"][0]["exit_code"] == 1
        assert "snapshotted" in task["error"]["message"] and f"octractl resume {tid}" in task["error"]["message"]
        assert script.count("debug") == 2
        # the second attempt was told what the first tried
        second = [a for a in script.asked if a.question == "debug"][1]
        assert "attempt 1: attempt 1" in section(second.prompt, "Earlier attempts (they did not make it pass)")
        # committed and snapshotted: the work can be restored with its history
        assert task["store_path"] and {"calc/core.py", "tests/test_core.py"} <= set(task["files"])
        dest = tmp_path / "r"
        await c.call("project.restore", {"task_id": tid, "dest": str(dest)})
        assert "a - b + 2" in (dest / "calc" / "core.py").read_text()
        assert {"core (package)", "tester (tests)", "debug (verify)"} <= {a for a, _ in git_log(dest)}
        assert not any(e.kind == "github.published" for e in evs)
        # the daemon's log says so too
        assert f"task {tid} failed (checks_failed)" in daemon.oenv.log_file.read_text()

        # more attempts on resume: the journal replays, the new attempt fixes it
        script.handlers["debug"] = lambda a, n: {"files": [{"path": "calc/core.py", "content": CORE_BUG.replace("a - b", "a + b")}]}
        asked = len(script.asked)
        await c.call("task.resume", {"task_id": tid, "meta": {"max_fix_attempts": 3}})
        task = await wait_status(c, tid, ("done", "failed"), timeout=120)
    assert task["status"] == "done" and task["verified"] is True, task["error"]
    assert [a.question for a in script.asked[asked:]] == ["debug"]
    assert task["meta"]["max_fix_attempts"] == 3


async def test_a_debug_command_runs_in_the_sandbox_and_makes_the_check_pass(daemon, fake, tmp_path):
    marker = tmp_path / "outside-marker"
    check = ".venv/bin/python -c 'import calc; assert calc.add(2, 3) == 5'"

    def debug(ask, n):
        return {"commands": ["python3 -m venv --without-pip .venv", f"touch {marker}"], "explanation": "no virtualenv yet"}

    fake.responder = Script(
        plan=lambda a, n: plan(("package", "calc"), files=CONTRACT[:2], checks=[{"name": "test", "command": check}]),
        staff=lambda a, n: staff(("core", "the package", ["calc/__init__.py"])),
        work=lambda a, n: files(("calc/__init__.py", "def add(a, b):\n    return a + b\n")),
        debug=debug, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True},
    )
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "calc", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid, timeout=120)
        evs = await events_of(c, tid)
    assert task["status"] == "done" and task["verified"] is True, (task["error"], task["checks"])
    venv = [e.data for e in evs if e.kind == "command.finished" and e.data["command"].startswith("python3 -m venv")]
    assert venv[0]["exit_code"] == 0 and venv[0]["sandbox"] == "bwrap"
    assert not marker.exists(), "a debug command wrote outside the project"
    assert task["sandbox"] == "bwrap"


async def test_a_big_lockfile_does_not_push_sources_out_of_validation(daemon, fake):
    lock = json.dumps({"name": "app", "lockfileVersion": 3,
                       "packages": {f"node_modules/p{i}": {"version": "1.0.0", "integrity": "sha512-" + "x" * 80}
                                    for i in range(900)}})
    assert len(lock) > 100_000
    seen = {}

    def validate(ask, n):
        seen["validate"] = ask.prompt
        return {"approved": True}

    def review(ask, n):
        seen["review"] = ask.prompt
        return {"approved": True}

    fake.responder = Script(
        plan=lambda a, n: plan(("web", "the app"), stack="node"),
        staff=lambda a, n: staff(("app", "the app", [])),
        work=lambda a, n: files(("package-lock.json", lock), ("package.json", '{"name": "app"}\n'),
                                ("src/index.js", "export const answer = 42;\n")),
        review=review, validate=validate,
    )
    task = await run_task(daemon, fake, "an app", timeout=120)
    assert task["status"] == "done", task["error"]
    for prompt in (seen["validate"], seen["review"]):
        assert "### src/index.js\nexport const answer = 42;" in prompt
        assert '### package.json\n{"name": "app"}' in prompt
        assert "### package-lock.json\n(lock file, " in prompt and "integrity" not in prompt
    # no checks in the plan: done, but unverified, and the notes say why
    assert task["verified"] is None and any("unverified: the plan has no checks" in n for n in task["notes"])


# -- group chat ------------------------------------------------------------------

@pytest.mark.parametrize("done_first", [True, False])
async def test_round_two_happens_only_when_a_worker_is_not_done(daemon, fake, done_first):
    def work(ask, n):
        if ask.refine:
            assert "### b.txt (by b)\nb" in ask.prompt or ask.worker == "b"
            return files()
        return files((f"{ask.worker}.txt", ask.worker), done=done_first or ask.worker == "b")

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("a", "first", []), ("b", "second", [])),
                    work=work, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    fake.responder = script
    task = await run_task(daemon, fake, "two files", meta={"max_rounds": 3})
    assert task["status"] == "done", task["error"]
    # all done: one round; a not done: round 2, which changes nothing, so no round 3
    assert script.count("work") == (2 if done_first else 4)


async def test_done_is_required_in_a_workers_answer(daemon, fake):
    answers = iter([{"files": [{"path": "a.txt", "content": "a"}], "commands": []}])

    def work(ask, n):
        return next(answers, files(("a.txt", "a")))

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("a", "first", [])),
                    work=work, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    fake.responder = script
    task = await run_task(daemon, fake)
    assert task["status"] == "done", task["error"]
    assert script.count("work") == 2  # the answer without done was refused and asked again
    schema = next(r.schema for r in fake.requests if "Write the files of one job" in r.messages[0]["content"])
    assert "done" in schema["required"]


class _W:
    def __init__(self, index, role, next=None):
        self.index, self.role, self.next = index, role, next


def test_each_selector_orders_its_speakers():
    ws = [_W(1, "tests"), _W(2, "api"), _W(3, "models"), _W(4, "ui")]
    roles = lambda sel, r: [w.role for w in speakers(sel, ws, r)]  # noqa: E731
    assert roles("round_robin", 1) == ["tests", "api", "models", "ui"]
    assert roles("round_robin", 2) == ["api", "models", "ui", "tests"]
    assert roles("round_robin", 5) == ["tests", "api", "models", "ui"]
    assert roles("role_based", 1) == ["models", "api", "ui", "tests"]
    # agent based: each speaker names the next; an unknown name falls to the first not yet heard
    ws[0].next, ws[3].next, ws[2].next = "ui", "models", "nobody"
    assert roles("agent_based", 1) == ["tests", "ui", "models", "api"]
    with pytest.raises(ValueError):
        list(speakers("all_at_once", ws, 1))


async def test_agent_based_selector_lets_the_speaker_name_the_next(daemon, fake):
    order = []

    def work(ask, n):
        order.append(ask.worker)
        assert "peers you may name as next" in section(ask.prompt, "Your job")
        return files((f"{ask.worker}.txt", "x"), next={"a": "c", "c": "b"}.get(ask.worker))

    fake.responder = Script(plan=lambda a, n: plan(("core", "x")),
                            staff=lambda a, n: staff(("a", "1", []), ("b", "2", []), ("c", "3", [])),
                            work=work, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    task = await run_task(daemon, fake, meta={"selector": "agent_based"})
    assert task["status"] == "done", task["error"]
    assert order == ["a", "c", "b"]


# -- corrections instead of journaled dead ends ----------------------------------

async def test_useless_plans_and_staffings_go_back_as_corrections(daemon, fake):
    def plan_(ask, n):
        if n == 1:
            return {"managers": [], "questions": []}
        if n == 2:
            return plan(("core", "x"), ("core", "y"), files=[{"path": "a.txt", "owner": "nobody"},
                                                             {"path": "b.txt", "owner": "core"}, {"path": "b.txt", "owner": "other"}])
        return plan(("core", "x"), files=[{"path": "a.txt", "owner": "core"}])

    def staff_(ask, n):
        if n == 1:
            return {"workers": []}
        if n == 2:
            return staff(("w", "one", []), ("w", "two", []))
        return staff(("w", "one", ["a.txt"]))

    script = Script(plan=plan_, staff=staff_, work=lambda a, n: files(("a.txt", "a")),
                    review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        evs = await events_of(c, tid)
    assert task["status"] == "done", task["error"]
    assert script.count("plan") == 3 and script.count("staff") == 3
    plans = [a.prompt for a in script.asked if a.question == "plan"]
    assert "names no managers and asks no questions" in plans[1]
    assert "repeated: core" in plans[2]
    assert "'a.txt' is owned by 'nobody'" in plans[2] and "'b.txt' has two owners" in plans[2]
    staffs = [a.prompt for a in script.asked if a.question == "staff"]
    assert "workers" in staffs[1] and "repeated: w" in staffs[2]
    corrections = [e.data["step"] for e in evs if e.kind == "agent.log" and e.data.get("correction")]
    # the empty staffing broke the schema (min 1 worker): the provider layer sent that one back
    assert corrections == ["plan", "plan", "m1.staff"]
    assert [m["role"] for m in task["plan"]["managers"]] == ["core"]


async def test_a_plan_that_stays_useless_fails_without_a_journaled_dead_end(daemon, fake):
    script = Script(plan=lambda a, n: {"managers": [], "questions": []} if n <= 3 else plan(("core", "x")),
                    staff=lambda a, n: staff(("w", "one", [])), work=lambda a, n: files(("a.txt", "a")),
                    review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "x", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "failed" and "still unusable after 2 corrections" in task["error"]["message"]
        # nothing journaled: resume asks again (and this time the answer is usable)
        await c.call("task.resume", {"task_id": tid})
        task = await wait_status(c, tid, ("done", "failed"))
    assert task["status"] == "done", task["error"]
    assert script.count("plan") == 4


async def test_an_edit_that_does_not_apply_goes_back_with_the_file(daemon, fake):
    def work(ask, n):
        if n == 1:
            return files(("a.txt", "one\ntwo\n"), done=False)
        if n == 2:
            return {"edits": [{"path": "a.txt", "search": "three", "replace": "3"}], "done": True}
        assert "search text does not occur" in ask.prompt and "one\ntwo\n" in ask.prompt
        return {"edits": [{"path": "a.txt", "search": "two", "replace": "2"}], "done": True}

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "one", [])), work=work,
                    review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    fake.responder = script
    task = await run_task(daemon, fake)
    assert task["status"] == "done", task["error"]
    assert (Path(task["store_path"]) / "a.txt").read_text() == "one\n2\n"


async def test_budget_stop_resumes_with_a_raised_budget(daemon, fake):
    script = two_team_script(lambda a, n: {"edits": [{"path": "calc/core.py", "search": "a - b", "replace": "a + b"}]})
    fake.responder = script
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "calc", "provider": "fake", "meta": {"max_llm_calls": 2}}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "failed" and task["error"]["kind"] == "budget_exceeded"
        assert f"octractl resume {tid} --meta max_llm_calls=" in task["error"]["message"]
        from octra_protocol.errors import RpcError

        with pytest.raises(RpcError) as err:
            await c.call("task.resume", {"task_id": tid, "meta": {"max_llm_calls": "lots"}})
        assert err.value.code == -32602 and "meta.max_llm_calls" in err.value.message
        await c.call("task.resume", {"task_id": tid, "meta": {"max_llm_calls": 50}})
        task = await wait_status(c, tid, ("done", "failed"), timeout=120)
    assert task["status"] == "done" and task["verified"] is True, task["error"]
    assert script.count("plan") == 1


# -- the Boss's word reaches the teams -------------------------------------------

async def test_boss_feedback_categories_and_team_context_reach_the_rework(daemon, fake):
    seen = {}

    def plan_(ask, n):
        return plan(("web", "the page"), skill_categories=["Frontend"])

    def staff_(ask, n):
        seen["staff"] = section(ask.prompt, "Candidate skills")
        return staff(("page", "index.html", ["index.html"]))

    def work(ask, n):
        if n == 1:
            return files(("index.html", "<p>v1</p>\n"), context={"scope": "team", "type": "interface", "content": "ids are kebab-case"})
        seen["rework"] = ask.prompt
        return files(("index.html", "<p>v2</p>\n"))

    def review(ask, n):
        seen.setdefault("reviews", []).append(ask.prompt)
        return {"approved": True}

    fake.responder = Script(plan=plan_, staff=staff_, work=work, review=review,
                            validate=lambda a, n: {"approved": n > 1, "feedback": "the page needs a title", "failing_managers": ["web"]})
    task = await run_task(daemon, fake, "a page")
    assert task["status"] == "done", task["error"]
    assert seen["staff"] and "(Backend)" not in seen["staff"] and "(Frontend)" in seen["staff"]
    assert "the page needs a title" in section(seen["rework"], "Feedback to address")
    assert "ids are kebab-case" in section(seen["rework"], "Context")
    first, again = seen["reviews"]
    assert "Boss's feedback" not in first
    assert "the page needs a title" in section(again, "The Boss's feedback on the whole project (the reason for this rework)")


async def test_prompts_put_shared_parts_first(daemon, fake):
    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("a", "1", []), ("b", "2", [])),
                    work=lambda a, n: files((f"{a.worker}.txt", "x")), review=lambda a, n: {"approved": True},
                    validate=lambda a, n: {"approved": True})
    fake.responder = script
    assert (await run_task(daemon, fake))["status"] == "done"
    work = [r.messages for r in fake.requests if "Write the files of one job" in r.messages[0]["content"]]
    assert len(work) == 2 and work[0][0] == work[1][0], "the system message is the same for every worker"
    # the shared part is a message of its own (Anthropic's cache breakpoint goes at its end), the same for both
    assert work[0][1] == work[1][1] and "## Contract" in work[0][1]["content"] and "## Task" in work[0][1]["content"]
    assert all("## Your job" in m[2]["content"] and "## Your job" not in m[1]["content"] for m in work)
    assert work[0][2] != work[1][2]


# -- journals of the previous version, hostile edits --------------------------------

OLD_PLAN = {"task_type": "cli", "tech_stack": "python", "architecture_notes": "",
            "managers": [{"role": "core", "description": "x", "priority": 1}],
            "skill_categories": [], "questions": [], "context": None}


def _set_step(daemon, task_id: str, step: str, value: dict) -> None:
    import sqlite3

    with sqlite3.connect(Path(daemon.oenv.data_dir) / "octra.db") as db:
        assert db.execute("UPDATE steps SET result = ? WHERE task_id = ? AND step = ?",
                          (json.dumps(value), task_id, step)).rowcount == 1


async def test_a_plan_recorded_by_the_previous_version_still_runs_or_is_refused_clearly(daemon, fake):
    fake.responder = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "one", [])),
                            work=lambda a, n: files(("a.txt", "a")), review=lambda a, n: {"approved": True},
                            validate=lambda a, n: {"approved": True})
    async with daemon.connect() as c:
        await use_fake(c, fake)
        old = (await c.call("task.create", {"description": "x", "provider": "fake", "meta": {"approve_plan": True},
                                            "project": "old"}))["task_id"]
        bad = (await c.call("task.create", {"description": "y", "provider": "fake", "meta": {"approve_plan": True},
                                            "project": "bad"}))["task_id"]
        for tid in (old, bad):
            assert (await wait_status(c, tid))["status"] == "awaiting_approval"
    assert daemon.stop() == 0
    _set_step(daemon, old, "plan", OLD_PLAN)  # no file map, no checks: the previous shape
    _set_step(daemon, bad, "plan", {**OLD_PLAN, "managers": "core"})
    daemon.start()
    async with daemon.connect() as c:
        await use_fake(c, fake)
        for tid in (old, bad):
            await c.call("task.approve", {"task_id": tid, "approved": True})
        t_old = await wait_status(c, old, ("done", "failed"))
        t_bad = await wait_status(c, bad, ("done", "failed"))
    assert t_old["status"] == "done" and t_old["verified"] is None, t_old["error"]
    assert t_bad["status"] == "failed" and t_bad["error"]["kind"] == "conflict"
    assert "step 'plan'" in t_bad["error"]["message"] and "start a new task" in t_bad["error"]["message"]


async def test_an_edit_never_reads_or_writes_outside_the_project(daemon, fake, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("top-secret-9f3a\n")

    def work(ask, n):
        assert "9f3a" not in ask.prompt, "a file outside the project was quoted to the model"
        if n == 1:
            return files(("a.txt", "a\n"), commands=[f"ln -s {secret} link.txt"])  # runs after the chat
        if n == 2:
            return {"edits": [{"path": "link.txt", "search": "top", "replace": "owned"},
                              {"path": f"../../../../../..{secret}", "search": "top", "replace": "owned"}],
                    "done": True}
        return files(done=True)

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "one", [])), work=work,
                    review=lambda a, n: {"approved": n > 1, "feedback": "edit it", "rework": ["w"]},
                    validate=lambda a, n: {"approved": True})
    fake.responder = script
    task = await run_task(daemon, fake)
    assert task["status"] == "done", task["error"]
    assert secret.read_text() == "top-secret-9f3a\n"
    corrected = [a.prompt for a in script.asked if a.question == "work"][2]
    assert "is a symlink" in corrected and "'..' leaves the project" in corrected
