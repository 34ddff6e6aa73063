"""A git repository per project (gitpython): each worker's files are committed
with the worker's role as author, so ``git log`` tells who wrote what.

Commits of named files are made in-process (gitpython writes the blobs, the
index and the commit itself), which is several times faster than running
``git add``/``git commit``; only "everything" commits run git.  Blocking calls
run in a worker thread.  gitpython starts git with the daemon's environment,
which holds provider keys: every variable outside the children's allow-list is
blanked for git, so no secret reaches it.
"""

from __future__ import annotations

import queue
import threading
import time
from pathlib import Path

import anyio

from ..scaffold.environment import scrub_git

DEFAULT_GITIGNORE = "# build outputs\ntarget/\nnode_modules/\ndist/\nbuild/\n__pycache__/\n.venv/\n*.pyc\nresult\n"
COMMITTER = ("Octra", "octra@localhost")


def _actor(name: str):
    from git import Actor

    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "agent"
    return Actor(name, f"{slug}@octra.local")


def _open(folder: Path, create: bool = True):
    from git import Repo
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    try:
        return scrub_git(Repo(folder))
    except (InvalidGitRepositoryError, NoSuchPathError):
        if not create:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        repo = scrub_git(Repo.init(folder, initial_branch="main"))
        with repo.config_writer() as cw:
            cw.set_value("user", "name", COMMITTER[0])
            cw.set_value("user", "email", COMMITTER[1])
        return repo


def _differs_from_head(repo, paths: list[str]) -> bool:
    """Whether the index holds anything for ``paths`` that HEAD does not (no git process)."""
    if not repo.head.is_valid():
        return bool(repo.index.entries)
    tree = repo.head.commit.tree
    for p in paths:
        entry = repo.index.entries.get((p, 0))
        try:
            blob = tree / p
        except KeyError:
            if entry is not None:
                return True
            continue
        if entry is None or entry.binsha != blob.binsha:
            return True
    return False


class ProjectRepo:
    """One project's repository, opened once for a run (close it afterwards).

    :meth:`record` queues a commit of file contents as they are now and
    returns at once; a background thread makes the commits in order, from
    those contents (not from the disk, which may have moved on), so the
    pipeline never waits for git.  :meth:`flush` waits for the queue.
    """

    def __init__(self, folder: Path):
        self.folder = Path(folder)
        self._repo = None
        self._lock = threading.Lock()
        self._queue: "queue.Queue[tuple | None]" = queue.Queue()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    def _get(self):
        if self._repo is None:
            self._repo = _open(self.folder)
            gi = self.folder / ".gitignore"
            if not self._repo.head.is_valid() and not gi.exists():
                gi.write_text(DEFAULT_GITIGNORE)
        return self._repo

    # -- queued commits of known contents -----------------------------------
    def record(self, files: dict[str, bytes | None], message: str, author: str) -> None:
        """Queue a commit of ``files`` (path -> content, None for a deletion)."""
        if self._error is not None:
            raise RuntimeError(f"git commit failed earlier: {self._error}")
        if self._thread is None:
            self._thread = threading.Thread(target=self._drain, name=f"git {self.folder.name}", daemon=True)
            self._thread.start()
        self._queue.put((dict(files), message, author))

    def _drain(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is None:
                    return
                if self._error is None:
                    self._with_retry(self._commit_contents, *item)
            except BaseException as exc:  # reported by flush()
                self._error = exc
            finally:
                self._queue.task_done()

    @staticmethod
    def _with_retry(fn, *args):
        """git in a command a worker runs may hold the index lock a moment: wait for it."""
        for attempt in range(40):
            try:
                return fn(*args)
            except OSError as exc:
                if "index.lock" not in str(exc) or attempt == 39:
                    raise
                time.sleep(0.05)

    def _commit_contents(self, files: dict[str, bytes | None], message: str, author: str) -> None:
        from io import BytesIO

        from git import Actor
        from git.index.typ import BaseIndexEntry
        from gitdb.base import IStream

        with self._lock:
            repo = self._get()
            entries = []
            if not repo.head.is_valid() and (self.folder / ".gitignore").is_file():
                files.setdefault(".gitignore", (self.folder / ".gitignore").read_bytes())
            for path, data in files.items():
                if data is None:
                    continue
                istream = repo.odb.store(IStream("blob", len(data), BytesIO(data)))
                mode = 0o100755 if data.startswith(b"#!") else 0o100644
                entries.append(BaseIndexEntry((mode, istream.binsha, 0, path)))
            if entries:
                repo.index.add(entries)
            gone = [p for p, d in files.items() if d is None and (p, 0) in repo.index.entries]
            if gone:
                repo.index.remove(gone)
            repo.index.write()
            if _differs_from_head(repo, list(files)):
                repo.index.commit(message, author=_actor(author), committer=Actor(*COMMITTER), skip_hooks=True)

    async def flush(self) -> None:
        """Wait until every queued commit is made; raise if one failed."""
        if self._thread is not None:
            await anyio.to_thread.run_sync(self._queue.join)
        if self._error is not None:
            raise RuntimeError(f"git commit failed: {self._error}")

    # -- commits from the disk ----------------------------------------------
    def _commit_all(self, message: str, author: str) -> str | None:
        from git import Actor

        with self._lock:
            repo = self._get()
            repo.git.add("-A")
            if not repo.index.entries:
                return None
            if repo.head.is_valid() and not repo.is_dirty(index=True, working_tree=False, untracked_files=False):
                return None
            commit = repo.index.commit(message, author=_actor(author), committer=Actor(*COMMITTER), skip_hooks=True)
            return commit.hexsha

    async def commit_all(self, message: str, author: str) -> str | None:
        """Commit everything not ignored, as it is on disk, after the queued commits;
        the new sha, or None when nothing changed."""
        await self.flush()
        return await anyio.to_thread.run_sync(self._commit_all, message, author)

    async def aclose(self) -> None:
        """:meth:`close` off the event loop (it waits for queued commits)."""
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.close)

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None
        if self._repo is not None:
            self._repo.close()
            self._repo = None


async def commit_all(folder: Path, message: str, author: str) -> str | None:
    """A one-off commit of everything (see :meth:`ProjectRepo.commit_all`)."""
    repo = ProjectRepo(folder)
    try:
        return await repo.commit_all(message, author)
    finally:
        await repo.aclose()


def _tracked(folder: Path) -> list[str]:
    repo = _open(folder, create=False)
    if repo is None:
        return []
    try:
        return sorted(repo.git.ls_files().splitlines())
    finally:
        repo.close()


async def tracked_files(folder: Path) -> list[str]:
    return await anyio.to_thread.run_sync(_tracked, folder)


def listed(folder: Path) -> list[str] | None:
    """git's view of a project: tracked and untracked-not-ignored files (None: no repository)."""
    repo = _open(folder, create=False)
    if repo is None:
        return None
    try:
        return sorted(set(repo.git.ls_files("--cached", "--others", "--exclude-standard").splitlines()))
    finally:
        repo.close()
