"""Projects: a name, a working folder under the data folder, and their tasks.

Parameters named ``project`` take an id or a name; :meth:`Projects.resolve`
turns either into the row, or a not_found error.
"""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from octra_protocol.errors import RpcError

from .store import Database

_SLUG = re.compile(r"[^a-z0-9]+")


_FILLER = {"a", "an", "the"}


def slugify(text: str, limit: int = 40) -> str:
    """A folder- and package-friendly name: lowercase words joined by '-', cut at a
    word boundary.  Any script is transliterated first (``anyascii``: "утилита" ->
    "utilita", "计算器" -> "jisuanqi"), so non-Latin descriptions keep their words."""
    from anyascii import anyascii

    words = [w for w in _SLUG.sub(" ", anyascii(text).lower()).split() if w]
    while len(words) > 1 and words[0] in _FILLER:
        words.pop(0)
    slug = ""
    for w in words:
        if len(slug) + len(w) + (1 if slug else 0) > limit:
            break
        slug = f"{slug}-{w}" if slug else w
    return slug or (words[0][:limit] if words else "project")


@dataclass
class Project:
    id: str
    name: str
    path: str
    stack: str | None
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row) -> "Project":
        return cls(row["id"], row["name"], row["path"], row["stack"], row["created_at"], row["updated_at"])


class Projects:
    def __init__(self, db: Database, projects_dir: Path):
        self.db = db
        self.dir = Path(projects_dir)

    async def get(self, key: str) -> Project | None:
        row = await self.db.fetchone("SELECT * FROM projects WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1", (key, key, key))
        return Project.from_row(row) if row else None

    async def resolve(self, key: str) -> Project:
        project = await self.get(key)
        if project is None:
            raise RpcError.of("not_found", f"no project {key!r} (give a project id or name)")
        return project

    async def create(self, name: str | None, *, hint: str = "", stack: str | None = None) -> Project:
        """A new project; without a name, one is made from ``hint`` (unique)."""
        base = slugify(name or hint)
        pid = "p" + secrets.token_hex(5)
        now = time.time()
        candidate = base
        for n in range(2, 1000):
            if await self.get(candidate) is None:
                break
            if name:
                raise RpcError.of("conflict", f"a project named {name!r} exists")
            candidate = f"{base}-{n}"
        path = self.dir / f"{candidate}-{pid[1:5]}"
        await self.db.execute(
            "INSERT INTO projects(id, name, path, stack, created_at, updated_at) VALUES (?,?,?,?,?,?)",
            (pid, candidate, str(path), stack, now, now),
        )
        return Project(pid, candidate, str(path), stack, now, now)

    async def get_or_create(self, key: str | None, *, hint: str = "", stack: str | None = None) -> Project:
        if key:
            # "My App" names the project created as my-app
            found = await self.get(key) or await self.get(slugify(key))
            if found is not None:
                return found
        return await self.create(key, hint=hint, stack=stack)

    async def list(self) -> list[dict]:
        rows = await self.db.fetchall(
            """SELECT p.*, COUNT(t.id) AS tasks, MAX(t.updated_at) AS last_activity
               FROM projects p LEFT JOIN tasks t ON t.project_id = p.id
               GROUP BY p.id ORDER BY COALESCE(MAX(t.updated_at), p.updated_at) DESC"""
        )
        return [
            {
                "id": r["id"], "name": r["name"], "path": r["path"], "stack": r["stack"],
                "tasks": r["tasks"], "created_at": r["created_at"],
                "updated_at": r["last_activity"] or r["updated_at"],
                "exists": Path(r["path"]).exists(),
            }
            for r in rows
        ]
