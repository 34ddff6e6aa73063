"""The context service: scope visibility, the adaptive cap and sawtooth
cleanup, global rules, forget by match, the TTL cache (cache-aside, never a
partial set), GetForPrompt, saving from AI answers, and the protocol methods
and CLI over a real daemon."""

from __future__ import annotations

import json
import sqlite3
import time

import anyio
import msgspec
import pytest

from octra_protocol.errors import RpcError
from octrad import redact
from octrad.events import EventBus
from octrad.knowledge.context import (
    SAWTOOTH,
    TTL_S,
    AnswerContext,
    ContextError,
    ContextService,
    cap_for,
)
from octrad.store import Database
from tests.rawsock import RawConn

P = "p-test"


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
async def db(tmp_path):
    database = await Database(tmp_path / "octra.db").open()
    try:
        yield database
    finally:
        await database.close()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def svc(db, clock):
    return ContextService(db, clock=clock)


def _raw_insert(db_path, project, scope, type_, content, target=None, important=0, forgotten=0, ts=None):
    """Write behind the service's back (another process, an earlier run)."""
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO context_entries(project_id, scope, type, source_agent, target, content, important, forgotten,"
        " created_at) VALUES (?,?,?,?,?,?,?,?,?)",
        (project, scope, type_, "raw", target, content, important, forgotten, ts or time.time()),
    )
    con.commit()
    con.close()


def contents(entries):
    return [e.content for e in entries]


# -- visibility --------------------------------------------------------------
async def test_a_worker_sees_global_its_team_and_its_own_entries_only(svc):
    await svc.add(P, "global", "rule", "All timestamps are UTC.")
    await svc.add(P, "global", "decision", "Database: PostgreSQL 16.")
    await svc.add(P, "team", "interface", "backend team: GET /users returns [User].", target="mgr-backend")
    await svc.add(P, "team", "interface", "frontend team: uses React 18.", target="mgr-frontend")
    await svc.add(P, "individual", "note", "w1: you own models.py.", target="w1")
    await svc.add(P, "individual", "note", "w2: you own views.py.", target="w2")
    await svc.add("p-other", "global", "rule", "other project's rule.")

    block = await svc.for_prompt(P, agent="w1", team="mgr-backend")
    for text in ("All timestamps are UTC.", "Database: PostgreSQL 16.", "backend team", "w1: you own"):
        assert text in block
    for text in ("frontend team", "w2: you own", "other project"):
        assert text not in block

    other = await svc.for_prompt(P, agent="w2", team="mgr-frontend")
    assert "frontend team" in other and "w2: you own" in other
    assert "backend team" not in other and "w1: you own" not in other

    # no agent and no team: only what everyone sees
    everyone = await svc.for_prompt(P)
    assert "UTC" in everyone and "team" not in everyone.lower().replace("your team", "") and "you own" not in everyone
    # an agent id equal to a team id does not leak team entries to it
    assert "backend team" not in await svc.for_prompt(P, agent="mgr-backend")
    assert await svc.for_prompt("p-empty", agent="w1", team="t") == ""


async def test_global_rules_come_first_and_the_budget_holds(svc):
    for i in range(30):
        await svc.add(P, "global", "fact", f"fact number {i:02d} " + "x" * 80)
    await svc.add(P, "global", "rule", "Never commit secrets.")
    await svc.add(P, "team", "note", "team note", target="t")
    block = await svc.for_prompt(P, agent="w", team="t", budget_chars=1000)
    assert len(block) <= 1000
    lines = block.splitlines()
    assert lines[1].startswith("Rules") and lines[2] == "- Never commit secrets."
    # the newest entries are kept, the oldest left out, and it says so
    assert "fact number 29" in block and "fact number 00" not in block
    assert "left out to fit" in lines[-1]
    # order within a section stays chronological
    kept = [int(l.split("fact number ")[1][:2]) for l in lines if "fact number" in l]
    assert kept == sorted(kept) and kept[-1] == 29


async def test_secrets_never_reach_the_prompt(svc):
    secret = "sk-test-ctx-" + "9" * 20
    redact.register(secret)
    await svc.add(P, "global", "fact", f"the key is {secret} for now")
    assert secret not in await svc.for_prompt(P)
    assert all(secret not in e.content for e in await svc.list(P))


