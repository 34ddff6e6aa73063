"""``octrad``: run the daemon (``octrad serve``)."""

from __future__ import annotations

import sys

import click


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="octra", prog_name="octrad")
def cli() -> None:
    """Octra's daemon. Clients (octractl, octra-tui) start it on demand; run it
    yourself with `octrad serve`, or as a systemd user service."""


@cli.command()
@click.option("--socket", "socket_", metavar="PATH", help="Unix socket to listen on [env OCTRA_SOCKET].")
@click.option("--config", "config_file", metavar="FILE", help="config.toml to read [env OCTRA_CONFIG].")
@click.option("--data-dir", metavar="DIR", help="Database and projects [env OCTRA_DATA_DIR].")
@click.option("--log-dir", metavar="DIR", help="Where octrad.log goes [env OCTRA_LOG_DIR].")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="[env OCTRA_LOG_LEVEL]")
def serve(socket_, config_file, data_dir, log_dir, log_level) -> None:
    """Run the daemon in the foreground until SIGTERM/SIGINT or daemon.shutdown."""
    from . import secretenv

    secretenv.take()  # first of all: no process started from here on inherits a key
    import os

    import anyio
    import platformdirs

    from octra_protocol.paths import APP_NAME

    from . import logs
    from .config import ConfigError, load
    from .daemon import Daemon
    from .server import StartupError

    def refuse(exc: Exception) -> None:
        """Say why the daemon cannot start: on stderr (a client that started it shows
        that) and in the log (where a daemon started in the background is looked for)."""
        import logging

        click.echo(f"octrad: {exc}", err=True)
        try:
            if not logging.getLogger().handlers:
                logs.setup(log_dir or os.environ.get("OCTRA_LOG_DIR") or platformdirs.user_log_dir(APP_NAME))
            logging.getLogger("octrad").error("cannot start: %s", exc)
        except OSError:
            pass
        sys.exit(1)

    try:
        cfg = load(socket=socket_, config_file=config_file, data_dir=data_dir, log_dir=log_dir, log_level=log_level)
        # and the variables config.toml names as holding keys
        secretenv.take(p.get("api_key_env") for p in cfg.providers.values() if p.get("api_key_env"))
        log_file = logs.setup(cfg.log_dir, cfg.log_level)
        anyio.run(Daemon(cfg, log_file).run, backend="asyncio")
    except (ConfigError, StartupError) as exc:
        refuse(exc)
    except BaseExceptionGroup as group:
        # an area's setup failed inside the daemon's task group (e.g. a malformed skill file)
        expected = group.subgroup(lambda e: isinstance(e, (ConfigError, StartupError)))
        if expected is None:
            raise
        while isinstance(expected, BaseExceptionGroup):
            expected = expected.exceptions[0]
        refuse(expected)
    except KeyboardInterrupt:
        pass


@cli.command("install-service")
@click.option("--user", "user", is_flag=True, default=True, help="Install for this user (systemd --user; the only mode).")
@click.option("--dest", metavar="DIR", help="Write the units here instead of $XDG_CONFIG_HOME/systemd/user (~/.config/...).")
@click.option("--exec", "exec_path", metavar="PATH", help="The octrad to run (default: this one).")
def install_service(user: bool, dest: str | None, exec_path: str | None) -> None:
    """Write octrad.service and octrad.socket (systemd user units) and say how to enable them."""
    import os
    import shutil
    from pathlib import Path

    from .systemd import service_unit, socket_unit

    exe = exec_path or shutil.which("octrad") or os.path.abspath(sys.argv[0])
    if not os.path.isabs(exe) or not os.access(exe, os.X_OK):
        click.echo(f"octrad: cannot find an executable octrad (got {exe!r}); pass --exec PATH", err=True)
        sys.exit(1)
    config_home = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    folder = Path(dest).expanduser() if dest else config_home / "systemd" / "user"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "octrad.service").write_text(service_unit(exe))
    (folder / "octrad.socket").write_text(socket_unit())
    click.echo(f"wrote {folder / 'octrad.service'} and {folder / 'octrad.socket'}")
    click.echo("enable with:\n  systemctl --user daemon-reload\n  systemctl --user enable --now octrad.socket"
               "\n(or start the daemon itself at login: systemctl --user enable --now octrad.service)")
    click.echo("provider keys go in ~/.config/octra/env as KEY=value lines (chmod 600)")


def main() -> None:
    cli()
