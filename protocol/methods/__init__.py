"""Every method of the protocol: its name, params type and result type.

One module per area; each defines ``METHODS = {name: Method(Params, Result)}``.
The daemon validates params against these types, the clients decode results
into them, and ``docs/spec`` is generated from them.  Names and fields are the
contract: fields may be added, never renamed or retyped.
"""

from __future__ import annotations

import pkgutil
from importlib import import_module

from ._base import Empty, Method


def all_methods() -> dict[str, Method]:
    """Every method, from every area module of this package (found automatically)."""
    table: dict[str, Method] = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        mod = import_module(f"{__name__}.{info.name}")
        for name, method in mod.METHODS.items():
            if name in table:
                raise RuntimeError(f"method {name} defined twice")
            table[name] = method
    return table


__all__ = ["Method", "Empty", "all_methods"]
