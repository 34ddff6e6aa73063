"""octractl settings get|set."""

from __future__ import annotations

import json

import click

from .. import exitcodes
from ..complete import setting_keys
from ..session import Options, fail, run


BOOLS = {"yes": True, "on": True, "no": False, "off": False}


def parse_value(text: str):
    """A VALUE is JSON when it parses (numbers, booleans, null), yes/no/on/off, else a string."""
    if text.strip().lower() in BOOLS:
        return BOOLS[text.strip().lower()]
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def allowed(tp) -> str:
    """What a settings field of type ``tp`` accepts, in words (from the protocol's types)."""
    import typing

    nullable = False
    if typing.get_origin(tp) is typing.Union:
        nullable = type(None) in typing.get_args(tp)
        (tp,) = [a for a in typing.get_args(tp) if a is not type(None)][:1]
    if typing.get_origin(tp) is typing.Literal:
        words = "one of " + ", ".join(typing.get_args(tp))
    else:
        words = {bool: "true or false (yes/no)", int: "a whole number", float: "a number", str: "text"}.get(tp, str(tp))
    return words + (", or null" if nullable and tp is not bool and typing.get_origin(tp) is not typing.Literal else "")


def checked(changes: dict) -> dict:
    """The changes converted to the protocol's types, or a usage error saying what a key allows."""
    import msgspec

    from octra_protocol.methods.settings import SettingsResult

    types = {f.name: f.type for f in msgspec.structs.fields(SettingsResult)}  # what a setting can hold
    out = {}
    for key, value in changes.items():
        if key == "default_provider" and value is None:
            value = ""  # back to the automatic choice
        if key not in types:
            fail(f"there is no setting {key!r}; known: {', '.join(types)}", exitcodes.USAGE)
        try:
            out[key] = msgspec.convert(value, types[key], strict=False)
        except msgspec.ValidationError:
            fail(f"{key} must be {allowed(types[key])}, not {json.dumps(value)}", exitcodes.USAGE)
    return out


def register(cli: click.Group) -> None:
    @cli.group()
    def settings() -> None:
        """Show or change the daemon's settings.

        \b
        Examples:
          octractl settings get
          octractl settings set publish_repositories true
          octractl settings set max_cost_usd null
          octractl settings set default_provider offline
        """

    @settings.command("get")
    @click.argument("key", required=False, shell_complete=setting_keys)
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

    # negative numbers are values, not options
    @settings.command("set", context_settings={"ignore_unknown_options": True})
    @click.argument("pairs", nargs=-1, required=True, metavar="KEY VALUE [KEY VALUE ...]")
    @click.pass_obj
    def set_(opts: Options, pairs: tuple[str, ...]) -> None:
        """Set one or more settings (VALUE is JSON when it parses, else a string)."""
        from ..render import print_json

        if len(pairs) % 2:
            fail("settings set takes KEY VALUE pairs", exitcodes.USAGE)
        changes = checked({pairs[i]: parse_value(pairs[i + 1]) for i in range(0, len(pairs), 2)})
        values = run(opts, lambda c: c.call("settings.set", changes))
        if opts.json:
            print_json(values)
        else:
            for k in changes:
                click.echo(f"{k} = {json.dumps(values[k])}")
