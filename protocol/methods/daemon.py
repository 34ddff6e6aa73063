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


METHODS = {
    "initialize": Method(InitializeParams, InitializeResult, "Handshake; the first call on a connection."),
    "daemon.status": Method(Empty, StatusResult, "What the daemon is and holds."),
    "daemon.shutdown": Method(Empty, EmptyResult, "Stop the daemon; running tasks are checkpointed first."),
}
