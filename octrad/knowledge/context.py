"""The context service: what every agent is told about the project, as small
structured entries instead of a growing conversation (DESIGN.md section 8).

Contract (``daemon.context``, created by ``octrad.api.context.setup``)::

    svc = ContextService(db, bus=daemon.bus)
    entry = await svc.add(project_id, "team", "interface", "GET /users returns ...",
                          important=False, source_agent="a-12", target="a-3")
    entries = await svc.list(project_id, scope=None, include_forgotten=False)
    n = await svc.forget(project_id, "postgres")          # entries containing it
    block = await svc.for_prompt(project_id, agent="a-12", team="a-3")   # GetForPrompt
    outcome = await svc.save_from_answer(project_id, "a-12", "a-3", answer.context, task_id=t)
    n = await svc.end_team(project_id, "a-3")             # the manager finished

Scopes and ``target``:

- ``global``: every agent of the project sees it; ``target`` is None.  Kept
  until forgotten (by a user or AI "forget", or, for ordinary global entries,
  by the cleanup below).
- ``team``: the workers of one manager.  ``target`` is the team id, which is
  the manager's agent id.  ``end_team`` forgets them when the manager finishes.
- ``individual``: one agent.  ``target`` is that agent's id.

Visibility (``for_prompt(project, agent, team)``): global entries, team
entries whose target is ``team``, individual entries whose target is
``agent``.  Never another team's or another agent's entries.  A manager that
wants to see what its workers share passes its own id as ``team``.

Global rules and cleanup: a *global rule* is an entry with scope ``global``
and type ``rule``.  Global rules and ``important`` entries are never removed
by the cleanup.  Every other live entry is an *ordinary message*; they are
capped per project at 20, or 30 when their average length is under 500
characters, or 40 when under 200.  When an add takes them past the cap, the 5
oldest are forgotten at once (a sawtooth: the count drops to cap - 4); should
a long entry lower the cap by more, batches of 5 go until it holds.

Forget: ``forget(project, match)`` marks forgotten every live entry whose
content contains ``match`` (case-insensitive).  An AI answer asks for it with
``context: {content: "forget", match: "..."}``; content that merely contains
the word "forget" is saved like any other entry.

GetForPrompt block: sections "Rules", "Project", "Your team", "For you", one
line per entry (``- [type] content``, ``!`` marks important), chronological
within a section, at most ``budget_chars`` (default 6000).  When not all fits,
entries go in by rank (every global rule, then important ones, then the
newest) and a last line says how many were left out.  "" when nothing is
visible.

Answers: embed :class:`AnswerContext` as the ``context`` field of AI answer
types; ``save_from_answer`` returns a :class:`SaveOutcome`.  Input that cannot
be stored raises :class:`ContextError` (a ValueError) saying what and where.

Cache: per project, in-process, 5-minute TTL, cache-aside.  A miss loads the
project's whole live set from SQLite (concurrent misses share one load);
every write through this service drops the project's cache.  A load that
raced with a write is not kept (a generation counter), so a partially filled
or stale set is never served.  Rendered blocks are memoised in the cached set.

Secrets: content is passed through :func:`octrad.redact.redact` when saved and
the prompt block again when built.
"""

from __future__ import annotations

import heapq
import re
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Mapping, Union

import anyio
import msgspec

from octra_protocol.methods.context import ContextEntry

from ..redact import redact
from ..store import Database

__all__ = [
    "AnswerContext",
    "ContextEntry",
    "ContextError",
    "ContextService",
    "SaveOutcome",
    "cap_for",
    "is_global_rule",
]

SCOPES = ("global", "team", "individual")
TTL_S = 300.0
#: ordinary messages past the cap are forgotten this many at a time
SAWTOOTH = 5
MAX_CONTENT = 4000
DEFAULT_BUDGET = 6000
#: the smallest budget that holds the header and the omission note
MIN_BUDGET = 200
#: rendered blocks kept per cached project (one per agent/team/budget asked for)
MEMO_SIZE = 512
_TYPE = re.compile(r"^[a-z][a-z0-9_.-]{0,31}$")
_SPACE = re.compile(r"\s+")

