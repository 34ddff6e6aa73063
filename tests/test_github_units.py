"""The GitHub client and issue URLs, in-process against the fake GitHub."""

from __future__ import annotations

import time

import pytest

from octrad.github import gitops
from octrad.github.client import GitHubClient, GitHubError
from octrad.github.urls import find_issue, web_host
from octrad.redact import register
from tests.fakes.github import FakeGitHub, Fault


@pytest.fixture
def gh(tmp_path):
    with FakeGitHub(tmp_path / "gh") as fake:
        fake.add_repo("acme/widget", {"README.md": "# w\n"}, pull_users={"octra-bot"})
        fake.add_issue("acme/widget", 3, "Title", "Body")
        yield fake


def test_issue_urls_on_known_hosts_only():
    hosts = {"github.com", web_host("https://ghe.example.com/api/v3")}
    ref = find_issue("please fix https://github.com/Acme/Widget/issues/12#issuecomment-1 today", hosts)
    assert ref.url == "https://github.com/acme/widget/issues/12" and ref.full_name == "acme/widget"
    assert ref.branch == "octra/issue-12"
    assert find_issue("see http://ghe.example.com/team/tool/issues/4", hosts).url == "http://ghe.example.com/team/tool/issues/4"
    assert find_issue("https://gitlab.com/a/b/issues/1", hosts) is None
    assert find_issue("https://github.com/a/b/pull/1", hosts) is None
    assert find_issue("https://github.com/a/b/issues/", hosts) is None
    assert web_host("https://api.github.com") == "github.com"
    assert web_host("http://127.0.0.1:8080") == "127.0.0.1:8080"


async def test_errors_say_what_failed(gh):
    async with GitHubClient(gh.url, "ghp_unknown_token_0000") as c:
        with pytest.raises(GitHubError) as info:
            await c.issue("acme/widget", 3)
        assert info.value.kind == "forbidden" and info.value.status == 401
        assert "rejected the token" in info.value.message and "issue #3 of acme/widget" in info.value.message
    async with GitHubClient(gh.url, gh.token) as c:
        with pytest.raises(GitHubError) as info:
            await c.issue("acme/widget", 4)
        assert info.value.kind == "not_found" and "404" in info.value.message
        gh.fault("GET", "/repos/acme/widget", Fault(403, "Resource not accessible by integration"))
        with pytest.raises(GitHubError) as info:
            await c.repo("acme/widget")
        assert info.value.kind == "forbidden" and "Resource not accessible" in info.value.message
        gh.fault("POST", "/repos/acme/widget/pulls", Fault(422, "Validation Failed",
                                                          errors=[{"resource": "PullRequest", "field": "head", "code": "invalid"}]))
        with pytest.raises(GitHubError) as info:
            await c.create_pull("acme/widget", title="t", head="x", base="main", body="")
        assert info.value.kind == "conflict" and "PullRequest head invalid" in info.value.message
        gh.fault("GET", "/user", Fault.rate_limited())
        with pytest.raises(GitHubError) as info:
            await c.user()
        assert info.value.kind == "unavailable" and "rate limit exhausted" in info.value.message
        assert "resets at" in info.value.message and info.value.data["rate_limit"] == "primary"


async def test_secondary_rate_limits_are_waited_out_when_short(gh):
    async with GitHubClient(gh.url, gh.token) as c:
        gh.fault("GET", "/user", Fault.secondary(retry_after=0.2), Fault.secondary(retry_after=0))
        t0 = time.monotonic()
        assert (await c.user())["login"] == "octra-bot"
        assert time.monotonic() - t0 >= 0.2
        assert len(gh.calls("GET", "/user")) == 3
    async with GitHubClient(gh.url, gh.token, max_retry_wait=5) as c:
        gh.fault("GET", "/user", Fault.secondary(retry_after=600))
        with pytest.raises(GitHubError) as info:
            await c.user()
        assert info.value.data["rate_limit"] == "secondary" and "wait 600 s" in info.value.message


