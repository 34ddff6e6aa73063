"""A footer that fits: when the terminal is too narrow for every key that works
now, it leaves out whole keys, the least used first, instead of cutting the
last label in half.  A left-out key still works and is listed by ? and the
command palette."""

from __future__ import annotations

from typing import Sequence

from textual import events
from textual.app import ComposeResult
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class FittingFooter(Footer):
    def __init__(self, *, drop_first: Sequence[str] = ()) -> None:
        # compact, without the palette's hint (? lists ctrl+p): room for the keys that work now
        super().__init__(compact=True, show_command_palette=False)
        #: actions whose keys go first when there is no room, in that order
        self.drop_first = tuple(drop_first)
        self._width = 0

    def compose(self) -> ComposeResult:
        widgets = list(super().compose())
        keys = [w for w in widgets if isinstance(w, FooterKey)]
        room = self.app.size.width
        for action in self.drop_first:
            if width_of(keys) <= room:
                break
            keys = [k for k in keys if k.action != action]
        yield from (w for w in widgets if not isinstance(w, FooterKey) or w in keys)

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._width:
            self._width = event.size.width
            self.call_after_refresh(self.recompose)


def width_of(keys: Sequence[FooterKey]) -> int:
    """Columns the compact footer takes for ``keys``: "k Label", one space apart."""
    return sum(len(k.key_display) + (len(k.description) + 1 if k.description else 0) for k in keys) + max(len(keys) - 1, 0)
