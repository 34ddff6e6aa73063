"""A git repository per project (gitpython): each worker's files are committed
with the worker's role as author, so ``git log`` tells who wrote what.

The repository's git directory lives in Octra's data folder
(:func:`octrad.statedirs.git_dir`), its work tree is the project folder: what a
model writes or a command runs in the project cannot reach the configuration,
hooks or attributes drivers Octra's git obeys, and every git Octra runs gets
``GIT_DIR``/``GIT_WORK_TREE`` and a fixed configuration (``git_env``,
``GIT_SAFE``).  A ``.git`` inside the project (a command's ``git init``, a
nested ``sub/.git``) is neither obeyed nor committed: "everything" commits add
the files git lists, with folders that are repositories of their own walked
file by file (git would add them as gitlinks) and any ``.git`` path part left out.

Commits of named files are made in-process (gitpython writes the blobs, the
index and the commit itself), which is several times faster than running
``git add``/``git commit``; only "everything" commits run git.  Blocking calls
run in a worker thread.
"""

from __future__ import annotations

import os
import queue
import shutil
import subprocess
import threading
import time
from pathlib import Path

import anyio

from .. import statedirs
from ..scaffold.environment import GIT_SAFE, git_env, scrub_git
from .files import has_git_part, is_git_name, is_secret_path

DEFAULT_GITIGNORE = "# build outputs\ntarget/\nnode_modules/\ndist/\nbuild/\n__pycache__/\n.venv/\n*.pyc\nresult\n"
COMMITTER = ("Octra", "octra@localhost")
#: what a git directory holds that is history, not behaviour (config, hooks and info are Octra's own)
HISTORY = ("HEAD", "objects", "refs", "packed-refs", "logs", "shallow")


class GitError(RuntimeError):
    """A git command Octra ran failed; the message is git's."""


def git_dir(folder: Path) -> Path:
    return statedirs.git_dir(folder)


def has_repo(folder: Path) -> bool:
    """Whether the project ``folder`` has its repository in the data folder."""
    return (git_dir(folder) / "HEAD").is_file()


