"""Two clients answer one approval gate at the same moment, on the real socket:
the first answer wins atomically, the other gets -32003 conflict and changes
nothing (no journal entry, no verdict event, no second run)."""

from __future__ import annotations

import anyio
import pytest

from octra_protocol.errors import RpcError
from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, use_fake, wait_status

ROUNDS = 12


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


async def at_once(a, b, method, params_a, params_b) -> dict:
    """Both clients call ``method`` on the task together; who got "ok" and who got the conflict."""
    outcome: dict[str, object] = {}
    go = anyio.Event()

    async def one(name, client, params):
        await go.wait()
        try:
            await client.call(method, params)
            outcome[name] = "ok"
        except RpcError as exc:
            outcome[name] = exc.code

    async with anyio.create_task_group() as tg:
        tg.start_soon(one, "a", a, params_a)
        tg.start_soon(one, "b", b, params_b)
        await anyio.sleep(0.01)
        go.set()
    return outcome


async def answer_at_once(a, b, tid, params_a, params_b) -> dict:
    """Both clients answer the gate together."""
    return await at_once(a, b, "task.approve", {"task_id": tid, **params_a}, {"task_id": tid, **params_b})


def one_worker_script(marker: str, seen: list[str], plan_answer) -> Script:
    """A task of one worker whose plan is ``plan_answer(n)``; what follows ``marker`` in a
    plan prompt (the user's answer the Boss was given) is added to ``seen``."""

    def plan_(ask, n):
        if marker in ask.prompt:
            seen.append(ask.prompt.split(marker, 1)[1])
        return plan_answer(n)

    return Script(plan=plan_, staff=lambda a, n: staff(("w", "write", ["main.py"])),
                  work=lambda a, n: files(("main.py", "print('hi')\n")),
                  review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})


async def grown_to(seen: list[str], n: int) -> None:
    with anyio.fail_after(30):
        while len(seen) < n:
            await anyio.sleep(0.02)


async def test_two_clients_answering_one_gate_the_ok_one_decides(daemon, fake):
    seen_feedback: list[str] = []
    fake.responder = one_worker_script("Feedback on the previous plan (address it)", seen_feedback,
                                       lambda n: plan(("core", f"plan {n}")))
    async with daemon.connect("client-a") as a, daemon.connect("client-b") as b:
        await use_fake(a, fake)
        tid = (await a.call("task.create", {"description": "race the gate", "provider": "fake",
                                            "meta": {"approve_plan": True}}))["task_id"]
        winners = []
        for r in range(ROUNDS):
            task = await wait_status(a, tid, ("awaiting_approval", "failed", "done", "cancelled"))
            assert task["status"] == "awaiting_approval", task["error"]
            out = await answer_at_once(a, b, tid, {"approved": False, "feedback": f"round {r} from a"},
                                       {"approved": False, "feedback": f"round {r} from b"})
            assert sorted(out.values(), key=str) == [-32003, "ok"], out
            winner = "a" if out["a"] == "ok" else "b"
            winners.append(winner)
            # the re-plan sees the ok'd client's feedback, never the refused one's
            await grown_to(seen_feedback, r + 1)
            latest = seen_feedback[r]
            loser = "b" if winner == "a" else "a"
            assert f"round {r} from {winner}" in latest and f"round {r} from {loser}" not in latest, (r, out, latest)

        # the last gate: one approves, the other rejects outright; the ok'd one decides
        task = await wait_status(a, tid, ("awaiting_approval", "failed", "done", "cancelled"))
        out = await answer_at_once(a, b, tid, {"approved": True}, {"approved": False})
        assert sorted(out.values(), key=str) == [-32003, "ok"], out
        task = await wait_status(a, tid, ("done", "failed", "cancelled"))
        assert task["status"] == ("done" if out["a"] == "ok" else "cancelled"), (out, task["error"])
        evs = await events_of(a, tid)

    verdicts = [e.data for e in evs if e.kind == "review.verdict" and e.data["by"] == "user"]
    assert len(verdicts) == ROUNDS + 1  # one per gate: the refused answers published nothing
    for r, (v, w) in enumerate(zip(verdicts, winners)):
        assert v["feedback"] == f"round {r} from {w}"
    log = daemon.oenv.log_file.read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_two_clients_answering_questions_at_once_the_ok_one_is_heard(daemon, fake):
    heard: list[str] = []
    fake.responder = one_worker_script(
        "Answers from the user", heard,
        lambda n: {"questions": [f"question {n}?"], "managers": []} if n <= 5 else plan(("core", "the code")))
    async with daemon.connect("client-a") as a, daemon.connect("client-b") as b:
        await use_fake(a, fake)
        tid = (await a.call("task.create", {"description": "race the questions", "provider": "fake"}))["task_id"]
        for r in range(5):
            task = await wait_status(a, tid)
            assert task["status"] == "awaiting_input", task["error"]
            out = await at_once(a, b, "task.message", {"task_id": tid, "content": f"answer {r} from a"},
                                {"task_id": tid, "content": f"answer {r} from b"})
            assert sorted(out.values(), key=str) == [-32003, "ok"], out
            winner, loser = ("a", "b") if out["a"] == "ok" else ("b", "a")
            await grown_to(heard, r + 1)
            assert f"answer {r} from {winner}" in heard[r] and f"answer {r} from {loser}" not in heard[r], (out, heard[r])
        task = await wait_status(a, tid, ("done", "failed"))
    assert task["status"] == "done", task["error"]
