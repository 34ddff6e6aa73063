"""Issue URLs: recognising them in a task, and the hosts they may live on.

An issue URL names a repository and an issue number on github.com or on the
configured web host (GitHub Enterprise, or the fake in tests); it is resolved
through the configured API, never by scraping the page.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_API = "https://api.github.com"
_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,99})"
_ISSUE = re.compile(
    rf"(?P<scheme>https?)://(?P<host>[A-Za-z0-9.-]+(?::\d+)?)/(?P<owner>{_NAME})/(?P<repo>{_NAME})/issues/(?P<number>\d{{1,9}})\b"
)


@dataclass(frozen=True)
class IssueRef:
    scheme: str
    host: str
    owner: str
    repo: str
    number: int

    @property
    def full_name(self) -> str:
        return f"{self.owner}/{self.repo}"

    @property
    def url(self) -> str:
        """The normalised URL: lower-case host, owner and name (GitHub's names are case-insensitive)."""
        return f"{self.scheme}://{self.host}/{self.owner}/{self.repo}/issues/{self.number}"

    @property
    def branch(self) -> str:
        return f"octra/issue-{self.number}"


def web_host(api_url: str) -> str:
    """The web host that goes with an API: api.github.com -> github.com;
    GitHub Enterprise (https://HOST/api/v3) -> HOST; anything else -> its own host."""
    host = (urlsplit(api_url).netloc or "").lower()
    if host == "api.github.com":
        return "github.com"
    if host.startswith("api.") and host.endswith(".ghe.com"):
        return host[4:]
    return host


def find_issue(text: str, hosts: set[str]) -> IssueRef | None:
    """The first issue URL in ``text`` on one of ``hosts`` (lower-case, with port if any)."""
    for m in _ISSUE.finditer(text or ""):
        host = m.group("host").lower()
        if host not in hosts:
            continue
        repo = m.group("repo")
        if repo.endswith(".git"):
            repo = repo[:-4]
        scheme = "https" if host == "github.com" else m.group("scheme").lower()
        return IssueRef(scheme, host, m.group("owner").lower(), repo.lower(), int(m.group("number")))
    return None
