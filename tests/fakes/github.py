"""A fake GitHub: a real loopback HTTP server speaking the subset of the REST
API Octra uses (GitHub's JSON shapes and status codes), and git's smart HTTP
protocol over local bare repositories (``git http-backend``, in
tests/fakes/git_http.py), so clones and
pushes are real git over real HTTP with Basic auth, and the token has to reach
git through Octra's credential path.

Usage::

    with FakeGitHub(tmp_path) as gh:
        gh.add_repo("acme/widget", {"README.md": "# widget\\n"}, private=True)
        gh.add_issue("acme/widget", 7, "Add a greeting", "It should greet.")
        gh.add_comment("acme/widget", 7, "alice", "Please use Python.")
        gh.fault("POST", r"/repos/acme/widget/pulls", Fault.secondary(retry_after=0))
        ... settings github_api_url = gh.url, token = gh.token ...
        gh.requests        # every API request: FakeCall(method, path, query, headers, body)
        gh.git_requests    # every git request: (method, path, service, user)
        gh.branch_sha("acme/widget", "octra/issue-7")

Faults (``fault``) answer the next matching API request(s) instead of the
fake: 401, 403 with rate limit headers (``Fault.rate_limited``), secondary
rate limits (``Fault.secondary``), 404, 422.  ``deny_push`` makes git
pushes to a repository fail with 403; ``fork_polls`` is how many checks a new
fork answers 404 before it is ready.  Everything runs in threads, so it
serves a daemon subprocess.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

from tests.fakes.git_http import GitSmartHttp
from tests.fakes.http import Handler, Service

TOKEN = "ghp_FakeToken0123456789abcdefABCDEF01"


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def git(*args: str, cwd: Path | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_AUTHOR_NAME="Fake", GIT_AUTHOR_EMAIL="fake@example.invalid", GIT_COMMITTER_NAME="Fake",
               GIT_COMMITTER_EMAIL="fake@example.invalid", GIT_CONFIG_NOSYSTEM="1", HOME=str(cwd or "/tmp"))
    out = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"git {' '.join(args)} failed: {out.stderr}")
    return out.stdout


@dataclass
class Fault:
    status: int
    message: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    errors: list[dict] = field(default_factory=list)

    @classmethod
    def rate_limited(cls) -> "Fault":
        reset = str(int(time.time()) + 600)
        return cls(403, "API rate limit exceeded for user ID 1.",
                   {"X-RateLimit-Limit": "5000", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset,
                    "X-RateLimit-Resource": "core"})

    @classmethod
    def secondary(cls, retry_after: float = 0) -> "Fault":
        return cls(403, "You have exceeded a secondary rate limit. Please wait a few minutes before you try again.",
                   {"Retry-After": f"{retry_after:g}"})


@dataclass
class FakeCall:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Repo:
    owner: str
    name: str
    id: int
    bare: Path
    default_branch: str = "main"
    private: bool = False
    parent: str | None = None
    #: logins that may push (the owner always may)
    push_users: set[str] = field(default_factory=set)
    #: logins that may read a private repository (besides those who may push)
    pull_users: set[str] = field(default_factory=set)
    description: str = ""
    #: checks left before a new fork is ready
    pending: int = 0

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.name}"


class FakeGitHub(Service):
    def __init__(self, root: Path, *, token: str = TOKEN, login: str = "octra-bot"):
        self.root = Path(root)
        self.git_root = self.root / "git"
        self.git_root.mkdir(parents=True, exist_ok=True)
        self.token = token
        self.login = login
        self.users: dict[str, str] = {token: login}
        self.repos: dict[str, Repo] = {}
        self.issues: dict[tuple[str, int], dict] = {}
        self.comments: dict[tuple[str, int], list[dict]] = {}
        self.pulls: dict[str, list[dict]] = {}
        self.requests: list[FakeCall] = []
        self.git_requests: list[tuple[str, str, str, str | None]] = []
        self.faults: list[tuple[str, re.Pattern, Fault]] = []
        self.deny_push: set[str] = set()
        self.fork_polls = 2
        self._ids = 1000
        self._lock = threading.RLock()
        self._serve(_Handler)

    def _next_id(self) -> int:
        with self._lock:
            self._ids += 1
            return self._ids

    # -- scripting ---------------------------------------------------------------
    def add_repo(self, full_name: str, files: dict[str, str] | None = None, *, private: bool = False,
                 push_users: set[str] | None = None, pull_users: set[str] | None = None,
                 default_branch: str = "main") -> Repo:
        owner, name = full_name.split("/")
        bare = self.git_root / owner.lower() / f"{name.lower()}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("init", "--bare", "-q", f"--initial-branch={default_branch}", str(bare))
        if files:
            work = self.root / f"seed-{self._next_id()}"
            work.mkdir()
            git("init", "-q", f"--initial-branch={default_branch}", cwd=work)
            for path, content in files.items():
                (work / path).parent.mkdir(parents=True, exist_ok=True)
                (work / path).write_text(content)
            git("add", "-A", cwd=work)
            git("commit", "-q", "-m", "initial", cwd=work)
            git("push", "-q", str(bare), f"HEAD:refs/heads/{default_branch}", cwd=work)
            shutil.rmtree(work)
        repo = Repo(owner, name, self._next_id(), bare, default_branch, private, push_users=set(push_users or ()),
                    pull_users=set(pull_users or ()))
        self.repos[full_name.lower()] = repo
        return repo

    def commit_upstream(self, full_name: str, files: dict[str, str], message: str = "upstream change") -> str:
        """A new commit on the default branch of a repository (someone else's work)."""
        repo = self.repos[full_name.lower()]
        work = self.root / f"up-{self._next_id()}"
        git("clone", "-q", str(repo.bare), str(work))
        for path, content in files.items():
            (work / path).parent.mkdir(parents=True, exist_ok=True)
            (work / path).write_text(content)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", message, cwd=work)
        git("push", "-q", "origin", f"HEAD:refs/heads/{repo.default_branch}", cwd=work)
        sha = git("rev-parse", "HEAD", cwd=work).strip()
        shutil.rmtree(work)
        return sha

    def add_issue(self, full_name: str, number: int, title: str, body: str, user: str = "alice") -> dict:
        repo = self.repos[full_name.lower()]
        issue = {
            "id": self._next_id(), "number": number, "title": title, "body": body, "state": "open",
            "html_url": f"{self.url}/{repo.full_name}/issues/{number}", "user": {"login": user, "id": 1},
            "labels": [], "comments": 0, "created_at": _now(), "updated_at": _now(),
        }
        self.issues[(full_name.lower(), number)] = issue
        self.comments[(full_name.lower(), number)] = []
        return issue

    def add_comment(self, full_name: str, number: int, user: str, body: str, created_at: str | None = None) -> dict:
        when = created_at or _now()
        c = {"id": self._next_id(), "body": body, "user": {"login": user, "id": 2}, "created_at": when,
             "updated_at": when, "html_url": f"{self.url}/{full_name}/issues/{number}#issuecomment-{self._ids}"}
        with self._lock:
            self.comments[(full_name.lower(), number)].append(c)
            self.issues[(full_name.lower(), number)]["comments"] += 1
        return c

    def fault(self, method: str, path_regex: str, *faults: Fault) -> "FakeGitHub":
        """Answer the next API requests matching ``method`` and ``path_regex`` with ``faults``, in order."""
        with self._lock:
            for f in faults:
                self.faults.append((method.upper(), re.compile(path_regex), f))
        return self

    def calls(self, method: str, path_regex: str) -> list[FakeCall]:
        pat = re.compile(path_regex)
        return [c for c in self.requests if c.method == method and pat.fullmatch(c.path)]

    def branch_sha(self, full_name: str, branch: str) -> str | None:
        repo = self.repos.get(full_name.lower())
        if repo is None:
            return None
        out = subprocess.run(["git", f"--git-dir={repo.bare}", "rev-parse", "--verify", "-q", f"refs/heads/{branch}"],
                             capture_output=True, text=True)
        return out.stdout.strip() or None

    def read_file(self, full_name: str, ref: str, path: str) -> str:
        repo = self.repos[full_name.lower()]
        return git(f"--git-dir={repo.bare}", "show", f"{ref}:{path}")

    # -- JSON shapes -------------------------------------------------------------
    def repo_json(self, repo: Repo, login: str | None) -> dict:
        can_push = login is not None and (login == repo.owner or login in repo.push_users)
        out = {
            "id": repo.id, "node_id": f"R_{repo.id}", "name": repo.name, "full_name": repo.full_name,
            "owner": {"login": repo.owner, "id": 1, "type": "User"}, "private": repo.private,
            "html_url": f"{self.url}/{repo.full_name}", "description": repo.description,
            "fork": repo.parent is not None, "url": f"{self.url}/repos/{repo.full_name}",
            "clone_url": f"{self.url}/git/{repo.owner.lower()}/{repo.name.lower()}.git",
            "default_branch": repo.default_branch, "visibility": "private" if repo.private else "public",
        }
        if repo.parent:
            parent = self.repos[repo.parent.lower()]
            out["parent"] = {"full_name": parent.full_name, "clone_url": self.repo_json(parent, None)["clone_url"]}
        if login is not None:
            out["permissions"] = {"admin": login == repo.owner, "maintain": login == repo.owner, "push": can_push,
                                  "triage": can_push, "pull": True}
        return out

    def visible(self, repo: Repo, login: str | None) -> bool:
        if repo.pending > 0:
            return False
        return not repo.private or (login is not None and (login == repo.owner or login in repo.push_users
                                                           or login in repo.pull_users))


class _Handler(GitSmartHttp, Handler):
    owner: FakeGitHub

    # -- plumbing --------------------------------------------------------------
    def _body(self) -> bytes:
        if self.headers.get("transfer-encoding", "").lower() == "chunked":
            out = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return out
                out += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def _send(self, status: int, obj: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Media-Type", "github.v3; format=json")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status: int, message: str, errors: list | None = None, headers: dict | None = None) -> None:
        body = {"message": message, "documentation_url": "https://docs.github.com/rest", "status": str(status)}
        if errors:
            body["errors"] = errors
        self._send(status, body, headers)

    def _api_user(self) -> tuple[bool, str | None]:
        """(ok, login): ok False when a token was sent and is not known."""
        auth = self.headers.get("authorization") or ""
        if not auth:
            return True, None
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token"):
            return False, None
        login = self.owner.users.get(token.strip())
        return login is not None, login

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        raw = self._body() if method == "POST" else b""
        if split.path.startswith("/git/"):
            self._git(method, split.path, split.query, raw)
            return
        body = None
        if raw:
            try:
                body = json.loads(raw)
            except json.JSONDecodeError:
                self._error(400, "Problems parsing JSON")
                return
        gh = self.owner
        call = FakeCall(method, split.path, parse_qs(split.query), {k.lower(): v for k, v in self.headers.items()}, body)
        with gh._lock:
            gh.requests.append(call)
            for i, (m, pat, fault) in enumerate(gh.faults):
                if m == method and pat.fullmatch(split.path):
                    gh.faults.pop(i)
                    self._error(fault.status, fault.message or f"fault {fault.status}", fault.errors, fault.headers)
                    return
        ok, login = self._api_user()
        if not ok:
            self._error(401, "Bad credentials")
            return
        if method == "POST" and login is None:
            self._error(401, "Requires authentication")
            return
        for pattern, meth, fn in ROUTES:
            m = pattern.fullmatch(split.path)
            if m and meth == method:
                with gh._lock:
                    fn(self, login, call, *m.groups())
                return
        self._error(404, "Not Found")

    def _repo(self, owner: str, name: str, login: str | None) -> Repo | None:
        repo = self.owner.repos.get(f"{owner}/{name}".lower())
        if repo is None or not self.owner.visible(repo, login):
            self._error(404, "Not Found")
            return None
        return repo

    # -- REST endpoints ------------------------------------------------------------
    def get_user(self, login, call):
        if login is None:
            self._error(401, "Requires authentication")
            return
        self._send(200, {"login": login, "id": 42, "type": "User", "html_url": f"{self.owner.url}/{login}"})

    def get_repo(self, login, call, owner, name):
        repo = self._repo(owner, name, login)
        if repo:
            self._send(200, self.owner.repo_json(repo, login))

    def create_repo(self, login, call):
        name = (call.body or {}).get("name") or ""
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,100}", name):
            self._error(422, "Repository creation failed.", [{"resource": "Repository", "code": "custom", "field": "name",
                                                             "message": "name is invalid"}])
            return
        if f"{login}/{name}".lower() in self.owner.repos:
            self._error(422, "Repository creation failed.", [{"resource": "Repository", "code": "custom", "field": "name",
                                                             "message": "name already exists on this account"}])
            return
        repo = self.owner.add_repo(f"{login}/{name}", private=bool((call.body or {}).get("private")))
        repo.description = (call.body or {}).get("description") or ""
        self._send(201, self.owner.repo_json(repo, login))

    def fork(self, login, call, owner, name):
        parent = self._repo(owner, name, login)
        if parent is None:
            return
        gh = self.owner
        existing = gh.repos.get(f"{login}/{parent.name}".lower())
        if existing is not None and existing.parent == parent.full_name:
            self._send(202, gh.repo_json(existing, login))
            return
        if existing is not None:
            self._error(422, "Validation Failed", [{"resource": "Repository", "code": "custom",
                                                   "message": "name already exists on this account"}])
            return
        bare = gh.git_root / login.lower() / f"{parent.name.lower()}.git"
        bare.parent.mkdir(parents=True, exist_ok=True)
        git("clone", "--bare", "-q", str(parent.bare), str(bare))
        fork = Repo(login, parent.name, gh._next_id(), bare, parent.default_branch, parent.private,
                    parent=parent.full_name, pending=gh.fork_polls)
        gh.repos[fork.full_name.lower()] = fork
        answer = gh.repo_json(fork, login)
        answer["permissions"]["push"] = True
        self._send(202, answer)

    def get_branch(self, login, call, owner, name, branch):
        branch = unquote(branch)
        repo = self.owner.repos.get(f"{owner}/{name}".lower())
        if repo is not None and repo.pending > 0:
            repo.pending -= 1
            self._error(404, "Not Found")
            return
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        sha = self.owner.branch_sha(repo.full_name, branch)
        if sha is None:
            self._error(404, "Branch not found")
            return
        self._send(200, {"name": branch, "commit": {"sha": sha}, "protected": False})

    def merge_upstream(self, login, call, owner, name):
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        if repo.parent is None:
            self._error(422, "This repository is not a fork.")
            return
        branch = (call.body or {}).get("branch") or repo.default_branch
        parent = self.owner.repos[repo.parent.lower()]
        before = self.owner.branch_sha(repo.full_name, branch)
        out = subprocess.run(["git", f"--git-dir={repo.bare}", "fetch", "-q", str(parent.bare),
                              f"refs/heads/{branch}:refs/heads/{branch}"], capture_output=True, text=True)
        if out.returncode != 0:
            self._error(409, "There are merge conflicts")
            return
        after = self.owner.branch_sha(repo.full_name, branch)
        self._send(200, {"message": f"Successfully fetched and fast-forwarded from upstream {parent.full_name}:{branch}.",
                         "merge_type": "none" if before == after else "fast-forward",
                         "base_branch": f"{parent.owner}:{branch}"})

    def get_issue(self, login, call, owner, name, number):
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        issue = self.owner.issues.get((repo.full_name.lower(), int(number)))
        if issue is None:
            self._error(404, "Not Found")
            return
        self._send(200, issue)

    def list_comments(self, login, call, owner, name, number):
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        key = (repo.full_name.lower(), int(number))
        if key not in self.owner.issues:
            self._error(404, "Not Found")
            return
        since = (call.query.get("since") or [""])[0]
        found = [c for c in self.owner.comments[key] if not since or c["updated_at"] >= since]
        per_page = int((call.query.get("per_page") or ["30"])[0])
        page = int((call.query.get("page") or ["1"])[0])
        chunk = found[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(found):
            q = {k: v[0] for k, v in call.query.items()}
            q["page"] = str(page + 1)
            headers["Link"] = f'<{self.owner.url}{call.path}?{urlencode(q)}>; rel="next"'
        self._send(200, chunk, headers)

    def create_pull(self, login, call, owner, name):
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        body = call.body or {}
        head, base = body.get("head") or "", body.get("base") or ""
        head_owner, _, head_branch = head.rpartition(":")
        head_owner = head_owner or repo.owner
        gh = self.owner
        head_repo = repo if head_owner.lower() == repo.owner.lower() else next(
            (r for r in gh.repos.values() if r.owner.lower() == head_owner.lower() and r.parent == repo.full_name), None)
        invalid = [{"resource": "PullRequest", "field": "head", "code": "invalid"}]
        if head_repo is None or gh.branch_sha(head_repo.full_name, head_branch) is None:
            self._error(422, "Validation Failed", invalid)
            return
        if gh.branch_sha(repo.full_name, base) is None:
            self._error(422, "Validation Failed", [{"resource": "PullRequest", "field": "base", "code": "invalid"}])
            return
        label = f"{head_repo.owner}:{head_branch}"
        pulls = gh.pulls.setdefault(repo.full_name.lower(), [])
        if any(p["head"]["label"] == label and p["state"] == "open" for p in pulls):
            self._error(422, "Validation Failed", [{"resource": "PullRequest", "code": "custom",
                                                   "message": f"A pull request already exists for {label}."}])
            return
        numbers = [n for (full, n) in gh.issues if full == repo.full_name.lower()] + [p["number"] for p in pulls]
        number = max(numbers, default=0) + 1
        pr = {
            "id": gh._next_id(), "number": number, "state": "open", "title": body.get("title"), "body": body.get("body"),
            "html_url": f"{gh.url}/{repo.full_name}/pull/{number}", "user": {"login": login},
            "head": {"label": label, "ref": head_branch, "sha": gh.branch_sha(head_repo.full_name, head_branch),
                     "repo": {"full_name": head_repo.full_name}},
            "base": {"label": f"{repo.owner}:{base}", "ref": base, "repo": {"full_name": repo.full_name}},
            "maintainer_can_modify": bool(body.get("maintainer_can_modify")), "created_at": _now(),
        }
        pulls.append(pr)
        self._send(201, pr)

    def list_pulls(self, login, call, owner, name):
        repo = self._repo(owner, name, login)
        if repo is None:
            return
        head = (call.query.get("head") or [""])[0]
        state = (call.query.get("state") or ["open"])[0]
        found = [p for p in self.owner.pulls.get(repo.full_name.lower(), [])
                 if (not head or p["head"]["label"].lower() == head.lower()) and (state == "all" or p["state"] == state)]
        self._send(200, found)


_N = r"([^/]+)"
ROUTES = [
    (re.compile(r"/user"), "GET", _Handler.get_user),
    (re.compile(r"/user/repos"), "POST", _Handler.create_repo),
    (re.compile(rf"/repos/{_N}/{_N}"), "GET", _Handler.get_repo),
    (re.compile(rf"/repos/{_N}/{_N}/forks"), "POST", _Handler.fork),
    (re.compile(rf"/repos/{_N}/{_N}/branches/(.+)"), "GET", _Handler.get_branch),
    (re.compile(rf"/repos/{_N}/{_N}/merge-upstream"), "POST", _Handler.merge_upstream),
    (re.compile(rf"/repos/{_N}/{_N}/issues/(\d+)"), "GET", _Handler.get_issue),
    (re.compile(rf"/repos/{_N}/{_N}/issues/(\d+)/comments"), "GET", _Handler.list_comments),
    (re.compile(rf"/repos/{_N}/{_N}/pulls"), "POST", _Handler.create_pull),
    (re.compile(rf"/repos/{_N}/{_N}/pulls"), "GET", _Handler.list_pulls),
]
