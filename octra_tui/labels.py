"""How tasks and agents read as nodes of the trees: a status mark, the role or
the description's first line, usage.  A done task shows ✓ only when its checks
verified it; an unverified one shows a yellow ~."""

from __future__ import annotations

import re

from rich.text import Text

from octra_protocol.methods.tasks import RUNNING_STATES

from .model import SPINNER, STATUS_MARK, status_style


def natural_key(agent_id: str) -> tuple:
    """``t1-m2`` before ``t1-m10``: numbers compare as numbers."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", agent_id))


def agent_label(agent, frame: int) -> Text:
    mark = SPINNER[frame % len(SPINNER)] if agent.working else STATUS_MARK.get(agent.status, "•")
    style = status_style(agent.status) if not agent.working else "cyan"
    kind = "" if agent.kind == agent.role else f" {agent.kind}"
    label = Text.assemble((mark, style), " ", (agent.role, "bold"), (kind, "dim"), "  ", (agent.status, style))
    usage = agent.usage_text()
    if usage:
        label.append(f"  {usage}", "dim")
    return label


#: a done task that no check verified ("unverified: why" in octractl show and the summary)
UNVERIFIED_MARK = "~"


def unverified(task: dict) -> bool:
    """Done, but ``verified`` is null: no check could run.  Not known yet (no
    ``verified`` key: task.list does not carry it) counts as verified."""
    return task.get("status") == "done" and "verified" in task and task["verified"] is None


def task_label(task: dict) -> Text:
    status = task.get("status", "")
    if unverified(task):
        return Text.assemble((UNVERIFIED_MARK, "yellow"), " ", first_line(task.get("description")) or "?")
    mark = STATUS_MARK.get(status, "•" if status not in RUNNING_STATES else "▶")
    return Text.assemble((mark, status_style(status)), " ", first_line(task.get("description")) or "?")


def first_line(text: str | None, limit: int = 120) -> str:
    """The start of a description's first line (what is drawn of it, whatever its size)."""
    head = (text or "")[: limit + 1].split("\n", 1)[0]
    return head if len(head) <= limit else head[: limit - 1] + "…"