_COLUMNS = "id, project_id, scope, type, source_agent, target, content, important, forgotten, created_at"
_ORDINARY_SQL = "project_id = ? AND forgotten = 0 AND important = 0 AND NOT (scope = 'global' AND type = 'rule')"


class ContextError(ValueError):
    """An entry or request that cannot be stored as given (the message says why)."""


class AnswerContext(msgspec.Struct, kw_only=True):
    """The ``context`` field an AI answer may carry (embed it in answer types).

    ``content: "forget"`` with ``match`` forgets; anything else is saved.
    """

    scope: Literal["global", "team", "individual"]
    type: str
    content: str
    important: bool = False
    match: Union[str, None] = None
    #: individual scope only: the agent it is for (default: the answering agent)
    target: Union[str, None] = None


@dataclass
class SaveOutcome:
    """What ``save_from_answer`` did: saved an entry, or forgot ``forgotten`` entries."""

    action: Literal["saved", "forgotten"]
    entry: ContextEntry | None = None
    forgotten: int = 0


def is_global_rule(e: ContextEntry) -> bool:
    return e.scope == "global" and e.type == "rule"


def cap_for(average_length: float) -> int:
    """The cap on ordinary messages for their average length in characters."""
    if average_length < 200:
        return 40
    if average_length < 500:
        return 30
    return 20


def _entry(row) -> ContextEntry:
    return ContextEntry(
        id=row[0], project=row[1], scope=row[2], type=row[3], source_agent=row[4], target=row[5],
        content=row[6], important=bool(row[7]), forgotten=bool(row[8]), created_at=row[9],
    )


@dataclass
class _Cached:
    """One project's complete live set, as loaded from SQLite, with what
    GetForPrompt derives from it (built on first use, dropped with it)."""

    entries: tuple[ContextEntry, ...]
    loaded_at: float
    prompts: OrderedDict = field(default_factory=OrderedDict)
    lines: dict = field(default_factory=dict)
    _index: tuple | None = None

    def index(self) -> tuple[list[ContextEntry], dict[str, list[ContextEntry]], dict[str, list[ContextEntry]]]:
        """(global entries, team entries by team, individual entries by agent), each by rank."""
        if self._index is None:
            glob: list[ContextEntry] = []
            teams: dict[str, list[ContextEntry]] = {}
            agents: dict[str, list[ContextEntry]] = {}
            for e in self.entries:
                if e.scope == "global":
                    glob.append(e)
                elif e.scope == "team":
                    teams.setdefault(e.target, []).append(e)
                else:
                    agents.setdefault(e.target, []).append(e)
            for part in (glob, *teams.values(), *agents.values()):
                part.sort(key=rank)
            self._index = (glob, teams, agents)
        return self._index

    def render_for(self, agent: str | None, team: str | None, budget_chars: int) -> str:
        glob, teams, agents = self.index()
        mine = teams.get(team, []) if team is not None else []
        yours = agents.get(agent, []) if agent is not None else []
        ranked = heapq.merge(glob, mine, yours, key=rank)
        return _render(ranked, len(glob) + len(mine) + len(yours), budget_chars, self.lines)


@dataclass
class _Loading:
    """A load in flight; concurrent misses of the same generation wait for it."""

    generation: int
    done: anyio.Event = field(default_factory=anyio.Event)
    result: _Cached | None = None


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    #: full loads from SQLite (concurrent misses share one)
    loads: int = 0
    #: loads whose result was dropped because a write happened meanwhile
    discarded: int = 0


