"""The run for people: a summary table for the terminal, and ``report.html``,
self-contained (inline CSS and SVG, no external asset) to open in a browser."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

from . import results

HEADER = ("TASK", "STATUS", "VERIFIED", "ACCEPTED", "CALLS", "TOK IN", "TOK OUT", "CACHED", "COST $", "TIME", "LINES", "TOK/LINE")


def _yn(value: Any) -> str:
    return "yes" if value is True else "no" if value is False else "-"


def rows(data: dict[str, Any]) -> list[tuple[str, ...]]:
    out = []
    for name, r in data["tasks"].items():
        if r.get("state") != "judged":
            why = r.get("skipped") or r.get("error") or r.get("state")
            out.append((name, r.get("state", "?"), "-", "-", "", "", "", "", "", "", "", str(why)))
            continue
        tpl = r.get("tokens_per_line")
        out.append((
            name, r.get("status", "?"), _yn(r.get("verified")), _yn(r.get("accepted")),
            str(r.get("calls", 0)), str(r.get("tokens_in", 0)), str(r.get("tokens_out", 0)), str(r.get("tokens_cached", 0)),
            f"{r.get('cost_usd') or 0:.4f}", f"{r.get('wall_s') or 0:.0f}s",
            "-" if r.get("lines") is None else str(r["lines"]), "-" if tpl is None else f"{tpl:g}",
        ))
    return out


def summary_lines(data: dict[str, Any]) -> list[str]:
    s = results.summary(data)
    model = f" / {data['model']}" if data.get("model") else ""
    tpl = "-" if s["tokens_per_line"] is None else f"{s['tokens_per_line']:g}"
    return [
        f"provider {data.get('provider')}{model}: {s['accepted']}/{s['tasks']} accepted ({s['pass_rate']:.0%}), "
        f"{s['verified']} verified by their own checks, {s['done']} done"
        + (f", {s['not_judged']} not judged (a tool missing)" if s["not_judged"] else "")
        + (f", {s['skipped']} skipped" if s["skipped"] else ""),
        f"{s['calls']} AI calls, {s['tokens_in']} tokens in ({s['tokens_cached']} cached), {s['tokens_out']} out, "
        f"${s['cost_usd']:.4f}, {s['wall_s']:.0f}s of task time, {s['lines']} lines delivered, {tpl} tokens per line",
    ]


def text(data: dict[str, Any]) -> str:
    from ..render import table

    return table(HEADER, rows(data)) + "\n\n" + "\n".join(summary_lines(data))


def _chart(data: dict[str, Any]) -> str:
    """Per task: a pass/fail mark, a cost bar and a time bar, each scaled to the run's largest."""
    recs = [(n, r) for n, r in data["tasks"].items() if r.get("state") == "judged"]
    if not recs:
        return "<p>No task was judged.</p>"
    row_h, label_w, bar_w = 22, 190, 260
    max_cost = max((r.get("cost_usd") or 0) for _, r in recs) or 1.0
    max_time = max((r.get("wall_s") or 0) for _, r in recs) or 1.0
    width = label_w + 40 + 2 * (bar_w + 90)
    height = row_h * (len(recs) + 1) + 10
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
             f'aria-label="acceptance, cost and time per task">',
             f'<text x="{label_w}" y="14" class="h">pass</text>',
             f'<text x="{label_w + 40}" y="14" class="h">cost (max ${max_cost:.4f})</text>',
             f'<text x="{label_w + 40 + bar_w + 90}" y="14" class="h">time (max {max_time:.0f}s)</text>']
    for i, (name, r) in enumerate(recs, start=1):
        y = i * row_h + 4
        acc = r.get("accepted")
        color = "#2e7d32" if acc else "#9e9e9e" if acc is None else "#c62828"
        mark = "✓" if acc else "?" if acc is None else "✗"
        cost, wall = r.get("cost_usd") or 0, r.get("wall_s") or 0
        cw, tw = bar_w * cost / max_cost, bar_w * wall / max_time
        x2 = label_w + 40 + bar_w + 90
        parts += [
            f'<text x="0" y="{y + 14}">{html.escape(name)}</text>',
            f'<rect x="{label_w}" y="{y + 2}" width="28" height="16" fill="{color}"><title>{html.escape(str(acc))}</title></rect>',
            f'<text x="{label_w + 9}" y="{y + 15}" fill="#fff">{mark}</text>',
            f'<rect x="{label_w + 40}" y="{y + 3}" width="{cw:.1f}" height="14" fill="#1565c0"/>',
            f'<text x="{label_w + 44 + cw:.1f}" y="{y + 15}">${cost:.4f}</text>',
            f'<rect x="{x2}" y="{y + 3}" width="{tw:.1f}" height="14" fill="#ef6c00"/>',
            f'<text x="{x2 + 4 + tw:.1f}" y="{y + 15}">{wall:.0f}s</text>',
        ]
    parts.append("</svg>")
    return "\n".join(parts)


def html_report(data: dict[str, Any]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = []
    for row, (name, r) in zip(rows(data), data["tasks"].items()):
        cls = "pass" if r.get("accepted") else "skip" if r.get("accepted") is None else "fail"
        cells = "".join(f"<td>{html.escape(v)}</td>" for v in row)
        note = r.get("accept_note") or ""
        out = r.get("accept_output") or ""
        detail = (f'<tr class="detail"><td colspan="{len(HEADER)}"><details><summary>{html.escape(r.get("description", "")[:160])}'
                  f'{" — " + html.escape(note) if note else ""}</summary><pre>{html.escape(out)}</pre></details></td></tr>')
        body.append(f'<tr class="{cls}">{cells}</tr>{detail}')
    title = f"Octra eval: {data.get('provider')}" + (f" / {data['model']}" if data.get("model") else "")
    summary = "".join(f"<p>{html.escape(line)}</p>" for line in summary_lines(data))
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }}
table {{ border-collapse: collapse; margin: 1em 0; }}
th, td {{ padding: 3px 8px; border-bottom: 1px solid #ddd; text-align: right; white-space: nowrap; }}
th:first-child, td:first-child, td:nth-child(2) {{ text-align: left; }}
tr.pass td:nth-child(4) {{ color: #2e7d32; font-weight: bold; }}
tr.fail td:nth-child(4) {{ color: #c62828; font-weight: bold; }}
tr.detail td {{ text-align: left; border-bottom: 2px solid #ccc; white-space: normal; }}
pre {{ background: #f6f6f6; padding: .5em; max-height: 20em; overflow: auto; white-space: pre-wrap; }}
svg text {{ font: 12px system-ui, sans-serif; }} svg text.h {{ font-weight: bold; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Suite {html.escape(str(data.get('suite')))}, Octra {html.escape(str(data.get('octra')))}.
Accepted: the task's acceptance script (which the model never saw) passed on the restored project.</p>
{summary}
{_chart(data)}
<table><thead><tr>{head}</tr></thead><tbody>
{''.join(body)}
</tbody></table>
</body></html>
"""


def write_html(folder: str | Path, data: dict[str, Any]) -> Path:
    path = Path(folder) / "report.html"
    path.write_text(html_report(data), encoding="utf-8")
    return path
