"""What the TUI knows about one task, built only from the task's events.

History and live updates take the same path (:meth:`TaskModel.apply`), and an
event whose ``seq`` was already applied is ignored, so a stream resumed after
a reconnection can neither repeat nor reorder what is on screen.  The log is
bounded (a deque per view) so that 100,000 lines cost a fixed amount of memory.
"""

from __future__ import annotations

from array import array
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Iterable

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
STATUS_MARK = {
    "done": "✓", "failed": "✗", "cancelled": "⊘", "interrupted": "⏸", "awaiting_approval": "?",
    "awaiting_input": "?", "approved": "✓", "rejected": "✗", "waiting": "…",
}
STATUS_STYLE = {
    "done": "green", "failed": "red", "cancelled": "yellow", "interrupted": "yellow",
    "awaiting_approval": "magenta", "awaiting_input": "magenta", "waiting": "magenta",
}

#: lines kept for the whole task and for each agent
TASK_LINES = 100_000
AGENT_LINES = 20_000


def status_style(status: str) -> str:
    return STATUS_STYLE.get(status, "cyan")


def human_tokens(n: int) -> str:
    if n < 1000:
        return str(n)
    if n < 1_000_000:
        return f"{n / 1000:.1f}k"
    return f"{n / 1_000_000:.1f}M"


@dataclass
class Agent:
    agent_id: str
    kind: str
    role: str
    parent_id: str | None
    status: str = "working"
    calls: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    cost_usd: float = 0.0
    children: list[str] = field(default_factory=list)

    @property
    def working(self) -> bool:
        return self.status == "working"

    def usage_text(self) -> str:
        if not self.calls:
            return ""
        return f"{self.calls} calls {human_tokens(self.tokens_in + self.tokens_out)} tok ${self.cost_usd:.4f}"


class TaskModel:
    """One task as its events tell it: status, agent tree, log lines, results."""

    def __init__(self, task_id: str, task_lines: int = TASK_LINES, agent_lines: int = AGENT_LINES):
        self.task_id = task_id
        self.status = "queued"
        self.description = ""
        self.error: dict | None = None
        self.agents: dict[str, Agent] = {}
        self.roots: list[str] = []
        #: (agent_id or None, text), oldest first, bounded
        self.lines: deque[tuple[str | None, str]] = deque(maxlen=task_lines)
        self.agent_lines: dict[str, deque[str]] = {}
        self._agent_max = agent_lines
        #: every seq applied, in order: what tests compare with the daemon's log
        self.seqs = array("q")
        self.last_seq = 0
        self.files: dict[str, int] = {}
        self.store_path: str | None = None
        self.repo_url: str | None = None
        self.pull_request_url: str | None = None
        self.calls = 0
        self.tokens_in = 0
        self.tokens_out = 0
        self.cost_usd = 0.0
        #: agents added or changed since the UI last looked (cleared by the UI)
        self.changed: set[str] = set()
        self.status_changed = False

    # -- applying events --------------------------------------------------
    def apply_all(self, events: Iterable[Any]) -> list[tuple[str | None, str]]:
        new: list[tuple[str | None, str]] = []
        for ev in events:
            new.extend(self.apply(ev))
        return new

    def apply(self, ev: Any) -> list[tuple[str | None, str]]:
        """Take one event; return the log lines it adds (none when already seen)."""
        if ev.seq <= self.last_seq:
            return []
        self.last_seq = ev.seq
        self.seqs.append(ev.seq)
        kind, data, aid = ev.kind, ev.data or {}, ev.agent_id
        if kind == "task.created":
            self.description = data.get("description") or self.description
        elif kind in ("task.status", "task.finished"):
            status = data.get("status")
            if status and status != self.status:
                self.status = status
                self.status_changed = True
            if data.get("error"):
                self.error = data["error"]
            if kind == "task.finished":
                return []
        elif kind == "agent.spawned":
            self._spawn(aid, data)
        elif kind == "agent.status" and aid in self.agents:
            self.agents[aid].status = data.get("status") or self.agents[aid].status
            self.changed.add(aid)
        elif kind == "llm.call":
            self._usage(aid, data)
        elif kind == "file.written":
            self.files[data.get("path", "?")] = data.get("bytes", 0)
        elif kind == "snapshot.created":
            self.store_path = data.get("store_path") or self.store_path
        elif kind == "github.published":
            self.repo_url = data.get("repo_url") or data.get("url") or self.repo_url
            self.pull_request_url = data.get("pull_request_url") or data.get("pr_url") or self.pull_request_url
        out = [(aid, line) for line in event_lines(ev)]
        for item in out:
            self.lines.append(item)
            if aid:
                buf = self.agent_lines.get(aid)
                if buf is None:
                    buf = self.agent_lines[aid] = deque(maxlen=self._agent_max)
                buf.append(item[1])
        return out

    def _spawn(self, aid: str | None, data: dict) -> None:
        if not aid:
            return
        agent = self.agents.get(aid)
        if agent is None:
            agent = self.agents[aid] = Agent(aid, data.get("kind", "worker"), data.get("role", aid), data.get("parent_id"))
            parent = self.agents.get(agent.parent_id) if agent.parent_id else None
            if parent is not None:
                parent.children.append(aid)
                self.changed.add(parent.agent_id)
            else:
                self.roots.append(aid)
        agent.status = "working"
        self.changed.add(aid)

    def _usage(self, aid: str | None, data: dict) -> None:
        tin, tout, cost = int(data.get("tokens_in") or 0), int(data.get("tokens_out") or 0), float(data.get("cost_usd") or 0.0)
        self.calls += 1
        self.tokens_in += tin
        self.tokens_out += tout
        self.cost_usd += cost
        agent = self.agents.get(aid or "")
        if agent is not None:
            agent.calls += 1
            agent.tokens_in += tin
            agent.tokens_out += tout
            agent.cost_usd += cost
            self.changed.add(agent.agent_id)

    # -- reading ----------------------------------------------------------
    def role(self, aid: str | None) -> str:
        if not aid:
            return "task"
        agent = self.agents.get(aid)
        return agent.role if agent else aid

    def view_lines(self, agent_id: str | None) -> list[str]:
        """The log of one agent (its own lines), or of the whole task with a role column."""
        if agent_id is None:
            return [self.format(aid, text) for aid, text in self.lines]
        return list(self.agent_lines.get(agent_id, ()))

    def format(self, aid: str | None, text: str) -> str:
        return f"{self.role(aid)[:12]:>12} │ {text}"

    @property
    def working(self) -> bool:
        return any(a.working for a in self.agents.values())


