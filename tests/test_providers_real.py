"""The provider layer against a fake as strict as the real APIs (issue 13's
numbered items, and the answer-size and Unicode items of issue 12).

Each test states the real service's behaviour the fake reproduces and what
Octra must do about it; each fails on the code before the fix.
"""

from __future__ import annotations

import json
from typing import Annotated, Literal

import anyio
import msgspec
import pytest

from octra_protocol.errors import RpcError
from octrad.pipeline import answers
from octrad.providers import CallSite, Message
from octrad.providers.schema import answer_schema, for_kind
from tests.fakes.providers import FakeProvider, Reply
from tests.fakes.schema_rules import anthropic_schema_problems, gemini_schema_problems, openai_strict_problems
from tests.test_providers import GOOD, MSGS, Plan, add, ask_at_once, harness

pytestmark = pytest.mark.anyio

KINDS = ("openai", "anthropic", "gemini", "ollama")


@pytest.fixture
def fake():
    with FakeProvider() as f:
        yield f


class Note(msgspec.Struct, kw_only=True):
    scope: Literal["global", "team", "individual"] = "team"
    content: str


class Bounded(msgspec.Struct, kw_only=True):
    """An answer type with the bounds the pipeline's types carry (Meta)."""

    managers: Annotated[list[str], msgspec.Meta(min_length=1, max_length=4)]
    title: Annotated[str, msgspec.Meta(max_length=40)]
    priority: Annotated[int, msgspec.Meta(ge=1, le=5)] = 1
    ratio: Annotated[float, msgspec.Meta(gt=0)] = 1.0
    note: Note | None = None


ANSWER_TYPES = [t for t in vars(answers).values() if isinstance(t, type) and issubclass(t, msgspec.Struct) and t.__module__ == answers.__name__]


# -- every answer type, as each kind sends it, against the documented rules ---------------
@pytest.mark.parametrize("tp", [*ANSWER_TYPES, Bounded], ids=lambda t: t.__name__)
def test_every_answer_schema_passes_the_documented_rules(tp):
    _, schema = answer_schema(tp)
    assert openai_strict_problems(for_kind("openai", schema)) == []
    assert gemini_schema_problems(for_kind("gemini", schema)) == []
    assert anthropic_schema_problems(for_kind("anthropic", schema)) == []
    for kind in ("anthropic", "ollama"):
        assert _untyped_enums(for_kind(kind, schema)) == []


def _untyped_enums(node, path="$"):
    if isinstance(node, list):
        return [p for i, v in enumerate(node) for p in _untyped_enums(v, f"{path}[{i}]")]
    if not isinstance(node, dict):
        return []
    here = [path] if "enum" in node and "type" not in node else []
    return here + [p for k, v in node.items() for p in _untyped_enums(v, f"{path}.{k}")]


def test_item1_a_literal_is_typed_for_openai_strict():
    """msgspec writes Literal as a bare enum; OpenAI strict says "schema must have a 'type' key"."""
    _, schema = answer_schema(answers.Plan)
    scope = for_kind("openai", schema)["properties"]["context"]["anyOf"][0]["properties"]["scope"]
    assert scope["anyOf"] == [{"enum": ["global", "individual", "team"], "type": "string"}, {"type": "null"}]
    # the checker itself catches the old schema
    from octrad.providers.schema import _strict

    assert any("must have a 'type'" in p for p in openai_strict_problems(_strict(schema, "$")))