# -- the cap and the sawtooth ----------------------------------------------
@pytest.mark.anyio
@pytest.mark.parametrize("length,cap", [(600, 20), (300, 30), (50, 40)])
async def test_cap_by_average_length_and_sawtooth(svc, length, cap):
    assert cap_for(length) == cap
    ids = []
    for i in range(cap):
        e = await svc.add(P, "team", "note", f"{i:03d}" + "m" * (length - 3), target="t")
        ids.append(e.id)
    live = await svc.list(P)
    assert len(live) == cap, "nothing is removed up to the cap"
    e = await svc.add(P, "team", "note", "new" + "m" * (length - 3), target="t")
    ids.append(e.id)
    live = await svc.list(P)
    assert len(live) == cap + 1 - SAWTOOTH
    assert [x.id for x in live] == ids[SAWTOOTH:], "exactly the 5 oldest were forgotten"
    gone = [x for x in await svc.list(P, include_forgotten=True) if x.forgotten]
    assert [x.id for x in gone] == ids[:SAWTOOTH]
    # it climbs back to the cap before the next drop (a sawtooth)
    for i in range(SAWTOOTH - 1):
        await svc.add(P, "team", "note", f"more{i}" + "m" * (length - 5), target="t")
    assert len(await svc.list(P)) == cap


async def test_the_cap_follows_the_average_length(svc):
    # 25 entries of 150 characters: average under 200, cap 40, nothing goes
    for i in range(25):
        await svc.add(P, "global", "fact", f"short {i:02d} ".ljust(150, "s"))
    assert len(await svc.list(P)) == 25
    # long entries lift the average: 298 and 435 (cap 30), then 562 (cap 20):
    # batches of 5 go, oldest first, until the cap holds again (28 -> 23 -> 18)
    for n in range(2):
        await svc.add(P, "global", "fact", "L" * 4000)
        assert len(await svc.list(P)) == 26 + n
    await svc.add(P, "global", "fact", "L" * 4000)
    live = await svc.list(P)
    assert len(live) == 18
    assert contents(live)[0].startswith("short 10 ")


async def test_sawtooth_spares_important_entries_and_global_rules(svc):
    rules = [await svc.add(P, "global", "rule", f"rule {i}") for i in range(3)]
    important = []
    ordinary = []
    # oldest first: important ones are interleaved with the oldest ordinary ones
    for i in range(10):
        if i % 2 == 0:
            important.append(await svc.add(P, "individual", "note", f"important {i}", important=True, target="w"))
        ordinary.append(await svc.add(P, "team", "note", f"ordinary {i}", target="t"))
    for i in range(10, 40):
        ordinary.append(await svc.add(P, "team", "note", f"ordinary {i}", target="t"))
    # 40 ordinary (short: cap 40), 3 rules, 5 important
    assert len(await svc.list(P)) == 48
    ordinary.append(await svc.add(P, "team", "note", "ordinary 40", target="t"))
    live_ids = {e.id for e in await svc.list(P)}
    assert {e.id for e in rules} <= live_ids, "global rules survive cleanup"
    assert {e.id for e in important} <= live_ids, "important entries survive cleanup"
    assert live_ids == {e.id for e in rules} | {e.id for e in important} | {e.id for e in ordinary[5:]}
    # an ordinary global entry (not a rule) is an ordinary message
    many = [await svc.add(P, "global", "decision", f"decision {i}") for i in range(SAWTOOTH)]
    live_ids = {e.id for e in await svc.list(P)}
    assert many[0].id in live_ids and ordinary[5].id not in live_ids
    block = await svc.for_prompt(P, agent="w", team="t")
    assert block.index("rule 0") < block.index("decision 0") < block.index("ordinary 40")


# -- forget ------------------------------------------------------------------
async def test_forget_by_match_and_not_by_the_word_forget(svc):
    await svc.add(P, "global", "decision", "Database: PostgreSQL 16.")
    await svc.add(P, "team", "note", "Don't forget to run migrations (postgresql).", target="t")
    await svc.add(P, "global", "note", "Remember: never forget the CHANGELOG.")
    await svc.add(P, "global", "rule", "Use UTC.", )
    # a user forgets by match, case-insensitively, in every scope
    assert await svc.forget(P, "POSTGRESQL") == 2
    assert contents(await svc.list(P)) == ["Remember: never forget the CHANGELOG.", "Use UTC."]
    # an AI answer "forget" forgets by its match, not everything that says "forget"
    out = await svc.save_from_answer(P, "w1", "t", {"scope": "global", "type": "note", "content": "forget", "match": "utc"})
    assert out.action == "forgotten" and out.forgotten == 1
    assert contents(await svc.list(P)) == ["Remember: never forget the CHANGELOG."]
    # content merely containing "forget" is saved, not taken as a command
    out = await svc.save_from_answer(P, "w1", "t", {"scope": "global", "type": "note", "content": "forget the old API, use v2"})
    assert out.action == "saved"
    assert len(await svc.list(P)) == 2
    # a match that is the word "forget" forgets what contains it, and only on request
    assert await svc.forget(P, "forget") == 2
    assert await svc.list(P) == []
    with pytest.raises(ContextError, match="match"):
        await svc.forget(P, "   ")
    with pytest.raises(ContextError, match="match"):
        await svc.save_from_answer(P, "w1", "t", {"scope": "global", "type": "note", "content": "forget"})
    # forgotten entries are kept, marked
    assert all(e.forgotten for e in await svc.list(P, include_forgotten=True))
    assert len(await svc.list(P, include_forgotten=True)) == 5


