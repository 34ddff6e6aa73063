"""Tasks, their agent tree and their journal, in SQLite.

The journal (table ``steps``) holds one row per completed pipeline step with
its validated result.  A run replays the journal and does only what is not
there, so resuming after a crash, an approval or an answer never repeats a
finished AI call.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import msgspec

from octra_protocol.errors import RpcError
from octra_protocol.methods.tasks import FINAL_STATES

from ..events import EventBus
from ..redact import redact, redact_obj
from ..store import Database

_enc = msgspec.json.encode


def _j(value: Any) -> str:
    return _enc(value).decode()


def new_task_id() -> str:
    return "t" + secrets.token_hex(5)


class TaskStore:
    def __init__(self, db: Database, bus: EventBus):
        self.db = db
        self.bus = bus

    # -- tasks --------------------------------------------------------------
    async def create(self, *, project_id: str, description: str, provider: str, model: str | None,
                     stack: str | None, issue_url: str | None, meta: dict) -> str:
        tid = new_task_id()
        now = time.time()
        await self.db.execute(
            """INSERT INTO tasks(id, project_id, description, status, provider, model, stack, issue_url, meta,
                                 created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            (tid, project_id, description, "queued", provider, model, stack, issue_url, _j(meta), now, now),
        )
        await self.bus.publish(
            "task.created",
            {"project_id": project_id, "description": description, "provider": provider, "stack": stack},
            task_id=tid,
        )
        return tid

    async def row(self, task_id: str):
        row = await self.db.fetchone(
            "SELECT t.*, p.name AS project_name, p.path AS project_path, p.stack AS project_stack "
            "FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = ?",
            (task_id,),
        )
        if row is None:
            raise RpcError.of("not_found", f"no task {task_id!r}")
        return row

    async def set_status(self, task_id: str, status: str, error: dict | None = None, **data: Any) -> None:
        now = time.time()
        error = redact_obj(error) if error else error  # stored and returned by task.get: masked like events
        if error is not None or status not in FINAL_STATES:
            await self.db.execute(
                "UPDATE tasks SET status = ?, error = ?, updated_at = ? WHERE id = ?",
                (status, _j(error) if error else None, now, task_id),
            )
        else:
            await self.db.execute(
                "UPDATE tasks SET status = ?, updated_at = ? WHERE id = ?", (status, now, task_id)
            )
        payload = {"status": status, **data}
        if error:
            payload["error"] = error
        await self.bus.publish("task.status", payload, task_id=task_id)

    async def update(self, task_id: str, **fields: Any) -> None:
        """Set columns (plan, stack, store_path, questions, notes, repo_url, ...); JSON for lists/dicts."""
        cols = ", ".join(f"{k} = ?" for k in fields)
        values = [_j(v) if isinstance(v, (dict, list)) else v for v in fields.values()]
        await self.db.execute(f"UPDATE tasks SET {cols}, updated_at = ? WHERE id = ?", (*values, time.time(), task_id))

    async def add_note(self, task_id: str, note: str) -> None:
        row = await self.row(task_id)
        notes = msgspec.json.decode(row["notes"] or "[]")
        note = redact(note)
        if note not in notes:
            notes.append(note)
            await self.update(task_id, notes=notes)

    async def list(self, *, status: str | None, project_id: str | None, limit: int) -> list[dict]:
        sql = "SELECT t.*, p.name AS project_name FROM tasks t JOIN projects p ON p.id = t.project_id"
        where, args = [], []
        if status:
            where.append("t.status = ?")
            args.append(status)
        if project_id:
            where.append("t.project_id = ?")
            args.append(project_id)
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY t.created_at DESC, t.rowid DESC LIMIT ?"
        args.append(max(1, min(limit, 1000)))
        return [
            {
                "task_id": r["id"], "project_id": r["project_id"], "project": r["project_name"],
                "description": r["description"], "status": r["status"], "provider": r["provider"],
                "created_at": r["created_at"], "updated_at": r["updated_at"],
            }
            for r in await self.db.fetchall(sql, args)
        ]

    async def ids_in(self, statuses: tuple[str, ...]) -> list[str]:
        marks = ",".join("?" * len(statuses))
        return [r[0] for r in await self.db.fetchall(f"SELECT id FROM tasks WHERE status IN ({marks})", statuses)]

    # -- agents -------------------------------------------------------------
    async def spawn(self, task_id: str, agent_id: str, parent_id: str | None, kind: str, role: str) -> None:
        """Register an agent (again, on resume: then only its status changes)."""
        now = time.time()
        existing = await self.db.fetchone("SELECT status FROM agents WHERE id = ?", (agent_id,))
        if existing is None:
            await self.db.execute(
                "INSERT INTO agents(id, task_id, parent_id, kind, role, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?)",
                (agent_id, task_id, parent_id, kind, role, "working", now, now),
            )
        else:
            await self.db.execute("UPDATE agents SET status = 'working', updated_at = ? WHERE id = ?", (now, agent_id))
        await self.bus.publish(
            "agent.spawned", {"kind": kind, "role": role, "parent_id": parent_id}, task_id=task_id, agent_id=agent_id
        )

    async def agent_status(self, task_id: str, agent_id: str, status: str, **data: Any) -> None:
        await self.db.execute("UPDATE agents SET status = ?, updated_at = ? WHERE id = ?", (status, time.time(), agent_id))
        await self.bus.publish("agent.status", {"status": status, **data}, task_id=task_id, agent_id=agent_id)

    async def settle_agents(self, task_id: str, status: str) -> None:
        """Agents still working (or waiting) when a task stops take the task's final word,
        with an event each so watchers' trees stop spinning too."""
        rows = await self.db.fetchall(
            "SELECT id FROM agents WHERE task_id = ? AND status IN ('working', 'waiting')", (task_id,)
        )
        for r in rows:
            await self.agent_status(task_id, r["id"], status)

    async def tree(self, task_id: str) -> list[dict]:
        # usage columns are kept by the provider layer with every call it records
        rows = await self.db.fetchall(
            """SELECT id, parent_id, kind, role, status, calls, tokens_in AS tin, tokens_out AS tout, cost_usd AS cost
               FROM agents WHERE task_id = ? ORDER BY created_at, rowid""",
            (task_id,),
        )
        nodes = {
            r["id"]: {
                "agent_id": r["id"], "kind": r["kind"], "role": r["role"], "status": r["status"],
                "usage": {"calls": r["calls"], "tokens_in": r["tin"], "tokens_out": r["tout"], "cost_usd": round(r["cost"], 6)},
                "children": [],
            }
            for r in rows
        }
        roots = []
        for r in rows:
            parent = nodes.get(r["parent_id"]) if r["parent_id"] else None
            (parent["children"] if parent else roots).append(nodes[r["id"]])
        return roots

    # -- journal ------------------------------------------------------------
    async def step(self, task_id: str, name: str) -> bytes | None:
        row = await self.db.fetchone("SELECT result FROM steps WHERE task_id = ? AND step = ?", (task_id, name))
        return None if row is None else row[0].encode()

    async def record(self, task_id: str, name: str, result: Any) -> None:
        await self.db.execute(
            "INSERT INTO steps(task_id, step, result, created_at) VALUES (?,?,?,?) "
            "ON CONFLICT(task_id, step) DO UPDATE SET result = excluded.result, created_at = excluded.created_at",
            (task_id, name, _j(result), time.time()),
        )

    # -- the checks' last results ---------------------------------------------
    #: kept in the journal table under a name no pipeline step has (no schema change)
    CHECKS_STEP = "_checks"

    async def save_checks(self, task_id: str, checks: list[dict], verified: bool | None, sandbox: str | None) -> None:
        await self.record(task_id, self.CHECKS_STEP,
                          {"checks": redact_obj(checks), "verified": verified, "sandbox": sandbox})

    async def checks(self, task_id: str) -> dict:
        """``{checks, verified, sandbox}`` as last run (empty, null, null before any)."""
        raw = await self.step(task_id, self.CHECKS_STEP)
        return msgspec.json.decode(raw) if raw else {"checks": [], "verified": None, "sandbox": None}

    async def answer_gate(self, task_id: str, name: str, result: Any, status: str) -> bool:
        """Journal the user's answer to a gate, atomically and once: only while the task is
        still ``status`` and no answer is there yet.  False: someone answered first (or the
        task moved on), and nothing was written."""
        async with self.db.transaction() as w:
            cur = await w.execute(
                "INSERT INTO steps(task_id, step, result, created_at) "
                "SELECT ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ? AND status = ?) "
                "ON CONFLICT(task_id, step) DO NOTHING",
                (task_id, name, _j(result), time.time(), task_id, status),
            )
            return cur.rowcount == 1

    async def steps_like(self, task_id: str, prefix: str) -> list[tuple[str, bytes]]:
        rows = await self.db.fetchall(
            "SELECT step, result FROM steps WHERE task_id = ? AND substr(step, 1, ?) = ? ORDER BY created_at, rowid",
            (task_id, len(prefix), prefix),
        )
        return [(r[0], r[1].encode()) for r in rows]