def test_meta_bounds_reach_each_kind_and_are_validated_anyway():
    _, schema = answer_schema(Bounded)
    o, g, a = for_kind("openai", schema), for_kind("gemini", schema), for_kind("anthropic", schema)
    assert (o["properties"]["managers"]["minItems"], o["properties"]["managers"]["maxItems"]) == (1, 4)
    assert "maxLength" not in json.dumps(o)  # not in strict mode's keyword list
    assert g["properties"]["title"]["maxLength"] == 40 and g["properties"]["managers"]["maxItems"] == 4
    assert g["properties"]["priority"]["minimum"] == 1 and "exclusiveMinimum" not in json.dumps(g)
    assert a["properties"]["title"]["maxLength"] == 40 and a["properties"]["ratio"]["exclusiveMinimum"] == 0
    from octrad.providers.parse import InvalidAnswer, decode_answer

    with pytest.raises(InvalidAnswer, match="managers"):
        decode_answer(json.dumps({"managers": ["a"] * 65, "title": "t"}), Bounded, schema)
    with pytest.raises(InvalidAnswer, match="title"):
        decode_answer(json.dumps({"managers": ["a"], "title": "t" * 41}), Bounded, schema)


@pytest.mark.parametrize("kind", KINDS)
async def test_item1_the_real_plan_schema_is_accepted(tmp_path, fake, kind):
    plan = {"task_type": "cli", "managers": [{"role": "backend", "description": "d"}]}
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.json(plan))
        ans = await h.llm.ask(CallSite(role="boss", step="plan"), MSGS, answers.Plan, provider=kind)
    assert ans.value.managers[0].role == "backend" and fake.rejected == []


