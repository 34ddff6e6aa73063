"""Command groups of octractl, one module per area, found automatically.

Each module defines ``register(cli)``; keep imports of heavy modules inside
the command functions so ``octractl --help`` stays quick.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module


def register_all(cli) -> None:
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        import_module(f"{__name__}.{info.name}").register(cli)