class ContextService:
    def __init__(
        self,
        db: Database,
        *,
        bus: Any = None,
        ttl_s: float = TTL_S,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], float] = time.time,
    ):
        self.db = db
        self.bus = bus
        self.ttl_s = ttl_s
        #: monotonic clock for the cache TTL (injectable for tests)
        self.clock = clock
        #: wall clock for created_at
        self.now = now
        self._cache: dict[str, _Cached] = {}
        self._generation: dict[str, int] = {}
        self._loading: dict[str, _Loading] = {}
        self.stats = CacheStats()

    # -- cache ------------------------------------------------------------
    def invalidate(self, project_id: str) -> None:
        """Drop the project's cached set (after any write)."""
        self._generation[project_id] = self._generation.get(project_id, 0) + 1
        self._cache.pop(project_id, None)

    async def _live(self, project_id: str) -> _Cached:
        cached = self._cache.get(project_id)
        if cached is not None and self.clock() - cached.loaded_at < self.ttl_s:
            self.stats.hits += 1
            return cached
        self.stats.misses += 1
        generation = self._generation.get(project_id, 0)
        pending = self._loading.get(project_id)
        if pending is not None and pending.generation == generation:
            # another caller is loading the same set: share its load
            await pending.done.wait()
            if pending.result is not None:
                return pending.result
        pending = self._loading[project_id] = _Loading(generation)
        try:
            self.stats.loads += 1
            loaded_at = self.clock()
            rows = await self.db.fetchall(
                f"SELECT {_COLUMNS} FROM context_entries WHERE project_id = ? AND forgotten = 0 ORDER BY created_at, id",
                (project_id,),
            )
            fresh = _Cached(tuple(_entry(r) for r in rows), loaded_at)
            if self._generation.get(project_id, 0) == generation:
                self._cache[project_id] = fresh
            else:
                # a write landed while we read: this set may predate it; serve it
                # to the callers that asked before it and never cache it
                self.stats.discarded += 1
            pending.result = fresh
            return fresh
        finally:
            pending.done.set()
            if self._loading.get(project_id) is pending:
                del self._loading[project_id]

    # -- reads ------------------------------------------------------------
    async def list(
        self, project_id: str, scope: str | None = None, include_forgotten: bool = False
    ) -> list[ContextEntry]:
        """The project's entries, oldest first."""
        if scope is not None and scope not in SCOPES:
            raise ContextError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
        if include_forgotten:
            sql = f"SELECT {_COLUMNS} FROM context_entries WHERE project_id = ?"
            args: list[Any] = [project_id]
            if scope is not None:
                sql += " AND scope = ?"
                args.append(scope)
            rows = await self.db.fetchall(sql + " ORDER BY created_at, id", args)
            return [_entry(r) for r in rows]
        entries = (await self._live(project_id)).entries
        return [e for e in entries if scope is None or e.scope == scope]

    async def for_prompt(
        self, project_id: str, agent: str | None = None, team: str | None = None, budget_chars: int = DEFAULT_BUDGET
    ) -> str:
        """GetForPrompt: the entries ``agent`` of ``team`` may see, as one compact
        block of at most ``budget_chars`` characters, global rules first."""
        if budget_chars < MIN_BUDGET:
            raise ContextError(f"a prompt budget of {budget_chars} characters is too small (at least {MIN_BUDGET})")
        cached = await self._live(project_id)
        key = (agent, team, budget_chars)
        block = cached.prompts.get(key)
        if block is None:
            block = cached.render_for(agent, team, budget_chars)
            cached.prompts[key] = block
            if len(cached.prompts) > MEMO_SIZE:
                cached.prompts.popitem(last=False)
        return block

    # -- writes -----------------------------------------------------------
    async def add(
        self,
        project_id: str,
        scope: str,
        type: str,
        content: str,
        *,
        important: bool = False,
        source_agent: str | None = None,
        target: str | None = None,
    ) -> ContextEntry:
        """Store an entry, then apply the sawtooth cleanup; returns the entry."""
        scope, type, content, target = _check(scope, type, content, target)
        created = self.now()
        try:
            async with self.db.transaction() as w:
                cur = await w.execute(
                    "INSERT INTO context_entries(project_id, scope, type, source_agent, target, content, important,"
                    " forgotten, created_at) VALUES (?,?,?,?,?,?,?,0,?)",
                    (project_id, scope, type, source_agent, target, content, int(bool(important)), created),
                )
                entry_id = cur.lastrowid
                await _sawtooth(w, project_id)
        finally:
            self.invalidate(project_id)
        return ContextEntry(
            id=entry_id, project=project_id, scope=scope, type=type, source_agent=source_agent, target=target,
            content=content, important=bool(important), forgotten=False, created_at=created,
        )

    async def forget(self, project_id: str, match: str) -> int:
        """Forget the live entries whose content contains ``match`` (case-insensitive)."""
        needle = (match or "").strip().casefold()
        if not needle:
            raise ContextError("forget needs a non-empty match (the text of the entries to forget)")
        try:
            async with self.db.transaction() as w:
                async with w.execute(
                    "SELECT id, content FROM context_entries WHERE project_id = ? AND forgotten = 0", (project_id,)
                ) as cur:
                    ids = [(r[0],) for r in await cur.fetchall() if needle in r[1].casefold()]
                await w.executemany("UPDATE context_entries SET forgotten = 1 WHERE id = ?", ids)
        finally:
            self.invalidate(project_id)
        return len(ids)

    async def end_team(self, project_id: str, team: str) -> int:
        """Forget a team's entries: its manager has finished."""
        try:
            async with self.db.transaction() as w:
                cur = await w.execute(
                    "UPDATE context_entries SET forgotten = 1"
                    " WHERE project_id = ? AND scope = 'team' AND target = ? AND forgotten = 0",
                    (project_id, team),
                )
                n = cur.rowcount
        finally:
            self.invalidate(project_id)
        return n

    async def save_from_answer(
        self,
        project_id: str,
        agent_id: str,
        team: str | None,
        context_obj: AnswerContext | Mapping[str, Any] | msgspec.Struct,
        *,
        task_id: str | None = None,
    ) -> SaveOutcome:
        """Apply an AI answer's ``context`` field for ``agent_id`` of ``team``.

        ``content: "forget"`` with a ``match`` forgets; anything else is saved
        (team scope targets ``team``, individual scope ``target`` or the agent
        itself).  Publishes ``context.saved`` when ``task_id`` is given.
        Raises :class:`ContextError` for a field that cannot be used.
        """
        ctx = _answer(context_obj)
        if ctx.content.strip().casefold() == "forget":
            if not ctx.match or not ctx.match.strip():
                raise ContextError('context content "forget" needs a "match": the text of the entries to forget')
            outcome = SaveOutcome("forgotten", forgotten=await self.forget(project_id, ctx.match))
        else:
            if ctx.scope == "team":
                if not team:
                    raise ContextError(f"agent {agent_id} is in no team, so it cannot save a team-scope entry")
                target = team
            elif ctx.scope == "individual":
                target = ctx.target or agent_id
            else:
                target = None
            entry = await self.add(
                project_id, ctx.scope, ctx.type, ctx.content,
                important=ctx.important, source_agent=agent_id, target=target,
            )
            outcome = SaveOutcome("saved", entry=entry)
        if task_id is not None and self.bus is not None:
            data: dict[str, Any] = {"project_id": project_id, "action": outcome.action}
            if outcome.entry is not None:
                e = outcome.entry
                data.update(entry_id=e.id, scope=e.scope, type=e.type, target=e.target,
                            important=e.important, content=_clip(e.content, 200))
            else:
                data.update(match=ctx.match, forgotten=outcome.forgotten)
            await self.bus.publish("context.saved", data, task_id=task_id, agent_id=agent_id)
        return outcome