def git(folder: Path, *args: str, input: bytes | None = None, check: bool = True, gd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    """Run Octra's git on the project ``folder`` (its git directory in the data folder)."""
    gd = gd or git_dir(folder)
    try:
        proc = subprocess.run(["git", *GIT_SAFE, *args], cwd=folder, input=input, capture_output=True,
                              env=git_env(gd, folder), timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise GitError(f"git {args[0]} took longer than {timeout:g} s in {folder}") from None
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed in {folder}: {proc.stderr.decode(errors='replace').strip()}")
    return proc


def _nul(out: bytes) -> list[str]:
    return [p for p in out.decode("utf-8", "surrogateescape").split("\0") if p]


def write_config(gd: Path, folder: Path | None, remotes: list[tuple[str, str, str]]) -> None:
    """Octra's whole configuration of a repository: format, remotes and, for
    Octra's own (``folder`` given), the work tree and the committer identity."""
    lines = ["[core]", "\trepositoryformatversion = 0", "\tfilemode = true", "\tlogallrefupdates = true", "\tbare = false"]
    if folder is not None:
        lines += [f"\tworktree = {_quote(os.path.abspath(folder))}"]
        lines += ["[user]", f"\tname = {COMMITTER[0]}", f"\temail = {COMMITTER[1]}"]
    for name, key, value in remotes:
        lines += [f'[remote "{name}"]', f"\t{key} = {_quote(value)}"]
    (gd / "config").write_text("\n".join(lines) + "\n")


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def remotes_of(config: Path) -> list[tuple[str, str, str]]:
    """The http(s) remotes of a config file (read with git, without includes)."""
    if not config.is_file() or config.is_symlink():
        return []
    proc = subprocess.run(["git", "config", "--file", str(config), "--no-includes", "-z", "--get-regexp",
                           r"^remote\.[^.]+\.(url|fetch)$"], capture_output=True, env=git_env(), check=False)
    out = []
    for item in _nul(proc.stdout):
        key, _, value = item.partition("\n")
        name, field = key[len("remote."):key.rindex(".")], key.rsplit(".", 1)[1]
        if field == "url" and not value.startswith(("https://", "http://")):
            continue
        if name.replace("-", "").replace("_", "").isalnum() and "\n" not in value:
            out.append((name, field, value))
    urls = {n for n, f, _ in out if f == "url"}
    return [r for r in out if r[0] in urls]


def init(folder: Path) -> Path:
    """A new, empty repository for ``folder`` (branch main) in the data folder."""
    gd = git_dir(folder)
    gd.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    proc = subprocess.run(["git", *GIT_SAFE, "init", "-q", "--bare", "--initial-branch=main", str(gd)],
                          capture_output=True, env=git_env(), check=False)
    if proc.returncode != 0:
        raise GitError(f"git init failed for {folder}: {proc.stderr.decode(errors='replace').strip()}")
    write_config(gd, folder, [])
    return gd


def empty_git_dir(gd: Path) -> Path:
    """An empty git directory at ``gd`` (no commits, no index: every file is
    untracked), to ask git what a tree's ignore rules leave."""
    proc = subprocess.run(["git", *GIT_SAFE, "init", "-q", "--bare", str(gd)], capture_output=True, env=git_env(),
                          check=False)
    if proc.returncode != 0:
        raise GitError(f"git init failed in {gd}: {proc.stderr.decode(errors='replace').strip()}")
    return gd


def adopt(source: Path, folder: Path) -> Path:
    """Make the git directory ``source`` (a ``.git`` restored from a snapshot, or
    one an older Octra kept inside the project) the repository of ``folder``:
    its history moves to the data folder; its config, hooks and info stay behind
    (Octra writes its own config, keeping only http(s) remotes), then ``source``
    goes and the index is rebuilt from HEAD."""
    gd = git_dir(folder)
    remotes = remotes_of(source / "config")
    if gd.exists():
        shutil.rmtree(gd)
    gd.mkdir(parents=True, mode=0o700)
    for name in HISTORY:
        part = source / name
        if part.exists() and not part.is_symlink():
            shutil.move(str(part), str(gd / name))
    (gd / "objects" / "info" / "alternates").unlink(missing_ok=True)
    for name in ("objects", "refs"):
        (gd / name).mkdir(exist_ok=True)
    if not (gd / "HEAD").is_file():
        (gd / "HEAD").write_text("ref: refs/heads/main\n")
    write_config(gd, folder, remotes)
    if source.is_symlink() or source.is_file():
        source.unlink()
    else:
        shutil.rmtree(source, ignore_errors=True)
    if git(folder, "rev-parse", "--verify", "-q", "HEAD", check=False).returncode == 0:
        git(folder, "read-tree", "HEAD")
    return gd


def work_tree_of(gd: Path) -> Path | None:
    """The work tree a git directory of Octra's names (None when it names none)."""
    proc = subprocess.run(["git", "config", "--file", str(gd / "config"), "--no-includes", "--get", "core.worktree"],
                          capture_output=True, env=git_env(), check=False)
    value = proc.stdout.decode("utf-8", "surrogateescape").strip()
    return Path(value) if proc.returncode == 0 and os.path.isabs(value) else None


def export_git(folder: Path, dest: Path) -> None:
    """Write a clean ``.git`` for ``folder``'s repository at ``dest`` (for a
    snapshot): the history hard-linked, a config of Octra's (no work tree, no
    hooks), an index fresh from HEAD (no timestamps: same content, same bytes)."""
    gd = git_dir(folder)
    dest.mkdir()
    parts = [n for n in HISTORY if (gd / n).exists() and not (gd / n).is_symlink()]
    proc = subprocess.run(["cp", "-Rl", "--no-dereference", "-t", str(dest), "--", *parts], cwd=gd,
                          capture_output=True, env=git_env())
    if proc.returncode != 0:
        proc = subprocess.run(["cp", "-R", "--no-dereference", "--preserve=mode", "-t", str(dest), "--", *parts],
                              cwd=gd, capture_output=True, env=git_env())
        if proc.returncode != 0:
            raise GitError(f"cannot copy the history of {folder}: {proc.stderr.decode(errors='replace').strip()}")
    (dest / "objects" / "info" / "alternates").unlink(missing_ok=True)
    for lock in [*dest.glob("*.lock"), *(dest / "refs").rglob("*.lock")]:
        lock.unlink()
    write_config(dest, None, remotes_of(gd / "config"))
    if git(dest.parent, "rev-parse", "--verify", "-q", "HEAD", check=False, gd=dest).returncode == 0:
        git(dest.parent, "read-tree", "HEAD", gd=dest)


def migrate_old_layout(projects_dir: Path) -> list[Path]:
    """Once, at the first start of this layout: a project folder that still holds
    the ``.git`` of an older Octra gets its history moved to the data folder.
    Afterwards a ``.git`` in a project folder is only ever a command's, never adopted."""
    marker = statedirs.git_root() / "LAYOUT"
    if marker.exists():
        return []
    moved = []
    if projects_dir.is_dir():
        for folder in sorted(projects_dir.iterdir()):
            old = folder / ".git"
            if folder.is_dir() and not folder.is_symlink() and old.is_dir() and not old.is_symlink() \
                    and not git_dir(folder).exists():
                adopt(old, folder)
                moved.append(folder)
    marker.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    marker.write_text("1: git directories live here, work trees in the projects folder\n")
    return moved


def _actor(name: str):
    from git import Actor

    slug = "".join(c if c.isalnum() else "-" for c in name.lower()).strip("-") or "agent"
    return Actor(name, f"{slug}@octra.local")


def _open(folder: Path, create: bool = True):
    from git import Repo
    from git.exc import InvalidGitRepositoryError, NoSuchPathError

    gd = git_dir(folder)
    if not has_repo(folder):
        if not create:
            return None
        folder.mkdir(parents=True, exist_ok=True)
        init(folder)
    try:
        repo = Repo(gd)
    except (InvalidGitRepositoryError, NoSuchPathError):
        if not create:
            return None
        raise
    return scrub_git(repo, folder)


def open_repo(folder: Path):
    """The gitpython Repo of the project ``folder`` (GitError when it has none)."""
    repo = _open(Path(folder), create=False)
    if repo is None:
        raise GitError(f"{folder} has no repository of Octra's")
    return repo


def untracked(folder: Path) -> list[str]:
    """The untracked files git does not ignore, as git lists them, except that a
    folder which is a repository of its own is listed file by file (git lists it
    as one entry and ``git add`` would make it a gitlink) and no path goes
    through a ``.git``."""
    out, nested = [], []
    for p in _nul(git(folder, "ls-files", "-z", "--others", "--exclude-standard").stdout):
        (nested if p.endswith("/") else out).append(p)
    for d in nested:
        if not has_git_part(d):
            out += _walk_unignored(folder, d)
    return [p for p in out if not has_git_part(p) and not is_secret_path(p)]


def _walk_unignored(folder: Path, top: str) -> list[str]:
    """Files under ``top`` that git does not ignore, one ``check-ignore`` per level."""
    files: list[str] = []
    level = [top.rstrip("/")]
    while level:
        entries: list[tuple[str, bool]] = []
        for d in level:
            try:
                with os.scandir(folder / d) as it:
                    for e in it:
                        if not is_git_name(e.name):
                            entries.append((f"{d}/{e.name}", e.is_dir(follow_symlinks=False)))
            except OSError:
                continue
        if not entries:
            break
        query = "".join(f"{p}/\0" if is_dir else f"{p}\0" for p, is_dir in entries).encode("utf-8", "surrogateescape")
        ignored = {p.rstrip("/") for p in _nul(git(folder, "check-ignore", "-z", "--stdin", input=query, check=False).stdout)}
        level = []
        for p, is_dir in entries:
            if p in ignored:
                continue
            (level if is_dir else files).append(p)
    return files


def _stage_all(folder: Path) -> None:
    """``git add -A`` without gitlinks and without ``.git`` paths (see :func:`untracked`)."""
    git(folder, "add", "-u")
    paths = untracked(folder)
    if paths:
        data = "".join(f"{p}\0" for p in paths).encode("utf-8", "surrogateescape")
        git(folder, "update-index", "--add", "-z", "--stdin", input=data)


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
        """A one-off commit (``commit_all`` of a stopping task) may hold the index lock a moment: wait for it."""
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
                if data is None or is_secret_path(path):  # secrets stay out of history (snapshots carry it)
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
            _stage_all(self.folder)
            index = repo.index
            if not index.entries:
                return None
            if repo.head.is_valid() and index.write_tree() == repo.head.commit.tree:
                return None
            commit = index.commit(message, author=_actor(author), committer=Actor(*COMMITTER), skip_hooks=True)
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
    if not has_repo(folder):
        return []
    return sorted(_nul(git(folder, "ls-files", "-z").stdout))


async def tracked_files(folder: Path) -> list[str]:
    return await anyio.to_thread.run_sync(_tracked, folder)


def listed(folder: Path) -> list[str] | None:
    """git's view of a project: tracked and untracked-not-ignored files (None: no repository)."""
    if not has_repo(folder):
        return None
    return sorted(set(_tracked(folder)) | set(untracked(folder)))
