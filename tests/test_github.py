"""GitHub end to end: a real daemon against a fake GitHub (REST + git smart
HTTP over local bare repositories), with the offline provider or the fake AI
provider doing the building."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from tests.fakes.ai_script import Script, files, plan, staff
from tests.fakes.github import FakeGitHub, Fault
from tests.fakes.providers import FakeProvider
from tests.tasks import events_of, use_fake, wait_status

ZIG = {"build.zig": "const std = @import(\"std\");\n", "README.md": "# widget\n\nAn upstream project.\n"}
ISSUE = "https://github.com/acme/widget/issues/3"


@pytest.fixture
def gh(tmp_path):
    with FakeGitHub(tmp_path / "gh") as fake:
        yield fake


async def configure(c, gh, token=True):
    await c.call("settings.set", {"github_api_url": gh.url})
    if token:
        status = await c.call("github.set_token", {"token": gh.token})
        assert status["has_token"] and status["token_source"] == "stored"


def with_issue(gh, *, push: bool, private: bool = True):
    gh.add_repo("acme/widget", ZIG, private=private, push_users={"octra-bot"} if push else set(),
                pull_users={"octra-bot"})
    gh.add_issue("acme/widget", 3, "Say hello in the README", "The README should greet the reader.")
    gh.add_comment("acme/widget", 3, "alice", "Keep it short, please.")


async def run_task(c, description, **params):
    tid = (await c.call("task.create", {"description": description, "provider": "offline", "stack": "zig", **params}))["task_id"]
    return await wait_status(c, tid, timeout=90)


def git_in(bare: Path, *args: str) -> str:
    return subprocess.run(["git", f"--git-dir={bare}", *args], capture_output=True, text=True, check=True).stdout


# -- a new repository ----------------------------------------------------------

async def test_publish_creates_a_repository_and_pushes(daemon, gh):
    async with daemon.connect() as c:
        await configure(c, gh)
        task = await run_task(c, "a tiny zig program", project="tiny-zig", meta={"publish_repositories": True})
        assert task["status"] == "done", task["error"]
        evs = await events_of(c, task["task_id"])
    assert task["repo_url"] == f"{gh.url}/octra-bot/tiny-zig" and task["pull_request_url"] is None
    assert task["github"]["published"] == "repository" and task["github"]["repository"] == "octra-bot/tiny-zig"
    (created,) = gh.calls("POST", "/user/repos")
    assert created.body["name"] == "tiny-zig" and created.body["private"] is True
    # the pushed history is the project's, files and authors included
    bare = gh.repos["octra-bot/tiny-zig"].bare
    pushed = set(git_in(bare, "ls-tree", "-r", "--name-only", "main").split())
    assert {"build.zig", "README.md", "flake.nix"} <= pushed
    published = [e.data for e in evs if e.kind == "github.published"]
    assert published == [{"published": "repository", "repository": "octra-bot/tiny-zig", "repo_url": task["repo_url"],
                          "pull_request_url": None, "pull_request_number": None, "branch": "main", "fork": None,
                          "created_repository": True}]
    assert [e.data["status"] for e in evs if e.kind == "task.status"][-2:] == ["publishing", "done"]
    # a follow-up on the project pushes to the same repository (not a new one); with an AI
    # provider, since the offline one cannot change existing code
    first_sha = gh.branch_sha("octra-bot/tiny-zig", "main")
    with FakeProvider() as ai:
        ai.responder = Script(plan=lambda a, n: plan(("docs", "a greeting file"), stack="zig"),
                              staff=lambda a, n: staff(("writer", "hello.txt", ["hello.txt"])),
                              work=lambda a, n: files(("hello.txt", "hello\n")),
                              review=lambda a, n: {"approved": True}, validate=lambda a, n: {"approved": True})
        async with daemon.connect() as c:
            await use_fake(c, ai)
            follow = await c.call("task.create", {"description": "add a hello.txt", "project": "tiny-zig",
                                                  "provider": "fake", "meta": {"publish_repositories": True}})
            again = await wait_status(c, follow["task_id"], timeout=90)
    assert again["status"] == "done", again["error"]
    assert len(gh.calls("POST", "/user/repos")) == 1 and again["repo_url"] == task["repo_url"]
    assert gh.branch_sha("octra-bot/tiny-zig", "main") is not None
    assert git_in(bare, "merge-base", "--is-ancestor", first_sha, gh.branch_sha("octra-bot/tiny-zig", "main")) == ""
    assert gh.read_file("octra-bot/tiny-zig", "main", "hello.txt") == "hello\n"


# -- an issue, with write access ---------------------------------------------------

async def test_issue_with_write_access_pushes_a_branch_and_opens_a_pull_request(daemon, gh):
    with_issue(gh, push=True)
    upstream_main = gh.branch_sha("acme/widget", "main")
    async with daemon.connect() as c:
        await configure(c, gh)
        task = await run_task(c, f"Fix {ISSUE} please", meta={"create_pull_requests": True})
        assert task["status"] == "done", task["error"]
        evs = await events_of(c, task["task_id"])
    # the branch went to the original, on top of its main
    sha = gh.branch_sha("acme/widget", "octra/issue-3")
    assert sha is not None
    bare = gh.repos["acme/widget"].bare
    assert git_in(bare, "merge-base", "--is-ancestor", upstream_main, sha) == ""
    assert "flake.nix" in git_in(bare, "ls-tree", "--name-only", sha).split()
    assert not gh.calls("POST", r"/repos/acme/widget/forks")
    (pr,) = gh.pulls["acme/widget"]
    assert pr["head"]["label"] == "acme:octra/issue-3" and pr["base"]["ref"] == "main"
    assert ISSUE in pr["body"] and "Closes #3" in pr["body"] and pr["title"].startswith("Say hello in the README")
    assert task["pull_request_url"] == pr["html_url"] and task["repo_url"] == f"{gh.url}/acme/widget"
    assert task["github"] == {"repository": "acme/widget", "issue_url": ISSUE, "issue_number": 3,
                              "branch": "octra/issue-3", "fork": None, "pull_request_number": pr["number"],
                              "pull_request_url": pr["html_url"], "repo_url": task["repo_url"],
                              "published": "pull_request"}
    (published,) = [e.data for e in evs if e.kind == "github.published"]
    assert published == {"published": "pull_request", "repository": "acme/widget", "repo_url": task["repo_url"],
                         "pull_request_url": pr["html_url"], "pull_request_number": pr["number"],
                         "branch": "octra/issue-3", "fork": None, "issue_url": ISSUE, "issue_number": 3,
                         "created_repository": False}
    # the private repository was cloned with the token, through git's credential path
    assert any(user == "octra-bot" and svc == "git-upload-pack" for _, _, svc, user in gh.git_requests)


# -- an issue, without write access: fork, cross-repository pull request -----------

async def test_issue_without_write_access_forks_and_opens_a_cross_repository_pull_request(daemon, gh):
    with_issue(gh, push=False)
    gh.fork_polls = 3
    upstream_before = gh.branch_sha("acme/widget", "main")
    async with daemon.connect() as c:
        await configure(c, gh)
        task = await run_task(c, "fix the README", issue_url="https://github.com/Acme/Widget/issues/3/",
                              meta={"create_pull_requests": True})
        assert task["status"] == "done", task["error"]
    assert len(gh.calls("POST", r"/repos/acme/widget/forks")) == 1
    # the fork was polled until ready (404 three times), then synced with upstream
    polls = gh.calls("GET", r"/repos/octra-bot/widget/branches/main")
    assert len(polls) == 4
    assert len(gh.calls("POST", r"/repos/octra-bot/widget/merge-upstream")) == 1
    assert gh.branch_sha("acme/widget", "octra/issue-3") is None and gh.branch_sha("acme/widget", "main") == upstream_before
    assert gh.branch_sha("octra-bot/widget", "octra/issue-3") is not None
    (pr,) = gh.pulls["acme/widget"]
    assert pr["head"]["label"] == "octra-bot:octra/issue-3"
    assert gh.calls("POST", r"/repos/acme/widget/pulls")[0].body["head"] == "octra-bot:octra/issue-3"
    assert task["github"]["fork"] == "octra-bot/widget" and task["repo_url"] == f"{gh.url}/octra-bot/widget"
    assert task["github"]["issue_url"] == ISSUE  # normalised


# -- a repeat run on the same issue ---------------------------------------------------

async def test_repeat_run_reuses_the_fork_and_shows_only_new_comments(daemon, gh):
    with_issue(gh, push=False)
    gh.add_comment("acme/widget", 3, "bob", "OLD-COMMENT: also mention the license.")

    def work(ask, n):
        if "NEW COMMENTS" in ask.prompt or "second pass" in ask.prompt:
            return files(("GREETING.md", "Hello again, reader!\n"))
        return files(("GREETING.md", "Hello, reader!\n"), ("NOTES.md", "first run\n"))

    with FakeProvider() as ai:
        ai.responder = Script(plan=lambda a, n: plan(("docs", "the greeting")),
                              staff=lambda a, n: staff(("writer", "write the greeting", ["GREETING.md"])),
                              work=work, review=lambda a, n: {"approved": True},
                              validate=lambda a, n: {"approved": True})
        async with daemon.connect() as c:
            await configure(c, gh)
            await use_fake(c, ai)
            first = await c.call("task.create", {"description": f"Work on {ISSUE}", "provider": "fake",
                                                 "meta": {"create_pull_requests": True}})
            t1 = await wait_status(c, first["task_id"], timeout=90)
            assert t1["status"] == "done", t1["error"]
            boss1 = [r for r in ai.requests if "Decide how to build the task" in r.messages[0]["content"]]
            assert len(boss1) == 1
            assert "Say hello in the README" in boss1[0].prompt and "OLD-COMMENT" in boss1[0].prompt
            assert "The README should greet the reader." in boss1[0].prompt and "Keep it short" in boss1[0].prompt
            assert "NEW COMMENTS" not in boss1[0].prompt

            before = len(gh.requests)
            gh.add_comment("acme/widget", 3, "alice", "NEW-COMMENT: say 'again' too.")
            gh.commit_upstream("acme/widget", {"UPSTREAM.md": "meanwhile upstream\n"})
            ai.requests.clear()
            second = await c.call("task.create", {"description": "second pass on the issue", "provider": "fake",
                                                  "issue_url": ISSUE, "meta": {"create_pull_requests": True}})
            t2 = await wait_status(c, second["task_id"], timeout=90)
            assert t2["status"] == "done", t2["error"]
    boss2 = [r for r in ai.requests if "Decide how to build the task" in r.messages[0]["content"]]
    assert len(boss2) == 1
    prompt = boss2[0].prompt
    assert "NEW COMMENTS" in prompt and "NEW-COMMENT: say 'again' too." in prompt
    assert "OLD-COMMENT" not in prompt and "Keep it short" not in prompt
    assert "Say hello in the README" in prompt
    # the snapshot of run 1 was the starting point: its files are known to the Boss
    assert "NOTES.md" in prompt
    run2 = gh.requests[before:]
    # no new permission check, no new fork; the existing pull request was found, not opened again
    assert not [r for r in run2 if r.method == "GET" and r.path == "/repos/acme/widget"]
    assert not [r for r in run2 if r.path.endswith("/forks")]
    assert not [r for r in run2 if r.method == "POST" and r.path.endswith("/pulls")]
    assert len(gh.pulls["acme/widget"]) == 1
    assert t2["pull_request_url"] == t1["pull_request_url"] and t2["github"]["fork"] == "octra-bot/widget"
    # the fork's branch has both runs' work, the second on top of the first
    fork_bare = gh.repos["octra-bot/widget"].bare
    assert gh.read_file("octra-bot/widget", "octra/issue-3", "GREETING.md") == "Hello again, reader!\n"
    assert gh.read_file("octra-bot/widget", "octra/issue-3", "NOTES.md") == "first run\n"
    log = git_in(fork_bare, "log", "--format=%s", "octra/issue-3")
    assert log.count("docs/writer") == 2
    # upstream's new work was merged into the branch, and the fork synced again
    assert gh.read_file("octra-bot/widget", "octra/issue-3", "UPSTREAM.md") == "meanwhile upstream\n"
    assert [r for r in run2 if r.path == "/repos/octra-bot/widget/merge-upstream"]
    assert gh.branch_sha("octra-bot/widget", "main") == gh.branch_sha("acme/widget", "main")


# -- the toggles -------------------------------------------------------------------

async def test_toggles_decide_what_leaves_the_machine(daemon, gh):
    with_issue(gh, push=True)
    async with daemon.connect() as c:
        await configure(c, gh)
        # both off (the defaults), with an issue: the issue is read, nothing is written
        quiet = await run_task(c, f"Work on {ISSUE}", project="quiet")
        assert quiet["status"] == "done", quiet["error"]
        assert quiet["repo_url"] is None and quiet["pull_request_url"] is None
        assert all(r.method == "GET" for r in gh.requests)
        assert not [g for g in gh.git_requests if g[2] == "git-receive-pack"]
        assert "github.published" not in [e.kind for e in await events_of(c, quiet["task_id"])]
        # both off, no issue: GitHub is not even asked
        seen = len(gh.requests)
        plain = await run_task(c, "a tiny zig program", project="plain")
        assert plain["status"] == "done" and len(gh.requests) == seen and plain["github"] is None
        # publishing on, pull requests off: the branch is pushed, no pull request
        pushed = await run_task(c, f"Work on {ISSUE}", project="pushed",
                                meta={"publish_repositories": True, "create_pull_requests": False})
        assert pushed["status"] == "done", pushed["error"]
        assert gh.branch_sha("acme/widget", "octra/issue-3") is not None
        assert not gh.calls("POST", r"/repos/acme/widget/pulls") and "acme/widget" not in gh.pulls
        assert pushed["pull_request_url"] is None and pushed["github"]["published"] == "branch"
        assert any("no pull request" in n for n in pushed["notes"])
        # the settings apply when the meta says nothing
        await c.call("settings.set", {"create_pull_requests": True})
        again = await run_task(c, f"Work on {ISSUE}", project="again")
        assert again["status"] == "done", again["error"]
        assert again["pull_request_url"] is not None and len(gh.pulls["acme/widget"]) == 1


# -- a 403 on push: fall back to a fork ----------------------------------------------------

async def test_push_refused_with_403_falls_back_to_a_fork(daemon, gh):
    with_issue(gh, push=True)  # the API says push, but the branch is protected
    gh.deny_push.add("acme/widget")
    async with daemon.connect() as c:
        await configure(c, gh)
        task = await run_task(c, f"Fix {ISSUE}", meta={"create_pull_requests": True})
        assert task["status"] == "done", task["error"]
    refused = [g for g in gh.git_requests if g[1] == "/git/acme/widget.git/info/refs" and g[2] == "git-receive-pack"]
    assert refused, "the push to the original was tried first"
    assert gh.branch_sha("acme/widget", "octra/issue-3") is None
    assert gh.branch_sha("octra-bot/widget", "octra/issue-3") is not None
    assert gh.pulls["acme/widget"][0]["head"]["label"] == "octra-bot:octra/issue-3"
    assert any("refused the push" in n and "fork" in n for n in task["notes"])
    assert task["github"]["fork"] == "octra-bot/widget"


# -- errors -------------------------------------------------------------------------

async def test_github_errors_fail_the_task_clearly_and_keep_the_work(daemon, gh):
    with_issue(gh, push=True)
    async with daemon.connect() as c:
        await configure(c, gh)
        missing = await run_task(c, "Fix https://github.com/acme/widget/issues/99", project="missing")
        assert missing["status"] == "failed"
        assert missing["error"]["kind"] == "not_found" and "issue #99 of acme/widget" in missing["error"]["message"]
        other = await run_task(c, "x", issue_url="https://gitlab.com/acme/widget/issues/3", project="other")
        assert other["status"] == "failed" and other["error"]["kind"] == "invalid_params"
        assert "gitlab.com" in other["error"]["message"]
        # a rate limit while opening the pull request: the task fails, its work is kept and published later
        gh.fault("POST", r"/repos/acme/widget/pulls", Fault.rate_limited())
        limited = await run_task(c, f"Fix {ISSUE}", project="limited", meta={"create_pull_requests": True})
        assert limited["status"] == "failed" and limited["error"]["kind"] == "unavailable"
        assert "rate limit exhausted" in limited["error"]["message"] and "resets at" in limited["error"]["message"]
        assert limited["store_path"] and gh.branch_sha("acme/widget", "octra/issue-3") is not None
        await c.call("task.resume", {"task_id": limited["task_id"]})
        resumed = await wait_status(c, limited["task_id"], states=("done", "failed"), timeout=90)
        assert resumed["status"] == "done", resumed["error"]
        assert resumed["pull_request_url"] == gh.pulls["acme/widget"][0]["html_url"]
        # a token GitHub rejects is not stored
        with pytest.raises(Exception) as info:
            await c.call("github.set_token", {"token": "ghp_NotAValidToken0000000000"})
        assert getattr(info.value, "kind", "") == "forbidden" and "401" in str(info.value)
        assert (await c.call("github.status", {"check": True}))["user"] == "octra-bot"


# -- the token stays secret ------------------------------------------------------------------

async def test_token_never_leaks(daemon, gh, tmp_path):
    with_issue(gh, push=False)
    # a git first on PATH records the environment of every git the daemon starts
    real_git = shutil.which("git")
    wrapper = tmp_path / "bin" / "git"
    wrapper.parent.mkdir()
    dump = tmp_path / "env-dumps"
    dump.mkdir()
    wrapper.write_text(f"#!/bin/sh\nenv > '{dump}'/env-$$.txt\nexec '{real_git}' \"$@\"\n")
    wrapper.chmod(0o755)
    # and a hook that would see what git hands on: hooks never run for Octra's git
    hooks = tmp_path / "hooks"
    hooks.mkdir()
    hook_ran = tmp_path / "hook-ran"
    hook = hooks / "pre-push"
    hook.write_text(f"#!/bin/sh\nenv > '{hook_ran}'\nexit 0\n")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR)
    (daemon.oenv.home / ".gitconfig").write_text(f"[core]\n\thooksPath = {hooks}\n")
    daemon.stop()
    daemon.start(env={"GITHUB_TOKEN": gh.token, "OCTRA_GITHUB_API_URL": gh.url,
                      "PATH": f"{wrapper.parent}:{os.environ['PATH']}"})
    async with daemon.connect() as c:
        status = await c.call("github.status", {"check": True})
        assert status == {"api_url": gh.url, "web_host": gh.url.split("//")[1], "has_token": True,
                          "token_source": "env", "user": "octra-bot"}
        task = await run_task(c, f"Fix {ISSUE}", meta={"create_pull_requests": True})
        assert task["status"] == "done", task["error"]
        evs = await events_of(c, task["task_id"])
        dest = tmp_path / "restored"
        await c.call("project.restore", {"task_id": task["task_id"], "dest": str(dest)})
        # an error that quotes GitHub's answer does not carry the token either
        gh.fault("GET", r"/repos/acme/widget/issues/3", Fault(401, f"Bad credentials {gh.token}"))
        failed = await run_task(c, f"Fix {ISSUE}", project="failing")
        assert failed["status"] == "failed" and gh.token not in json.dumps(failed)
        assert "***" in failed["error"]["message"]
    token = gh.token
    # git used it (Basic auth over HTTP, via the credential helper) ...
    assert any(user == "octra-bot" for *_, user in gh.git_requests)
    # ... but it is nowhere else
    assert token not in json.dumps(task) and token not in json.dumps([e.data for e in evs])
    assert token not in daemon.oenv.log_file.read_text() and token not in daemon.stderr()
    assert token not in (dest / ".git" / "config").read_text()
    remotes = subprocess.run(["git", "-C", str(dest), "remote", "-v"], capture_output=True, text=True).stdout
    assert "acme/widget" in remotes and token not in remotes and "@" not in remotes
    assert not hook_ran.exists(), "a hook ran under Octra's git"
    dumps = list(dump.glob("env-*.txt"))
    assert dumps, "the daemon ran git through the recording wrapper"
    for d in dumps:
        env = d.read_text()
        assert token not in env and "GITHUB_TOKEN" not in env
    tmp = Path(daemon.oenv.data_dir) / "tmp"
    assert not list(tmp.glob("cred-*")), "credential files are removed after each command"
    for path in Path(daemon.oenv.data_dir).rglob("*"):
        if path.is_file() and path.suffix not in (".db", ".db-wal", ".db-shm") and "octra.db" not in path.name:
            try:
                assert token not in path.read_text(errors="ignore"), path
            except (PermissionError, IsADirectoryError):
                pass


def test_octractl_github_commands(daemon, gh):
    daemon.ctl("settings", "set", "github_api_url", gh.url)
    out = daemon.ctl("github", "status")
    assert out.returncode == 0 and "token: none" in out.stdout, out.stdout + out.stderr
    out = daemon.ctl("github", "token", "set", input=gh.token + "\n")
    assert out.returncode == 0 and "octra-bot" in out.stdout and gh.token not in out.stdout, out.stderr
    out = daemon.ctl("--json", "github", "status", "--check")
    assert json.loads(out.stdout)["user"] == "octra-bot" and gh.token not in out.stdout
    bad = daemon.ctl("github", "token", "set", input="ghp_wrong_token_123456\n")
    assert bad.returncode != 0 and "401" in bad.stderr and "ghp_wrong_token_123456" not in bad.stderr
    assert daemon.ctl("github", "token", "clear").returncode == 0
    assert "token: none" in daemon.ctl("github", "status").stdout


async def test_a_deleted_fork_is_made_again_on_a_repeat_run(daemon, gh):
    with_issue(gh, push=False)
    gh.fork_polls = 0
    async with daemon.connect() as c:
        await configure(c, gh)
        first = await run_task(c, f"Fix {ISSUE}", meta={"publish_repositories": True})
        assert first["status"] == "done", first["error"]
        shutil.rmtree(gh.repos.pop("octra-bot/widget").bare)
        second = await run_task(c, f"Fix {ISSUE} again", meta={"publish_repositories": True})
        assert second["status"] == "done", second["error"]
    assert len(gh.calls("POST", r"/repos/acme/widget/forks")) == 2
    assert gh.branch_sha("octra-bot/widget", "octra/issue-3") is not None
    assert any("is gone; forking acme/widget again" in n for n in second["notes"])


def path_without_nix(tmp_path: Path) -> str:
    """A PATH with every tool of this machine but Nix."""
    bin_dir = tmp_path / "bin-no-nix"
    bin_dir.mkdir()
    for folder in os.environ.get("PATH", "").split(os.pathsep):
        if not folder or not os.path.isdir(folder):
            continue
        for name in os.listdir(folder):
            if name.startswith("nix") or (bin_dir / name).exists():
                continue
            (bin_dir / name).symlink_to(os.path.join(folder, name))
    return str(bin_dir)


async def test_without_nix_publishing_uses_the_folder_and_a_repeat_run_continues_the_pushed_branch(daemon, gh, tmp_path):
    with_issue(gh, push=False)
    gh.fork_polls = 0
    daemon.stop()
    daemon.start(env={"PATH": path_without_nix(tmp_path)})
    async with daemon.connect() as c:
        assert (await c.call("daemon.status"))["nix_available"] is False
        await configure(c, gh)
        first = await run_task(c, f"Fix {ISSUE}", meta={"create_pull_requests": True})
        assert first["status"] == "done", first["error"]
        assert first["store_path"] is None and any("snapshot skipped" in n for n in first["notes"])
        first_sha = gh.branch_sha("octra-bot/widget", "octra/issue-3")
        assert first_sha is not None
        # another project, no snapshot anywhere: a fresh clone continues from the branch on the fork
        second = await run_task(c, "carry on with the issue", issue_url=ISSUE, project="second",
                                meta={"create_pull_requests": True})
        assert second["status"] == "done", second["error"]
    fork_bare = gh.repos["octra-bot/widget"].bare
    second_sha = gh.branch_sha("octra-bot/widget", "octra/issue-3")
    # (a branch started afresh from main would have been refused by the fork as not a fast-forward)
    assert git_in(fork_bare, "merge-base", "--is-ancestor", first_sha, second_sha) == ""
    assert len(gh.calls("POST", r"/repos/acme/widget/forks")) == 1 and len(gh.pulls["acme/widget"]) == 1