async def test_end_team_forgets_that_teams_entries(svc):
    await svc.add(P, "team", "note", "a", target="m1")
    await svc.add(P, "team", "note", "b", target="m2")
    await svc.add(P, "individual", "note", "c", target="m1")
    assert await svc.end_team(P, "m1") == 1
    assert contents(await svc.list(P)) == ["b", "c"]


# -- the cache ------------------------------------------------------------
async def test_cache_serves_reads_within_the_ttl(svc, clock, db):
    await svc.add(P, "global", "fact", "first")
    assert "first" in await svc.for_prompt(P)
    misses, loads = svc.stats.misses, svc.stats.loads
    # written behind the service's back: invisible while the cached set is fresh
    _raw_insert(db.path, P, "global", "fact", "behind")
    clock.t += TTL_S - 1
    assert "behind" not in await svc.for_prompt(P)
    assert contents(await svc.list(P)) == ["first"]
    assert svc.stats.misses == misses and svc.stats.hits >= 2
    # past the TTL it is loaded again
    clock.t += 2
    assert contents(await svc.list(P)) == ["first", "behind"]
    assert svc.stats.misses == misses + 1 and svc.stats.loads == loads + 1
    # a write through the service invalidates at once, TTL or not
    await svc.add(P, "global", "fact", "third")
    assert "third" in await svc.for_prompt(P)
    await svc.forget(P, "first")
    assert "first" not in await svc.for_prompt(P)
    # caches are per project
    await svc.add("p-two", "global", "fact", "elsewhere")
    hits = svc.stats.hits
    assert contents(await svc.list(P)) == ["behind", "third"]
    assert svc.stats.hits == hits + 1


async def test_concurrent_misses_share_one_load(svc):
    for i in range(5):
        await svc.add(P, "individual", "note", f"n{i}", target=f"w{i}")
    blocks = {}

    async def ask(i):
        blocks[i] = await svc.for_prompt(P, agent=f"w{i}")

    async with anyio.create_task_group() as tg:
        for i in range(5):
            tg.start_soon(ask, i)
    assert svc.stats.loads == 1
    assert all(f"n{i}" in blocks[i] and f"n{(i + 1) % 5}" not in blocks[i] for i in range(5))


async def test_cold_start_after_a_write_never_serves_a_partial_set(db, clock):
    # entries from an earlier run of the daemon
    for i in range(3):
        _raw_insert(db.path, P, "global", "fact", f"old {i}")
    fresh = ContextService(db, clock=clock)
    # the very first thing the new process does is a write
    await fresh.add(P, "global", "fact", "new")
    assert contents(await fresh.list(P)) == ["old 0", "old 1", "old 2", "new"]
    block = await fresh.for_prompt(P)
    assert all(f"old {i}" in block for i in range(3)) and "new" in block


class SlowReadDatabase(Database):
    """The real database, whose reads can be held after their SELECT ran: a
    load that read the old rows returns only after a write has landed."""

    def __init__(self, path):
        super().__init__(path)
        self.hold: anyio.Event | None = None
        self.read_done = anyio.Event()

    async def fetchall(self, sql, params=()):
        rows = await super().fetchall(sql, params)
        if self.hold is not None:
            self.read_done.set()
            await self.hold.wait()
        return rows


async def test_a_load_overtaken_by_a_write_is_not_cached(tmp_path, clock):
    db = await SlowReadDatabase(tmp_path / "slow.db").open()
    try:
        svc = ContextService(db, clock=clock)
        await svc.add(P, "global", "fact", "before")
        db.hold = anyio.Event()
        seen = []
        async with anyio.create_task_group() as tg:
            async def read():
                seen.append(await svc.list(P))
            tg.start_soon(read)
            await db.read_done.wait()  # the load has read ["before"] ...
            await svc.add(P, "global", "fact", "after")  # ... and a write lands
            db.hold.set()
        db.hold = None
        assert contents(seen[0]) == ["before"]  # true when it was asked
        assert contents(await svc.list(P)) == ["before", "after"], "a stale load was cached"
        assert svc.stats.discarded == 1
    finally:
        await db.close()


