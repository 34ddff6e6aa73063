"""A worker's answer with one path git can never take (``.git`` in another
spelling) used to be written, then fail the task at the commit; the journal
replayed the same answer at every resume, so the task failed the same way
forever.  Now the bad file is refused and reported, the rest is written and
committed, and the task finishes."""

from __future__ import annotations

import pytest

from tests.fakes.ai_script import Script, classify, files, plan, staff
from tests.fakes.providers import FakeProvider, Reply
from tests.tasks import events_of, git_log, use_fake, wait_status

GIT_ALIASES = ["x/.GIT/config", ".Git/hooks/pre-commit", ".git./config", "sub/.git /y", "GIT~1/config",
               "a/.g\u200cit/config", "b/.git:stream/x"]


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


@pytest.mark.parametrize("bad", GIT_ALIASES)
async def test_one_bad_path_is_refused_and_the_task_finishes(daemon, fake, bad, tmp_path):
    def work(ask, n):
        return files(("a.txt", "A"), (bad, "[core]\n\tfsmonitor = touch /tmp/pwned\n"), ("main.py", "print(1)\n"))

    fake.responder = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "write", ["main.py"])),
                            work=work, review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "one bad path", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "done", task["error"]
        evs = await events_of(c, tid)
        dest = tmp_path / "restored"
        await c.call("project.restore", {"task_id": tid, "dest": str(dest)})
    assert {"a.txt", "main.py"} <= set(task["files"])
    assert not any(".git" in f.lower() or "~1" in f for f in task["files"] if f != ".gitignore"), task["files"]
    warned = [e.data["text"] for e in evs if e.kind == "agent.log" and e.data.get("level") == "warning"]
    assert any("rejected file" in t and ".git" in t for t in warned), warned
    assert git_log(dest)  # committed as usual
    log = daemon.oenv.log_file.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_resume_replays_a_journaled_bad_answer_without_failing_again(daemon, fake):
    """The bad answer is in the journal when the task fails later (the provider is down at the
    review); resume replays it, refuses the file again, and finishes."""
    down = {"review": True}

    def review(ask, n):
        return Reply.error(500, "overloaded", retry_after=0.01) if down["review"] else Reply.json({"approved": True})

    script = Script(plan=lambda a, n: plan(("core", "x")), staff=lambda a, n: staff(("w", "write", ["main.py"])),
                    work=lambda a, n: files(("main.py", "print(1)\n"), ("x/.GIT/config", "[core]\n")),
                    validate=lambda a, n: {"approved": True})

    def responder(req):
        ask = classify(req)
        return review(ask, 0) if ask.question == "review" else script(req)

    fake.responder = responder
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": "fails later", "provider": "fake"}))["task_id"]
        task = await wait_status(c, tid)
        assert task["status"] == "failed" and task["error"]["kind"] == "provider_error", task["error"]
        down["review"] = False
        await c.call("task.resume", {"task_id": tid})
        task = await wait_status(c, tid, ("done", "failed"))
    assert task["status"] == "done", task["error"]
    assert script.count("work") == 1  # the answer came from the journal, not from a new call
    assert "main.py" in task["files"] and not any(".git/" in f.lower() for f in task["files"])


@pytest.mark.parametrize("ok", ["a/.gitignore", "docs/git~2/x", "my.git/x", ".github/workflows/ci.yml", "git/x"])
def test_names_near_git_stay_allowed(tmp_path, ok):
    from octrad.pipeline.files import check_path

    assert check_path(tmp_path, ok) == tmp_path.resolve() / ok
