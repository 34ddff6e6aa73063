"""The provider layer in process: a real LLMService over a real SQLite store
and event bus, talking real HTTP to the fake provider server (tests/fakes).

Covers the four wire formats (JSON and streaming), structured output sent
the native way, answer validation and correction, transport resilience,
cancellation, the shared limit, usage, budgets and replay.
"""

from __future__ import annotations

import json
import time
from contextlib import asynccontextmanager

import anyio
import msgspec
import pytest

from octra_protocol.errors import RpcError
from octrad.events import EventBus
from octrad.providers import CallSite, Message
from octrad.providers.service import LLMService
from octrad.providers.transport import RetryPolicy
from octrad.settings import SettingsStore
from octrad.secretstore import SecretStore
from octrad.store import Database
from tests.fakes.providers import FakeProvider, Reply

#: marks every test for the anyio plugin at collection, so parametrized async tests keep their params
pytestmark = pytest.mark.anyio

KINDS = ("openai", "anthropic", "gemini", "ollama")
GOOD = {"title": "todo app", "steps": ["scaffold", "write api"], "owner": {"name": "boss", "level": 2}}


class Owner(msgspec.Struct):
    name: str
    level: int


class Plan(msgspec.Struct):
    title: str
    steps: list[str]
    owner: Owner
    note: str | None = None
    priority: int = 0


MSGS = [Message("system", "Rules: answer in JSON."), Message("user", "Plan a todo app.")]


class Harness:
    def __init__(self, llm: LLMService, db: Database, events: list):
        self.llm = llm
        self.db = db
        self.events = events

    async def rows(self, sql: str, args=()):
        return [tuple(r) for r in await self.db.fetchall(sql, args)]

    def of_kind(self, kind: str):
        return [e for e in self.events if e.kind == kind]

    async def settle(self) -> None:
        """Wait until every published event is stored."""
        await self.llm.bus.publish("task.status", {"sync": True}, wait=True)


@asynccontextmanager
async def harness(tmp_path, **kw):
    db = Database(tmp_path / "octra.db")
    await db.open()
    bus = EventBus(db)
    await bus.start()
    events: list = []
    bus.add_listener(events.append)
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(bus.run_writer)
            llm = LLMService(db, bus, SettingsStore(db, {}), policy=kw.pop("policy", RetryPolicy(base_s=0.02, cap_s=0.1)),
                             secrets=await SecretStore.open(tmp_path), **kw)
            await llm.start()
            try:
                yield Harness(llm, db, events)
            finally:
                await llm.aclose()
                await bus.close()
    finally:
        await db.close()


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


async def add(h: Harness, fake: FakeProvider, kind: str, name: str | None = None, key: str = "sk-test-key-123", **kw):
    return await h.llm.registry.set(name or kind, kind, kw.pop("model", f"{kind}-model"), fake.base_url(kind), key, **kw)


async def ask_at_once(h: Harness, site: CallSite, provider: str, n: int = 8, **kw) -> list[str]:
    """``n`` calls started together: "ok" or the error kind of each, in the order they ended."""
    outcomes = []

    async def one():
        try:
            await h.llm.ask(site, MSGS, Plan, provider=provider, **kw)
            outcomes.append("ok")
        except RpcError as exc:
            outcomes.append(exc.kind)

    async with anyio.create_task_group() as tg:
        for _ in range(n):
            tg.start_soon(one)
    return outcomes


async def make_task(h: Harness, task_id: str = "t1", agent_id: str = "a1") -> None:
    now = time.time()
    async with h.db.transaction() as w:
        await w.execute("INSERT OR IGNORE INTO projects(id, name, path, created_at, updated_at) VALUES ('p1','p','/tmp/p',?,?)", (now, now))
        await w.execute(
            "INSERT INTO tasks(id, project_id, description, status, created_at, updated_at) VALUES (?, 'p1', 'd', 'building', ?, ?)",
            (task_id, now, now),
        )
        await w.execute(
            "INSERT INTO agents(id, task_id, kind, role, status, created_at, updated_at) VALUES (?, ?, 'boss', 'boss', 'running', ?, ?)",
            (agent_id, task_id, now, now),
        )


