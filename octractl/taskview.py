"""How a task looks on a terminal: one line per event while it runs, a summary
when it ends, the agent tree.  Plain functions over the protocol's JSON."""

from __future__ import annotations

from typing import Any


class AgentNames:
    """Remembers agents as they are spawned, to print their role, not their id."""

    def __init__(self) -> None:
        self.roles: dict[str, tuple[str, str]] = {}

    def name(self, agent_id: str | None) -> str:
        if not agent_id:
            return "task"
        kind, role = self.roles.get(agent_id, ("", agent_id))
        return role if kind != "worker" else f"  {role}"


def event_line(ev: dict[str, Any], names: AgentNames) -> str | None:
    """A one-line rendering of an event, or None for events not worth a line."""
    kind, data, aid = ev["kind"], ev.get("data") or {}, ev.get("agent_id")
    who = names.name(aid)
    if kind == "task.created":
        return f"task {ev['task_id']} created (provider {data.get('provider')})"
    if kind == "task.status":
        err = data.get("error") or {}
        return f"status: {data.get('status')}" + (f" ({err.get('kind')}: {err.get('message')})" if err else "")
    if kind == "agent.spawned":
        names.roles[aid] = (data.get("kind", ""), data.get("role", aid))
        indent = {"boss": "", "manager": "  ", "worker": "    "}.get(data.get("kind", ""), "")
        return f"{indent}+ {data.get('kind')} {data.get('role')}"
    if kind == "agent.status":
        status = data.get("status")
        return None if status == "working" else f"{who}: {status}"
    if kind == "file.written":
        return f"{who}: wrote {data.get('path')} ({data.get('bytes')} bytes)"
    if kind == "command.started":
        return f"{who}: $ {data.get('command')}"
    if kind == "command.finished":
        state = "timed out" if data.get("timed_out") else f"exit {data.get('exit_code')}"
        return f"{who}: $ {data.get('command')} -> {state} in {data.get('duration_s')}s"
    if kind == "review.verdict":
        verdict = "approved" if data.get("approved") else "rejected"
        fb = f": {data.get('feedback')}" if data.get("feedback") and not data.get("approved") else ""
        return f"{who}: review {verdict}{fb}"
    if kind == "llm.call":
        return f"{who}: {data.get('model') or data.get('provider')} call ({data.get('tokens_in', 0)}+{data.get('tokens_out', 0)} tokens, {data.get('latency_ms', 0):.0f} ms)" if not data.get("error") else f"{who}: call failed: {data.get('error')}"
    if kind == "agent.log":
        level = data.get("level", "info")
        if level in ("warning", "error", "note"):
            return f"{who}: {level}: {data.get('text')}"
        return None
    if kind == "snapshot.created":
        return f"snapshot: {data.get('store_path')} ({data.get('files')} files)"
    if kind == "task.finished":
        return None
    return None


def tree_lines(nodes: list[dict], depth: int = 0) -> list[str]:
    out = []
    for n in nodes:
        u = n.get("usage") or {}
        usage = f"  {u.get('calls', 0)} calls, {u.get('tokens_in', 0)}+{u.get('tokens_out', 0)} tokens" if u.get("calls") else ""
        out.append(f"{'  ' * depth}{n['kind']:<8} {n['role']:<20} {n['status']}{usage}")
        out += tree_lines(n.get("children") or [], depth + 1)
    return out


#: output lines of a failed check shown in a summary (the task keeps more)
TAIL_LINES = 15


def verdict(task: dict) -> str | None:
    """"verified", "failed checks: ..." or "unverified: why"; None while nothing was checked."""
    checks = task.get("checks") or []
    if task.get("verified") is True:
        return f"verified: {len(checks)} check{'s' if len(checks) != 1 else ''} passed"
    if task.get("verified") is False:
        failed = [c["name"] for c in checks if c.get("exit_code") is not None and not c.get("passed")]
        return "failed checks: " + (", ".join(failed) or "?")
    if task.get("status") != "done" and not checks:
        return None  # stopped before any check, or still building
    why = sorted({c["skipped_reason"] for c in checks if c.get("skipped_reason")})
    # a check skipped because an earlier one could not run says nothing the first cause does not
    why = [w for w in why if not w.startswith("not run: check ")] or why
    return "unverified: " + ("; ".join(why) if why else "no check could run" + (" (see the notes)" if task.get("notes") else ""))


