"""What the real AI APIs refuse in an answer schema, written from their own
documentation and independently of Octra's schema code (octrad/providers/schema.py),
so the fake provider can refuse what they refuse and a test can check that the
schemas Octra sends would be accepted.

- OpenAI Structured Outputs in strict mode (:func:`openai_strict_problems`):
  the supported keywords, formats and types, ``additionalProperties: false`` and
  every property required on every object, the nesting and size limits.
- Gemini's ``responseSchema``, an OpenAPI 3.0 subset (:func:`gemini_schema_problems`).
- Anthropic's tool ``input_schema`` (:func:`anthropic_schema_problems`).

Each returns the reasons in the service's own words; an empty list means accepted.
"""

from __future__ import annotations

from typing import Any

#: OpenAI Structured Outputs, "Supported schemas": the keywords strict mode takes
OPENAI_STRICT_KEYWORDS = {
    "type", "properties", "required", "additionalProperties", "items", "enum", "const", "anyOf", "$ref", "$defs",
    "description", "title", "pattern", "format", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "minItems", "maxItems",
}
OPENAI_STRICT_FORMATS = {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
OPENAI_TYPES = {"string", "number", "integer", "boolean", "object", "array", "null"}
#: Gemini's Schema object (an OpenAPI 3.0 subset)
GEMINI_KEYWORDS = {
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties", "required",
    "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf", "propertyOrdering",
    "default", "items", "minimum", "maximum",
}
GEMINI_TYPES = {"STRING", "NUMBER", "INTEGER", "BOOLEAN", "ARRAY", "OBJECT"}


def openai_strict_problems(schema: Any) -> list[str]:
    """Why OpenAI's strict mode would refuse ``schema`` (empty: it is accepted)."""
    problems: list[str] = []
    if not isinstance(schema, dict) or schema.get("type") != "object" or "anyOf" in schema:
        return ["the root must be an object schema (type object, not anyOf)"]
    counts = {"props": 0, "enum": 0}

    def walk(node: Any, path: str, depth: int) -> None:
        if not isinstance(node, dict):
            problems.append(f"{path}: a schema must be an object")
            return
        if depth > 10:
            problems.append(f"{path}: more than 10 levels of nesting")
        for key in node:
            if key not in OPENAI_STRICT_KEYWORDS:
                problems.append(f"{path}: '{key}' is not permitted")
        if "type" not in node and "anyOf" not in node and "$ref" not in node:
            problems.append(f"{path}: schema must have a 'type' key")
        types = node.get("type")
        types = types if isinstance(types, list) else [types] if types is not None else []
        for t in types:
            if t not in OPENAI_TYPES:
                problems.append(f"{path}: unknown type {t!r}")
        if "format" in node and node["format"] not in OPENAI_STRICT_FORMATS:
            problems.append(f"{path}: format {node['format']!r} is not supported")
        if "object" in types:
            props = node.get("properties", {})
            if node.get("additionalProperties") is not False:
                problems.append(f"{path}: 'additionalProperties' is required to be supplied and to be false")
            if sorted(node.get("required", [])) != sorted(props):
                missing = sorted(set(props) - set(node.get("required", [])))
                problems.append(f"{path}: 'required' is required to be supplied and to be an array including every key in properties; missing {missing}")
            counts["props"] += len(props)
            for k, sub in props.items():
                walk(sub, f"{path}.{k}", depth + 1)
        if isinstance(node.get("enum"), list):
            counts["enum"] += len(node["enum"])
        if "items" in node:
            walk(node["items"], f"{path}[]", depth + 1)
        for i, sub in enumerate(node.get("anyOf", [])):
            walk(sub, f"{path}.anyOf[{i}]", depth + 1)
        for k, sub in (node.get("$defs") or {}).items():
            walk(sub, f"{path}.$defs.{k}", depth)

    walk(schema, "root", 1)
    if counts["props"] > 5000:
        problems.append("more than 5000 object properties")
    if counts["enum"] > 1000:
        problems.append("more than 1000 enum values")
    return problems


def gemini_schema_problems(schema: Any, path: str = "response_schema") -> list[str]:
    """Why Gemini would refuse ``schema`` as a responseSchema."""
    if not isinstance(schema, dict):
        return [f"{path}: a schema must be an object"]
    problems = [f'Unknown name "{k}" at \'generation_config.{path}\': Cannot find field.' for k in schema if k not in GEMINI_KEYWORDS]
    t = schema.get("type")
    if "anyOf" not in schema:
        if t not in GEMINI_TYPES:
            problems.append(f"{path}.type: {t!r} is not one of {sorted(GEMINI_TYPES)}")
    if t == "OBJECT":
        props = schema.get("properties") or {}
        if not props:
            problems.append(f"{path}.properties: should be non-empty for OBJECT type")
        for r in schema.get("required", []):
            if r not in props:
                problems.append(f"{path}.required: {r!r} is not a property")
        for k, sub in props.items():
            problems += gemini_schema_problems(sub, f"{path}.properties[{k}]")
    if "enum" in schema and not all(isinstance(v, str) for v in schema["enum"]):
        problems.append(f"{path}.enum: values must be strings")
    if "items" in schema:
        problems += gemini_schema_problems(schema["items"], f"{path}.items")
    for i, sub in enumerate(schema.get("anyOf", [])):
        problems += gemini_schema_problems(sub, f"{path}.anyOf[{i}]")
    return problems


def anthropic_schema_problems(schema: Any) -> list[str]:
    if not isinstance(schema, dict) or schema.get("type") != "object":
        return ["tools.0.custom.input_schema.type: Field required to be 'object'"]
    return []