# -- the four wire formats ------------------------------------------------------
@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("kind", KINDS)
async def test_structured_output_the_native_way(tmp_path, fake, kind, stream):
    async with harness(tmp_path) as h:
        await add(h, fake, kind, key=f"key-for-{kind}-0001")
        fake.push(Reply.json(GOOD, usage=(120, 30)))
        ans = await h.llm.ask(CallSite(role="boss", step="plan"), MSGS, Plan, provider=kind, temperature=0.1, stream=stream)
    assert ans.value == msgspec.convert(GOOD, Plan)
    assert (ans.usage.tokens_in, ans.usage.tokens_out, ans.attempts, ans.provider) == (120, 30, 1, kind)
    [req] = fake.requests
    assert req.kind == kind and req.stream == stream and req.model == f"{kind}-model"
    body, headers, schema = req.body, req.headers, req.schema
    key = f"key-for-{kind}-0001"
    if kind == "openai":
        assert headers["authorization"] == f"Bearer {key}"
        rf = body["response_format"]
        assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True and rf["json_schema"]["name"] == "Plan"
        # strict mode: closed objects, every property required, optional ones nullable, nested inlined
        assert schema["additionalProperties"] is False and schema["required"] == ["title", "steps", "owner", "note", "priority"]
        assert schema["properties"]["priority"] == {"anyOf": [{"type": "integer"}, {"type": "null"}]}
        assert schema["properties"]["owner"]["additionalProperties"] is False
        assert body["temperature"] == 0.1 and body["messages"][0] == {"role": "system", "content": "Rules: answer in JSON."}
        assert "$ref" not in json.dumps(schema)
        if stream:
            assert body["stream_options"] == {"include_usage": True}
    elif kind == "anthropic":
        assert headers["x-api-key"] == key and headers["anthropic-version"] == "2023-06-01"
        assert "authorization" not in headers
        assert body["tool_choice"] == {"type": "tool", "name": body["tools"][0]["name"]}
        assert schema["type"] == "object" and schema["required"] == ["title", "steps", "owner"]
        assert schema["properties"]["owner"]["properties"]["level"] == {"type": "integer"}
        assert body["system"] == "Rules: answer in JSON." and body["messages"] == [{"role": "user", "content": "Plan a todo app."}]
        assert body["temperature"] == 0.1 and body["max_tokens"] > 0
    elif kind == "gemini":
        assert headers["x-goog-api-key"] == key and key not in req.path and not req.query.get("key")
        cfg = body["generationConfig"]
        assert cfg["responseMimeType"] == "application/json" and cfg["temperature"] == 0.1
        assert schema["type"] == "OBJECT" and schema["properties"]["owner"]["type"] == "OBJECT"
        assert schema["properties"]["note"] == {"type": "STRING", "nullable": True}
        text = json.dumps(schema)
        assert "$ref" not in text and "additionalProperties" not in text and "$defs" not in text and "default" not in text
        assert body["systemInstruction"] == {"parts": [{"text": "Rules: answer in JSON."}]}
        assert req.path.endswith(":streamGenerateContent" if stream else ":generateContent")
        if stream:
            assert req.query["alt"] == ["sse"]
    else:
        assert headers["authorization"] == f"Bearer {key}"
        assert body["format"]["type"] == "object" and body["format"]["required"] == ["title", "steps", "owner"]
        assert body["options"]["temperature"] == 0.1 and body["stream"] is stream


@pytest.mark.parametrize("kind", KINDS)
async def test_streamed_text_becomes_a_few_agent_log_events(tmp_path, fake, kind):
    long = {**GOOD, "steps": [f"step number {i} of the long plan" for i in range(100)]}
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.json(long, piece=5))
        ans = await h.llm.ask(CallSite(task_id="t9", agent_id="a9", role="boss", step="plan"), MSGS, Plan, provider=kind, stream=True)
        await h.settle()
        logs = h.of_kind("agent.log")
    assert ans.value.steps == long["steps"]
    text = "".join(e.data["text"] for e in logs)
    pieces = len(ans.text) // 5
    assert json.loads(text) == long
    assert 2 <= len(logs) <= len(ans.text) // 300 + 2 < pieces
    assert all(e.task_id == "t9" and e.agent_id == "a9" and e.data["role"] == "boss" for e in logs)


