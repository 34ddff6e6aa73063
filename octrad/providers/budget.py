"""Budgets: ``max_llm_calls``, ``max_tokens``, ``max_cost_usd`` per task
(task meta first, then settings), enforced before every call.

The ledger of each task lives in memory (loaded once from ``llm_calls``, so a
resumed task counts what it spent before) and counts calls *in flight* too:
each call reserves its estimate (prompt tokens plus its output limit, and
what that would cost) before it starts, and settles to what it really spent
after.  A call the reservation would put over a limit does not start: with
parallel agents the limit holds, never several calls later.  When only part
of the output limit fits, the call's output limit is lowered to what is
left (down to :data:`MIN_OUTPUT_TOKENS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from octra_protocol.errors import RpcError

from ..store import Database
from .models import ModelSpec, cost_usd

LIMITS = ("max_llm_calls", "max_tokens", "max_cost_usd")
#: a call is not worth making with less room for its answer than this
MIN_OUTPUT_TOKENS = 256


@dataclass
class Ledger:
    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0
    #: estimates of the calls in flight
    reserved_tokens: int = 0
    reserved_cost: float = 0.0


@dataclass
class Reservation:
    task_id: str | None
    tokens: int = 0
    cost_usd: float = 0.0
    #: the output limit the call may use (lowered to fit a budget)
    max_tokens: int = 0
    settled: bool = False


def limits_for(meta: dict[str, Any], settings: Any) -> dict[str, float | None]:
    """The task's own limits where its meta names them (null: unlimited), else the settings'."""
    out: dict[str, float | None] = {}
    for key in LIMITS:
        value = meta[key] if key in meta else getattr(settings, key, None)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0):
            raise RpcError.of("invalid_params", f"meta.{key} must be a number >= 0 or null, not {value!r}", budget=key)
        out[key] = value
    return out


class Budgets:
    def __init__(self, db: Database):
        self.db = db
        self._ledgers: dict[str, Ledger] = {}
        self._lock = anyio.Lock()

    async def _ledger(self, task_id: str) -> Ledger:
        ledger = self._ledgers.get(task_id)
        if ledger is None:
            row = await self.db.fetchone(
                "SELECT COUNT(*), COALESCE(SUM(tokens_in + tokens_out), 0), COALESCE(SUM(cost_usd), 0) "
                "FROM llm_calls WHERE task_id = ? AND provider != 'replay'",
                (task_id,),
            )
            ledger = self._ledgers.setdefault(task_id, Ledger(int(row[0]), int(row[1]), float(row[2])))
        return ledger

    async def reserve(
        self, task_id: str | None, meta: dict[str, Any], settings: Any, *,
        prompt_tokens: int = 0, max_tokens: int = 0, spec: ModelSpec | None = None,
    ) -> Reservation:
        """Reserve one call's estimate, or raise budget_exceeded if it does not fit."""
        if task_id is None:
            return Reservation(None, max_tokens=max_tokens)
        limits = limits_for(meta, settings)
        spec = spec or ModelSpec()
        async with self._lock:
            ledger = await self._ledger(task_id)

            def refuse(key: str, used: float, reserved: float, need: float) -> RpcError:
                unit = {"max_llm_calls": "LLM calls", "max_tokens": "tokens", "max_cost_usd": "USD"}[key]
                fmt = (lambda v: f"{v:.4f}") if key == "max_cost_usd" else (lambda v: str(int(v)))
                text = f"budget exceeded: task {task_id} has used {fmt(used)} {unit} of its {key} = {limits[key]}"
                if reserved:
                    text += f" ({fmt(reserved)} more reserved by calls in flight)"
                if need:
                    text += f"; the next call would need about {fmt(need)}"
                return RpcError.of("budget_exceeded", text, budget=key, limit=limits[key], used=used, task_id=task_id)

            calls = limits["max_llm_calls"]
            if calls is not None and ledger.calls >= calls:
                raise refuse("max_llm_calls", ledger.calls, 0, 0)
            out = max_tokens
            tokens = limits["max_tokens"]
            if tokens is not None:
                room = tokens - ledger.tokens - ledger.reserved_tokens - prompt_tokens
                if room < min(out, MIN_OUTPUT_TOKENS):
                    raise refuse("max_tokens", ledger.tokens, ledger.reserved_tokens, prompt_tokens + out)
                out = min(out, int(room))
            money = limits["max_cost_usd"]
            if money is not None:
                left = money - ledger.cost_usd - ledger.reserved_cost
                prompt_cost = cost_usd(spec, prompt_tokens, 0)
                if spec.price_out:
                    room = int((left - prompt_cost) / spec.price_out * 1_000_000)
                    if room < min(out, MIN_OUTPUT_TOKENS):
                        raise refuse("max_cost_usd", ledger.cost_usd, ledger.reserved_cost, cost_usd(spec, prompt_tokens, out))
                    out = min(out, room)
                elif left <= prompt_cost or left <= 0:
                    raise refuse("max_cost_usd", ledger.cost_usd, ledger.reserved_cost, prompt_cost)
            res = Reservation(task_id, prompt_tokens + out, cost_usd(spec, prompt_tokens, out), out)
            ledger.calls += 1
            ledger.reserved_tokens += res.tokens
            ledger.reserved_cost += res.cost_usd
            return res

    def settle(self, res: Reservation, tokens_in: int, tokens_out: int, cost: float) -> None:
        """Release a reservation and add what the call really spent (once)."""
        if res.task_id is None or res.settled:
            return
        res.settled = True
        ledger = self._ledgers.get(res.task_id)
        if ledger is not None:
            ledger.reserved_tokens -= res.tokens
            ledger.reserved_cost -= res.cost_usd
            ledger.tokens += tokens_in + tokens_out
            ledger.cost_usd += cost

    def forget(self, task_id: str) -> None:
        """Drop a finished task's ledger (it reloads from the database if needed)."""
        self._ledgers.pop(task_id, None)
