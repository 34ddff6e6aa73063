"""Where the GitHub token comes from: stored with ``github.set_token`` (table
``credentials``), else ``GITHUB_TOKEN``.  Every token is registered with the
redactor the moment it is loaded."""

from __future__ import annotations

import time

from .. import secretenv
from ..redact import register
from ..store import Database

NAME = "github_token"


class TokenStore:
    def __init__(self, db: Database, environ: dict[str, str] | None = None):
        self.db = db
        self._env = secretenv.get("GITHUB_TOKEN") if environ is None else ((environ.get("GITHUB_TOKEN") or "").strip() or None)
        register(self._env)

    async def get(self) -> tuple[str | None, str | None]:
        """(token, source) where source is "stored", "env" or None."""
        stored = await self.db.scalar("SELECT secret FROM credentials WHERE name = ?", (NAME,))
        if stored:
            register(stored)
            return stored, "stored"
        if self._env:
            return self._env, "env"
        return None, None

    async def set(self, token: str | None) -> None:
        if token is None:
            await self.db.execute("DELETE FROM credentials WHERE name = ?", (NAME,))
            return
        register(token)
        await self.db.execute(
            "INSERT INTO credentials(name, secret, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(name) DO UPDATE SET secret = excluded.secret, updated_at = excluded.updated_at",
            (NAME, token, time.time()),
        )
