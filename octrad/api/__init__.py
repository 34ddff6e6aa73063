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


def areas() -> list[ModuleType]:
    return [import_module(f"{__name__}.{m.name}") for m in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name)]