async def test_item1_providers_test_asks_with_the_real_schema_and_shows_the_providers_words(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.strict_schema = False  # this server refuses strict json_schema ... and then every other mode
        fake.json_schema = False
        fake.push(Reply.json({"task_type": "cli", "tech_stack": "python", "managers": [{"role": "b", "description": "d"}]}))
        res = await h.llm.test("openai")
        assert res["answer"].startswith("a valid Plan") and "managers" in json.dumps(fake.requests[0].schema)
        # a rejection reaches the user in the provider's own words
        fake.reset()
        fake.responder = lambda req: Reply.error(400, "invalid_api_key|Incorrect API key provided: sk-te****")
        with pytest.raises(RpcError) as err:
            await h.llm.test("openai")
    assert "Incorrect API key provided" in err.value.message


# -- 2: truncation ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_item2_a_truncated_answer_is_retried_once_with_a_larger_limit(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.truncated(GOOD, at=len(json.dumps(GOOD)) - 3), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1", role="boss", step="plan"), MSGS, Plan, provider=kind, max_tokens=1000)
        rows = await h.rows("SELECT attempt, error FROM llm_calls ORDER BY id")
    first, second = (fake.requests[0], fake.requests[1])
    limit = lambda r: r.body.get("max_tokens") or r.body.get("max_completion_tokens") or (  # noqa: E731
        r.body.get("generationConfig") or {}).get("maxOutputTokens") or (r.body.get("options") or {}).get("num_predict")
    assert limit(first) == 1000 and limit(second) == 4000
    assert ans.value.title == "todo app" and ans.attempts == 2
    assert rows[0][1].startswith("truncated") and rows[1] == (2, None)


async def test_item2_a_truncated_answer_at_the_models_limit_fails_clearly(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic", model="claude-3-haiku-20240307")  # at most 4096 output tokens
        fake.responder = lambda req: Reply.truncated({"files": [{"path": "a", "content": "x" * 50}]})
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(role="worker", step="worker:api:1"), MSGS, Plan, provider="anthropic", max_tokens=1000)
    e = err.value
    assert e.kind == "provider_error" and e.data["reason"] == "truncated"
    assert "worker:api:1" in e.message and "claude-3-haiku-20240307" in e.message and "limit of 4000 tokens" in e.message and "4096" in e.message
    assert len(fake.requests) == 2


def test_item2_an_inner_object_of_a_cut_off_answer_is_never_the_answer():
    from octrad.providers.parse import InvalidAnswer, decode_answer

    cut = '{"task_type": "web", "managers": [{"role": "backend", "description": "api", "priority": 1}, {"role": "fr'
    with pytest.raises(InvalidAnswer, match="not one valid JSON object"):
        decode_answer(cut, answers.Plan)
    with pytest.raises(InvalidAnswer):
        decode_answer('{"files": [{"path": "a.py", "content": "print(1)"}, {"path": "b', answers.WorkerOutput)


# -- 3: temperatures and token fields ---------------------------------------------------
@pytest.mark.parametrize(
    "kind,model,temp,sent,field",
    [
        ("openai", "gpt-5.4-mini", 0.2, None, "max_completion_tokens"),
        ("openai", "o3", 0.2, None, "max_completion_tokens"),
        ("openai", "gpt-4.1-mini", 0.2, 0.2, "max_completion_tokens"),
        ("openai", "my-local-model", 1.5, 1.5, "max_tokens"),
        ("anthropic", "claude-haiku-4-5", 1.5, 1.0, "max_tokens"),
        ("anthropic", "claude-opus-4-7", 0.2, None, "max_tokens"),
        ("anthropic", "claude-sonnet-5", 0.2, None, "max_tokens"),
    ],
)
async def test_item3_temperature_and_token_field_follow_the_model_table(tmp_path, fake, kind, model, temp, sent, field):
    async with harness(tmp_path) as h:
        await add(h, fake, kind, model=model)
        fake.push(Reply.json(GOOD))
        await h.llm.ask(CallSite(), MSGS, Plan, provider=kind, temperature=temp)
    [req] = fake.requests
    assert req.body.get("temperature") == sent and ("temperature" in req.body) == (sent is not None)
    assert field in req.body and fake.rejected == []


async def test_item3_model_quirks_are_overridable_in_config_toml(tmp_path, fake):
    tables = {"local": {"kind": "openai", "model": "my-finetune-7b", "base_url": fake.base_url("openai"), "price_in": 1.0,
                        "models": {"my-finetune": {"temperature_rule": "none", "token_field": "max_completion_tokens",
                                                   "max_output_tokens": 777}}}}
    async with harness(tmp_path, file_providers=tables) as h:
        fake.push(Reply.json(GOOD, usage=(1_000_000, 0)))
        a = await h.llm.ask(CallSite(), MSGS, Plan, provider="local", temperature=0.3)
        assert h.llm.registry.file_errors == {}
    body = fake.requests[0].body
    assert "temperature" not in body and body["max_completion_tokens"] == 777 and a.usage.cost_usd == 1.0


def test_item3_a_bad_override_is_reported_naming_the_key():
    from octrad.providers.registry import Registry

    reg = Registry(None, {"x": {"kind": "openai", "model": "m", "max_output_tokns": 5},
                          "y": {"kind": "openai", "model": "m", "models": {"m": {"temperature_rule": "sometimes"}}}}, "")
    assert "max_output_tokns" in reg.file_errors["x"]
    assert 'models."m"' in reg.file_errors["y"] and "temperature_rule" in reg.file_errors["y"]


# -- 4: default models ---------------------------------------------------------------------
def test_item4_no_dead_default_models():
    from octrad.providers.models import DEFAULT_MODELS, family_of
    from octrad.providers.registry import ENV_PROVIDERS

    dead = {"gemini-2.0-flash", "claude-3-5-haiku-latest", "gpt-4o-mini"}
    for ep in ENV_PROVIDERS:
        assert ep.model not in dead
        if ep.kind != "ollama":
            assert family_of(ep.model), f"{ep.name}'s default {ep.model} is not in the model table"
    assert DEFAULT_MODELS["gemini"] == "gemini-2.5-flash"


# -- 5: no empty turns ----------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["anthropic", "gemini", "openai"])
async def test_item5_a_correction_after_an_empty_answer_sends_no_empty_turn(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.of_text(""), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
    assert ans.attempts == 2 and fake.rejected == []
    assert all(m["content"] for m in fake.requests[1].messages)
    assert "empty" in fake.requests[1].messages[-1]["content"]


async def test_item5_correction_prompts_stay_bounded(tmp_path, fake):
    huge = '{"title": "' + "x" * 20000
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.push(Reply.of_text(huge), Reply.of_text(huge), Reply.json(GOOD))
        await h.llm.ask(CallSite(), MSGS, Plan, provider="openai")
    sizes = [len(json.dumps(r.body["messages"])) for r in fake.requests]
    assert sizes[1] < 2000 and abs(sizes[2] - sizes[1]) < 50  # the second correction is no bigger than the first


# -- 6: fallback when json_schema is refused -----------------------------------------------
async def test_item6_a_server_refusing_json_schema_steps_down_and_is_remembered(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", name="deepseekish", model="some-model")
        fake.json_schema = False
        fake.responder = lambda req: Reply.json(GOOD)
        a = await h.llm.ask(CallSite(task_id="t1", role="boss", step="plan"), MSGS, Plan, provider="deepseekish")
        modes = [((r.body.get("response_format") or {}).get("type"), (r.body.get("response_format") or {}).get("json_schema", {}).get("strict")) for r in fake.requests]
        assert modes == [("json_schema", True), ("json_schema", False), ("json_object", None)]
        assert a.value.title == "todo app" and a.attempts == 1
        await h.settle()
        notes = [e.data["text"] for e in h.of_kind("agent.log") if e.data.get("note")]
        assert any("using json_schema_loose" in n for n in notes) and any("using json_object" in n for n in notes)
        fake.reset()
        fake.json_schema = False
        fake.responder = lambda req: Reply.json(GOOD)
        await h.llm.ask(CallSite(), MSGS, Plan, provider="deepseekish")
    [again] = fake.requests
    assert again.body["response_format"] == {"type": "json_object"}
    assert '"owner"' in again.body["messages"][0]["content"]
    # a restarted daemon (the same database) remembers it too
    fake.reset()
    fake.json_schema = False
    fake.responder = lambda req: Reply.json(GOOD)
    async with harness(tmp_path) as h:
        await h.llm.ask(CallSite(), MSGS, Plan, provider="deepseekish")
    [after_restart] = fake.requests
    assert after_restart.body["response_format"] == {"type": "json_object"}


async def test_item6_deepseek_uses_json_mode_from_the_table(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", name="ds", model="deepseek-chat")
        fake.push(Reply.json(GOOD))
        await h.llm.ask(CallSite(), MSGS, Plan, provider="ds")
    assert fake.requests[0].body["response_format"] == {"type": "json_object"}


# -- 7: Ollama num_ctx ----------------------------------------------------------------------------
async def test_item7_ollama_gets_a_context_size_that_fits_the_prompt(tmp_path, fake):
    big = [Message("system", "rules"), Message("user", "x" * 30000)]
    async with harness(tmp_path) as h:
        await add(h, fake, "ollama")
        fake.responder = lambda req: Reply.json(GOOD)
        await h.llm.ask(CallSite(), MSGS, Plan, provider="ollama", max_tokens=1000)
        await h.llm.ask(CallSite(), big, Plan, provider="ollama", max_tokens=1000)
    small, large = (r.body["options"] for r in fake.requests)
    assert small["num_ctx"] == 2048 and large["num_ctx"] >= 30000 // 3 + 1000 and large["num_ctx"] % 2048 == 0
    assert small["num_predict"] == 1000


async def test_item7_ollama_context_is_bounded_by_config(tmp_path, fake):
    tables = {"box": {"kind": "ollama", "model": "llama3.1", "base_url": fake.url, "context_tokens": 4096}}
    async with harness(tmp_path, file_providers=tables) as h:
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), [Message("user", "y" * 20000)], Plan, provider="box")
    assert "4096" in err.value.message and "context_tokens" in err.value.message and fake.requests == []


# -- 8: Gemini RetryInfo, x-should-retry ---------------------------------------------------
async def test_item8_gemini_429_waits_as_long_as_the_body_says(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "gemini")
        fake.push(Reply.error(429, "Resource has been exhausted", retry_delay="0.6s"), Reply.json(GOOD))
        await h.llm.ask(CallSite(), MSGS, Plan, provider="gemini")
    first, second = fake.requests
    assert second.at - first.at >= 0.58


async def test_item8_x_should_retry_overrides_the_status(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic")
        fake.push(Reply.error(400, "transient", headers={"x-should-retry": "true"}), Reply.json(GOOD))
        assert (await h.llm.ask(CallSite(), MSGS, Plan, provider="anthropic")).value.title == "todo app"
        fake.reset()
        fake.push(Reply.error(503, "do not", headers={"x-should-retry": "false"}), Reply.json(GOOD))
        with pytest.raises(RpcError):
            await h.llm.ask(CallSite(), MSGS, Plan, provider="anthropic")
    assert len(fake.requests) == 1


# -- 9: prices ----------------------------------------------------------------------------------
async def test_item9_cost_uses_current_prices_cached_tokens_and_config_overrides(tmp_path, fake):
    tables = {"mine": {"kind": "anthropic", "model": "claude-opus-4-5", "base_url": fake.url, "price_out": 20.0}}
    async with harness(tmp_path, file_providers=tables) as h:
        await add(h, fake, "anthropic", model="claude-opus-4-5")
        fake.responder = lambda req: Reply.json(GOOD, usage=(1_000_000, 1_000_000), cached=(400_000, 100_000))
        a = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="anthropic")
        b = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="mine")
        rows = await h.rows("SELECT tokens_in, tokens_cached, tokens_cache_write FROM llm_calls")
        usage = await h.llm.task_usage("t1")
    assert usage["tokens_cached"] == 800_000 and usage["tokens_in"] == 2_000_000 and usage["calls"] == 2
    # 500k fresh at $5, 400k read at $0.50, 100k written at $6.25, 1M out at $25
    assert a.usage.cost_usd == pytest.approx(2.5 + 0.2 + 0.625 + 25)
    assert b.usage.cost_usd == pytest.approx(2.5 + 0.2 + 0.625 + 20)
    assert a.usage.tokens_cached == 400_000 and rows[0] == (1_000_000, 400_000, 100_000)


# -- 10: output limit and context overflow ----------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
async def test_item10_every_call_carries_an_output_limit(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply.json(GOOD))
        await h.llm.ask(CallSite(), MSGS, Plan, provider=kind)
    assert fake.rejected == [] and len(fake.requests) == 1


@pytest.mark.parametrize("kind,style", [("openai", "llamacpp"), ("openai", "native"), ("anthropic", "native"), ("gemini", "native")])
async def test_item10_context_overflow_is_a_clear_error_never_retried(tmp_path, fake, kind, style):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.context_tokens = 500
        fake.overflow_style = style
        fake.responder = lambda req: Reply.json(GOOD)
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(role="boss", step="plan"), MSGS, Plan, provider=kind, max_tokens=2000)
    e = err.value
    assert len(fake.requests) == 1 and e.data["reason"] == "context_overflow"
    assert "step plan" in e.message and "2000 output tokens" in e.message and "prompt tokens" in e.message