async def test_comments_follow_pages_and_since(gh):
    old = [gh.add_comment("acme/widget", 3, "a", f"c{i}", created_at="2020-01-01T00:00:00Z") for i in range(130)]
    new = gh.add_comment("acme/widget", 3, "b", "fresh", created_at="2030-01-01T00:00:00Z")
    async with GitHubClient(gh.url, gh.token) as c:
        everything = await c.comments("acme/widget", 3)
        assert [x["id"] for x in everything] == [x["id"] for x in [*old, new]]
        assert len(gh.calls("GET", "/repos/acme/widget/issues/3/comments")) == 2
        assert [x["body"] for x in await c.comments("acme/widget", 3, since="2025-01-01T00:00:00Z")] == ["fresh"]


async def test_fork_wait_is_bounded(gh):
    gh.fork_polls = 1000
    async with GitHubClient(gh.url, gh.token) as c:
        fork = await c.fork("acme/widget")
        assert fork["full_name"] == "octra-bot/widget"
        with pytest.raises(GitHubError) as info:
            await c.wait_fork_ready(fork["full_name"], "main", timeout=0.3, interval=0.05)
        assert info.value.kind == "unavailable" and "not ready after 0.3 s" in info.value.message


async def test_credentials_reach_git_for_one_command_only(gh, tmp_path):
    gh.repos["acme/widget"].private = True
    register(gh.token)
    clone = gh.repo_json(gh.repos["acme/widget"], None)["clone_url"]
    with pytest.raises(gitops.GitFailed) as info:
        await gitops.run_git(["clone", clone, str(tmp_path / "a")], cwd=None, token=None, tmp_root=tmp_path / "t", what="clone")
    assert info.value.unauthenticated
    await gitops.run_git(["clone", clone, str(tmp_path / "b")], cwd=None, token=gh.token, tmp_root=tmp_path / "t", what="clone")
    assert (tmp_path / "b" / "README.md").read_text() == "# w\n"
    assert gh.token not in (tmp_path / "b" / ".git" / "config").read_text()
    assert list((tmp_path / "t").iterdir()) == []
    env = gitops.git_env()
    assert gh.token not in repr(env) and env["GIT_TERMINAL_PROMPT"] == "0"


def test_issue_text_for_the_boss_is_bounded():
    from octrad.github.service import MAX_COMMENTS, format_issue

    ref = find_issue("https://github.com/a/b/issues/1", {"github.com"})
    issue = {"title": "T", "body": "B", "user": {"login": "u"}, "state": "open"}
    comments = [{"id": i, "body": f"c{i} " + "x" * (5000 if i == 99 else 10), "user": {"login": "v"},
                 "created_at": "2026-01-01T00:00:00Z"} for i in range(100)]
    text = format_issue(ref, issue, comments, new_since=None)
    assert "Title: T" in text and "\nB" in text and "c99" in text and "c0 " not in text
    assert f"({100 - MAX_COMMENTS} earlier comment(s) left out)" in text and "[...]" in text
    assert len(text) < 20_000
    assert "NEW COMMENTS" in format_issue(ref, issue, [], new_since="2026-01-01T00:00:00Z")


def test_the_credential_helper_answers_only_for_its_host(tmp_path):
    import subprocess

    from octrad.github.gitops import credentials, git_env

    def fill(opts, host):
        out = subprocess.run(["git", *opts, "credential", "fill"], input=f"protocol=https\nhost={host}\n\n",
                             capture_output=True, text=True, env={**git_env(), "GIT_TERMINAL_PROMPT": "0"}, timeout=30)
        return out.stdout

    with credentials("ghp_secret_for_github_only_0000", tmp_path, "github.com") as opts:
        assert "password=ghp_secret_for_github_only_0000" in fill(opts, "github.com")
        assert "ghp_secret" not in fill(opts, "evil.example")
