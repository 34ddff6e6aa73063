"""Turning a model's text into the caller's type: strip code fences and the
prose around the JSON, decode with msgspec, and say precisely what was wrong
when that fails (the message is fed back to the model on the next attempt).

Only a *whole* answer is decoded: the one JSON object the text is, once a
fence or the prose around it is taken away.  An object nested inside a
broken one is never taken for the answer (a cut-off Plan is not its first
manager).
"""

from __future__ import annotations

import json
import re
from typing import Any

import msgspec

from .schema import prune_nulls

_FENCE = re.compile(r"```[ \t]*([A-Za-z0-9_+-]*)[ \t]*\n(.*?)```", re.S)
#: how much of a rejected answer a correction prompt quotes (head and tail)
EXCERPT_CHARS = 600


class InvalidAnswer(ValueError):
    """The answer is not JSON of the expected shape; the message says why."""


def _bad_text(value: Any, path: str = "$") -> str | None:
    """The path of the first string that is not valid Unicode (a lone surrogate), if any."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"{path} (character {exc.start}: {value[exc.start]!r})"
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            bad = _bad_text(k, path) or _bad_text(v, f"{path}.{k}")
            if bad:
                return bad
    elif isinstance(value, list):
        for i, v in enumerate(value):
            bad = _bad_text(v, f"{path}[{i}]")
            if bad:
                return bad
    return None


def _whole_object(chunk: str) -> tuple[Any, str | None]:
    """(the object ``chunk`` is, None) or (None, why not)."""
    try:
        value = msgspec.json.decode(chunk)
    except RecursionError:
        return None, "the JSON is nested too deeply"
    except msgspec.DecodeError as exc:
        # msgspec refuses a lone surrogate escape with a misleading message; name it
        try:
            value = json.loads(chunk)
        except (json.JSONDecodeError, RecursionError):
            return None, str(exc)
        bad = _bad_text(value)
        if bad:
            return None, f"the JSON holds text that is not valid Unicode (a lone surrogate escape) at {bad}"
        return None, str(exc)
    if not isinstance(value, dict):
        return None, f"expected one JSON object, got {type(value).__name__}"
    return value, None


def _candidates(text: str) -> list[str]:
    """The fenced blocks, then the text from its first ``{`` to its last ``}`` (prose cut away)."""
    out = [m.group(2).strip() for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        out.append(text[start : end + 1])
    out.append(text)
    return out


def extract_json(text: str) -> Any:
    """The one JSON object ``text`` is (inside a fence, or with prose around it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidAnswer(f"the answer holds text that is not valid Unicode (character {exc.start})") from None
    stripped = text.strip()
    if not stripped:
        raise InvalidAnswer("the answer was empty; expected a JSON object")
    first_error: str | None = None
    seen: set[str] = set()
    for chunk in _candidates(stripped):
        if chunk in seen:
            continue
        seen.add(chunk)
        value, why = _whole_object(chunk)
        if why is None:
            return value
        if first_error is None or "Unicode" in why:
            first_error = why
    snippet = stripped[:120].replace("\n", " ")
    raise InvalidAnswer(f"the answer is not one valid JSON object ({first_error}); it began: {snippet!r}")


def decode_answer(text: str, tp: Any, schema: dict[str, Any] | None = None) -> Any:
    """Decode ``text`` into ``tp``; :class:`InvalidAnswer` says what is wrong and where."""
    value = extract_json(text)
    if schema is not None:
        value = prune_nulls(value, schema)
    try:
        return msgspec.convert(value, tp)
    except msgspec.ValidationError as exc:
        raise InvalidAnswer(f"the JSON does not match the schema: {exc}") from None


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """A bounded quote of a rejected answer: its head and tail."""
    text = storable(text)
    if len(text) <= limit:
        return text
    head = limit * 2 // 3
    tail = limit - head
    return f"{text[:head]}\n[... {len(text) - limit} characters left out ...]\n{text[-tail:]}"


def storable(text: str) -> str:
    """``text`` as valid UTF-8 (a lone surrogate escaped), so SQLite and JSON can always take it."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def correction(error: str) -> str:
    """The user message that asks the model to fix its previous answer."""
    return (
        f"Your previous answer was rejected: {error}\n"
        "Answer again with only one JSON object that matches the schema exactly: "
        "no code fences, no prose."
    )
