"""Protocol method handlers, one module per area.

Every module here is found automatically.  Each defines ``register(router)``
and may define ``async setup(daemon)`` (run after the database is open, to
create the area's service, e.g. ``daemon.context``) and ``async
teardown(daemon)`` (run at shutdown, before the database closes).
"""

from __future__ import annotations

import pkgutil
from importlib import import_module
from types import ModuleType


#: areas whose services others use in their own setup come first; tasks (which
#: stops running work at shutdown) comes last so it is torn down first
FIRST = ("settings", "projects", "events")
LAST = ("tasks",)


def _rank(name: str) -> tuple[int, int, str]:
    if name in FIRST:
        return (0, FIRST.index(name), name)
    if name in LAST:
        return (2, LAST.index(name), name)
    return (1, 0, name)


def areas() -> list[ModuleType]:
    """Every area module, in set-up order (teardown runs in reverse)."""
    names = sorted((m.name for m in pkgutil.iter_modules(__path__)), key=_rank)
    return [import_module(f"{__name__}.{n}") for n in names]
