"""The skill warehouse (DESIGN.md section 9): small fragments of guidance,
chosen per call by relevance to a role, a stack and a task."""

from __future__ import annotations

from typing import Annotated, Union

import msgspec

from ._base import Method, Params, Result


class Skill(Result, kw_only=True):
    slug: str
    name: str
    #: Backend, Frontend, DevOps, Research, Presentation, Proxy or VPN
    area: str
    keywords: list[str]
    tech: list[str]
    #: 1..5, multiplies the relevance score
    weight: int
    #: the guidance itself, 3 to 6 lines
    body: str
    #: "shipped" (with Octra) or "user" (the user skills folder)
    source: str = "shipped"
    #: relevance for the search that found it (null outside skills.search)
    score: Union[int, None] = None


class SkillsCatalogParams(Params, kw_only=True):
    #: area names, case-insensitive; null, absent or empty: every area
    categories: Union[list[str], None] = None


class SkillsSearchParams(Params, kw_only=True):
    #: the agent's role, e.g. "backend api worker"
    role: str
    #: the stack, e.g. "python fastapi postgres"
    tech: str = ""
    #: what the agent is asked to do
    task: str = ""
    k: Annotated[int, msgspec.Meta(ge=1, le=100)] = 5
    categories: Union[list[str], None] = None


class SkillsSelectParams(Params, kw_only=True):
    slugs: list[str]


class SkillsResult(Result):
    skills: list[Skill]


class SkillsSelectResult(Result, kw_only=True):
    #: the fragments as one prompt-ready block
    text: str
    skills: list[Skill]


METHODS = {
    "skills.catalog": Method(SkillsCatalogParams, SkillsResult, "Every skill fragment, optionally only some areas."),
    "skills.search": Method(SkillsSearchParams, SkillsResult, "The k most relevant fragments for a role, stack and task, best first."),
    "skills.select": Method(SkillsSelectParams, SkillsSelectResult, "The named fragments and their prompt-ready text."),
}
