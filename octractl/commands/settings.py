"""octractl settings get|set."""

from __future__ import annotations

import json

import click

from .. import exitcodes
from ..session import Options, fail, run


def parse_value(text: str):
    """A VALUE is JSON when it parses (numbers, booleans, null), else a string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def register(cli: click.Group) -> None:
    @cli.group()
    def settings() -> None:
        """Show or change the daemon's settings.

        \b
        Examples:
          octractl settings get
          octractl settings set publish_repositories true
          octractl settings set max_cost_usd null
        """

    @settings.command("get")
    @click.argument("key", required=False)
    @click.pass_obj
    def get(opts: Options, key: str | None) -> None:
        """Print all settings, or the one named KEY."""
        from ..render import print_json

        values = run(opts, lambda c: c.call("settings.get"))
        if key is not None:
            if key not in values:
                fail(f"no setting {key!r}; known: {', '.join(values)}", exitcodes.USAGE)
            values = values[key]
            click.echo(json.dumps(values)) if opts.json or not isinstance(values, str) else click.echo(values)
            return
        if opts.json:
            print_json(values)
        else:
            width = max(map(len, values))
            for k, v in values.items():
                click.echo(f"{k:<{width}}  {json.dumps(v)}")

    @settings.command("set")
    @click.argument("pairs", nargs=-1, required=True, metavar="KEY VALUE [KEY VALUE ...]")
    @click.pass_obj
    def set_(opts: Options, pairs: tuple[str, ...]) -> None:
        """Set one or more settings (VALUE is JSON when it parses, else a string)."""
        from ..render import print_json

        if len(pairs) % 2:
            fail("settings set takes KEY VALUE pairs", exitcodes.USAGE)
        changes = {pairs[i]: parse_value(pairs[i + 1]) for i in range(0, len(pairs), 2)}
        values = run(opts, lambda c: c.call("settings.set", changes))
        if opts.json:
            print_json(values)
        else:
            for k in changes:
                click.echo(f"{k} = {json.dumps(values[k])}")