# -- 11: budgets under parallel calls ------------------------------------------------------------
async def test_item11_token_budget_holds_under_parallel_calls(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.responder = lambda req: Reply.json(GOOD, usage=(300, 600), delay=0.1)
        outcomes = await ask_at_once(h, CallSite(task_id="t1", meta={"max_tokens": 3000}), "openai", max_tokens=800)
        used = (await h.llm.task_usage("t1"))
    assert outcomes.count("ok") <= 3 and "budget_exceeded" in outcomes
    assert used["tokens_in"] + used["tokens_out"] <= 3000


async def test_item11_a_call_is_lowered_to_fit_then_refused(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.responder = lambda req: Reply.json(GOOD, usage=(100, 100))
        site = CallSite(task_id="t1", meta={"max_tokens": 1500})
        await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=4000)
        with pytest.raises(RpcError) as err:
            for _ in range(10):
                await h.llm.ask(site, MSGS, Plan, provider="openai", max_tokens=4000)
    first = fake.requests[0].body["max_tokens"]
    assert first < 1500 and err.value.data["budget"] == "max_tokens" and "would need about" in err.value.message


# -- the step's time, streaming progress, tokens of cut exchanges --------------------------------
async def test_one_step_is_bounded_in_time_and_reports_retries(tmp_path, fake):
    from octrad.providers.transport import RetryPolicy

    async with harness(tmp_path, policy=RetryPolicy(max_retries=10, base_s=0.01, cap_s=0.02)) as h:
        await add(h, fake, "openai", timeout_s=0.3)
        fake.responder = lambda req: Reply.json(GOOD, delay=5)
        with anyio.fail_after(5):
            with pytest.raises(RpcError) as err:
                await h.llm.ask(CallSite(task_id="t1", role="boss", step="plan", meta={"step_timeout_s": 1.0}), MSGS, Plan, provider="openai")
        await h.settle()
        notes = [e.data["text"] for e in h.of_kind("agent.log") if e.data.get("note")]
    assert "step plan" in err.value.message and "1s" in err.value.message
    assert any("retry 1 of 10" in n and "no complete answer" in n for n in notes)


async def test_a_cancelled_stream_records_its_tokens(tmp_path, fake):
    long = {**GOOD, "steps": ["s" * 50] * 200}
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        fake.push(Reply.json(long, piece=200, gap=0.05))
        with anyio.move_on_after(0.6):
            await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="openai", stream=True)
        rows = await h.rows("SELECT tokens_in, tokens_out, error FROM llm_calls")
        await h.settle()
        progress = [e.data["tokens_so_far"] for e in h.of_kind("agent.log") if not e.data.get("note")]
    [(tin, tout, error)] = rows
    assert error == "cancelled" and tin > 0 and tout > 0
    assert progress and progress == sorted(progress) and progress[-1] > 0


