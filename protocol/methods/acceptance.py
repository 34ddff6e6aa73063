"""Acceptance checks: a finished task's project judged from the outside, by
files the model never saw (what ``octractl eval`` measures with)."""

from __future__ import annotations

from typing import Union

from ._base import Method, Params, Result

#: the most a call may write: per file, and all files together
MAX_ACCEPT_FILE_BYTES = 256 * 1024
MAX_ACCEPT_TOTAL_BYTES = 1024 * 1024
MAX_ACCEPT_TIMEOUT_S = 1800.0


class AcceptParams(Params, kw_only=True):
    task_id: str
    #: relative path -> text, written into a scratch copy of the project (never the project itself)
    files: dict[str, str] = {}
    #: run from the copy's root, in the sandbox, with no network (``/bin/sh -c``)
    command: str
    timeout_s: float = 120.0


class AcceptResult(Result, kw_only=True):
    exit_code: int
    #: exit code 0 within the timeout
    passed: bool
    timed_out: bool
    duration_s: float
    output_tail: str
    #: "bwrap" or "none"
    sandbox: str
    #: the snapshot restored (null: the working folder was copied, Nix being absent)
    store_path: Union[str, None]
    #: what the task delivered (before the acceptance files were added): files, and their non-blank
    #: lines outside lock files and generated folders
    files: int
    lines: int
    notes: list[str] = []


METHODS = {
    "task.accept": Method(
        AcceptParams,
        AcceptResult,
        "Judge a finished task's project from the outside: restore its latest snapshot into a scratch folder, "
        "write FILES there (relative paths only), run COMMAND in the sandbox (no network, TIMEOUT_S), remove the "
        "folder. -32001 for an unknown task or one without a snapshot, -32003 while it runs, -32602 for a bad path "
        "or oversized files.",
    ),
}
