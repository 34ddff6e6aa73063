"""git for GitHub work: clone, fetch and push with the token, branches and
remotes with gitpython.

The token reaches git only for the one network command that needs it, through
a credential helper that reads a private file (0600, in a 0700 folder, removed
right after).  It is never in a remote URL, the repository's config, the command line
or git's environment, which is built by ``child_env`` (an allow-list), not
inherited from the daemon.

Every git here works on the project's repository in Octra's data folder
(``octrad.pipeline.gitrepo``; a clone is made with ``--separate-git-dir`` and
the ``.git`` file it leaves in the project is removed) with Octra's fixed
configuration, so nothing in a cloned repository's tree runs code.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import anyio

from ..redact import redact
from ..pipeline import gitrepo
from ..scaffold.environment import GIT_SAFE, git_env as _git_env

_DENIED = re.compile(r"(returned error: 403|\b403\b.*forbidden|permission to .* denied|permission denied|"
                     r"write access to repository not granted|protected branch)", re.I)
_MISSING = re.compile(r"(returned error: 404|repository not found|does not appear to be a git repository)", re.I)
_AUTH = re.compile(r"(returned error: 401|authentication failed|could not read username)", re.I)


class GitFailed(Exception):
    def __init__(self, what: str, code: int, output: str):
        self.what = what
        self.code = code
        self.output = redact(output.strip())[-2000:]
        super().__init__(f"{what} failed (exit {code}): {self.output[-600:]}")

    @property
    def denied(self) -> bool:
        """The remote refused us (403, no write access, protected branch)."""
        return bool(_DENIED.search(self.output))

    @property
    def missing(self) -> bool:
        """The remote repository does not exist (or is not visible)."""
        return bool(_MISSING.search(self.output))

    @property
    def unauthenticated(self) -> bool:
        return bool(_AUTH.search(self.output))


@contextmanager
def credentials(token: str | None, tmp_root: Path, host: str | None = None) -> Iterator[list[str]]:
    """``git -c`` options that hand ``token`` to git for one command, and only
    when git asks for ``host`` (a remote repointed elsewhere gets nothing)."""
    if not token:
        yield ["-c", "credential.helper="]
        return
    tmp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder = Path(tempfile.mkdtemp(prefix="cred-", dir=tmp_root))
    try:
        path = folder / "credential"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(f"username=x-access-token\npassword={token}\n")
        check = ""
        if host:
            # git writes key=value lines and a blank one: answer only for the expected host
            check = (f'while IFS== read -r k v; do [ -z "$k" ] && break; [ "$k" = host ] && h="$v"; done; '
                     f'test "$h" = {shlex.quote(host)} || return 0; ')
        helper = f"!f() {{ test \"$1\" = get || return 0; {check}cat {shlex.quote(str(path))}; }}; f"
        yield ["-c", "credential.helper=", "-c", f"credential.helper={helper}", "-c", "credential.interactive=false"]
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def git_env(folder: Path | None = None) -> dict[str, str]:
    """The environment of every git Octra starts for GitHub work (on ``folder``'s repository when given)."""
    extra = {"GIT_TERMINAL_PROMPT": "0", "GCM_INTERACTIVE": "never", "LC_ALL": "C", "LANGUAGE": "C"}
    if folder is None:
        return _git_env(extra=extra)
    return _git_env(gitrepo.git_dir(folder), folder, extra)


async def run_git(args: list[str], *, cwd: Path | None, token: str | None, tmp_root: Path, what: str,
                  timeout: float = 600.0, host: str | None = None) -> str:
    """Run one git network command with the token (given only for ``host`` when set); its output, or GitFailed.
    With ``cwd`` (a project folder), git works on that project's repository."""
    with credentials(token, tmp_root, host) as opts:
        cmd = ["git", *GIT_SAFE, *opts, *args]
        with anyio.move_on_after(timeout) as scope:
            proc = await anyio.run_process(cmd, cwd=str(cwd) if cwd else None, env=git_env(cwd), check=False,
                                           stdin=None)
        if scope.cancelled_caught:
            raise GitFailed(what, -1, f"timed out after {timeout:g} s")
    out = (proc.stdout or b"").decode(errors="replace") + (proc.stderr or b"").decode(errors="replace")
    if proc.returncode != 0:
        raise GitFailed(what, proc.returncode, out)
    return redact(out)


# -- local repository work (gitpython) ------------------------------------------

def open_repo(folder: Path):
    """The project's gitpython Repo: git runs see none of the daemon's secrets, no config but Octra's."""
    return gitrepo.open_repo(folder)


async def clone(url: str, folder: Path, *, token: str | None, tmp_root: Path, what: str, host: str | None) -> None:
    """Clone ``url`` into the new folder ``folder``, its git directory in the data folder."""
    gd = gitrepo.git_dir(folder)
    if gd.exists():
        await anyio.to_thread.run_sync(shutil.rmtree, gd)
    gd.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    await run_git(["clone", "--no-tags", "--separate-git-dir", str(gd), url, str(folder)], cwd=None, token=token,
                  tmp_root=tmp_root, what=what, host=host)
    dotgit = folder / ".git"  # the pointer file clone leaves: never relied on
    if dotgit.is_file() or dotgit.is_symlink():
        dotgit.unlink()


def _setup_clone(folder: Path, remotes: dict[str, str]) -> None:
    gd = gitrepo.git_dir(folder)
    if gitrepo.work_tree_of(gd) != Path(os.path.abspath(folder)):
        # a fresh clone: Octra's own config (work tree, identity) over what clone wrote
        gitrepo.write_config(gd, folder, gitrepo.remotes_of(gd / "config"))
    repo = open_repo(folder)
    try:
        for name, url in remotes.items():
            names = [r.name for r in repo.remotes]
            if name in names:
                repo.git.remote("set-url", name, url)
            else:
                repo.git.remote("add", name, url)
    finally:
        repo.close()


async def setup_clone(folder: Path, remotes: dict[str, str]) -> None:
    """Committer identity and remotes (URLs as the API gave them, no credentials)."""
    await anyio.to_thread.run_sync(_setup_clone, folder, remotes)


def _checkout_branch(folder: Path, branch: str, base: str) -> bool:
    """Check out ``branch`` (made from ``base`` when new); True when it was new."""
    repo = open_repo(folder)
    try:
        if branch in [h.name for h in repo.heads]:
            repo.git.checkout(branch)
            return False
        repo.git.checkout("--no-track", "-b", branch, base)
        return True
    finally:
        repo.close()


async def checkout_branch(folder: Path, branch: str, base: str) -> bool:
    return await anyio.to_thread.run_sync(_checkout_branch, folder, branch, base)


def _merge(folder: Path, ref: str) -> str | None:
    """Merge ``ref`` into the current branch; None when done, else why not (the merge is undone)."""
    from git.exc import GitCommandError

    repo = open_repo(folder)
    try:
        try:
            repo.git.merge("--no-edit", ref)
            return None
        except GitCommandError as exc:
            try:
                repo.git.merge("--abort")
            except GitCommandError:
                pass
            return redact(str(exc.stdout or exc.stderr or exc))[-400:]
    finally:
        repo.close()


async def merge(folder: Path, ref: str) -> str | None:
    return await anyio.to_thread.run_sync(_merge, folder, ref)


def _remote_url(folder: Path, name: str) -> str | None:
    repo = open_repo(folder)
    try:
        for r in repo.remotes:
            if r.name == name:
                return r.url
        return None
    finally:
        repo.close()


async def remote_url(folder: Path, name: str) -> str | None:
    return await anyio.to_thread.run_sync(_remote_url, folder, name)


def _head(folder: Path) -> tuple[str | None, str | None]:
    repo = open_repo(folder)
    try:
        if not repo.head.is_valid():
            return None, None
        branch = None if repo.head.is_detached else repo.active_branch.name
        return branch, repo.head.commit.hexsha
    finally:
        repo.close()


async def head(folder: Path) -> tuple[str | None, str | None]:
    """(current branch, HEAD sha); (None, None) in a repository without commits."""
    return await anyio.to_thread.run_sync(_head, folder)


def _has_ref(folder: Path, ref: str) -> bool:
    repo = open_repo(folder)
    try:
        return any(r.path == ref for r in repo.refs)
    finally:
        repo.close()


async def has_ref(folder: Path, ref: str) -> bool:
    """Whether the full ref name (e.g. refs/remotes/fork/octra/issue-3) exists."""
    return await anyio.to_thread.run_sync(_has_ref, folder, ref)
