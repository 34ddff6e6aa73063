"""How long a server asks us to wait: ``Retry-After`` (seconds or an HTTP date)
and OpenAI's ``retry-after-ms``.  Shared by the AI providers and GitHub."""

from __future__ import annotations

import email.utils
import time
from typing import Mapping


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait (never negative), or None when the server did not say."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
