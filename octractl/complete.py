"""Shell completion of values that live in the daemon (task ids, guide names)
and in the protocol (setting keys).  A completion never starts the daemon and
never fails: with no daemon it offers nothing."""

from __future__ import annotations

from typing import Any

from click.shell_completion import CompletionItem


def _ask(ctx, method: str, params: dict[str, Any]) -> dict:
    from octra_protocol import PROTOCOL_VERSION
    from octra_protocol.paths import socket_path
    from octra_protocol.quick import batch

    root = ctx.find_root()
    try:
        _, answer = batch(socket_path(root.params.get("socket")),
                          [("initialize", {"client": "octractl", "protocol_version": PROTOCOL_VERSION}), (method, params)],
                          timeout=2)
    except Exception:
        return {}
    return answer.get("result") or {}


def task_ids(ctx, param, incomplete: str) -> list[CompletionItem]:
    tasks = _ask(ctx, "task.list", {"limit": 200}).get("tasks", [])
    items = [CompletionItem("last", help="the newest task")] if "last".startswith(incomplete) else []
    return items + [CompletionItem(t["task_id"], help=f"{t['status']}: {t['description'][:50]}")
                    for t in tasks if t["task_id"].startswith(incomplete)]


def guide_tools(ctx, param, incomplete: str) -> list[CompletionItem]:
    return [CompletionItem(g["tool"], help=g["description"][:60])
            for g in _ask(ctx, "guides.list", {}).get("guides", []) if g["tool"].startswith(incomplete)]


def setting_keys(ctx, param, incomplete: str) -> list[CompletionItem]:
    from octra_protocol.methods.settings import SettingsResult

    return [CompletionItem(k) for k in SettingsResult.__struct_fields__ if k.startswith(incomplete)]
