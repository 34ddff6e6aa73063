"""Two eval runs side by side: pass rate, cost, tokens, time, and the tasks
whose verdict flipped (the measure of a change to the pipeline or the model)."""

from __future__ import annotations

from typing import Any

from . import results


def _verdict(rec: dict[str, Any] | None) -> str:
    if not rec:
        return "absent"
    if rec.get("state") != "judged":
        return rec.get("state", "?")
    acc = rec.get("accepted")
    return "pass" if acc else "fail" if acc is False else "not judged"


def compare(a: dict[str, Any], b: dict[str, Any], name_a: str = "A", name_b: str = "B") -> str:
    from ..render import table

    sa, sb = results.summary(a), results.summary(b)

    def run_label(d: dict[str, Any]) -> str:
        return f"{d.get('provider')}" + (f"/{d['model']}" if d.get("model") else "")

    def fig(s: dict[str, Any], key: str) -> str:
        v = s[key]
        if key == "pass_rate":
            return f"{s['accepted']}/{s['tasks']} ({v:.0%})"
        if key == "cost_usd":
            return f"${v:.4f}"
        if key == "wall_s":
            return f"{v:.0f}s"
        return "-" if v is None else f"{v:g}" if isinstance(v, float) else str(v)

    keys = [("pass_rate", "accepted"), ("verified", "verified"), ("calls", "AI calls"), ("tokens_in", "tokens in"),
            ("tokens_out", "tokens out"), ("tokens_cached", "tokens cached"), ("cost_usd", "cost"),
            ("wall_s", "task time"), ("lines", "lines delivered"), ("tokens_per_line", "tokens per line")]
    lines = [f"A = {name_a} ({run_label(a)})", f"B = {name_b} ({run_label(b)})", ""]
    lines.append(table(("", "A", "B"), [(label, fig(sa, k), fig(sb, k)) for k, label in keys]))
    names = list(dict.fromkeys([*a["tasks"], *b["tasks"]]))
    per = []
    flipped = []
    for n in names:
        ra, rb = a["tasks"].get(n), b["tasks"].get(n)
        va, vb = _verdict(ra), _verdict(rb)
        mark = ""
        if {va, vb} == {"pass", "fail"}:
            mark = "FIXED" if vb == "pass" else "BROKEN"
            flipped.append(f"{n}: {va} -> {vb}")
        elif va != vb:
            mark = "changed"

        def cost(r):
            return f"${r.get('cost_usd') or 0:.4f}" if r and r.get("state") == "judged" else "-"

        per.append((n, va, vb, cost(ra), cost(rb), mark))
    lines += ["", table(("TASK", "A", "B", "COST A", "COST B", "FLIP"), per)]
    lines += ["", f"flipped: {len(flipped)}" + (": " + "; ".join(flipped) if flipped else "")]
    return "\n".join(lines)
