from __future__ import annotations

from typing import Any, NamedTuple

import msgspec


class Params(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Base of every params type: unknown fields are an error, not a silent no-op."""


class Result(msgspec.Struct, omit_defaults=False):
    """Base of every result type."""


class Empty(Params):
    pass


class EmptyResult(Result):
    pass


class Method(NamedTuple):
    params: type
    result: Any
    doc: str = ""
