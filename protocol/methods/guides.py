"""Tool guides (DESIGN.md section 9): one per build tool, with its real
commands, the standard project structure and the files that identify it."""

from __future__ import annotations

from typing import Literal, Union

from ._base import Method, Params, Result

#: what a guide command is for (octrad.knowledge.guides documents each; the
#: project's checks are setup, build, test and smoke, in that order)
Purpose = Literal["init", "setup", "add_dependency", "build", "test", "smoke", "run", "lint", "format"]


class GuideCommand(Result, kw_only=True):
    purpose: Purpose
    #: a shell line run in the project folder; placeholders {name}, {module}, {package}
    command: str
    #: what it does, in one line
    description: str = ""


class GuideFile(Result, kw_only=True):
    #: relative path; may contain {name} / {module}
    path: str
    content: str = ""


class _GuideFacts(Result, kw_only=True):
    """What every answer about a guide says."""

    tool: str
    name: str
    ecosystem: str
    description: str
    keywords: list[str]
    stacks: list[str]
    tools: list[str]
    nix_packages: list[str]


class GuideSummary(_GuideFacts, kw_only=True):
    #: relevance to guides.list's ``match`` text (null otherwise)
    score: Union[int, None] = None
    #: "shipped" (with Octra) or "user" (the user guides folder)
    source: str = "shipped"


class Guide(_GuideFacts, kw_only=True):
    #: "command": the init commands create the project; "structure": write the structure, then run init
    scaffold: str
    commands: list[GuideCommand]
    structure: list[GuideFile]
    #: files (globs allowed) whose presence identifies such a project
    detect: list[str]
    notes: list[str] = []
    #: stacks for which this guide is the first choice
    default_for: list[str] = []
    source: str = "shipped"


class GuidesListParams(Params, kw_only=True):
    #: only guides for this stack (e.g. "rust", "python")
    stack: Union[str, None] = None
    #: a task description: only guides whose keywords it names, best first
    match: Union[str, None] = None


class GuidesListResult(Result):
    guides: list[GuideSummary]


class GuidesGetParams(Params, kw_only=True):
    tool: str


METHODS = {
    "guides.list": Method(GuidesListParams, GuidesListResult, "Every tool guide (or those of a stack, or matching a description)."),
    "guides.get": Method(GuidesGetParams, Guide, "One whole guide by tool name."),
}
