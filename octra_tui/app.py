"""The Textual application.  For now it connects and shows ``daemon.status``;
the main screen grows with the pipeline."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Footer, Header, Static


class OctraApp(App):
    TITLE = "Octra"
    BINDINGS = [("q", "quit", "Quit"), ("r", "refresh", "Refresh")]

    def __init__(self, socket: str | None = None, autostart: bool = True):
        super().__init__()
        self.socket = socket
        self.autostart = autostart

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("connecting…", id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.action_refresh()

    def action_refresh(self) -> None:
        self.run_worker(self._load_status(), exclusive=True)

    async def _load_status(self) -> None:
        from octra_protocol.client import connect
        from octra_protocol.errors import ConnectionLost, DaemonUnreachable, RpcError

        widget = self.query_one("#status", Static)
        try:
            async with connect(self.socket, client="octra-tui", autostart=self.autostart) as c:
                st = await c.call("daemon.status")
        except (DaemonUnreachable, ConnectionLost, RpcError) as exc:
            widget.update(f"[b red]daemon unreachable[/]: {exc}")
            return
        lines = [f"[b]octrad {st['version']}[/]  pid {st['pid']}", f"socket   {st['socket']}",
                 f"data     {st['data_dir']}", f"provider {st['default_provider']}",
                 f"tasks    {st['tasks_running']} running", f"nix      {'yes' if st['nix_available'] else 'no'}"]
        widget.update("\n".join(lines))


def run() -> None:
    import argparse
    import os

    parser = argparse.ArgumentParser(prog="octra-tui", description="Octra's terminal UI")
    parser.add_argument("--socket", help="daemon socket [env OCTRA_SOCKET]")
    parser.add_argument("--no-autostart", action="store_true", help="do not start octrad [env OCTRA_NO_AUTOSTART=1]")
    args = parser.parse_args()
    autostart = not args.no_autostart and os.environ.get("OCTRA_NO_AUTOSTART", "") not in {"1", "true", "yes"}
    OctraApp(socket=args.socket, autostart=autostart).run()
