"""Snapshots of projects in the Nix store: list, restore, garbage-collect."""

from __future__ import annotations

from typing import Union

from ._base import Method, Params, Result


class SnapshotsParams(Params):
    #: a project id or name
    project: str


class SnapshotEntry(Result, kw_only=True):
    task_id: str
    store_path: str
    created_at: float
    files: int
    bytes: int


class SnapshotsResult(Result):
    snapshots: list[SnapshotEntry]


class RestoreParams(Params):
    task_id: str
    #: an absolute path that does not exist or is an empty folder; default: the project's folder
    dest: Union[str, None] = None


class RestoreResult(Result):
    path: str


class GcParams(Params, kw_only=True):
    #: snapshots kept per project, newest first (at least 1)
    keep: int = 3
    #: only this project (id or name); default: every project
    project: Union[str, None] = None


class GcResult(Result, kw_only=True):
    #: snapshot records dropped (with their GC roots)
    dropped: int
    #: store paths Nix deleted (a path still kept alive elsewhere stays)
    deleted: list[str]
    #: snapshot records kept
    kept: int


METHODS = {
    "project.snapshots": Method(SnapshotsParams, SnapshotsResult, "A project's snapshots, newest first."),
    "project.restore": Method(
        RestoreParams,
        RestoreResult,
        "Copy a task's snapshot out of the Nix store (writable, executable bits and git history kept). "
        "Anything but the task's recorded snapshot is refused with -32004.",
    ),
    "project.gc": Method(
        GcParams, GcResult, "Drop all but the newest KEEP snapshots of each project and let Nix delete their paths."
    ),
}