# -- rules --------------------------------------------------------------
def _check(scope: str, type: str, content: str, target: str | None) -> tuple[str, str, str, str | None]:
    if scope not in SCOPES:
        raise ContextError(f"unknown scope {scope!r}; expected one of {', '.join(SCOPES)}")
    norm = (type or "").strip().lower()
    if not _TYPE.match(norm):
        raise ContextError(
            f"context type {type!r} is not a short word (letters, digits, '_', '-', '.'; up to 32, e.g. rule, decision)"
        )
    text = (content or "").strip()
    if not text:
        raise ContextError("context content is empty")
    if len(text) > MAX_CONTENT:
        raise ContextError(f"context content is {len(text)} characters; the limit is {MAX_CONTENT} (save a summary)")
    target = (target or "").strip() or None
    if scope == "global" and target is not None:
        raise ContextError(f"a global entry has no target (got {target!r}); use scope team or individual")
    if scope == "team" and target is None:
        raise ContextError("a team entry needs a target: the team id (the manager's agent id)")
    if scope == "individual" and target is None:
        raise ContextError("an individual entry needs a target: the agent id")
    return scope, norm, redact(text), target


async def _sawtooth(w, project_id: str) -> None:
    """Past the cap, forget the 5 oldest ordinary messages at once (again,
    should a lower cap after a long entry still be exceeded)."""
    while True:
        async with w.execute(
            f"SELECT COUNT(*), AVG(LENGTH(content)) FROM context_entries WHERE {_ORDINARY_SQL}", (project_id,)
        ) as cur:
            count, average = await cur.fetchone()
        if count <= cap_for(average or 0):
            return
        await w.execute(
            "UPDATE context_entries SET forgotten = 1 WHERE id IN"
            f" (SELECT id FROM context_entries WHERE {_ORDINARY_SQL} ORDER BY created_at, id LIMIT ?)",
            (project_id, SAWTOOTH),
        )


