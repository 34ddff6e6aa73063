"""The context service (DESIGN.md section 8): structured entries an agent is
told, instead of a growing conversation.

Scopes: ``global`` (every agent of the project), ``team`` (the workers of one
manager: ``target`` is the team id, i.e. the manager's agent id) and
``individual`` (one agent: ``target`` is its agent id).  Parameters named
``project`` take a project id or name.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from msgspec import Meta

from ._base import Method, Params, Result

Scope = Literal["global", "team", "individual"]

#: a short word naming what an entry is: rule, decision, fact, interface, note, ...
EntryType = Annotated[str, Meta(min_length=1, max_length=32)]


class ContextEntry(Result, kw_only=True):
    id: int
    #: the project's id
    project: str
    scope: Scope
    type: str
    #: the agent that wrote it ("user" for entries added by hand)
    source_agent: Union[str, None]
    #: team: the team id (the manager's agent id); individual: the agent id; global: null
    target: Union[str, None]
    content: str
    #: important entries are never removed by the automatic cleanup
    important: bool
    forgotten: bool
    created_at: float


class ContextListParams(Params, kw_only=True):
    project: str
    scope: Union[Scope, None] = None
    include_forgotten: bool = False


class ContextListResult(Result):
    entries: list[ContextEntry]


class ContextAddParams(Params, kw_only=True):
    project: str
    scope: Scope
    type: EntryType
    content: Annotated[str, Meta(min_length=1)]
    important: bool = False
    #: required for team (team id) and individual (agent id); absent for global
    target: Union[str, None] = None


class ContextAddResult(Result):
    entry: ContextEntry


class ContextForgetParams(Params, kw_only=True):
    project: str
    #: entries whose content contains this text (case-insensitive) are forgotten
    match: Annotated[str, Meta(min_length=1)]


class ContextForgetResult(Result):
    forgotten: int


class ContextPromptParams(Params, kw_only=True):
    project: str
    #: the agent the prompt is for (sees its individual entries)
    agent: Union[str, None] = None
    #: the agent's team id (sees that team's entries)
    team: Union[str, None] = None
    #: size budget of the block in characters (default: the daemon's)
    budget_chars: Union[Annotated[int, Meta(ge=200, le=200_000)], None] = None


class ContextPromptResult(Result):
    #: the compact block placed in the agent's prompt ("" when nothing is visible)
    prompt: str


METHODS = {
    "context.list": Method(
        ContextListParams, ContextListResult, "A project's context entries, oldest first (optionally one scope, or forgotten ones too)."
    ),
    "context.add": Method(ContextAddParams, ContextAddResult, "Add a context entry by hand."),
    "context.forget": Method(
        ContextForgetParams, ContextForgetResult, "Mark the entries whose content contains `match` forgotten."
    ),
    "context.prompt": Method(
        ContextPromptParams, ContextPromptResult, "The context block an agent of the project would be given (GetForPrompt)."
    ),
}
