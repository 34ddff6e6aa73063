"""The ``replay`` provider: answers a task's calls from another task's
recorded ``llm_calls`` ("describe once, rebuild forever").

Calls are matched by (role, step, attempt), not by prompt text, so a rebuild
whose prompts differ slightly (new context, other paths) still gets the same
answers.  When a task asks the same (role, step, attempt) several times, the
recordings are handed out in their original order.  A call with no recording
is a clear error, never a guess.  An exchange that got no answer (a server
that refused a structured-output mode, say) and was followed by another try
of the same attempt is skipped: the try that followed is what is replayed.
"""

from __future__ import annotations

from collections import defaultdict

import anyio
import msgspec

from octra_protocol.errors import RpcError

from ..store import Database
from .types import CallSite

Key = tuple[str, str, int]


class Recording(msgspec.Struct):
    response: str | None
    error: str | None
    model: str
    provider: str


class Replayer:
    def __init__(self, db: Database):
        self.db = db
        self._sources: dict[str, dict[Key, list[Recording]]] = {}
        #: (replaying task, source task, key) -> recordings already used
        self._cursor: dict[tuple[str | None, str, Key], int] = defaultdict(int)
        self._lock = anyio.Lock()

    @staticmethod
    def source_of(site: CallSite) -> str:
        src = site.meta.get("replay_from")
        if not isinstance(src, str) or not src:
            raise RpcError.of(
                "provider_error",
                "the replay provider needs the task id to replay from in meta.replay_from",
                provider="replay",
            )
        return src

    async def _load(self, src: str) -> dict[Key, list[Recording]]:
        table = self._sources.get(src)
        if table is None:
            rows = await self.db.fetchall(
                "SELECT role, step, attempt, response, error, model, provider FROM llm_calls "
                "WHERE task_id = ? AND error IS NOT 'cancelled' ORDER BY id",
                (src,),
            )
            if not rows:
                raise RpcError.of("provider_error", f"replay: task {src!r} has no recorded LLM calls", provider="replay")
            table = defaultdict(list)
            for r in rows:
                table[(r[0] or "", r[1] or "", int(r[2]))].append(Recording(r[3], r[4], r[5] or "", r[6]))
            for key, recs in table.items():
                table[key] = [r for i, r in enumerate(recs) if r.response is not None or i == len(recs) - 1]
            self._sources[src] = table
        return table

    async def next(self, site: CallSite, attempt: int) -> Recording:
        """The recording for this call; raises provider_error on a miss."""
        src = self.source_of(site)
        key = (site.role, site.step, attempt)
        async with self._lock:
            table = await self._load(src)
            recs = table.get(key, [])
            cursor = (site.task_id, src, key)
            n = self._cursor[cursor]
            if n >= len(recs):
                had = f"only {len(recs)} recording(s) of it" if recs else "no recording of it"
                raise RpcError.of(
                    "provider_error",
                    f"replay: task {src!r} has {had} for role {site.role!r}, step {site.step!r}, attempt {attempt}",
                    provider="replay", role=site.role, step=site.step, attempt=attempt,
                )
            self._cursor[cursor] = n + 1
        rec = recs[n]
        if rec.response is None:
            raise RpcError.of(
                "provider_error",
                f"replay: the recorded call (role {site.role!r}, step {site.step!r}, attempt {attempt}) failed: {rec.error}",
                provider="replay",
            )
        return rec