def check_lines(task: dict) -> list[str]:
    """Each check Octra ran: ✓/✗, exit code, duration; the output tail of a failed one."""
    out = []
    for c in task.get("checks") or []:
        if c.get("exit_code") is None:
            out.append(f"  - {c['name']}  {c['command']}  not run: {c.get('skipped_reason') or 'unknown reason'}")
            continue
        mark = "✓" if c.get("passed") else "✗"
        out.append(f"  {mark} {c['name']}  {c['command']}  exit {c['exit_code']}, {c.get('duration_s', 0):.1f}s")
        if not c.get("passed"):
            tail = (c.get("output_tail") or "").rstrip().splitlines()[-TAIL_LINES:]
            out += [f"      | {line}" for line in tail] or ["      | (no output)"]
    return out


def sandbox_line(task: dict) -> str | None:
    if task.get("sandbox") == "none":
        return ("WARNING   commands ran UNSANDBOXED (setting sandbox = none, or bubblewrap missing): "
                "they had your user's full access")
    return None


def summary(task: dict) -> str:
    u = task.get("usage") or {}
    lines = [
        f"task      {task['task_id']}  ({task['status']})",
        f"project   {task['project']}  [{task['project_id']}]",
        f"provider  {task['provider']}" + (f"  model {task['model']}" if task.get("model") else ""),
    ]
    if task.get("stack"):
        lines.append(f"stack     {task['stack']}")
    cached = f" ({u['tokens_cached']} from the prompt cache)" if u.get("tokens_cached") else ""
    lines.append(f"usage     {u.get('calls', 0)} calls, {u.get('tokens_in', 0)} tokens in{cached}, {u.get('tokens_out', 0)} out, ${u.get('cost_usd', 0):.4f}")
    files = task.get("files") or []
    lines.append(f"files     {len(files)}")
    for f in files[:25]:
        lines.append(f"          {f}")
    if len(files) > 25:
        lines.append(f"          ... and {len(files) - 25} more")
    word = verdict(task)
    if word:
        lines.append(f"checks    {word}")
    lines += check_lines(task)
    loud = sandbox_line(task)
    if loud:
        lines.append(loud)
    if task.get("store_path"):
        lines.append(f"snapshot  {task['store_path']}")
        lines.append(f"          restore with: octractl restore {task['task_id']} --to DIR")
    if task.get("repo_url"):
        lines.append(f"repo      {task['repo_url']}")
    if task.get("pull_request_url"):
        lines.append(f"pr        {task['pull_request_url']}")
    for note in task.get("notes") or []:
        lines.append(f"note      {note}")
    if task.get("questions") and task["status"] == "awaiting_input":
        lines.append("questions:")
        lines += [f"  - {q}" for q in task["questions"]]
        lines.append(f"answer with: octractl reply {task['task_id']} \"...\"")
    if task["status"] == "awaiting_approval":
        plan = task.get("plan") or {}
        lines.append(f"plan      {plan.get('task_type', '')} / {plan.get('tech_stack', '')}")
        for m in plan.get("managers") or []:
            lines.append(f"  - {m.get('role')}: {m.get('description')}")
        lines.append(f"approve with: octractl approve {task['task_id']}   (or --reject --feedback \"...\")")
    err = task.get("error")
    if err and task["status"] != "done":
        lines.append(f"error     {err.get('kind')}: {err.get('message')}")
        # resuming helps when the cause can pass (a provider, a budget, the daemon), not bad input
        if task["status"] == "interrupted" or (task["status"] == "failed" and err.get("kind") != "invalid_params"):
            lines.append(f"          resume with: octractl resume {task['task_id']}")
            if err.get("kind") == "checks_failed":
                lines.append(f"          (more fix attempts: octractl resume {task['task_id']} --meta max_fix_attempts=5,"
                             f" or a follow-up: octractl reply {task['task_id']} \"...\")")
            elif err.get("kind") == "budget_exceeded":
                lines.append(f"          (with a raised budget: octractl resume {task['task_id']} --meta max_llm_calls=N)")
    return "\n".join(lines)
