"""Budgets: ``max_llm_calls``, ``max_tokens``, ``max_cost_usd`` per task
(task meta first, then settings), checked before every call.

The ledger of each task lives in memory (loaded once from ``llm_calls``, so a
resumed task counts what it spent before) and counts calls *in flight* too:
with parallel agents the limit still holds exactly, never one call later.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import anyio

from octra_protocol.errors import RpcError

from ..store import Database

LIMITS = ("max_llm_calls", "max_tokens", "max_cost_usd")


@dataclass
class Ledger:
    calls: int = 0
    tokens: int = 0
    cost_usd: float = 0.0


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

    async def reserve(self, task_id: str | None, meta: dict[str, Any], settings: Any) -> None:
        """Count one call about to be made, or raise budget_exceeded if a limit is reached."""
        if task_id is None:
            return
        limits = limits_for(meta, settings)
        async with self._lock:
            ledger = await self._ledger(task_id)
            used = {"max_llm_calls": ledger.calls, "max_tokens": ledger.tokens, "max_cost_usd": ledger.cost_usd}
            what = {"max_llm_calls": "LLM calls", "max_tokens": "tokens", "max_cost_usd": "USD"}
            for key in LIMITS:
                limit = limits[key]
                if limit is not None and used[key] >= limit:
                    shown = f"{used[key]:.4f}" if key == "max_cost_usd" else str(used[key])
                    raise RpcError.of(
                        "budget_exceeded",
                        f"budget exceeded: task {task_id} has used {shown} {what[key]} of its {key} = {limit}",
                        budget=key, limit=limit, used=used[key], task_id=task_id,
                    )
            ledger.calls += 1

    def settle(self, task_id: str | None, tokens_in: int, tokens_out: int, cost_usd: float) -> None:
        """Add what a reserved call actually spent."""
        if task_id is None:
            return
        ledger = self._ledgers.get(task_id)
        if ledger is not None:
            ledger.tokens += tokens_in + tokens_out
            ledger.cost_usd += cost_usd

    def forget(self, task_id: str) -> None:
        """Drop a finished task's ledger (it reloads from the database if needed)."""
        self._ledgers.pop(task_id, None)
