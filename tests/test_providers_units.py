"""The pure parts of the provider layer: schema shaping per provider, answer
extraction, prices, Retry-After."""

from __future__ import annotations

import email.utils
import time
from typing import Literal

import httpx
import msgspec
import pytest

from octrad.providers.parse import InvalidAnswer, decode_answer, extract_json
from octrad.providers.models import ModelSpec, cost_usd, family_of, spec_for
from octrad.providers.schema import SchemaError, answer_schema, gemini, openai_strict
from octrad.providers.transport import RetryPolicy, parse_retry_after


class File(msgspec.Struct):
    path: str
    content: str


class Context(msgspec.Struct):
    scope: Literal["global", "team", "individual"]
    content: str
    important: bool = False


class WorkerAnswer(msgspec.Struct):
    files: list[File]
    commands: list[str] = []
    context: Context | None = None
    done: bool = False


class Node(msgspec.Struct):
    children: list["Node"]


def test_answer_schema_inlines_refs():
    name, schema = answer_schema(WorkerAnswer)
    assert name == "WorkerAnswer"
    text = msgspec.json.encode(schema).decode()
    assert "$ref" not in text and "$defs" not in text
    assert schema["properties"]["files"]["items"]["properties"]["path"] == {"type": "string"}
    with pytest.raises(SchemaError, match="recursive"):
        answer_schema(Node)
    with pytest.raises(SchemaError, match="must be a Struct"):
        answer_schema(list[int])


def test_openai_strict_closes_every_object_and_requires_every_property():
    _, schema = answer_schema(WorkerAnswer)
    strict = openai_strict(schema)

    def check(node):
        if isinstance(node, dict):
            if node.get("type") == "object":
                assert node["additionalProperties"] is False
                assert node["required"] == list(node["properties"])
            assert "default" not in node
            for v in node.values():
                check(v)
        elif isinstance(node, list):
            for v in node:
                check(v)

    check(strict)
    assert strict["properties"]["commands"] == {"anyOf": [{"type": "array", "items": {"type": "string"}}, {"type": "null"}]}
    # already nullable: not wrapped twice
    assert strict["properties"]["context"]["anyOf"][1] == {"type": "null"}
    assert len(strict["properties"]["context"]["anyOf"]) == 2
    # the original is untouched
    assert "additionalProperties" not in schema


def test_strict_nulls_are_pruned_before_decoding():
    _, schema = answer_schema(WorkerAnswer)
    text = '{"files": [{"path": "a.py", "content": "x"}], "commands": null, "context": null, "done": null}'
    value = decode_answer(text, WorkerAnswer, schema)
    assert value == WorkerAnswer(files=[File("a.py", "x")])


def test_gemini_schema_is_the_openapi_subset():
    _, schema = answer_schema(WorkerAnswer)
    g = gemini(schema)
    assert g["type"] == "OBJECT" and g["propertyOrdering"] == ["files", "commands", "context", "done"]
    ctx = g["properties"]["context"]
    assert ctx["nullable"] is True and ctx["type"] == "OBJECT"
    assert ctx["properties"]["scope"] == {"enum": ["global", "individual", "team"], "type": "STRING"}
    assert g["properties"]["files"]["items"]["required"] == ["path", "content"]
    text = msgspec.json.encode(g).decode()
    for banned in ("$ref", "$defs", "additionalProperties", "default", '"null"'):
        assert banned not in text


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 1}',
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        'Here you go: {"a": 1} -- done',
        '  \n{"a": 1}\n\n',
    ],
)
def test_extract_json_strips_fences_and_prose(text):
    assert extract_json(text) == {"a": 1}


def test_invalid_answers_say_what_is_wrong():
    with pytest.raises(InvalidAnswer, match="empty"):
        extract_json("   ")
    with pytest.raises(InvalidAnswer, match="not one valid JSON object") as err:
        extract_json('{"files": [')
    assert "began" in str(err.value)
    with pytest.raises(InvalidAnswer, match=r"\$\.files\[0\]\.path"):
        decode_answer('{"files": [{"path": 3, "content": "x"}]}', WorkerAnswer)
    with pytest.raises(InvalidAnswer, match="scope"):
        decode_answer('{"files": [], "context": {"scope": "cosmic", "content": "x"}}', WorkerAnswer)


