"""The database: one writer connection (all writes serialised through it, in
explicit transactions) and one reader connection (WAL lets it read committed
data while the writer works)."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Iterable, Sequence

import aiosqlite
import anyio

from .migrations import MIGRATIONS

SCHEMA_VERSION = len(MIGRATIONS)


def private_files(db_path: str) -> None:
    """The data folder 0700 (even when it was there already), the database 0600 before
    SQLite opens it: SQLite creates the WAL and SHM with the database's own mode, so
    they are 0600 from their first byte too.  Files left wider by older versions are
    tightened."""
    db = Path(db_path)
    folder = db.parent
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if folder.stat().st_uid == os.getuid():
        os.chmod(folder, 0o700)
    os.close(os.open(db, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600))
    for f in (db, Path(f"{db}-wal"), Path(f"{db}-shm"), Path(f"{db}-journal")):
        try:
            if stat.S_IMODE(f.stat().st_mode) != 0o600:
                os.chmod(f, 0o600)
        except FileNotFoundError:
            pass


class Database:
    def __init__(self, path: str | Path):
        self.path = str(path)
        self._w: aiosqlite.Connection | None = None
        self._r: aiosqlite.Connection | None = None
        self._lock = anyio.Lock()

    async def open(self) -> "Database":
        private_files(self.path)
        self._w = await self._connect()
        await self._w.execute("PRAGMA secure_delete=ON")  # deleted rows leave no bytes behind
        await self._w.execute("PRAGMA journal_mode=WAL")
        await self._migrate()
        self._r = await self._connect()
        await self._r.execute("PRAGMA query_only=ON")
        return self

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(self.path, isolation_level=None, timeout=30)
        conn.row_factory = sqlite3.Row
        await conn.execute("PRAGMA synchronous=NORMAL")
        await conn.execute("PRAGMA foreign_keys=ON")
        await conn.execute("PRAGMA busy_timeout=30000")
        return conn

    async def _migrate(self) -> None:
        w = self._w
        assert w is not None
        await w.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at REAL NOT NULL)")
        async with w.execute("SELECT COALESCE(MAX(version), 0) FROM schema_version") as cur:
            (current,) = await cur.fetchone()
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"database {self.path} has schema version {current}, newer than this octrad ({SCHEMA_VERSION})"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            script = MIGRATIONS[version - 1]
            await w.executescript(
                "BEGIN;\n" + script + f"\nINSERT INTO schema_version VALUES ({version}, {time.time()});\nCOMMIT;"
            )

    async def close(self) -> None:
        for conn in (self._r, self._w):
            if conn is not None:
                await conn.close()
        self._r = self._w = None

    # -- writes -----------------------------------------------------------
    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """Run several writes atomically; nothing else writes meanwhile."""
        async with self._lock:
            w = self._w
            assert w is not None, "database is closed"
            # shielded: a cancel must not leave BEGIN run in aiosqlite's thread
            # with nobody here to finish the transaction
            with anyio.CancelScope(shield=True):
                await w.execute("BEGIN IMMEDIATE")
            try:
                yield w
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await w.execute("ROLLBACK")
                raise
            else:
                with anyio.CancelScope(shield=True):
                    await w.execute("COMMIT")

    async def execute(self, sql: str, params: Sequence[Any] | dict = ()) -> int:
        """One write in its own transaction; returns the last row id."""
        async with self.transaction() as w:
            cur = await w.execute(sql, params)
            return cur.lastrowid or 0

    async def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        async with self.transaction() as w:
            await w.executemany(sql, rows)

    async def scrub(self) -> None:
        """Rewrite the whole file and empty the WAL: after secrets were removed, no stale
        page (free pages, old WAL frames) keeps a copy of them."""
        async with self._lock:
            w = self._w
            assert w is not None, "database is closed"
            with anyio.CancelScope(shield=True):
                await w.execute("VACUUM")
                await w.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- reads ------------------------------------------------------------
    async def fetchall(self, sql: str, params: Sequence[Any] | dict = ()) -> list[sqlite3.Row]:
        assert self._r is not None, "database is closed"
        async with self._r.execute(sql, params) as cur:
            return list(await cur.fetchall())

    async def fetchone(self, sql: str, params: Sequence[Any] | dict = ()) -> sqlite3.Row | None:
        assert self._r is not None, "database is closed"
        async with self._r.execute(sql, params) as cur:
            return await cur.fetchone()

    async def scalar(self, sql: str, params: Sequence[Any] | dict = ()) -> Any:
        row = await self.fetchone(sql, params)
        return None if row is None else row[0]