async def test_the_tokens_of_a_try_cut_midway_are_counted_too(tmp_path, fake):
    long = {**GOOD, "steps": ["s" * 50] * 60}
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic")
        fake.push(Reply.json(long, cut_after=2400, usage=(100, 50)), Reply.json(GOOD, usage=(100, 50)))
        ans = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="anthropic")
        rows = await h.rows("SELECT tokens_in, tokens_out FROM llm_calls")
    # the first try streamed ~2400 characters before the connection broke: about 800 tokens spent
    assert len(fake.requests) == 2 and rows == [(ans.usage.tokens_in, ans.usage.tokens_out)]
    assert ans.usage.tokens_in == 200 and ans.usage.tokens_out >= 50 + 700


async def test_calls_stream_by_default_without_flooding_the_log(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "gemini")
        fake.push(Reply.json({**GOOD, "steps": ["s" * 40] * 100}, piece=50))
        await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="gemini")
        await h.settle()
        texts = [e.data["text"] for e in h.of_kind("agent.log")]
    assert fake.requests[0].stream
    assert not any('"steps"' in t for t in texts)  # progress only: the answer itself is stored once, in llm_calls


async def test_replay_follows_a_recorded_fallback(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai", name="old", model="m")
        fake.json_schema = False
        fake.responder = lambda req: Reply.json(GOOD)
        await h.llm.ask(CallSite(task_id="rec", role="boss", step="plan"), MSGS, Plan, provider="old")
        fake.reset()
        again = await h.llm.ask(CallSite(task_id="re", role="boss", step="plan", meta={"replay_from": "rec"}), MSGS, Plan, provider="replay")
    assert again.value.title == "todo app" and again.attempts == 1 and fake.requests == []


# -- refusals ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["openai", "anthropic"])
async def test_a_refusal_is_a_clear_provider_error(tmp_path, fake, kind):
    async with harness(tmp_path) as h:
        await add(h, fake, kind)
        fake.push(Reply(refusal="I can't help with that."))
        with pytest.raises(RpcError) as err:
            await h.llm.ask(CallSite(), MSGS, Plan, provider=kind, stream=False)
    assert "refused" in err.value.message and err.value.data["reason"] == "refusal"


# -- issue 12: answer size cap, unencodable text -------------------------------------------------
@pytest.mark.parametrize("stream", [False, True])
async def test_an_answer_over_the_size_cap_is_refused_and_retried(tmp_path, fake, stream):
    tables = {"capped": {"kind": "openai", "model": "m", "base_url": fake.base_url("openai"), "max_answer_bytes": 100_000}}
    async with harness(tmp_path, file_providers=tables) as h:
        fake.push(Reply.json({**GOOD, "title": "z" * 3_000_000}, piece=65536), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="capped", stream=stream)
        rows = await h.rows("SELECT attempt, error, length(response) FROM llm_calls ORDER BY id")
    assert ans.value.title == "todo app" and ans.attempts == 2
    assert "larger than 100,000 bytes" in rows[0][1] and rows[0][2] is None
    assert "Keep the answer well under" in fake.requests[1].messages[-1]["content"]


async def test_a_lone_surrogate_is_an_invalid_answer_retried_and_stored_safely(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "openai")
        bad = '{"title": "\\ud800", "steps": [], "owner": {"name": "b", "level": 1}}'
        fake.push(Reply.of_text(bad), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="openai")
        rows = await h.rows("SELECT error FROM llm_calls ORDER BY id")
    assert ans.value.title == "todo app" and ans.attempts == 2
    assert "lone surrogate" in rows[0][0]
    from octrad.providers.parse import storable

    assert storable("a\ud800b") == "a\\ud800b"


async def test_a_hostile_answer_nested_too_deeply_is_an_invalid_answer(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "ollama")
        fake.push(Reply.of_text('{"title": ' + "[" * 300000 + "]" * 300000 + "}"), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(task_id="t1"), MSGS, Plan, provider="ollama", stream=False)
        [first, _] = await h.rows("SELECT error FROM llm_calls ORDER BY id")
    assert ans.attempts == 2 and "nested too deeply" in first[0]


async def test_a_hostile_server_nesting_its_envelope_too_deeply_is_retried(tmp_path, fake):
    async with harness(tmp_path) as h:
        await add(h, fake, "ollama")
        fake.push(Reply(raw=b'{"message": ' + b"[" * 300000 + b"]" * 300000 + b"}"), Reply.json(GOOD))
        ans = await h.llm.ask(CallSite(), MSGS, Plan, provider="ollama", stream=False)
    assert ans.value.title == "todo app" and len(fake.requests) == 2


# -- prompt caching ---------------------------------------------------------------------------------
async def test_anthropic_gets_cache_breakpoints_where_the_shared_prefix_ends(tmp_path, fake):
    msgs = [Message("system", "rules", cache=True), Message("user", "task and plan", cache=True), Message("user", "files")]
    async with harness(tmp_path) as h:
        await add(h, fake, "anthropic", model="claude-haiku-4-5")
        fake.push(Reply.json(GOOD, usage=(5000, 10), cached=(4000, 0)))
        a = await h.llm.ask(CallSite(), msgs, Plan, provider="anthropic")
    body = fake.requests[0].body
    assert body["system"] == [{"type": "text", "text": "rules", "cache_control": {"type": "ephemeral"}}]
    assert body["messages"] == [{"role": "user", "content": [
        {"type": "text", "text": "task and plan", "cache_control": {"type": "ephemeral"}}, {"type": "text", "text": "files"}]}]
    assert a.usage.tokens_cached == 4000 and a.usage.tokens_in == 5000
