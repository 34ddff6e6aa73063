"""A small client of the GitHub REST API over httpx: the calls Octra makes,
and GitHub's failures turned into task errors that say what went wrong.

The token travels only in the Authorization header of these requests; it is
registered with the redactor by whoever loads it, so it never shows in an
error, a log line or an event.
"""

from __future__ import annotations

import logging
import time
from typing import Any
from urllib.parse import quote

import anyio
import httpx

from octra_protocol.errors import CODES, RpcError

from ..redact import redact
from ..retry import parse_retry_after

log = logging.getLogger(__name__)

API_VERSION = "2022-11-28"
#: secondary rate limits asking to wait longer than this fail at once (seconds)
MAX_RETRY_WAIT = 60.0


class GitHubError(RpcError):
    """A failed GitHub call: ``status`` is the HTTP status (0: no answer)."""

    def __init__(self, kind: str, message: str, status: int, **data: Any):
        # GitHub's own words are quoted, and they may quote the request: masked before anything keeps them
        super().__init__(CODES[kind], redact(message), {"kind": kind, "service": "github", "status": status, **data})
        self.status = status


def _message(resp: httpx.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return resp.text.strip()[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    msg = str(body.get("message") or "").strip()
    details = []
    for e in body.get("errors") or []:
        if isinstance(e, dict):
            details.append(e.get("message") or " ".join(str(e.get(k)) for k in ("resource", "field", "code") if e.get(k)))
        else:
            details.append(str(e))
    if details:
        msg = f"{msg}: {'; '.join(d for d in details if d)}" if msg else "; ".join(details)
    return msg[:500]


def is_secondary_limit(resp: httpx.Response) -> bool:
    if resp.status_code not in (403, 429):
        return False
    return "retry-after" in resp.headers or "secondary rate limit" in resp.text.lower()


def is_primary_limit(resp: httpx.Response) -> bool:
    return resp.status_code in (403, 429) and resp.headers.get("x-ratelimit-remaining") == "0"


def error_for(resp: httpx.Response, doing: str) -> GitHubError:
    """The task error for a failed answer to ``doing`` (e.g. "reading issue #3 of acme/widget")."""
    status = resp.status_code
    msg = _message(resp) or resp.reason_phrase
    if is_primary_limit(resp):
        reset = resp.headers.get("x-ratelimit-reset")
        when = ""
        if reset and reset.isdigit():
            wait = max(0, int(reset) - int(time.time()))
            when = f"; it resets at {time.strftime('%H:%M:%S UTC', time.gmtime(int(reset)))} (in {wait} s)"
        return GitHubError("unavailable", f"GitHub rate limit exhausted while {doing}{when}", status,
                           rate_limit="primary", reset=reset)
    if is_secondary_limit(resp):
        wait = parse_retry_after(resp.headers)
        after = f"; GitHub asks to wait {wait:.0f} s" if wait is not None else ""
        return GitHubError("unavailable", f"GitHub secondary rate limit hit while {doing}{after}: {msg}", status,
                           rate_limit="secondary", retry_after=wait)
    if status == 401:
        return GitHubError("forbidden", f"GitHub rejected the token while {doing} (401 {msg}); set a valid one with "
                                        "`octractl github token set` or GITHUB_TOKEN", status)
    if status == 403:
        return GitHubError("forbidden", f"GitHub refused {doing} (403 {msg})", status)
    if status == 404:
        return GitHubError("not_found", f"GitHub found nothing while {doing} (404 {msg}): it does not exist, "
                                        "or the token cannot see it", status)
    if status in (409, 422):
        return GitHubError("conflict", f"GitHub did not accept {doing} ({status} {msg})", status)
    return GitHubError("unavailable", f"GitHub failed while {doing} ({status} {msg})", status)


class GitHubClient:
    """``async with GitHubClient(api_url, token) as gh: await gh.issue(...)``."""

    def __init__(self, api_url: str, token: str | None, *, timeout: float = 30.0,
                 max_retry_wait: float = MAX_RETRY_WAIT, transport: httpx.AsyncBaseTransport | None = None):
        from .. import __version__

        headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION,
                   "User-Agent": f"octra/{__version__}"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self.api_url = api_url.rstrip("/")
        self.max_retry_wait = max_retry_wait
        self._http = httpx.AsyncClient(base_url=self.api_url + "/", headers=headers, timeout=timeout,
                                       transport=transport, follow_redirects=True)
        self.has_token = bool(token)
        #: the Date header of the last answer (GitHub's clock)
        self.last_date: str | None = None

    async def __aenter__(self) -> "GitHubClient":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    # -- plumbing -------------------------------------------------------------
    async def request(self, method: str, path: str, doing: str, *, ok: tuple[int, ...] = (200, 201, 202),
                      **kw: Any) -> httpx.Response:
        """One call, with secondary rate limits and 5xx retried a bounded number of times."""
        attempts = 0
        while True:
            attempts += 1
            try:
                resp = await self._http.request(method, path.lstrip("/"), **kw)
            except httpx.TransportError as exc:
                if attempts < 3:
                    await anyio.sleep(0.5 * attempts)
                    continue
                raise GitHubError("unavailable", f"GitHub could not be reached at {self.api_url} while {doing}: "
                                                 f"{type(exc).__name__}: {exc}", 0) from None
            self.last_date = resp.headers.get("date") or self.last_date
            if resp.status_code in ok:
                return resp
            if attempts < 3 and is_secondary_limit(resp) and not is_primary_limit(resp):
                wait = parse_retry_after(resp.headers)
                wait = 60.0 if wait is None else wait
                if wait <= self.max_retry_wait:
                    log.info("GitHub secondary rate limit while %s: waiting %.1f s", doing, wait)
                    await anyio.sleep(wait)
                    continue
            if attempts < 3 and resp.status_code in (500, 502, 503, 504):
                await anyio.sleep(0.5 * attempts)
                continue
            raise error_for(resp, doing)

    async def _json(self, method: str, path: str, doing: str, **kw: Any) -> Any:
        return (await self.request(method, path, doing, **kw)).json()

    # -- the calls --------------------------------------------------------------
    async def user(self) -> dict:
        """The token's user."""
        if not self.has_token:
            raise GitHubError("forbidden", "no GitHub token: set one with `octractl github token set` or GITHUB_TOKEN", 0)
        return await self._json("GET", "user", "reading the token's user")

    async def repo(self, full_name: str) -> dict:
        """A repository, with ``permissions`` of the caller when authenticated."""
        return await self._json("GET", f"repos/{_path(full_name)}", f"reading the repository {full_name}")

    async def create_repo(self, name: str, *, description: str = "", private: bool = True) -> dict:
        return await self._json("POST", "user/repos", f"creating the repository {name!r}",
                                json={"name": name, "description": description[:350], "private": private,
                                      "auto_init": False})

    async def fork(self, full_name: str) -> dict:
        """Ask for a fork under the token's user (GitHub answers 202 and makes it in the background)."""
        return await self._json("POST", f"repos/{_path(full_name)}/forks", f"forking {full_name}", json={})

    async def wait_fork_ready(self, fork_full_name: str, branch: str, *, timeout: float = 120.0,
                              interval: float = 0.25) -> None:
        """Poll until the fork's ``branch`` exists (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        polls = 0
        while True:
            polls += 1
            resp = await self.request("GET", f"repos/{_path(fork_full_name)}/branches/{quote(branch, safe='')}",
                                      f"waiting for the fork {fork_full_name}", ok=(200, 404, 409))
            if resp.status_code == 200:
                log.info("fork %s ready after %d poll(s)", fork_full_name, polls)
                return
            if time.monotonic() + interval > deadline:
                raise GitHubError("unavailable", f"the fork {fork_full_name} was not ready after {timeout:g} s "
                                                 f"({polls} checks); try again later", resp.status_code)
            await anyio.sleep(interval)
            interval = min(interval * 1.5, 5.0)

    async def sync_fork(self, fork_full_name: str, branch: str) -> dict:
        """Bring the fork's ``branch`` up to date with its upstream (GitHub's merge-upstream)."""
        return await self._json("POST", f"repos/{_path(fork_full_name)}/merge-upstream",
                                f"syncing the fork {fork_full_name} with its upstream", json={"branch": branch})

    async def issue(self, full_name: str, number: int) -> dict:
        return await self._json("GET", f"repos/{_path(full_name)}/issues/{number}", f"reading issue #{number} of {full_name}")

    async def comments(self, full_name: str, number: int, since: str | None = None, max_pages: int = 20) -> list[dict]:
        """The issue's comments, oldest first (only those updated at or after ``since``, an ISO time)."""
        params: dict[str, Any] = {"per_page": 100}
        if since:
            params["since"] = since
        doing = f"reading the comments of issue #{number} of {full_name}"
        out: list[dict] = []
        resp = await self.request("GET", f"repos/{_path(full_name)}/issues/{number}/comments", doing, params=params)
        for _ in range(max_pages):
            out.extend(resp.json())
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                break
            if not nxt.startswith(self.api_url + "/"):  # the token goes only to the configured API
                raise GitHubError("provider_error", f"GitHub pointed to a next page outside {self.api_url} while {doing}", 0)
            resp = await self.request("GET", nxt, doing)
        return out

    async def create_pull(self, full_name: str, *, title: str, head: str, base: str, body: str) -> dict:
        return await self._json("POST", f"repos/{_path(full_name)}/pulls", f"opening a pull request on {full_name} from {head}",
                                json={"title": title, "head": head, "base": base, "body": body,
                                      "maintainer_can_modify": True})

    async def find_pull(self, full_name: str, head: str) -> dict | None:
        """The open pull request from ``head`` ("owner:branch"), if any."""
        found = await self._json("GET", f"repos/{_path(full_name)}/pulls", f"looking for a pull request from {head}",
                                 params={"head": head, "state": "open", "per_page": 10})
        return found[0] if found else None


def _path(full_name: str) -> str:
    owner, _, name = full_name.partition("/")
    return f"{quote(owner, safe='')}/{quote(name, safe='')}"
