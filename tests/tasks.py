"""Helpers for tests that drive tasks through a real daemon: wait for a status,
run a task to its end, read a task's whole event story, read a project's git
log, use the fake provider."""

from __future__ import annotations

import subprocess
from pathlib import Path

import anyio

KEY = "sk-pipeline-test-key-0123456789"
FINAL = ("done", "failed", "cancelled", "interrupted", "awaiting_approval", "awaiting_input")


async def use_fake(c, fake, name="fake"):
    await c.call("providers.set", {"name": name, "kind": "openai", "base_url": fake.base_url("openai"),
                                   "model": "gpt-test", "api_key": KEY})


async def wait_status(c, task_id, states=FINAL, timeout=60):
    with anyio.fail_after(timeout):
        while True:
            task = await c.call("task.get", {"task_id": task_id})
            if task["status"] in states:
                return task
            await anyio.sleep(0.05)


async def run_task(daemon, fake, description="x", *, timeout=60, **params):
    """A new task on the fake provider (answered by its responder), waited for until
    it ends or waits: its ``task.get``."""
    async with daemon.connect() as c:
        await use_fake(c, fake)
        tid = (await c.call("task.create", {"description": description, "provider": "fake", **params}))["task_id"]
        return await wait_status(c, tid, timeout=timeout)


async def events_of(c, task_id):
    out = []
    async with c.subscribe(task_id=task_id, since_seq=0) as sub:
        last = (await c.call("task.get", {"task_id": task_id}))["last_seq"]
        async for ev in sub:
            out.append(ev)
            if ev.seq >= last:
                break
    return out


def git_where(folder: Path) -> list[str]:
    """git options for a folder: a daemon's project folder (``<data>/projects/NAME``) has its
    repository in the data folder; any other (a restored copy) its own ``.git``."""
    from octrad import statedirs

    folder = Path(folder)
    gd = statedirs.git_dir(folder, folder.parent.parent)
    if folder.parent.name == "projects" and gd.is_dir():
        return ["--git-dir", str(gd), "--work-tree", str(folder)]
    return ["-C", str(folder)]


def git_log(folder: Path) -> list[tuple[str, str]]:
    out = subprocess.run(["git", *git_where(folder), "log", "--format=%an|%s"], capture_output=True, text=True, check=True)
    return [tuple(line.split("|", 1)) for line in out.stdout.splitlines()]