async def test_reads_racing_writes_never_leave_a_stale_set_cached(db, clock):
    svc = ContextService(db, clock=clock)
    added = []

    async def writer(k):
        for i in range(15):
            e = await svc.add(P, "individual", "note", f"w{k}-{i}", target=f"w{k}", important=True)
            added.append(e.id)

    async def reader(k):
        for _ in range(40):
            await svc.for_prompt(P, agent=f"w{k}")
            await svc.list(P)

    async with anyio.create_task_group() as tg:
        for k in range(4):
            tg.start_soon(writer, k)
            tg.start_soon(reader, k)
    # the clock never moved: whatever is cached now must be the whole, current set
    cached = {e.id for e in await svc.list(P)}
    stored = {r[0] for r in await db.fetchall("SELECT id FROM context_entries WHERE forgotten = 0")}
    assert cached == stored == set(added)
    for k in range(4):
        block = await svc.for_prompt(P, agent=f"w{k}")
        assert all(f"w{k}-{i}" in block for i in range(15))


# -- input checks and answers ---------------------------------------------
async def test_bad_entries_are_refused_with_a_clear_error_and_nothing_stored(svc):
    cases = [
        (("galactic", "note", "x"), {}, "unknown scope 'galactic'"),
        (("global", "two words", "x"), {}, "not a short word"),
        (("global", "note", "   "), {}, "empty"),
        (("global", "note", "y" * 5000), {}, "5000 characters"),
        (("team", "note", "x"), {}, "team id"),
        (("individual", "note", "x"), {}, "agent id"),
        (("global", "note", "x"), {"target": "w1"}, "no target"),
    ]
    for args, kw, message in cases:
        with pytest.raises(ContextError, match=message):
            await svc.add(P, *args, **kw)
    assert await svc.list(P, include_forgotten=True) == []
    with pytest.raises(ContextError, match="too small"):
        await svc.for_prompt(P, budget_chars=50)
    with pytest.raises(ContextError, match="unknown scope"):
        await svc.list(P, scope="galactic")
    e = await svc.add(P, "global", " Rule ", "  padded  ")
    assert (e.type, e.content) == ("rule", "padded")


async def test_save_from_answer_targets_and_publishes(db, tmp_path):
    bus = EventBus(db)
    await bus.start()
    svc = ContextService(db, bus=bus)
    async with anyio.create_task_group() as tg:
        tg.start_soon(bus.run_writer)
        team = await svc.save_from_answer(P, "w1", "m1", {"scope": "team", "type": "interface", "content": "GET /a"}, task_id="t1")
        mine = await svc.save_from_answer(P, "w1", "m1", AnswerContext(scope="individual", type="todo", content="tests", important=True))
        told = await svc.save_from_answer(P, "m1", None, {"scope": "individual", "type": "note", "content": "hi", "target": "w2"}, task_id="t1")
        forgot = await svc.save_from_answer(P, "w1", "m1", {"scope": "global", "type": "note", "content": " Forget ", "match": "get /a"}, task_id="t1")
        with pytest.raises(ContextError, match="in no team"):
            await svc.save_from_answer(P, "boss", None, {"scope": "team", "type": "note", "content": "x"})
        with pytest.raises(ContextError, match="invalid"):
            await svc.save_from_answer(P, "w1", "m1", {"scope": "everyone", "type": "note", "content": "x"})
        await bus.close()
    assert (team.entry.target, team.entry.source_agent, team.entry.scope) == ("m1", "w1", "team")
    assert (mine.entry.target, mine.entry.important) == ("w1", True)
    assert told.entry.target == "w2"
    assert forgot.forgotten == 1
    rows = await db.fetchall("SELECT task_id, agent_id, kind, data FROM events ORDER BY seq")
    assert [(r[0], r[1], r[2]) for r in rows] == [("t1", "w1", "context.saved"), ("t1", "m1", "context.saved"), ("t1", "w1", "context.saved")]
    first, _, last = (msgspec.json.decode(r[3]) for r in rows)
    assert first["action"] == "saved" and first["entry_id"] == team.entry.id and first["content"] == "GET /a"
    assert last == {"project_id": P, "action": "forgotten", "match": "get /a", "forgotten": 1}


