"""Runtime settings, kept by the daemon (defaults from config.toml's [settings])."""

from __future__ import annotations

from typing import Literal, Union

from msgspec import UNSET, UnsetType

from ._base import Empty, Method, Params, Result

Sandbox = Literal["auto", "bwrap", "none"]


class SettingsResult(Result, kw_only=True):
    #: without an issue: create a GitHub repository and push the project
    publish_repositories: bool = False
    #: for an issue: open a pull request (off: the branch is pushed only)
    create_pull_requests: bool = False
    max_parallel_llm_calls: int = 4
    #: auto: bubblewrap when installed; bwrap: required; none: run commands directly
    sandbox: Sandbox = "auto"
    #: let sandboxed commands reach the network (package registries)
    sandbox_network: bool = True
    command_timeout_s: float = 600.0
    temperature: float = 0.2
    max_llm_calls: Union[int, None] = None
    max_tokens: Union[int, None] = None
    max_cost_usd: Union[float, None] = None
    github_api_url: str = "https://api.github.com"
    #: the provider of tasks that name none, chosen by the user (``providers default``);
    #: empty: OCTRA_PROVIDER / config.toml's default_provider, else the first configured one, else offline.
    #: The one in use is daemon.status's ``default_provider``.
    default_provider: str = ""


class SettingsSetParams(Params, kw_only=True):
    """Only the fields given change; ``null`` clears a limit (max_*)."""

    publish_repositories: Union[bool, None, UnsetType] = UNSET
    create_pull_requests: Union[bool, None, UnsetType] = UNSET
    max_parallel_llm_calls: Union[int, None, UnsetType] = UNSET
    sandbox: Union[Sandbox, None, UnsetType] = UNSET
    sandbox_network: Union[bool, None, UnsetType] = UNSET
    command_timeout_s: Union[float, None, UnsetType] = UNSET
    temperature: Union[float, None, UnsetType] = UNSET
    max_llm_calls: Union[int, None, UnsetType] = UNSET
    max_tokens: Union[int, None, UnsetType] = UNSET
    max_cost_usd: Union[float, None, UnsetType] = UNSET
    github_api_url: Union[str, None, UnsetType] = UNSET
    #: a configured provider's name or "offline"; "" or null: back to the automatic choice
    default_provider: Union[str, None, UnsetType] = UNSET


METHODS = {
    "settings.get": Method(Empty, SettingsResult, "The current settings."),
    "settings.set": Method(SettingsSetParams, SettingsResult, "Change some settings; returns all of them."),
}
