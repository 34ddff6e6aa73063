"""Projects."""

from __future__ import annotations

from typing import Union

from ._base import Empty, Method, Result


class ProjectSummary(Result, kw_only=True):
    id: str
    name: str
    path: str
    stack: Union[str, None]
    tasks: int
    created_at: float
    updated_at: float
    #: whether the working folder is on disk (it goes once snapshotted)
    exists: bool


class ProjectListResult(Result):
    projects: list[ProjectSummary]


METHODS = {
    "project.list": Method(Empty, ProjectListResult, "Every project, most recently active first."),
}
