"""GitHub (DESIGN.md section 11): the token and what the daemon makes of it.

The token goes in, never out: results say only whether there is one and
where it comes from.  A task's GitHub results are in ``task.get`` (``repo_url``,
``pull_request_url`` and ``github``).
"""

from __future__ import annotations

from typing import Annotated, Union

from msgspec import Meta

from ._base import Method, Params, Result


class TaskGitHub(Result, kw_only=True):
    """What a task did on GitHub (``task.get``'s ``github``; null for a task that never touched it)."""

    #: the repository worked on or created, "owner/name"
    repository: Union[str, None] = None
    #: the issue's URL (normalised) and number, for an issue task
    issue_url: Union[str, None] = None
    issue_number: Union[int, None] = None
    #: the branch pushed (``octra/issue-N`` for an issue, the default branch for a new repository)
    branch: Union[str, None] = None
    #: the fork the branch went to ("owner/name"), when the token could not push to the original
    fork: Union[str, None] = None
    pull_request_number: Union[int, None] = None
    pull_request_url: Union[str, None] = None
    repo_url: Union[str, None] = None
    #: "repository" (a new one was created), "branch" (pushed, no PR), "pull_request", or null (nothing left the machine)
    published: Union[str, None] = None


class StatusParams(Params, kw_only=True):
    #: ask GitHub who the token belongs to (one GET /user)
    check: bool = False


class StatusResult(Result, kw_only=True):
    api_url: str
    #: the web host whose issue URLs tasks recognise (besides github.com)
    web_host: str
    has_token: bool
    #: "stored" (github.set_token), "env" (GITHUB_TOKEN) or null
    token_source: Union[str, None] = None
    #: the token's user, when checked
    user: Union[str, None] = None


class SetTokenParams(Params, kw_only=True):
    #: the token; null removes the stored one (GITHUB_TOKEN, if set, applies again)
    token: Union[Annotated[str, Meta(min_length=1, max_length=1000)], None]
    #: check it with GitHub before storing it (default); a rejected token is not stored
    check: bool = True


METHODS = {
    "github.status": Method(StatusParams, StatusResult, "The GitHub API in use and whether a token is set (optionally whose)."),
    "github.set_token": Method(
        SetTokenParams, StatusResult, "Store the GitHub token (checked with GitHub first), or remove it with null."
    ),
}