def _answer(obj: Any) -> AnswerContext:
    if isinstance(obj, AnswerContext):
        return obj
    if isinstance(obj, msgspec.Struct):
        obj = msgspec.to_builtins(obj)
    try:
        return msgspec.convert(obj, AnswerContext)
    except msgspec.ValidationError as exc:
        raise ContextError(f"the answer's context field is invalid: {exc}") from None


_SECTIONS = (("rules", "Rules (always follow)"), ("global", "Project"), ("team", "Your team"), ("individual", "For you"))
_TITLES = tuple(f"{title}:" for _key, title in _SECTIONS)
HEADER = "PROJECT CONTEXT (entries saved by earlier steps; [type] per line, ! = important)"
#: the header, every section title and the omission note always fit
_FIXED = len(HEADER) + sum(len(t) + 1 for t in _TITLES) + 40


def _section(e: ContextEntry) -> int:
    return 0 if is_global_rule(e) else 1 if e.scope == "global" else 2 if e.scope == "team" else 3


def _line(e: ContextEntry) -> str:
    mark = "!" if e.important else ""
    text = _SPACE.sub(" ", e.content)
    return f"- {text}" if is_global_rule(e) else f"- [{e.type}{mark}] {text}"


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: max(0, limit - 1)] + "…"


def rank(e: ContextEntry) -> tuple:
    """Who gets into a full block first: every global rule (oldest first),
    then important entries, then the rest, newest first."""
    if is_global_rule(e):
        return (0, e.created_at, e.id)
    return (1 if e.important else 2, -e.created_at, -e.id)


def render(entries: list[ContextEntry], budget_chars: int = DEFAULT_BUDGET) -> str:
    """One compact block of at most ``budget_chars``: sections in the order
    rules, project, team, yours; entries chronological within a section.
    When not everything fits, entries go in by :func:`rank` until the first
    that does not fit (a global rule that does not fit is clipped instead)."""
    return _render(sorted(entries, key=rank), len(entries), budget_chars, {})


def _render(ranked: Iterable[ContextEntry], total: int, budget_chars: int, line_memo: dict[int, str]) -> str:
    if not total:
        return ""
    room = budget_chars - _FIXED
    chosen: list[tuple[int, float, int, str]] = []
    for e in ranked:
        line = line_memo.get(e.id)
        if line is None:
            line = line_memo[e.id] = _line(e)
        if len(line) + 1 > room:
            if not (is_global_rule(e) and room > 60):
                break  # strict priority: nothing ranked lower jumps the queue
            line = _clip(line, room - 1)
        room -= len(line) + 1
        chosen.append((_section(e), e.created_at, e.id, line))
    chosen.sort()
    out = [HEADER]
    section = -1
    for sec, _ts, _id, line in chosen:
        if sec != section:
            out.append(_TITLES[sec])
            section = sec
        out.append(line)
    if len(chosen) < total:
        out.append(f"({total - len(chosen)} entries left out to fit)")
    return redact("\n".join(out))