# -- validation -------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_fences_and_prose_are_stripped(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.of_text("Sure! Here it is:\n```json\n" + json.dumps(GOOD) + "\n```\nHope that helps."))
        fake.push(Reply.of_text("The plan is " + json.dumps(GOOD) + " as requested."))
        a = await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
        b = await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
    assert a.value.title == b.value.title == "todo app" and a.attempts == b.attempts == 1


async def test_malformed_json_is_retried_with_the_error_fed_back(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.push(Reply.of_text('{"title": "todo app", "steps": ['), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1", role="boss", step="plan"), MSGS, Plan, provider="openai")
        rows = await h.rows("SELECT attempt, error IS NULL, response FROM llm_calls ORDER BY id")
    assert ans.attempts == 2 and ans.value.owner.name == "boss"
    second = fake.requests[1].body["messages"]
    assert second[:2] == [{"role": "system", "content": "Rules: answer in JSON."}, {"role": "user", "content": "Plan a todo app."}]
    assert second[2] == {"role": "assistant", "content": '{"title": "todo app", "steps": ['}
    assert second[3]["role"] == "user" and "not one valid JSON object" in second[3]["content"]
    assert rows == [(1, 0, '{"title": "todo app", "steps": ['), (2, 1, json.dumps(GOOD))]


async def test_wrong_shape_fails_clearly_after_bounded_attempts(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "gemini", model="gemini-2.0-flash")
        bad = {"title": "x", "steps": "not a list", "owner": {"name": "b", "level": 1}}
        fake.push(*[Reply.json(bad)] * 5)
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider="gemini")
    e = err.value
    assert e.code == -32006 and e.kind == "provider_error"
    assert "gemini" in e.message and "gemini-2.0-flash" in e.message and "Plan" in e.message
    assert "$.steps" in e.message and "3 attempts" in e.message
    assert len(fake.requests) == 3 and fake.pending() == 2
    # the correction names the problem precisely
    assert "$.steps" in fake.requests[2].messages[-1]["content"]


# -- resilience ---------------------------------------------------------------------
async def test_429_honours_retry_after(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic")
        fake.push(Reply.error(429, "slow down", retry_after=0.4), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="anthropic")
        rows = await h.rows("SELECT attempt, error FROM llm_calls")
    first, second = fake.requests
    assert second.at - first.at >= 0.38
    assert ans.attempts == 1 and rows == [(1, None)]


@pytest.mark.parametrize("kind", ["openai", "ollama"])
async def test_5xx_is_retried_with_backoff_4xx_is_not(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.error(500, "boom"), Reply.error(503, "busy"), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
        assert ans.value.title == "todo app" and len(fake.requests) == 3
        fake.reset()
        fake.push(Reply.error(401, "invalid api key given"), Reply.json(GOOD))
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
    assert len(fake.requests) == 1
    assert "HTTP 401" in err.value.message and "invalid api key given" in err.value.message
    assert f"{kind}-model" in err.value.message and err.value.data["status"] == 401


async def test_persistent_5xx_gives_up_after_bounded_retries(tmp_path, fake):
    async with harness(tmp_path, policy=RetryPolicy(max_retries=2, base_s=0.01, cap_s=0.02)) as h:
        await add(h, fake, "openai")
        fake.responder = lambda req: Reply.error(502, "bad gateway")
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="openai")
        rows = await h.rows("SELECT attempt, error FROM llm_calls")
    assert len(fake.requests) == 3
    assert "HTTP 502: bad gateway (after 3 tries)" in err.value.message
    assert len(rows) == 1 and "502" in rows[0][1]


async def test_slow_answer_times_out_and_is_retried(tmp_path, fake):
    async with harness(tmp_path, policy=RetryPolicy(max_retries=1, base_s=0.01, cap_s=0.02)) as h:
        await add(h, fake, "gemini", timeout_s=0.3)
        fake.push(Reply.json(GOOD, delay=5), Reply.json(GOOD))
        t0 = time.monotonic()
        ans = await h.llm.ask(CallSite(), MSGS, Plan, provider="gemini")
        assert ans.value.title == "todo app" and time.monotonic() - t0 < 2
        fake.push(Reply.json(GOOD, delay=5), Reply.json(GOOD, delay=5))
        t0 = time.monotonic()
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider="gemini")
    assert time.monotonic() - t0 < 2
    assert "no complete answer within 0.3s (after 2 tries)" in err.value.message


async def test_unreachable_provider_is_retried_then_fails_clearly(tmp_path):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    async with harness(tmp_path, policy=RetryPolicy(max_retries=1, base_s=0.01, cap_s=0.02)) as h:
        await h.llm.registry.set("gone", "ollama", "llama3.1", f"127.0.0.1:{port}", None)
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider="gone")
    assert err.value.kind == "provider_error"
    assert "'gone' (ollama, model llama3.1): cannot connect to 127.0.0.1" in err.value.message
    assert "(after 2 tries)" in err.value.message


