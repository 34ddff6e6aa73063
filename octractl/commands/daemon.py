"""octractl shutdown | projects | completion."""

from __future__ import annotations

import click

from ..session import Options, run

SHELLS = ("bash", "zsh", "fish")


def register(cli: click.Group) -> None:
    @cli.command()
    @click.pass_obj
    def shutdown(opts: Options) -> None:
        """Stop the daemon (running tasks are checkpointed: resume them later).

        It is never started just to be stopped."""
        from ..render import print_json

        opts.autostart = False
        result = run(opts, lambda c: c.call("daemon.shutdown"))
        print_json(result) if opts.json else click.echo("octrad is stopping")

    @cli.command()
    @click.pass_obj
    def projects(opts: Options) -> None:
        """List projects, most recently active first."""
        from ..render import print_json

        result = run(opts, lambda c: c.call("project.list"))
        if opts.json:
            print_json(result)
            return
        if not result["projects"]:
            click.echo("no projects")
            return
        from ..render import table

        click.echo(table(("PROJECT", "NAME", "TASKS", "STACK", "FOLDER"),
                         [(p["id"], p["name"], str(p["tasks"]), p["stack"] or "-",
                           p["path"] if p["exists"] else "(in its snapshot)") for p in result["projects"]]))

    @cli.command()
    @click.argument("shell", type=click.Choice(SHELLS))
    @click.pass_context
    def completion(ctx: click.Context, shell: str) -> None:
        """Print the shell completion script for SHELL.

        \b
        Examples:
          octractl completion bash > ~/.local/share/bash-completion/completions/octractl
          octractl completion zsh > "${fpath[1]}/_octractl"
          octractl completion fish > ~/.config/fish/completions/octractl.fish
        """
        from click.shell_completion import get_completion_class

        cls = get_completion_class(shell)
        root = ctx.find_root().command
        click.echo(cls(root, {}, "octractl", "_OCTRACTL_COMPLETE").source())
