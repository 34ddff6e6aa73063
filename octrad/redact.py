"""Secrets never leave the daemon: every string that goes to a log, an event or
an error passes through :func:`redact` first.

Secrets are registered when they are loaded (provider keys, tokens); the
redactor replaces them wherever they appear, including inside longer text.
"""

from __future__ import annotations

import logging
import re
import threading

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

MASK = "***"
#: shorter strings are too likely to occur by accident to be masked
MIN_SECRET_LEN = 6


def register(secret: str | None) -> None:
    global _pattern
    if not secret or len(secret) < MIN_SECRET_LEN:
        return
    with _lock:
        if secret in _secrets:
            return
        _secrets.add(secret)
        ordered = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in ordered))


def redact(text: str) -> str:
    pat = _pattern
    if pat is None or not text:
        return text
    return pat.sub(MASK, text)


def redact_obj(obj):
    """Redact every string inside a JSON-like value."""
    if _pattern is None:
        return obj
    if isinstance(obj, str):
        return redact(obj)
    if isinstance(obj, dict):
        return {k: redact_obj(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v) for v in obj]
    return obj


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if _pattern is not None:
            record.msg = redact(record.getMessage())
            record.args = ()
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = redact(record.exc_text)
        return True
