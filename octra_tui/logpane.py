"""The task's log pane."""

from __future__ import annotations

from typing import Iterable

from textual.widgets import Log


class WrappedLog(Log):
    """The task's log; lines are wrapped to its width (re-wrapped when the width changes),
    so nothing is readable only by scrolling sideways."""

    wrap_width = 0

    def on_resize(self) -> None:
        width = self.scrollable_content_region.width - 1  # room for the vertical scrollbar
        if width != self.wrap_width:
            self.wrap_width = width
            self.app.rewrap_log()

    def wrapped(self, lines: Iterable[str], indent: str) -> list[str]:
        import textwrap

        width = self.wrap_width
        if width < 20:
            return list(lines)
        out: list[str] = []
        for line in lines:
            if len(line) <= width:
                out.append(line)
            else:
                out += textwrap.wrap(line, width, subsequent_indent=indent, drop_whitespace=False,
                                     replace_whitespace=False) or [line]
        return out
