"""The shape of every answer an agent may give.  Each type's JSON Schema is what
the provider is asked to follow, and every answer is decoded into it before
anything uses it: an answer that does not fit is an answer not given."""

from __future__ import annotations

from typing import Literal, Union

import msgspec


class ContextNote(msgspec.Struct, kw_only=True):
    """Something to remember, saved by the context service."""

    scope: Literal["global", "team", "individual"] = "team"
    type: str = "note"
    content: str
    important: bool = False
    #: with content "forget": which entries to forget
    match: Union[str, None] = None


class ManagerBrief(msgspec.Struct, kw_only=True):
    role: str
    description: str
    priority: int = 1


class Plan(msgspec.Struct, kw_only=True):
    """The Boss's plan, or its questions when the task is too vague to plan."""

    task_type: str = ""
    tech_stack: str = ""
    architecture_notes: str = ""
    managers: list[ManagerBrief] = []
    skill_categories: list[str] = []
    #: non-empty only when the Boss cannot plan without answers from the user
    questions: list[str] = []
    context: Union[ContextNote, None] = None


class WorkerBrief(msgspec.Struct, kw_only=True):
    role: str
    description: str
    files_hint: list[str] = []
    skills: list[str] = []


class Staffing(msgspec.Struct, kw_only=True):
    """A manager's split of its part into narrow jobs."""

    workers: list[WorkerBrief]
    context: Union[ContextNote, None] = None


class FileOut(msgspec.Struct):
    path: str
    content: str


class WorkerOutput(msgspec.Struct, kw_only=True):
    """A worker's files and the commands that build or check them."""

    files: list[FileOut] = []
    commands: list[str] = []
    done: bool = True
    #: agent-based selection: the role of the peer who should speak next
    next: Union[str, None] = None
    context: Union[ContextNote, None] = None


class Fix(msgspec.Struct, kw_only=True):
    """Files that make a failing command pass."""

    files: list[FileOut]
    explanation: str = ""


class Review(msgspec.Struct, kw_only=True):
    """A manager's verdict on its workers' files."""

    approved: bool
    feedback: str = ""
    #: roles of the workers that must redo their part
    rework: list[str] = []


class Validation(msgspec.Struct, kw_only=True):
    """The Boss's verdict on the whole project."""

    approved: bool
    feedback: str = ""
    #: roles of the managers whose part fails
    failing_managers: list[str] = []
