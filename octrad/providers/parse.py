"""Turning a model's text into the caller's type: strip code fences and the
prose around the JSON, decode with msgspec, and say precisely what was wrong
when that fails (the message is fed back to the model on the next attempt)."""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from .schema import prune_nulls

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
_decoder = json.JSONDecoder()


class InvalidAnswer(ValueError):
    """The answer is not JSON of the expected shape; the message says why."""


def extract_json(text: str) -> Any:
    """The first JSON object in ``text`` (inside a fence if there is one)."""
    stripped = text.strip()
    if not stripped:
        raise InvalidAnswer("the answer was empty; expected a JSON object")
    candidates = [m.group(2) for m in _FENCE.finditer(stripped)]
    candidates.append(stripped)
    first_error: str | None = None
    for chunk in candidates:
        chunk = chunk.strip()
        try:
            return msgspec.json.decode(chunk)
        except msgspec.DecodeError as exc:
            first_error = first_error or str(exc)
        # prose around the JSON: try each "{" (then "[") until one decodes
        for opener in ("{", "["):
            start = chunk.find(opener)
            while start != -1:
                try:
                    value, _ = _decoder.raw_decode(chunk, start)
                    return value
                except json.JSONDecodeError:
                    start = chunk.find(opener, start + 1)
    snippet = stripped[:120].replace("\n", " ")
    raise InvalidAnswer(f"the answer is not valid JSON ({first_error}); it began: {snippet!r}")


def decode_answer(text: str, tp: Any, schema: dict[str, Any] | None = None) -> Any:
    """Decode ``text`` into ``tp``; :class:`InvalidAnswer` says what is wrong and where."""
    value = extract_json(text)
    if schema is not None:
        value = prune_nulls(value, schema)
    try:
        return msgspec.convert(value, tp)
    except msgspec.ValidationError as exc:
        raise InvalidAnswer(f"the JSON does not match the schema: {exc}") from None


def correction(error: str) -> str:
    """The user message that asks the model to fix its previous answer."""
    return (
        f"Your previous answer was rejected: {error}\n"
        "Answer again with only one JSON object that matches the schema exactly: "
        "no code fences, no prose."
    )
