"""``daemon.github``: issues in, repositories and pull requests out (DESIGN.md section 11).

The pipeline calls three hooks (octrad/pipeline/run.py):

- ``issue_url(run)``: the issue a task works on, if any;
- ``await prepare(run)``: the issue's repository in the project folder on the
  branch ``octra/issue-N`` (a repeat run starts from the issue's latest
  snapshot), and ``run.issue_text`` for every agent (on a repeat run only the
  comments newer than the previous task, under NEW COMMENTS);
- ``wants_publish(run)`` / ``await publish(run)``: push and open (or find) the
  pull request, or create a repository and push, per the settings
  ``publish_repositories`` / ``create_pull_requests`` and the task's meta.

What a task did is kept in its row (``github_*`` columns and the ``github``
JSON details); the next task for the same issue finds it through the indexed
``issue_url`` column and reuses its fork without asking GitHub again.
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import shutil
from contextlib import asynccontextmanager
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, AsyncIterator

from urllib.parse import urlsplit

import anyio
import msgspec

from octra_protocol.errors import RpcError

from . import gitops
from ..pipeline import gitrepo
from .client import GitHubClient, GitHubError
from .token import TokenStore
from .urls import DEFAULT_API, IssueRef, find_issue, web_host

log = logging.getLogger(__name__)

#: every host an explicitly given issue_url is parsed with (then checked against the allowed ones)
_ANY_HOST = re.compile(r"https?://([A-Za-z0-9.-]+(?::\d+)?)/")


def _iso(date_header: str | None) -> str:
    """An ISO 8601 UTC time from GitHub's Date header (its clock), else ours."""
    try:
        when = parsedate_to_datetime(date_header) if date_header else None
    except (TypeError, ValueError):
        when = None
    when = when or datetime.now(timezone.utc)
    return when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def repo_name(project: str) -> str:
    """A repository name GitHub accepts, from a project name."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", project).strip("-.")[:100]
    return name or "octra-project"


def _host(url: str) -> str:
    """The host (with port) git will ask credentials for on ``url``."""
    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def _flag(run: Any, key: str) -> bool:
    value = run.meta.get(key)
    if value is None:
        return bool(getattr(run.settings, key, False))
    if not isinstance(value, bool):
        raise RpcError.of("invalid_params", f"meta.{key} must be true or false, not {value!r}")
    return value


#: bounds on what the Boss is shown of an issue's discussion (the newest comments are kept)
MAX_COMMENTS = 60
MAX_COMMENT_CHARS = 4000


def format_issue(ref: IssueRef, issue: dict, comments: list[dict], *, new_since: str | None) -> str:
    """What the Boss reads about the issue."""
    user = (issue.get("user") or {}).get("login", "?")
    parts = [f"{ref.url} (#{ref.number}, opened by {user}, {issue.get('state', 'open')})",
             f"Title: {issue.get('title', '').strip()}", "", (issue.get("body") or "").strip() or "(no description)"]

    def block(c: dict) -> str:
        who = (c.get("user") or {}).get("login", "?")
        text = (c.get("body") or "").strip()
        if len(text) > MAX_COMMENT_CHARS:
            text = text[:MAX_COMMENT_CHARS] + " [...]"
        return f"- {who} at {c.get('created_at', '?')}:\n  " + text.replace("\n", "\n  ")

    shown = comments[-MAX_COMMENTS:]
    left_out = [f"({len(comments) - len(shown)} earlier comment(s) left out)"] if len(shown) < len(comments) else []
    if new_since is not None:
        parts += ["", f"NEW COMMENTS (since the previous run on this issue, {new_since}):"]
        parts += left_out + [block(c) for c in shown] or ["(none)"]
    elif comments:
        parts += ["", "Comments:"] + left_out + [block(c) for c in shown]
    return "\n".join(parts)


class GitHubService:
    def __init__(self, daemon: Any):
        self.d = daemon
        self.tokens = TokenStore(daemon.secrets)
        #: first delay between checks of a new fork (grows to 5 s)
        self.fork_poll_s = 0.25

    # -- configuration ----------------------------------------------------------
    def api_url(self, settings: Any) -> str:
        """OCTRA_GITHUB_API_URL, else the setting github_api_url."""
        return (os.environ.get("OCTRA_GITHUB_API_URL") or getattr(settings, "github_api_url", None) or DEFAULT_API).rstrip("/")

    def hosts(self, settings: Any) -> set[str]:
        return {"github.com", web_host(self.api_url(settings))}

    async def client(self, settings: Any, token: str | None = None, *, need_token: bool = False) -> GitHubClient:
        if token is None:
            token, _ = await self.tokens.get()
        if need_token and not token:
            raise RpcError.of("forbidden", "publishing to GitHub needs a token: set one with `octractl github token set` "
                                           "or GITHUB_TOKEN (the work is kept; resume the task afterwards)")
        return GitHubClient(self.api_url(settings), token)

    async def status(self, check: bool) -> dict:
        settings = await self.d.settings.get()
        token, source = await self.tokens.get()
        out = {"api_url": self.api_url(settings), "web_host": web_host(self.api_url(settings)),
               "has_token": bool(token), "token_source": source, "user": None}
        if check and token:
            async with await self.client(settings, token) as gh:
                out["user"] = (await gh.user()).get("login")
        return out

    async def set_token(self, token: str | None, check: bool) -> dict:
        if token is not None:
            token = token.strip()
            if not token or any(c.isspace() for c in token):
                raise RpcError.of("invalid_params", "the token is empty or contains spaces")
            from ..redact import register

            register(token)
            if check:
                async with await self.client(await self.d.settings.get(), token) as gh:
                    await gh.user()
        await self.tokens.set(token)
        return await self.status(check=False)

    # -- hook: which issue ---------------------------------------------------------
    def issue_url(self, run: Any) -> str | None:
        explicit = (run.row["issue_url"] or "").strip()
        if explicit:
            ref = find_issue(explicit, {h.lower() for h in _ANY_HOST.findall(explicit)})
            return ref.url if ref else explicit
        ref = find_issue(run.description, self.hosts(run.settings))
        return ref.url if ref else None

    def issue_ref(self, run: Any) -> IssueRef:
        url = self.issue_url(run)
        hosts = self.hosts(run.settings)
        ref = find_issue(url or "", {h.lower() for h in _ANY_HOST.findall(url or "")})
        if ref is None:
            raise RpcError.of("invalid_params", f"issue_url {url!r} is not a GitHub issue URL "
                                                "(https://github.com/OWNER/REPO/issues/NUMBER)")
        if ref.host not in hosts:
            raise RpcError.of("invalid_params", f"issue_url {url!r} is on {ref.host}, which is neither github.com nor "
                                                f"the configured GitHub ({', '.join(sorted(hosts))}); set github_api_url")
        return ref

    # -- lookups -----------------------------------------------------------------
    async def previous(self, issue_url: str, task_id: str) -> dict | None:
        """The newest other task that worked on this issue (its row, ``github`` decoded)."""
        row = await self.d.db.fetchone(
            "SELECT id, github, created_at FROM tasks WHERE issue_url = ? AND id != ? AND github IS NOT NULL "
            "ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (issue_url, task_id),
        )
        if row is None:
            return None
        return {"task_id": row["id"], **msgspec.json.decode(row["github"])}

    async def latest_issue_snapshot(self, issue_url: str, task_id: str) -> str | None:
        """The task whose snapshot is the newest for this issue (this task's own first, on a resume)."""
        row = await self.d.db.fetchone(
            "SELECT s.task_id FROM snapshots s JOIN tasks t ON t.id = s.task_id "
            "WHERE t.id = ? OR t.issue_url = ? ORDER BY (t.id = ?) DESC, s.created_at DESC, s.id DESC LIMIT 1",
            (task_id, issue_url, task_id),
        )
        return row[0] if row else None

    async def state_of(self, task_id: str) -> dict:
        raw = await self.d.db.scalar("SELECT github FROM tasks WHERE id = ?", (task_id,))
        return msgspec.json.decode(raw) if raw else {}

    async def save_state(self, run: Any, state: dict, **columns: Any) -> None:
        await run.store.update(run.task_id, github=state, **columns)

    # -- hook: prepare ----------------------------------------------------------
    async def prepare(self, run: Any) -> None:
        ref = self.issue_ref(run)
        token, _ = await self.tokens.get()
        prev = await self.previous(ref.url, run.task_id)
        state = await self.state_of(run.task_id)
        async with await self.client(run.settings, token) as gh:
            issue = await gh.issue(ref.full_name, ref.number)
            if "pull_request" in issue:
                raise RpcError.of("invalid_params", f"{ref.url} is a pull request, not an issue")
            if prev is not None and prev.get("clone_url"):
                # the same issue again: the repository, permission and fork as the previous task found them
                for key in ("repo", "clone_url", "html_url", "default_branch", "can_push", "fork", "fork_clone_url",
                            "fork_html_url"):
                    state.setdefault(key, prev.get(key))
                state["previous_task"] = prev["task_id"]
            elif not state.get("clone_url"):
                repo = await gh.repo(ref.full_name)
                state.update(repo=repo["full_name"], clone_url=repo["clone_url"], html_url=repo["html_url"],
                             default_branch=repo.get("default_branch") or "main",
                             can_push=bool((repo.get("permissions") or {}).get("push")))
            new_since = None
            if prev is not None and prev.get("read_at"):
                new_since = prev["read_at"]
                seen = int(prev.get("last_comment_id") or 0)
                comments = [c for c in await gh.comments(ref.full_name, ref.number, since=new_since) if c["id"] > seen]
            else:
                seen = 0
                comments = await gh.comments(ref.full_name, ref.number)
            state["read_at"] = _iso(gh.last_date)
            state["last_comment_id"] = max([seen, *(c["id"] for c in comments)])
        state.update(branch=ref.branch, issue_title=issue.get("title", ""))
        await self.save_state(run, state, issue_url=ref.url, github_repo=state["repo"], github_issue=ref.number,
                              github_branch=ref.branch, github_fork=state.get("fork"))
        await self._working_folder(run, ref, state, token, prev)
        run.issue_text = format_issue(ref, issue, comments, new_since=new_since)
        what = f"{len(comments)} new comment(s) since task {prev['task_id']}" if prev else f"{len(comments)} comment(s)"
        await run.log(None, f"working on {ref.url} in {state['repo']} on branch {ref.branch} ({what})",
                      issue_url=ref.url, branch=ref.branch)

    async def _working_folder(self, run: Any, ref: IssueRef, state: dict, token: str | None, prev: dict | None) -> None:
        folder: Path = run.folder
        tmp = Path(self.d.config.data_dir) / "tmp"
        remotes = {"origin": state["clone_url"]}
        if state.get("fork_clone_url"):
            remotes["fork"] = state["fork_clone_url"]
        fresh = False
        if folder.is_dir() and any(folder.iterdir()):
            origin = await gitops.remote_url(folder, "origin") if gitrepo.has_repo(folder) else None
            if origin != state["clone_url"]:
                raise RpcError.of("conflict", f"the project folder {folder} holds something other than a clone of "
                                              f"{state['repo']}; use another project for {ref.url}")
        else:
            snap_task = await self.latest_issue_snapshot(ref.url, run.task_id)
            snaps = getattr(self.d, "snapshots", None)
            if snap_task is not None and snaps is not None:
                await snaps.restore(snap_task, str(folder), adopt_git=True)
                await run.log(None, f"restored the issue's work from the snapshot of task {snap_task}")
            else:
                folder.parent.mkdir(parents=True, exist_ok=True)
                if folder.is_dir():
                    folder.rmdir()
                try:
                    await gitops.clone(state["clone_url"], folder, token=token, tmp_root=tmp,
                                       what=f"cloning {state['repo']}", host=_host(state["clone_url"]))
                except gitops.GitFailed as exc:
                    raise RpcError.of("unavailable", f"could not clone {state['repo']}: {exc}") from None
                fresh = True
        await gitops.setup_clone(folder, remotes)
        if not fresh:
            for remote in remotes:
                try:
                    await gitops.run_git(["fetch", "--no-tags", remote], cwd=folder, token=token, tmp_root=tmp,
                                         what=f"fetching {remote}", host=_host(state["clone_url"]))
                except gitops.GitFailed as exc:
                    if remote == "origin":
                        raise RpcError.of("unavailable", f"could not update {state['repo']}: {exc}") from None
                    await run.log(None, f"could not fetch the fork: {exc}", level="warning")
        base = f"origin/{state['default_branch']}"
        if prev is not None and fresh:  # no snapshot to start from: continue from the branch pushed last time
            remote = "fork" if state.get("fork") else "origin"
            if remote == "fork":
                try:
                    await gitops.run_git(["fetch", "--no-tags", "fork"], cwd=folder, token=token, tmp_root=tmp,
                                         what="fetching the fork", host=_host(state["clone_url"]))
                except gitops.GitFailed as exc:
                    await run.log(None, f"could not fetch the fork: {exc}", level="warning")
            if await gitops.has_ref(folder, f"refs/remotes/{remote}/{ref.branch}"):
                base = f"{remote}/{ref.branch}"
        new = await gitops.checkout_branch(folder, ref.branch, base)
        if not new and not fresh:
            why = await gitops.merge(folder, f"origin/{state['default_branch']}")
            if why:
                await run.note(f"the upstream changes of {state['default_branch']} could not be merged into "
                               f"{ref.branch} (left as they were): {why}")

    # -- hook: publish ----------------------------------------------------------
    def wants_publish(self, run: Any) -> bool:
        if self.issue_url(run) is not None:
            return _flag(run, "create_pull_requests") or _flag(run, "publish_repositories")
        return _flag(run, "publish_repositories")

    async def publish(self, run: Any) -> None:
        token, _ = await self.tokens.get()
        async with await self.client(run.settings, token, need_token=True) as gh:
            async with self._working_copy(run) as folder:
                if self.issue_url(run) is not None:
                    await self._publish_issue(run, gh, token, folder)
                else:
                    await self._publish_repository(run, gh, token, folder)

    @asynccontextmanager
    async def _working_copy(self, run: Any) -> AsyncIterator[Path]:
        """The project as committed: its folder, or (once snapshotted) a copy restored from the snapshot
        (its repository, like every one Octra works on, in the data folder while it is used)."""
        if run.folder.is_dir() and gitrepo.has_repo(run.folder):
            yield run.folder
            return
        snaps = getattr(self.d, "snapshots", None)
        if snaps is None:
            raise RpcError.of("unavailable", f"nothing to publish: {run.folder} is gone and there are no snapshots")
        tmp = Path(self.d.config.data_dir) / "tmp"
        tmp.mkdir(parents=True, exist_ok=True, mode=0o700)
        holder = tmp / f"publish-{secrets.token_hex(5)}"
        copy = holder / run.folder.name
        try:
            await snaps.restore(run.task_id, str(copy), adopt_git=True)
            yield copy
        finally:
            with anyio.CancelScope(shield=True):
                for gone in (holder, gitrepo.git_dir(copy)):
                    await anyio.to_thread.run_sync(lambda: shutil.rmtree(gone, ignore_errors=True))

    async def _push(self, folder: Path, remote: str, refspec: str, token: str, what: str, clone_url: str) -> None:
        await gitops.run_git(["push", remote, refspec], cwd=folder, token=token,
                             tmp_root=Path(self.d.config.data_dir) / "tmp", what=what, timeout=900, host=_host(clone_url))

    async def _fork(self, run: Any, gh: GitHubClient, state: dict) -> None:
        fork = await gh.fork(state["repo"])
        await run.log(None, f"forked {state['repo']} to {fork['full_name']}; waiting for it to be ready")
        timeout = float(run.meta.get("github_fork_timeout_s") or 120)
        await gh.wait_fork_ready(fork["full_name"], state["default_branch"], timeout=timeout, interval=self.fork_poll_s)
        try:
            await gh.sync_fork(fork["full_name"], state["default_branch"])
        except GitHubError as exc:
            await run.log(None, f"the fork could not be synced with upstream: {exc.message}", level="warning")
        state.update(fork=fork["full_name"], fork_clone_url=fork["clone_url"], fork_html_url=fork["html_url"])

    async def _publish_issue(self, run: Any, gh: GitHubClient, token: str, folder: Path) -> None:
        ref = self.issue_ref(run)
        state = await self.state_of(run.task_id)
        branch = state.get("branch") or ref.branch
        refspec = f"refs/heads/{branch}:refs/heads/{branch}"
        pushed = False
        if not state.get("fork") and state.get("can_push"):
            try:
                await self._push(folder, "origin", refspec, token, f"pushing {branch} to {state['repo']}", state["clone_url"])
                pushed = True
            except gitops.GitFailed as exc:
                if not exc.denied:
                    raise RpcError.of("unavailable", f"could not push {branch} to {state['repo']}: {exc}") from None
                await run.note(f"{state['repo']} refused the push of {branch} ({exc.output.splitlines()[-1] if exc.output else exc}); "
                               "pushing to a fork instead")
        if not pushed:
            if not state.get("fork"):
                await self._fork(run, gh, state)
            else:  # the fork of an earlier run: brought up to date, not asked for again
                try:
                    await gh.sync_fork(state["fork"], state["default_branch"])
                except GitHubError as exc:
                    await run.log(None, f"the fork could not be synced with upstream: {exc.message}", level="warning")
            await gitops.setup_clone(folder, {"fork": state["fork_clone_url"]})
            try:
                await self._push(folder, "fork", refspec, token, f"pushing {branch} to the fork {state['fork']}",
                                 state["fork_clone_url"])
            except gitops.GitFailed as exc:
                if not (exc.missing and state.get("previous_task")):
                    raise RpcError.of("forbidden" if exc.denied else "unavailable",
                                      f"could not push {branch} to the fork {state['fork']}: {exc}") from None
                # the fork an earlier run made is gone: make it again
                await run.note(f"the fork {state['fork']} of an earlier run is gone; forking {state['repo']} again")
                await self._fork(run, gh, state)
                await gitops.setup_clone(folder, {"fork": state["fork_clone_url"]})
                try:
                    await self._push(folder, "fork", refspec, token, f"pushing {branch} to the fork {state['fork']}",
                                 state["fork_clone_url"])
                except gitops.GitFailed as again:
                    raise RpcError.of("forbidden" if again.denied else "unavailable",
                                      f"could not push {branch} to the fork {state['fork']}: {again}") from None
        fork = state.get("fork") if not pushed else None
        target = fork or state["repo"]
        repo_url = (state.get("fork_html_url") if fork else None) or state["html_url"]
        pr = None
        if _flag(run, "create_pull_requests"):
            head_owner = (fork or state["repo"]).split("/", 1)[0]
            head = f"{head_owner}:{branch}"
            pr = await gh.find_pull(state["repo"], head)
            if pr is None:
                title = f"{state.get('issue_title') or 'Octra'} (#{ref.number})"
                body = await pull_body(run, ref, folder, f"origin/{state['default_branch']}")
                try:
                    pr = await gh.create_pull(state["repo"], title=title, head=head if fork else branch,
                                              base=state["default_branch"], body=body)
                except GitHubError as exc:
                    if exc.status != 422 or (pr := await gh.find_pull(state["repo"], head)) is None:
                        raise
            else:
                await run.log(None, f"pull request #{pr['number']} is already open for {head}; updated it")
        state["published"] = "pull_request" if pr else "branch"
        await self.save_state(run, state, repo_url=repo_url, pull_request_url=pr["html_url"] if pr else None,
                              github_fork=state.get("fork"), github_pr=pr["number"] if pr else None)
        await self.d.bus.publish("github.published", {
            "published": state["published"], "repository": target, "repo_url": repo_url,
            "pull_request_url": pr["html_url"] if pr else None, "pull_request_number": pr["number"] if pr else None,
            "branch": branch, "fork": fork, "issue_url": ref.url, "issue_number": ref.number,
            "created_repository": False,
        }, task_id=run.task_id)
        if pr is None:
            await run.note(f"pushed {branch} to {target}; no pull request (create_pull_requests is off)")

    async def _publish_repository(self, run: Any, gh: GitHubClient, token: str, folder: Path) -> None:
        branch, sha = await gitops.head(folder)
        if sha is None:
            raise RpcError.of("conflict", "nothing to publish: the project has no commits")
        branch = branch or "main"
        prev = await self.d.db.fetchone(
            "SELECT github_repo FROM tasks WHERE project_id = ? AND id != ? AND github_repo IS NOT NULL "
            "AND github_issue IS NULL ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (run.project_id, run.task_id),
        )
        state = await self.state_of(run.task_id)
        created = False
        if state.get("repo"):
            repo = {"full_name": state["repo"], "clone_url": state["clone_url"], "html_url": state["html_url"]}
        elif prev is not None:
            repo = await gh.repo(prev["github_repo"])
        else:
            name = repo_name(run.project_name)
            private = run.meta.get("private_repository", True)
            try:
                repo = await gh.create_repo(name, description=run.description, private=bool(private))
            except GitHubError as exc:
                if exc.status == 422:
                    raise RpcError.of("conflict", f"GitHub did not create the repository {name!r}: {exc.message}; "
                                                  "a repository of that name probably exists already: rename the "
                                                  "project or remove that repository") from None
                raise
            created = True
            state.update(repo=repo["full_name"], clone_url=repo["clone_url"], html_url=repo["html_url"], branch=branch)
            await self.save_state(run, state, github_repo=repo["full_name"], github_branch=branch)
        await gitops.setup_clone(folder, {"origin": repo["clone_url"]})
        try:
            await self._push(folder, "origin", f"HEAD:refs/heads/{branch}", token, f"pushing to {repo['full_name']}",
                             repo["clone_url"])
        except gitops.GitFailed as exc:
            raise RpcError.of("forbidden" if exc.denied else "unavailable",
                              f"could not push the project to {repo['full_name']}: {exc}") from None
        state.update(repo=repo["full_name"], clone_url=repo["clone_url"], html_url=repo["html_url"], branch=branch,
                     published="repository")
        await self.save_state(run, state, repo_url=repo["html_url"], github_repo=repo["full_name"], github_branch=branch)
        await self.d.bus.publish("github.published", {
            "published": "repository", "repository": repo["full_name"], "repo_url": repo["html_url"],
            "pull_request_url": None, "pull_request_number": None, "branch": branch, "fork": None,
            "created_repository": created,
        }, task_id=run.task_id)


#: bounds on what the pull request's body lists
MAX_PR_FILES = 60
MAX_PR_LINES = 15


def _changes(folder: Path, base: str) -> tuple[list[str], list[str]]:
    """(``STATUS path`` of each changed file, the commit subjects) of HEAD against ``base``."""
    try:
        repo = gitops.open_repo(folder)
        try:
            names = repo.git.diff("--name-status", "--no-renames", f"{base}...HEAD").splitlines()
            subjects = repo.git.log("--format=%s", "--reverse", f"{base}..HEAD").splitlines()
        finally:
            repo.close()
    except Exception as exc:  # a base git cannot find: the body says no file changed rather than fail the publish
        log.warning("no diff against %s: %s", base, exc)
        return [], []
    return names, list(dict.fromkeys(s for s in subjects if s.strip()))


async def pull_body(run: Any, ref: IssueRef, folder: Path, base: str) -> str:
    """The pull request's body: the issue it resolves, what changed (files, a short summary from the
    commits, who wrote what) and the repository's checks before and after the change."""
    from ..pipeline import baseline

    names, subjects = await anyio.to_thread.run_sync(_changes, folder, base)
    kinds = {"A": "added", "M": "changed", "D": "deleted"}
    files = [f"- {kinds.get(n.split(chr(9), 1)[0][:1], n[:1])}: `{n.split(chr(9), 1)[-1]}`" for n in names]
    if len(files) > MAX_PR_FILES:
        files = files[:MAX_PR_FILES] + [f"- ... and {len(names) - MAX_PR_FILES} more"]
    summary = [f"- {s}" for s in subjects[:MAX_PR_LINES]]
    if len(subjects) > MAX_PR_LINES:
        summary.append(f"- ... and {len(subjects) - MAX_PR_LINES} more commits")
    notes = getattr(getattr(run, "plan", None), "architecture_notes", "") or ""
    if run.baseline:
        checks = ("The repository's own checks ran before the change and, with the plan's, after it:\n\n"
                  + baseline.table(run.baseline, run.checks))
    elif run.checks:
        checks = "Checks after the change (none of the repository's own ran before it):\n\n" + baseline.table([], run.checks)
    else:
        checks = "No checks ran."
    verdict = {True: "verified: every check passed", False: "some checks fail",
               None: f"unverified: {run.unverified_reason or 'no check could run'}"}[run.verified]
    parts = [f"Resolves {ref.url}", f"Closes #{ref.number}",
             f"Made by Octra (task {run.task_id}): {run.description[:500]}"]
    if notes:
        parts.append(f"## Summary\n\n{notes[:1000]}")
    parts.append("## What changed\n\n" + ("\n".join(summary) + "\n\n" if summary else "")
                 + ("Files:\n" + "\n".join(files) if files else "No file changed."))
    parts.append(f"## Checks ({verdict})\n\n{checks}")
    return "\n\n".join(parts)[:60_000]


def task_github(row: Any) -> dict | None:
    """``task.get``'s ``github`` for a task row (None when the task never touched GitHub)."""
    if not row["github_repo"] and not row["github"]:
        return None
    state = msgspec.json.decode(row["github"]) if row["github"] else {}
    return {
        "repository": row["github_repo"], "issue_url": row["issue_url"] if row["github_issue"] else None,
        "issue_number": row["github_issue"], "branch": row["github_branch"], "fork": row["github_fork"],
        "pull_request_number": row["github_pr"], "pull_request_url": row["pull_request_url"],
        "repo_url": row["repo_url"], "published": state.get("published"),
    }