# -- over the socket --------------------------------------------------------
def _stop_when_ready(daemon):
    """Stop the daemon once it has really answered (its socket accepts before
    the database is migrated), so the schema is there to seed."""
    RawConn(daemon.socket).call({"jsonrpc": "2.0", "id": 1, "method": "daemon.status"})
    daemon.stop()


def _seed_project(db_path, pid="p0123456789", name="shop"):
    con = sqlite3.connect(db_path)
    con.execute(
        "INSERT INTO projects(id, name, path, created_at, updated_at) VALUES (?,?,?,?,?)",
        (pid, name, f"/tmp/{name}", time.time(), time.time()),
    )
    con.commit()
    con.close()
    return pid


async def test_context_methods_over_the_socket(daemon):
    _stop_when_ready(daemon)
    pid = _seed_project(daemon.oenv.data_dir / "octra.db")
    _raw_insert(daemon.oenv.data_dir / "octra.db", pid, "global", "rule", "Money is integer cents.")
    daemon.start()
    async with daemon.connect() as c:
        res = await c.call("context.add", {"project": "shop", "scope": "team", "type": "interface", "content": "POST /orders", "target": "m1"})
        entry = res["entry"]
        assert entry["project"] == pid and entry["source_agent"] == "user" and entry["target"] == "m1"
        await c.call("context.add", {"project": pid, "scope": "individual", "type": "note", "content": "private", "target": "w9", "important": True})
        listed = (await c.call("context.list", {"project": "shop"}))["entries"]
        assert [e["content"] for e in listed] == ["Money is integer cents.", "POST /orders", "private"]
        assert [e["content"] for e in (await c.call("context.list", {"project": "shop", "scope": "team"}))["entries"]] == ["POST /orders"]
        prompt = (await c.call("context.prompt", {"project": "shop", "agent": "w1", "team": "m1"}))["prompt"]
        assert "Money is integer cents." in prompt and "POST /orders" in prompt and "private" not in prompt
        assert (await c.call("context.forget", {"project": "shop", "match": "orders"})) == {"forgotten": 1}
        assert "POST /orders" not in (await c.call("context.prompt", {"project": "shop", "team": "m1"}))["prompt"]
        everything = (await c.call("context.list", {"project": "shop", "include_forgotten": True}))["entries"]
        assert [e["forgotten"] for e in everything] == [False, True, False]

        with pytest.raises(RpcError) as err:
            await c.call("context.list", {"project": "nope"})
        assert err.value.kind == "not_found" and "nope" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("context.add", {"project": "shop", "scope": "team", "type": "note", "content": "x"})
        assert err.value.code == -32602 and "team id" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("context.add", {"project": "shop", "scope": "world", "type": "note", "content": "x"})
        assert err.value.code == -32602 and "scope" in err.value.message
        with pytest.raises(RpcError) as err:
            await c.call("context.forget", {"project": "shop", "match": ""})
        assert err.value.code == -32602
        assert len((await c.call("context.list", {"project": "shop", "include_forgotten": True}))["entries"]) == 3


def test_context_cli(daemon):
    _stop_when_ready(daemon)
    _seed_project(daemon.oenv.data_dir / "octra.db", name="blog")
    daemon.start()
    out = daemon.ctl("context", "add", "blog", "global", "rule", "Posts are Markdown.")
    assert out.returncode == 0, out.stderr
    assert "global" in out.stdout and "Posts are Markdown." in out.stdout
    out = daemon.ctl("context", "add", "blog", "individual", "note", "-", "--target", "w1", input="from stdin\n")
    assert out.returncode == 0, out.stderr
    out = daemon.ctl("--json", "context", "list", "blog")
    assert [e["content"] for e in json.loads(out.stdout)["entries"]] == ["Posts are Markdown.", "from stdin"]
    out = daemon.ctl("context", "show", "blog", "--agent", "w1")
    assert out.returncode == 0 and "Posts are Markdown." in out.stdout and "from stdin" in out.stdout
    out = daemon.ctl("context", "forget", "blog", "STDIN")
    assert out.returncode == 0 and "forgot 1 entry" in out.stdout
    out = daemon.ctl("context", "list", "blog", "--all")
    assert "(forgotten)" in out.stdout and "from stdin" in out.stdout
    out = daemon.ctl("context", "add", "blog", "team", "note", "no target")
    assert out.returncode == 1 and "team id" in out.stderr
    out = daemon.ctl("context", "list", "missing")
    assert out.returncode == 1 and "no project 'missing'" in out.stderr
