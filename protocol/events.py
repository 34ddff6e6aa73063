"""Events: what happened, in order.  ``seq`` is global and strictly increasing."""

from __future__ import annotations

from typing import Any, Union

import msgspec

EVENT_KINDS = (
    "task.created",
    "task.status",
    "agent.spawned",
    "agent.status",
    "agent.log",
    "llm.call",
    "file.written",
    "command.started",
    "command.finished",
    "review.verdict",
    "context.saved",
    "snapshot.created",
    "github.published",
    "task.finished",
)


class Event(msgspec.Struct, omit_defaults=False):
    seq: int
    ts: float
    kind: str
    task_id: Union[str, None] = None
    agent_id: Union[str, None] = None
    data: dict[str, Any] = {}


class EventNotification(msgspec.Struct):
    """``params`` of the server's ``event`` notification."""

    subscription: str
    event: Event