def event_lines(ev: Any) -> list[str]:
    """The log lines of one event (most events make one; command output makes several)."""
    kind, data = ev.kind, ev.data or {}
    if kind == "task.created":
        return [f"task created (provider {data.get('provider')}{', stack ' + data['stack'] if data.get('stack') else ''})"]
    if kind == "task.status":
        err = data.get("error") or {}
        return [f"status → {data.get('status')}" + (f"  ({err.get('kind')}: {err.get('message')})" if err else "")]
    if kind == "agent.spawned":
        return [f"+ {data.get('kind')} {data.get('role')}"]
    if kind == "agent.status":
        status = data.get("status")
        return [] if status == "working" else [f"{status}"]
    if kind == "agent.log":
        text = str(data.get("text") or "")
        if data.get("source") == "llm":
            # streamed model output, in chunks: shown as it came, line by line
            return [f"  {line}" for line in text.splitlines() if line.strip()][:200]
        level = data.get("level", "info")
        head = "" if level == "info" else f"{level}: "
        lines = text.splitlines() or [""]
        return [head + lines[0], *(f"  {line}" for line in lines[1:50])]
    if kind == "llm.call":
        if data.get("error"):
            return [f"call failed (attempt {data.get('attempt', 1)}): {data['error']}"]
        return [f"asked {data.get('step') or data.get('role') or ''}: {data.get('model') or data.get('provider')}, "
                f"{data.get('tokens_in', 0)}+{data.get('tokens_out', 0)} tokens, {float(data.get('latency_ms') or 0):.0f} ms"]
    if kind == "file.written":
        extra = " (autofix)" if data.get("reason") == "autofix" else ""
        return [f"wrote {data.get('path')} ({data.get('bytes', 0)} bytes){extra}"]
    if kind == "command.started":
        return [f"$ {data.get('command')}"]
    if kind == "command.finished":
        state = "timed out" if data.get("timed_out") else f"exit {data.get('exit_code')}"
        out = [f"$ {data.get('command')} → {state} in {data.get('duration_s')}s"]
        tail = str(data.get("output_tail") or "").splitlines()
        return out + [f"  │ {line}" for line in tail[-40:]]
    if kind == "review.verdict":
        verdict = "approved" if data.get("approved") else "rejected"
        fb = data.get("feedback") or ""
        return [f"review by {data.get('by', '?')}: {verdict}" + (f" — {fb}" if fb else "")]
    if kind == "context.saved":
        return [f"context saved ({data.get('scope')}/{data.get('type')}): {str(data.get('content', ''))[:200]}"]
    if kind == "snapshot.created":
        return [f"snapshot {data.get('store_path')} ({data.get('files')} files)"]
    if kind == "github.published":
        url = data.get("pull_request_url") or data.get("repo_url") or data.get("url") or ""
        return [f"published {url}"]
    return [f"{kind} {data}"] if kind not in ("task.finished",) else []


#: output lines of a failed check shown in the summary (the report, key e, shows them all)
SUMMARY_TAIL = 6


