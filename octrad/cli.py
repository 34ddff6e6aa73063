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
    import anyio

    from . import logs
    from .config import ConfigError, load
    from .daemon import Daemon
    from .server import StartupError

    try:
        cfg = load(socket=socket_, config_file=config_file, data_dir=data_dir, log_dir=log_dir, log_level=log_level)
        log_file = logs.setup(cfg.log_dir, cfg.log_level)
        anyio.run(Daemon(cfg, log_file).run, backend="asyncio")
    except (ConfigError, StartupError) as exc:
        click.echo(f"octrad: {exc}", err=True)
        sys.exit(1)
    except BaseExceptionGroup as group:
        # an area's setup failed inside the daemon's task group (e.g. a malformed skill file)
        expected = group.subgroup(lambda e: isinstance(e, (ConfigError, StartupError)))
        if expected is None:
            raise
        while isinstance(expected, BaseExceptionGroup):
            expected = expected.exceptions[0]
        click.echo(f"octrad: {expected}", err=True)
        sys.exit(1)
    except KeyboardInterrupt:
        pass


def main() -> None:
    cli()
