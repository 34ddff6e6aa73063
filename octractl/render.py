"""Human-readable output (stdlib only: the fast path uses it)."""

from __future__ import annotations

import json
import sys
from typing import Any


def duration(seconds: float) -> str:
    s = int(seconds)
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    parts = [f"{d}d" if d else "", f"{h}h" if h else "", f"{m}m" if m else "", f"{s}s"]
    return "".join(p for p in parts if p) if seconds >= 1 else f"{seconds:.2f}s"


def status(st: dict[str, Any]) -> str:
    lines = [
        f"octrad {st.get('version')}  pid {st.get('pid')}  up {duration(st.get('uptime_s', 0))}",
        f"socket    {st.get('socket')}",
        f"data      {st.get('data_dir')}",
    ]
    if st.get("log_file"):
        lines.append(f"log       {st['log_file']}")
    lines += [
        f"provider  {st.get('default_provider')}",
        f"tasks     {st.get('tasks_running', 0)} running",
        f"nix       {'available' if st.get('nix_available') else 'not installed (snapshots unavailable)'}",
    ]
    if st.get("keys"):
        lines.append(f"keys      {st['keys']}")
    sb = st.get("sandbox")
    if sb:
        lines.append(f"sandbox   {sb.get('detail')}")
        lines.append(f"network   {sb.get('network_detail') or sb.get('network')}")
    return "\n".join(lines)


def table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> str:
    """Aligned columns under a header; the last column is left as long as it is."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    return "\n".join("  ".join([*(v.ljust(w) for v, w in zip(r, widths)), r[-1]]).rstrip() for r in [header, *rows])


def clip(text: str, n: int) -> str:
    """The first line of ``text``, at most ``n`` characters (… when cut)."""
    line = (text or "").strip().split("\n", 1)[0]
    return line if len(line) <= n else line[: n - 1].rstrip() + "…"


def print_json(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def print_ndjson(obj: Any) -> None:
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), ensure_ascii=False) + "\n")
    sys.stdout.flush()