def verdict(task: dict) -> tuple[str, str] | None:
    """("verified" / "failed checks: ..." / "unverified: why", style); None while nothing was checked."""
    checks = task.get("checks") or []
    if task.get("verified") is True:
        return f"✓ verified: {len(checks)} check{'s' if len(checks) != 1 else ''} passed", "green"
    if task.get("verified") is False:
        failed = [c["name"] for c in checks if c.get("exit_code") is not None and not c.get("passed")]
        return "✗ failed checks: " + (", ".join(failed) or "?"), "bold red"
    if task.get("status") != "done" and not checks:
        return None
    why = sorted({c["skipped_reason"] for c in checks if c.get("skipped_reason")})
    # a check skipped because an earlier one could not run says nothing the first cause does not
    why = [w for w in why if not w.startswith("not run: check ")] or why
    return "unverified: " + ("; ".join(why) if why else "no check could run" + (" (see the notes)" if task.get("notes") else "")), "yellow"


def check_parts(task: dict, tail_lines: int | None) -> list[str]:
    """Rich markup: one line per check (✓/✗, exit code, duration), a failed one's output tail."""
    from rich.markup import escape as e

    out = []
    for c in task.get("checks") or []:
        if c.get("exit_code") is None:
            out.append(f"  [yellow]–[/] {e(c['name'])} [dim]{e(c['command'])}[/]  not run: {e(c.get('skipped_reason') or '?')}")
            continue
        mark = "[green]✓[/]" if c.get("passed") else "[red]✗[/]"
        out.append(f"  {mark} {e(c['name'])} [dim]{e(c['command'])}[/]  exit {c['exit_code']}, {c.get('duration_s', 0):.1f}s")
        if not c.get("passed"):
            tail = (c.get("output_tail") or "").rstrip().splitlines()
            if tail_lines is not None:
                tail = tail[-tail_lines:]
            out += [f"    [dim]│ {e(line)}[/]" for line in tail] or ["    [dim]│ (no output)[/]"]
    return out


SANDBOX_WARNING = "[b red]⚠ commands ran UNSANDBOXED[/] [red](sandbox = none, or bubblewrap missing): they had your user's full access[/]"


def summary_text(task: dict, tail_lines: int | None = SUMMARY_TAIL) -> str:
    """The finished (or waiting) task in a few lines of Rich markup: the verdict and checks,
    the error, files, usage, store path, links.  Everything that comes from the task is escaped."""
    from rich.markup import escape as e

    u = task.get("usage") or {}
    status = task.get("status", "")
    lines = [f"[b {status_style(status)}]{e(status)}[/]  {len(task.get('files') or [])} files  "
             f"{u.get('calls', 0)} calls  {human_tokens(u.get('tokens_in', 0))} in / {human_tokens(u.get('tokens_out', 0))} out  "
             f"${u.get('cost_usd', 0):.4f}"]
    if status == "awaiting_input" and task.get("questions"):
        lines.append("[magenta]questions[/] (answer below): " + e(" / ".join(task["questions"])))
    if status == "awaiting_approval":
        plan = task.get("plan") or {}
        roles = ", ".join(m.get("role", "?") for m in plan.get("managers") or [])
        lines.append(f"[magenta]plan awaits approval[/]: {e(str(plan.get('tech_stack', '')))} — {e(roles)}  (press a)")
    if task.get("sandbox") == "none":
        lines.append(SANDBOX_WARNING)
    err = task.get("error")
    if err and status != "done":
        lines.append(f"[red]{e(str(err.get('kind')))}: {e(str(err.get('message')))}[/]")
        if status in ("failed", "interrupted") and err.get("kind") != "invalid_params":
            hint = f"resume: r, or octractl resume {task['task_id']}" + (
                " --meta max_fix_attempts=5" if err.get("kind") == "checks_failed" else "")
            lines.append(f"[dim]{e(hint)}{'  ·  e: the whole report' if tail_lines is not None else ''}[/]")
    word = verdict(task)
    if word:
        lines.append(f"[{word[1]}]{e(word[0])}[/]")
    lines += check_parts(task, tail_lines)
    files = task.get("files") or []
    if files:
        shown = files if tail_lines is None else files[:40]
        lines.append("files " + e(", ".join(shown)) + (f" … and {len(files) - len(shown)} more" if len(files) > len(shown) else ""))
    if task.get("store_path"):
        lines.append(f"snapshot {e(task['store_path'])}")
    if task.get("repo_url"):
        lines.append(f"repo {e(task['repo_url'])}")
    if task.get("pull_request_url"):
        lines.append(f"pull request {e(task['pull_request_url'])}")
    for note in task.get("notes") or []:
        lines.append(f"[dim]{e(note)}[/]")
    return "\n".join(lines)
