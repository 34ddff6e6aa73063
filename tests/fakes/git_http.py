"""git's smart HTTP protocol for the fake GitHub, over its local bare
repositories: the request goes to ``git http-backend`` (CGI), so clones and
pushes are real git over real HTTP.  Basic auth carries the token as the
password, as GitHub takes it; a private repository or a push without it is
401, a push without permission (or to a repository in ``deny_push``) 403, a
repository the user may not see (or a fork not ready yet) 404.
"""

from __future__ import annotations

import base64
import os
import re
import subprocess
from urllib.parse import parse_qs


class GitSmartHttp:
    """Mixed into the fake GitHub's request handler, which routes ``/git/...`` here."""

    def _git(self, method: str, path: str, query: str, body: bytes) -> None:
        gh = self.owner
        m = re.fullmatch(r"/git/([^/]+)/([^/]+)\.git(/.*)", path)
        if not m:
            self._error(404, "Not Found")
            return
        owner, name, rest = m.groups()
        service = parse_qs(query).get("service", [""])[0] or rest.rsplit("/", 1)[-1]
        user = None
        auth = self.headers.get("authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                _, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                password = ""
            user = gh.users.get(password)
        with gh._lock:
            gh.git_requests.append((method, path, service, user))
        repo = gh.repos.get(f"{owner}/{name}".lower())
        writing = service == "git-receive-pack"
        if repo is None or repo.pending > 0:
            self._plain(404, b"Repository not found.\n")
            return
        if (repo.private or writing) and user is None:
            self._plain(401, b"Authentication required\n", {"WWW-Authenticate": 'Basic realm="GitHub"'})
            return
        if not gh.visible(repo, user):
            self._plain(404, b"Repository not found.\n")
            return
        if writing and (repo.full_name.lower() in gh.deny_push or (user != repo.owner and user not in repo.push_users)):
            self._plain(403, f"Permission to {repo.full_name}.git denied to {user}.\n".encode())
            return
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "GIT_PROJECT_ROOT": str(gh.git_root),
            "GIT_HTTP_EXPORT_ALL": "1", "PATH_INFO": f"/{owner.lower()}/{name.lower()}.git{rest}",
            "REQUEST_METHOD": method, "QUERY_STRING": query, "CONTENT_TYPE": self.headers.get("content-type", ""),
            "CONTENT_LENGTH": str(len(body)), "REMOTE_USER": user or "anonymous", "REMOTE_ADDR": "127.0.0.1",
            "GIT_HTTP_MAX_REQUEST_BUFFER": "100M", "HOME": str(gh.root),
        }
        if self.headers.get("content-encoding"):
            env["HTTP_CONTENT_ENCODING"] = self.headers["content-encoding"]
        if self.headers.get("git-protocol"):
            env["GIT_PROTOCOL"] = self.headers["git-protocol"]
        out = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True)
        head, sep, payload = out.stdout.partition(b"\r\n\r\n")
        if not sep:
            head, _, payload = out.stdout.partition(b"\n\n")
        status, headers = 200, {}
        for line in head.decode(errors="replace").splitlines():
            k, _, v = line.partition(":")
            if k.lower() == "status":
                status = int(v.strip().split()[0])
            elif k:
                headers[k.strip()] = v.strip()
        self.send_response(status)
        for k, v in headers.items():
            if k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _plain(self, status: int, data: bytes, headers: dict | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
