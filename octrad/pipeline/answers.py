"""The shape of every answer an agent may give.  Each type's JSON Schema is what
the provider is asked to follow, and every answer is decoded into it before
anything uses it: an answer that does not fit is an answer not given.

Bounds live in the types (``msgspec.Meta``) so each provider's schema carries
them; what a schema cannot say (a file owned by no manager, two workers with
one role) is checked by :mod:`.contract` and sent back as a correction.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

import msgspec

Role = Annotated[str, msgspec.Meta(min_length=1, max_length=60)]
Path = Annotated[str, msgspec.Meta(min_length=1, max_length=300)]
MAX_MANAGERS = 6
MAX_WORKERS = 6


class ContextNote(msgspec.Struct, kw_only=True):
    """Something to remember, saved by the context service."""

    scope: Literal["global", "team", "individual"] = "team"
    type: str = "note"
    content: str
    important: bool = False
    #: with content "forget": which entries to forget
    match: Union[str, None] = None


class ManagerBrief(msgspec.Struct, kw_only=True):
    role: Role
    description: str
    #: launch order (1 first); teams wait only for the teams in depends_on
    priority: Annotated[int, msgspec.Meta(ge=1, le=10)] = 1
    #: roles of the managers whose files this team's files use (a tests team depends on the code it tests)
    depends_on: Annotated[list[Role], msgspec.Meta(max_length=MAX_MANAGERS)] = []


class FileSpec(msgspec.Struct, kw_only=True):
    """One file of the contract: who writes it, what for, and what others use from it."""

    path: Path
    #: the role of the manager whose team writes it
    owner: Role
    purpose: str = ""
    #: the public names other files use from it (functions, classes, routes, CLI flags)
    interface: str = ""


class Check(msgspec.Struct, kw_only=True):
    """A command Octra runs on the whole project after the teams (set-up, build, test, smoke)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=40)]
    command: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class Plan(msgspec.Struct, kw_only=True):
    """The Boss's plan, or its questions when the task is too vague to plan.

    ``files`` and ``checks`` are the contract every agent sees."""

    task_type: str = ""
    tech_stack: str = ""
    architecture_notes: str = ""
    managers: Annotated[list[ManagerBrief], msgspec.Meta(max_length=MAX_MANAGERS)] = []
    files: Annotated[list[FileSpec], msgspec.Meta(max_length=200)] = []
    checks: Annotated[list[Check], msgspec.Meta(max_length=10)] = []
    skill_categories: list[str] = []
    #: non-empty only when the Boss cannot plan without answers from the user
    questions: Annotated[list[str], msgspec.Meta(max_length=5)] = []
    context: Union[ContextNote, None] = None


class WorkerBrief(msgspec.Struct, kw_only=True):
    role: Role
    description: str
    files_hint: list[str] = []
    skills: list[str] = []


class Staffing(msgspec.Struct, kw_only=True):
    """A manager's split of its part into narrow jobs."""

    workers: Annotated[list[WorkerBrief], msgspec.Meta(min_length=1, max_length=MAX_WORKERS)]
    context: Union[ContextNote, None] = None


class FileOut(msgspec.Struct):
    path: str
    content: str


class Edit(msgspec.Struct, kw_only=True):
    """Replace the one occurrence of ``search`` in ``path`` with ``replace``."""

    path: str
    search: Annotated[str, msgspec.Meta(min_length=1)]
    replace: str


class WorkerOutput(msgspec.Struct, kw_only=True):
    """A worker's files (whole, or as edits) and the commands that build or check them."""

    files: list[FileOut] = []
    edits: list[Edit] = []
    commands: Annotated[list[str], msgspec.Meta(max_length=10)] = []
    #: true when the worker's part is complete; false asks for another round (required: no default)
    done: bool
    #: agent-based selection: the role of the peer who should speak next
    next: Union[str, None] = None
    context: Union[ContextNote, None] = None


class Debug(msgspec.Struct, kw_only=True):
    """What makes a failing check pass: files, edits, and commands (run sandboxed, before the checks re-run)."""

    files: list[FileOut] = []
    edits: list[Edit] = []
    commands: Annotated[list[str], msgspec.Meta(max_length=5)] = []
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