def test_model_table_prices_and_overrides():
    assert family_of("gpt-4o-mini-2024-07-18") == "gpt-4o-mini"
    assert family_of("openai/gpt-4o-mini") == "gpt-4o-mini"
    assert family_of("models/gemini-2.5-flash") == "gemini-2.5-flash"
    assert family_of("llama3.1") is None
    # Opus 4.5 and later: $5/$25, not the $15/$75 of Opus 4 and 4.1
    for m in ("claude-opus-4-5", "claude-opus-4-5-20251101", "claude-opus-4-7", "claude-opus-5"):
        s = spec_for(m)
        assert (s.price_in, s.price_out) == (5.0, 25.0), m
    assert (spec_for("claude-opus-4-1").price_in, spec_for("claude-opus-4-20250514").price_out) == (15.0, 75.0)
    assert cost_usd(spec_for("gpt-4o"), 1_000_000, 1_000_000) == 12.5
    # cached prompt tokens at their own price: gpt-4o cached input is $1.25
    assert cost_usd(spec_for("gpt-4o"), 1_000_000, 0, cached=1_000_000) == 1.25
    # Anthropic: read 0.1x, write 1.25x of the input price
    assert cost_usd(spec_for("claude-haiku-4-5"), 2_000_000, 0, cached=1_000_000, cache_write=1_000_000) == pytest.approx(0.1 + 1.25)
    assert cost_usd(spec_for("llama3.1"), 1000, 1000) == 0
    # config.toml overrides: for all models, then per model prefix
    s = spec_for("llama3.1", {"price_in": 0.5, "max_output_tokens": 2048}, {"llama3": {"context_tokens": 8192}})
    assert (s.price_in, s.max_output_tokens, s.context_tokens, s.default_output_tokens) == (0.5, 2048, 8192, 2048)
    assert cost_usd(s, 1_000_000, 0) == 0.5
    # the quirks come from the table: reasoning models, newer Claude, JSON-mode-only servers
    assert spec_for("gpt-5.4-mini").temperature_rule == "fixed" and spec_for("o3").token_field == "max_completion_tokens"
    assert spec_for("claude-opus-4-7").temperature_rule == "none" and spec_for("claude-haiku-4-5").temperature_max == 1.0
    assert spec_for("deepseek-chat").structured == "json_object"
    assert isinstance(spec_for("x"), ModelSpec) and spec_for("x").max_output_tokens > 0


def test_retry_after_forms_and_backoff():
    assert parse_retry_after(httpx.Headers({"retry-after": "3"})) == 3
    assert parse_retry_after(httpx.Headers({"retry-after-ms": "250", "retry-after": "9"})) == 0.25
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    assert 27 <= parse_retry_after(httpx.Headers({"retry-after": when})) <= 31
    assert parse_retry_after(httpx.Headers({"retry-after": "soon"})) is None
    assert parse_retry_after(httpx.Headers({})) is None
    p = RetryPolicy(base_s=1, cap_s=8, retry_after_cap_s=60)
    assert p.delay(0, 5) == 5 and p.delay(0, 600) == 60
    for retry, (lo, hi) in enumerate([(0.5, 1), (1, 2), (2, 4), (4, 8), (4, 8)]):
        d = p.delay(retry, None)
        assert lo <= d <= hi


async def test_client_pool_scopes_by_key_and_closes_what_it_retires():
    from octrad.providers.transport import ClientPool

    pool = ClientPool(size=2)
    async with pool.lease("http://127.0.0.1:1/v1/x", "key-a-000000", 5) as a:
        async with pool.lease("http://127.0.0.1:1/v1/y", "key-a-000000", 5) as a2:
            assert a2 is a  # same origin, same key: connections are shared
        async with pool.lease("http://127.0.0.1:1/v1/x", "key-b-000000", 5) as b:
            assert b is not a  # never a client of another key
        async with pool.lease("http://127.0.0.1:2/v1/x", "key-a-000000", 5) as c:
            assert c is not a
        # "a" is retired (least recently used) but still in use: not closed under our feet
        assert not a.is_closed
    assert a.is_closed and not b.is_closed and not c.is_closed
    await pool.aclose()
    assert b.is_closed and c.is_closed


def test_an_env_key_is_not_sent_to_another_endpoint(monkeypatch):
    """OPENAI_API_KEY that belongs to OPENAI_BASE_URL (say OpenRouter) is not given to a
    provider without a base URL, which would send it to api.openai.com."""
    from octrad.providers.registry import Registry
    from octrad.providers.types import ProviderConfig

    monkeypatch.setenv("OPENAI_API_KEY", "sk-or-belongs-to-openrouter-000")
    monkeypatch.setenv("OPENAI_BASE_URL", "https://openrouter.ai/api/v1")
    reg = Registry(None, {}, "")
    plain = reg._with_key(ProviderConfig(name="mine", kind="openai", model="m"))
    assert plain.api_key is None
    same = reg._with_key(ProviderConfig(name="mine", kind="openai", model="m", base_url="https://openrouter.ai/api/v1"))
    assert same.api_key == "sk-or-belongs-to-openrouter-000"
    monkeypatch.delenv("OPENAI_BASE_URL")
    assert reg._with_key(ProviderConfig(name="mine", kind="openai", model="m")).api_key == "sk-or-belongs-to-openrouter-000"