@pytest.mark.parametrize("kind", KINDS)
async def test_stream_cut_midway_is_retried(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.json(GOOD, cut_after=20), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1", role="boss"), MSGS, Plan, provider=kind, stream=True)
        await h.settle()
        notes = [e.data["text"] for e in h.of_kind("agent.log") if e.data.get("note")]
    assert ans.value.title == "todo app" and ans.attempts == 1
    assert len(fake.requests) == 2
    assert len(notes) == 1 and "retry 1 of" in notes[0]


async def test_json_body_cut_midway_is_retried(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic")
        fake.push(Reply.json(GOOD, cut_after=1), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(), MSGS, Plan, provider="anthropic")
    assert ans.value.title == "todo app" and len(fake.requests) == 2


async def test_cancellation_stops_the_call_at_once(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.push(Reply.json(GOOD, delay=30))
        t0 = time.monotonic()
        with anyio.move_on_after(0.3):
            await h.llm.ask(CallSite(task_id="t1", role="worker", step="w1"), MSGS, Plan, provider="openai")
        elapsed = time.monotonic() - t0
        rows = await h.rows("SELECT attempt, error FROM llm_calls")
    assert elapsed < 1.0
    assert rows == [(1, "cancelled")]


async def test_parallel_calls_share_the_limit_and_follow_the_setting(tmp_path, fake):
    async def burst(h, n):
        fake.reset()
        fake.responder = lambda req: Reply.json(GOOD, delay=0.5)
        async with anyio.create_task_group() as tg:
            for _ in range(n):
                tg.start_soon(lambda: h.llm.ask(CallSite(), MSGS, Plan, provider="ollama"))
        first = min(r.at for r in fake.requests)
        return sum(1 for r in fake.requests if r.at - first < 0.3)

    async with harness(tmp_path) as h:
        await add(h, fake, "ollama")
        await h.llm.settings.update({"max_parallel_llm_calls": 2})
        assert await burst(h, 6) == 2
        await h.llm.settings.update({"max_parallel_llm_calls": 6})
        assert await burst(h, 6) == 6
        assert h.llm.limit.total_tokens == 6


# -- credentials ------------------------------------------------------------------------
async def test_every_call_carries_its_own_credentials(tmp_path, fake, monkeypatch):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", name="alpha", key="key-alpha-111111")
        await add(h, fake, "openai", name="beta", key="key-beta-2222222")
        fake.responder = lambda req: Reply.json(GOOD)
        for name in ("alpha", "beta", "alpha", "beta"):
            await h.llm.ask(CallSite(), MSGS, Plan, provider=name)
        seen = [r.headers["authorization"] for r in fake.requests]
        assert seen == ["Bearer key-alpha-111111", "Bearer key-beta-2222222"] * 2
        # a provider from the environment reads the variable at each call
        monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-first-1")
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.base_url("anthropic"))
        await h.llm.ask(CallSite(), MSGS, Plan, provider="anthropic")
        monkeypatch.setenv("ANTHROPIC_API_KEY", "env-key-second-2")
        await h.llm.ask(CallSite(), MSGS, Plan, provider="anthropic")
        assert [r.headers["x-api-key"] for r in fake.requests[-2:]] == ["env-key-first-1", "env-key-second-2"]
        # a custom OpenAI-compatible endpoint never gets the OpenAI key
        monkeypatch.setenv("OPENAI_API_KEY", "sk-real-openai-key")
        await h.llm.registry.set("local", "openai", "llama", fake.base_url("openai"), None)
        await h.llm.ask(CallSite(), MSGS, Plan, provider="local")
        assert "authorization" not in fake.requests[-1].headers


async def test_openai_compatible_servers_without_json_schema(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", name="deepseekish", structured="json_object")
        await add(h, fake, "openai", name="plain", structured="none")
        fake.responder = lambda req: Reply.json(GOOD)
        await h.llm.ask(CallSite(), MSGS, Plan, provider="deepseekish")
        await h.llm.ask(CallSite(), MSGS, Plan, provider="plain")
    json_mode, plain = fake.requests
    assert json_mode.body["response_format"] == {"type": "json_object"}
    assert "response_format" not in plain.body
    for req in (json_mode, plain):
        first = req.body["messages"][0]
        assert first["role"] == "system" and "JSON Schema" in first["content"] and '"owner"' in first["content"]


async def test_offline_and_unknown_providers(tmp_path):
    async with harness(tmp_path) as h:
        assert h.llm.default_provider() == "offline"
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan)
        assert err.value.kind == "provider_error" and "offline" in err.value.message
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider="nope")
        assert err.value.kind == "not_found" and "nope" in err.value.message


# -- usage ------------------------------------------------------------------------------
async def test_usage_is_recorded_per_call_agent_and_task(tmp_path, fake):
    async with harness(tmp_path) as h:
        await make_task(h)
        await add(h, fake, "openai", model="gpt-4o-mini")
        fake.push(Reply.json({"title": 1}, usage=(1000, 100)), Reply.json(GOOD, usage=(2000, 500)))
        site = CallSite(task_id="t1", agent_id="a1", role="boss", step="plan")
        ans = await h.llm.ask(site, MSGS, Plan, provider="openai")
        await h.settle()
        agent = await h.rows("SELECT calls, tokens_in, tokens_out, cost_usd FROM agents WHERE id='a1'")
        usage = await h.llm.task_usage("t1")
        calls = h.of_kind("llm.call")
        stored = await h.rows("SELECT role, step, attempt, provider, model, tokens_in, tokens_out, request FROM llm_calls ORDER BY id")
    price = (3000 * 0.15 + 600 * 0.60) / 1e6
    assert ans.usage.tokens_in == 3000 and ans.usage.tokens_out == 600 and ans.usage.cost_usd == pytest.approx(price)
    assert agent == [(2, 3000, 600, pytest.approx(price))]
    assert usage == {"calls": 2, "tokens_in": 3000, "tokens_out": 600, "tokens_cached": 0, "cost_usd": pytest.approx(price)}
    assert [(e.data["attempt"], e.data["ok"], e.data["tokens"]) for e in calls] == [(1, False, 1100), (2, True, 2500)]
    assert all(e.task_id == "t1" and e.agent_id == "a1" and e.data["model"] == "gpt-4o-mini" for e in calls)
    assert calls[1].data["latency_ms"] > 0
    assert [r[:7] for r in stored] == [
        ("boss", "plan", 1, "openai", "gpt-4o-mini", 1000, 100),
        ("boss", "plan", 2, "openai", "gpt-4o-mini", 2000, 500),
    ]
    assert json.loads(stored[0][7])["messages"][1]["content"] == "Plan a todo app."


# -- budgets ------------------------------------------------------------------------------
async def test_call_budget_stops_at_the_limit_not_one_call_later(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.responder = lambda req: Reply.json(GOOD)
        site = CallSite(task_id="t1", role="worker", meta={"max_llm_calls": 3})
        for _ in range(3):
            await h.llm.ask(site, MSGS, Plan, provider="openai")
        with pytest.raises(RpcError) as err:
            await h.llm.ask(site, MSGS, Plan, provider="openai")
        assert len(fake.requests) == 3
        e = err.value
        assert e.code == -32005 and e.kind == "budget_exceeded"
        assert e.data["budget"] == "max_llm_calls" and e.data["used"] == 3 and e.data["limit"] == 3
        # all work so far is kept
        assert (await h.llm.task_usage("t1"))["calls"] == 3
        # another task is not affected; validation retries count as calls
        fake.reset()
        fake.push(Reply.of_text("nope"), Reply.of_text("nope"), Reply.json(GOOD))
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="t2", meta={"max_llm_calls": 2}), MSGS, Plan, provider="openai")
        assert err.value.kind == "budget_exceeded" and len(fake.requests) == 2


