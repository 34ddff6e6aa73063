"""Handshake and daemon control."""

from __future__ import annotations

from typing import Union

from ._base import Empty, EmptyResult, Method, Params, Result


class InitializeParams(Params):
    client: str
    protocol_version: str


class InitializeResult(Result):
    server_version: str
    protocol_version: str
    capabilities: list[str]


class SandboxStatus(Result, kw_only=True):
    """How commands run here: the ``sandbox`` setting, whether bubblewrap works, and the network a registry command gets."""

    #: the setting: auto | bwrap | none
    mode: str
    #: bubblewrap can create a sandbox on this machine
    available: bool
    #: in words, e.g. "commands run unsandboxed (sandbox = auto): bubblewrap (bwrap) is not installed"
    detail: str
    #: the fenced user-mode network of registry commands: "pasta", "slirp4netns" or "none"
    network: str
    network_detail: str = ""


class StatusResult(Result):
    version: str
    pid: int
    uptime_s: float
    socket: str
    data_dir: str
    tasks_running: int
    nix_available: bool
    default_provider: str
    log_file: Union[str, None] = None
    #: where provider keys and the GitHub token are kept: "keyring (SecretService)" or "0600 file PATH"
    keys: Union[str, None] = None
    sandbox: Union[SandboxStatus, None] = None


METHODS = {
    "initialize": Method(InitializeParams, InitializeResult, "Handshake; the first call on a connection."),
    "daemon.status": Method(Empty, StatusResult, "What the daemon is and holds."),
    "daemon.shutdown": Method(Empty, EmptyResult, "Stop the daemon; running tasks are checkpointed first."),
}
