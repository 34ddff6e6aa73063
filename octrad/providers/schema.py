"""JSON Schemas for structured output, shaped the way each provider accepts them.

:func:`answer_schema` turns the caller's msgspec type into a self-contained
schema (``$ref``s inlined), bounds from ``msgspec.Meta`` included
(``maxItems``, ``maxLength``, ``minimum``...).  Then, per provider kind
(:func:`for_kind`):

- OpenAI strict (``openai_strict``): every node typed (msgspec writes a
  ``Literal`` as a bare ``enum``), every object closed with every property
  required (optional ones become nullable; :func:`prune_nulls` removes those
  nulls again before decoding), only the documented keywords (strings:
  ``pattern``, ``format``; numbers: ``minimum``, ``maximum``, exclusive
  bounds, ``multipleOf``; arrays: ``minItems``, ``maxItems``); the others
  (``minLength``, ``maxLength``, ``default``) are dropped.
- Gemini ``responseSchema``: the OpenAPI subset, upper-case types,
  ``nullable``, no refs or ``additionalProperties``.
- Anthropic ``input_schema``, Ollama ``format`` and non-strict OpenAI: the
  JSON Schema itself, every enum typed.

Whatever a provider is not told, msgspec still checks when the answer is
decoded: a bound dropped from the wire is never dropped from validation.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import msgspec

#: what Gemini's responseSchema understands (anything else is dropped)
_GEMINI_KEYS = {
    "type", "format", "description", "nullable", "enum", "properties", "required",
    "items", "minItems", "maxItems", "minimum", "maximum", "anyOf", "propertyOrdering",
    "minLength", "maxLength", "pattern", "title",
}


class SchemaError(ValueError):
    """The answer type cannot be expressed as a provider schema."""


@lru_cache(maxsize=256)
def _answer_schema(tp: Any) -> tuple[str, bytes]:
    raw = msgspec.json.schema(tp)
    defs = raw.get("$defs", {})
    body = _inline(raw, defs, ())
    body.pop("$defs", None)
    if body.get("type") != "object":
        raise SchemaError(f"the answer type {getattr(tp, '__name__', tp)!r} must be a Struct (a JSON object)")
    name = getattr(tp, "__name__", "answer")
    return name, msgspec.json.encode(body)


def answer_schema(tp: Any) -> tuple[str, dict[str, Any]]:
    """``(name, schema)`` of a msgspec type, refs inlined; a fresh copy each call."""
    name, encoded = _answer_schema(tp)
    return name, msgspec.json.decode(encoded)


def _inline(node: Any, defs: dict[str, Any], seen: tuple[str, ...]) -> Any:
    if isinstance(node, list):
        return [_inline(v, defs, seen) for v in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str):
        key = ref.rsplit("/", 1)[-1]
        if key in seen:
            raise SchemaError(f"the answer type is recursive through {key!r}; providers need a finite schema")
        if key not in defs:
            raise SchemaError(f"unresolvable $ref {ref!r}")
        merged = {**defs[key], **{k: v for k, v in node.items() if k != "$ref"}}
        return _inline(merged, defs, seen + (key,))
    return {k: _inline(v, defs, seen) for k, v in node.items() if k != "$defs"}


# -- shared --------------------------------------------------------------------
def _enum_type(values: list[Any]) -> Any:
    kinds: list[str] = []
    for v in values:
        if v is None:
            k = "null"
        elif isinstance(v, bool):
            k = "boolean"
        elif isinstance(v, int):
            k = "integer"
        elif isinstance(v, float):
            k = "number"
        else:
            k = "string"
        if k not in kinds:
            kinds.append(k)
    if "integer" in kinds and "number" in kinds:
        kinds.remove("integer")
    return kinds[0] if len(kinds) == 1 else kinds


def typed(node: Any) -> Any:
    """A copy where every ``enum``/``const`` node says its type."""
    if isinstance(node, list):
        return [typed(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: typed(v) for k, v in node.items()}
    if "type" not in out and "anyOf" not in out:
        if isinstance(out.get("enum"), list) and out["enum"]:
            out["type"] = _enum_type(out["enum"])
        elif "const" in out:
            out["type"] = _enum_type([out["const"]])
    return out


# -- OpenAI strict ------------------------------------------------------------
#: the keywords OpenAI's strict mode documents as supported (Structured Outputs, "Supported schemas")
OPENAI_STRICT_KEYWORDS = frozenset({
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf",
    "$ref", "$defs", "description", "title",
    "pattern", "format",
    "multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum",
    "minItems", "maxItems",
})
OPENAI_STRICT_FORMATS = frozenset({"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"})


def openai_strict(schema: dict[str, Any]) -> dict[str, Any]:
    """Every node typed, every object closed, every property required; optional ones nullable."""
    return _strict(typed(schema), "$")


def _allows_null(node: dict[str, Any]) -> bool:
    t = node.get("type")
    if t == "null" or (isinstance(t, list) and "null" in t):
        return True
    return any(isinstance(s, dict) and _allows_null(s) for s in node.get("anyOf", ()))


def _strict(node: Any, where: str) -> Any:
    if isinstance(node, list):
        return [_strict(v, f"{where}[{i}]") for i, v in enumerate(node)]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key not in OPENAI_STRICT_KEYWORDS:
            continue
        if key == "format" and value not in OPENAI_STRICT_FORMATS:
            continue
        if key == "properties":
            out[key] = {k: _strict(v, f"{where}.{k}") for k, v in value.items()}
        elif key in ("items", "anyOf"):
            out[key] = _strict(value, where)
        elif key == "additionalProperties" and isinstance(value, dict):
            raise SchemaError(
                f"{where} is a mapping with free keys; OpenAI strict mode needs fixed properties (use a Struct or a list)"
            )
        else:
            out[key] = value
    if out.get("type") == "object" or "properties" in out:
        props = out.setdefault("properties", {})
        required = set(out.get("required", ()))
        for key, sub in props.items():
            if key not in required and isinstance(sub, dict) and not _allows_null(sub):
                props[key] = {"anyOf": [sub, {"type": "null"}]}
        out["required"] = list(props)
        out["additionalProperties"] = False
    return out


def prune_nulls(value: Any, schema: dict[str, Any]) -> Any:
    """Drop the nulls strict mode made the model send for optional fields that do not allow null."""
    if isinstance(value, dict) and isinstance(schema.get("properties"), dict):
        required = set(schema.get("required", ()))
        props = schema["properties"]
        out = {}
        for k, v in value.items():
            sub = props.get(k)
            if v is None and k not in required and isinstance(sub, dict) and not _allows_null(sub):
                continue
            out[k] = prune_nulls(v, sub) if isinstance(sub, dict) else v
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [prune_nulls(v, schema["items"]) for v in value]
    if isinstance(schema.get("anyOf"), list):
        for sub in schema["anyOf"]:
            if isinstance(sub, dict) and (sub.get("type") == "object") == isinstance(value, dict):
                return prune_nulls(value, sub)
    return value


# -- Gemini -------------------------------------------------------------------
def gemini(schema: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI subset of Gemini's ``responseSchema``: upper-case types, ``nullable``, no refs."""
    return _gemini(schema)