async def test_call_budget_holds_under_parallel_calls(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic")
        fake.responder = lambda req: Reply.json(GOOD, delay=0.1)
        outcomes = await ask_at_once(h, CallSite(task_id="t1", meta={"max_llm_calls": 3}), "anthropic")
    assert sorted(outcomes) == ["budget_exceeded"] * 5 + ["ok"] * 3
    assert len(fake.requests) == 3


async def test_token_and_cost_budgets_from_settings_and_meta(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", model="gpt-4o")
        fake.responder = lambda req: Reply.json(GOOD, usage=(400, 400))
        await h.llm.settings.update({"max_tokens": 2500})
        site = CallSite(task_id="t1")
        # each call reserves its prompt estimate plus its output limit before it starts
        await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=1000)  # 800 used
        await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=1000)  # 1600 used
        with pytest.raises(RpcError) as err:
            await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=1000)  # lowered to fit, 800 more: 2400
            await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=1000)  # no room left
        assert err.value.data["budget"] == "max_tokens" and len(fake.requests) == 3
        assert fake.requests[2].body["max_completion_tokens"] < 1000
        # the task's meta overrides the setting (null: no limit)
        await h.llm.ask(CallSite(task_id="t1", meta={"max_tokens": None}), MSGS, Plan, provider="openai")
        # cost: 400 in + 400 out at gpt-4o prices = $0.005 per call; a call reserving more than is left never starts
        cost_site = CallSite(task_id="t2", meta={"max_cost_usd": 0.012, "max_tokens": None})
        await h.llm.ask(cost_site, MSGS, Plan, provider="openai", max_tokens=400)
        await h.llm.ask(cost_site, MSGS, Plan, provider="openai", max_tokens=400)
        with pytest.raises(RpcError) as err:
            await h.llm.ask(cost_site, MSGS, Plan, provider="openai", max_tokens=400)
        assert err.value.data["budget"] == "max_cost_usd" and "USD" in err.value.message
        # a limit that is not a number is refused before any call, naming the key
        fake.reset()
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="t3", meta={"max_llm_calls": "ten"}), MSGS, Plan, provider="openai")
        assert err.value.kind == "invalid_params" and "meta.max_llm_calls" in err.value.message
        assert fake.requests == []


