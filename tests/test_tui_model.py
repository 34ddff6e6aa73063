"""The TUI's task model: built from events only, each seq applied once, bounded."""

from __future__ import annotations

from octra_protocol.events import Event
from octra_tui.model import TaskModel, event_lines


def ev(seq, event_kind, aid=None, **data):
    return Event(seq=seq, ts=0.0, kind=event_kind, task_id="t1", agent_id=aid, data=data)


def story():
    return [
        ev(1, "task.created", description="a thing", provider="fake"),
        ev(2, "task.status", status="planning"),
        ev(3, "agent.spawned", "t1-boss", kind="boss", role="boss", parent_id=None),
        ev(4, "agent.spawned", "t1-m1", kind="manager", role="backend", parent_id="t1-boss"),
        ev(5, "agent.spawned", "t1-m1-w1", kind="worker", role="api", parent_id="t1-m1"),
        ev(6, "llm.call", "t1-m1-w1", step="m1.w1.r1", model="m", tokens_in=11, tokens_out=7, cost_usd=0.5, latency_ms=3),
        ev(7, "file.written", "t1-m1-w1", path="api.py", bytes=6),
        ev(8, "command.finished", "t1-m1-w1", command="make", exit_code=2, duration_s=0.1, output_tail="oops\nline 2"),
        ev(9, "agent.status", "t1-m1-w1", status="done"),
        ev(10, "task.status", status="failed", error={"kind": "provider_error", "message": "down"}),
    ]


def test_the_tree_usage_and_lines_come_from_events():
    m = TaskModel("t1")
    m.apply_all(story())
    assert m.roots == ["t1-boss"] and m.agents["t1-boss"].children == ["t1-m1"]
    assert m.agents["t1-m1"].children == ["t1-m1-w1"]
    w = m.agents["t1-m1-w1"]
    assert (w.status, w.calls, w.tokens_in, w.tokens_out, w.cost_usd) == ("done", 1, 11, 7, 0.5)
    assert (m.status, m.error["kind"], m.calls, m.files) == ("failed", "provider_error", 1, {"api.py": 6})
    assert m.view_lines("t1-m1-w1") == [
        "+ worker api", "asked m1.w1.r1: m, 11+7 tokens, 3 ms", "wrote api.py (6 bytes)",
        "$ make → exit 2 in 0.1s", "  │ oops", "  │ line 2", "done"]
    assert m.view_lines(None)[-1] == "        task │ status → failed  (provider_error: down)"


def test_a_seq_seen_twice_or_late_is_applied_once():
    m = TaskModel("t1")
    evs = story()
    m.apply_all(evs[:6])
    # a resumed stream that overlaps what was seen: only the new events add lines
    added = m.apply_all(evs[3:])
    assert [text for _, text in added][0] == "wrote api.py (6 bytes)"
    assert list(m.seqs) == list(range(1, 11))
    assert m.agents["t1-m1-w1"].calls == 1
    assert m.apply(evs[0]) == [] and len(m.seqs) == 10


def test_the_log_is_bounded():
    m = TaskModel("t1", task_lines=1000, agent_lines=100)
    m.apply(ev(1, "agent.spawned", "a", kind="worker", role="w", parent_id=None))
    for i in range(2, 5002):
        m.apply(ev(i, "agent.log", "a", level="info", text=f"line {i}"))
    assert len(m.lines) == 1000 and m.lines[-1] == ("a", "line 5001")
    assert len(m.agent_lines["a"]) == 100 and m.view_lines("a")[0] == "line 4902"


def test_streamed_output_and_unknown_kinds():
    assert event_lines(ev(1, "agent.log", source="llm", text='{"a":\n 1}\n\n')) == ['  {"a":', "   1}"]
    assert event_lines(ev(2, "task.finished", status="done")) == []
    assert event_lines(ev(3, "something.new", x=1)) == ["something.new {'x': 1}"]


def test_the_summary_shows_checks_the_verdict_and_an_unsandboxed_run():
    from rich.text import Text

    from octra_tui.model import summary_text
    from tests.test_cli import FAILED, PASSED, SKIPPED, protocol_task

    def plain(task, **kw) -> str:
        return Text.from_markup(summary_text(task, **kw)).plain

    ok = plain(protocol_task(checks=[PASSED], verified=True, sandbox="bwrap"))
    assert "✓ verified: 1 check passed" in ok and "✓ build pip install -e .  exit 0, 2.5s" in ok
    assert "UNSANDBOXED" not in ok
    task = protocol_task(status="failed", checks=[PASSED, FAILED], verified=False, sandbox="none",
                         error={"kind": "checks_failed", "message": "1 check still fails"})
    bad = plain(task)
    assert "✗ failed checks: test" in bad and "✗ test pytest -q  exit 1, 0.8s" in bad
    assert "│ E   AssertionError: 2 != 3" in bad and "UNSANDBOXED" in bad
    assert "octractl resume t1 --meta max_fix_attempts=5" in bad
    long = dict(task, checks=[dict(FAILED, output_tail="\n".join(f"line {i}" for i in range(50)))])
    assert "line 43" not in plain(long) and "line 49" in plain(long), "the summary shows the tail's end"
    assert "line 0" in plain(long, tail_lines=None), "the report shows it whole"
    assert "unverified: the tool words is not installed" in plain(protocol_task(checks=[SKIPPED], verified=None))
    assert "verified" not in plain(protocol_task(status="building"))


def test_a_done_task_shows_a_check_mark_only_when_verified():
    from octra_tui.labels import task_label

    def mark(**task):
        return task_label({"description": "d", **task}).plain[0]

    assert mark(status="done", verified=True) == "✓"
    assert mark(status="done", verified=None) == "~"  # "unverified: why" in octractl show
    assert mark(status="done") == "✓"  # not known yet (task.list does not say)
    assert mark(status="building", verified=None) != "~"
    assert mark(status="failed", verified=False) == "✗"