def _gemini_bounds(node: dict[str, Any]) -> dict[str, Any]:
    """Exclusive bounds are not in the subset: an integer's become inclusive ones, a number's are dropped."""
    node = dict(node)
    integer = node.get("type") == "integer"
    for ex, inc, step in (("exclusiveMinimum", "minimum", 1), ("exclusiveMaximum", "maximum", -1)):
        if ex in node:
            value = node.pop(ex)
            if integer and inc not in node:
                node[inc] = value + step
    return node


def _gemini(node: Any) -> Any:
    if isinstance(node, list):
        return [_gemini(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    any_of = node.pop("anyOf", None)
    if any_of is not None:
        options = [s for s in any_of if not (isinstance(s, dict) and s.get("type") == "null")]
        nullable = len(options) != len(any_of)
        if len(options) == 1:
            merged = {**{k: v for k, v in node.items()}, **options[0]}
            out = _gemini(merged)
        else:
            out = {k: _gemini(v) for k, v in node.items() if k in _GEMINI_KEYS}
            out["anyOf"] = [_gemini(s) for s in options]
        if nullable:
            out["nullable"] = True
        return out
    node = _gemini_bounds(node)
    t = node.get("type")
    out: dict[str, Any] = {}
    if isinstance(t, list):
        kinds = [x for x in t if x != "null"]
        if len(kinds) != len(t):
            out["nullable"] = True
        t = kinds[0] if kinds else "string"
    if t is None and "enum" in node:
        t = _enum_type(node["enum"])
        if isinstance(t, list):
            t = "string"
    if "enum" in node and t != "string":
        out["format"] = "enum"  # a non-string enum: values as strings, the type kept
    for key, value in node.items():
        if key not in _GEMINI_KEYS or key == "type":
            continue
        if key == "properties":
            out[key] = {k: _gemini(v) for k, v in value.items()}
            out["propertyOrdering"] = list(value)
        elif key in ("items",):
            out[key] = _gemini(value)
        elif key == "enum":
            if None in value:
                out["nullable"] = True
            out[key] = [str(v) for v in value if v is not None]
        else:
            out[key] = value
    if t is not None:
        out["type"] = str(t).upper()
    return out


# -- per provider kind ----------------------------------------------------------
def for_kind(kind: str, schema: dict[str, Any], mode: str = "json_schema") -> dict[str, Any]:
    """The schema exactly as a provider of ``kind`` is sent it (``mode``: the openai kind's structured mode)."""
    if kind == "openai" and mode == "json_schema":
        return openai_strict(schema)
    if kind == "gemini":
        return gemini(schema)
    return typed(schema)
