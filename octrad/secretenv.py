"""Secrets handed to the daemon through its environment (provider keys,
``GITHUB_TOKEN``) are taken out of ``os.environ`` when it starts and kept here.

Libraries start processes with the whole environment (gitpython runs
``git version`` on import and passes ``os.environ`` to every git); with the
secrets gone from it, no child can inherit one whatever starts it.  The
services that need a key read it with :func:`get`.
"""

from __future__ import annotations

import os
import re
from typing import Iterable

from .redact import register

#: variable names that hold secrets by convention
SECRET_NAME = re.compile(r"(API_KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)

_held: dict[str, str] = {}


def take(extra: Iterable[str] = ()) -> list[str]:
    """Move every secret-looking variable (and the ``extra`` names) out of the
    environment; returns the names taken."""
    wanted = set(extra)
    taken = []
    for name in list(os.environ):
        if name in wanted or SECRET_NAME.search(name):
            value = os.environ.pop(name)
            if value.strip():
                _held[name] = value
                register(value.strip())
            taken.append(name)
    return taken


def get(name: str) -> str | None:
    """A secret variable's value (taken at start, or still in the environment)."""
    value = _held.get(name)
    if value is None:
        value = os.environ.get(name)
    value = (value or "").strip()
    return value or None
