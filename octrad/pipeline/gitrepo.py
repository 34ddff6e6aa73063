"""A git repository per project (gitpython): each worker's files are committed
with the worker's role as author, so ``git log`` tells who wrote what.

Blocking gitpython calls run in a worker thread.  gitpython starts git with
the daemon's environment, which holds provider keys; every variable outside
the children's allow-list is blanked for git, so no secret reaches it.
"""

from __future__ import annotations

from pathlib import Path

import anyio

DEFAULT_GITIGNORE = "# build outputs\ntarget/\nnode_modules/\ndist/\nbuild/\n__pycache__/\n.venv/\n*.pyc\nresult\n"
COMMITTER = ("Octra", "octra@localhost")


def _actor(name: str):
    from git import Actor

    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "agent"
    return Actor(name, f"{slug}@octra.local")


def _scrubbed(repo):
    import os

    from ..scaffold.environment import ALLOWED, FIXED

    env = {k: "" for k in os.environ if k not in ALLOWED and not k.startswith("GIT_")}
    env.update(FIXED)
    repo.git.update_environment(**env)
    return repo


def _open(folder: Path):
    from git import Repo
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    try:
        return _scrubbed(Repo(folder))
    except (InvalidGitRepositoryError, NoSuchPathError):
        folder.mkdir(parents=True, exist_ok=True)
        repo = _scrubbed(Repo.init(folder, initial_branch="main"))
        with repo.config_writer() as cw:
            cw.set_value("user", "name", COMMITTER[0])
            cw.set_value("user", "email", COMMITTER[1])
        return repo


def _commit(folder: Path, paths: list[str] | None, message: str, author: str) -> str | None:
    repo = _open(folder)
    gi = folder / ".gitignore"
    if not gi.exists() and not repo.head.is_valid():
        gi.write_text(DEFAULT_GITIGNORE)
    if paths is None:
        repo.git.add("-A")
    else:
        present = [p for p in paths if (folder / p).exists()]
        gone = [p for p in paths if not (folder / p).exists()]
        if present:
            repo.git.add("--", *present)
        if gone:
            repo.git.rm("--cached", "--ignore-unmatch", "-q", "--", *gone)
        if not repo.head.is_valid() and gi.exists():
            repo.git.add("--", ".gitignore")
    if repo.head.is_valid() and not repo.index.diff("HEAD"):
        return None
    if not repo.head.is_valid() and not repo.index.entries:
        return None
    from git import Actor

    commit = repo.index.commit(message, author=_actor(author), committer=Actor(*COMMITTER))
    return commit.hexsha


async def commit(folder: Path, paths: list[str] | None, message: str, author: str) -> str | None:
    """Commit ``paths`` (None: everything not ignored); the new sha, or None when nothing changed."""
    return await anyio.to_thread.run_sync(_commit, folder, paths, message, author)


def _log(folder: Path, limit: int) -> list[dict]:
    repo = _open(folder)
    if not repo.head.is_valid():
        return []
    return [
        {"sha": c.hexsha, "author": c.author.name, "message": c.message.strip(), "files": sorted(c.stats.files)}
        for c in repo.iter_commits(max_count=limit)
    ]


async def log(folder: Path, limit: int = 100) -> list[dict]:
    """Newest first: sha, author (the agent's role), message, files."""
    return await anyio.to_thread.run_sync(_log, folder, limit)


def _tracked(folder: Path) -> list[str]:
    from git import Repo
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    try:
        repo = _scrubbed(Repo(folder))
    except (InvalidGitRepositoryError, NoSuchPathError):
        return []
    return sorted(repo.git.ls_files().splitlines())


async def tracked_files(folder: Path) -> list[str]:
    return await anyio.to_thread.run_sync(_tracked, folder)