# -- replay ---------------------------------------------------------------------------------
async def test_replay_answers_with_exactly_the_recorded_answers(tmp_path, fake):
    answers = [
        {**GOOD, "title": "plan"},
        {**GOOD, "title": "backend team"},
        {**GOOD, "title": "frontend team"},
    ]
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.push(Reply.json(answers[0]), Reply.of_text("garbage"), Reply.json(answers[1]), Reply.json(answers[2]))
        sites = [CallSite(task_id="rec", role="boss", step="plan"), CallSite(task_id="rec", role="manager", step="workers:backend"),
                 CallSite(task_id="rec", role="manager", step="workers:frontend")]
        recorded = [await h.llm.ask(s, MSGS, Plan, provider="openai") for s in sites]
        assert [r.attempts for r in recorded] == [1, 2, 1]
        fake.reset()
        meta = {"replay_from": "rec"}
        # the rebuild asks in a different order with different prompt text
        other = [Message("user", "something else entirely")]
        order = [2, 0, 1]
        replayed = {}
        for i in order:
            s = CallSite(task_id="re", role=sites[i].role, step=sites[i].step, meta=meta)
            replayed[i] = await h.llm.ask(s, other, Plan, provider="replay")
        assert [replayed[i].text for i in range(3)] == [r.text for r in recorded]
        assert [replayed[i].value for i in range(3)] == [r.value for r in recorded]
        assert replayed[1].attempts == 2  # the invalid first answer is replayed too, then corrected
        assert fake.requests == []
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="re", role="manager", step="workers:devops", meta=meta), other, Plan, provider="replay")
        assert err.value.kind == "provider_error"
        assert "'rec'" in err.value.message and "workers:devops" in err.value.message and "attempt 1" in err.value.message
        # asking the same recorded call twice is a miss too: each recording answers once
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="re", role="boss", step="plan", meta=meta), other, Plan, provider="replay")
        assert "only 1 recording" in err.value.message
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(task_id="x", role="boss", step="plan"), other, Plan, provider="replay")
        assert "replay_from" in err.value.message
        rows = await h.rows("SELECT provider, COUNT(*) FROM llm_calls WHERE task_id='re' GROUP BY provider")
    assert rows == [("replay", 4)]
