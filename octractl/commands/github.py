"""octractl github status | token set | token clear."""

from __future__ import annotations

import os
import sys

import click

from .. import exitcodes
from ..session import Options, fail, run


def _show(opts: Options, res: dict) -> None:
    if opts.json:
        from ..render import print_json

        print_json(res)
        return
    click.echo(f"api: {res['api_url']} (issue URLs on github.com and {res['web_host']})")
    if res["has_token"]:
        who = f", user {res['user']}" if res.get("user") else ""
        click.echo(f"token: set ({res['token_source']}{who})")
    else:
        click.echo("token: none (set one with `octractl github token set` or GITHUB_TOKEN)")


def register(cli: click.Group) -> None:
    @cli.group()
    def github() -> None:
        """The GitHub connection: API, token.

        \b
        The token is read from stdin or a variable, never an argument (arguments show in `ps`):
          echo "$TOKEN" | octractl github token set
          octractl github token set --from-env MY_TOKEN
          octractl github status --check
        Publishing is switched with settings (or per task with --meta):
          octractl settings set publish_repositories true create_pull_requests true
        """

    @github.command("status")
    @click.option("--check", is_flag=True, help="Ask GitHub whose token it is.")
    @click.pass_obj
    def status(opts: Options, check: bool) -> None:
        """The API in use and whether a token is set."""
        _show(opts, run(opts, lambda c: c.call("github.status", {"check": check})))

    @github.group()
    def token() -> None:
        """Store or remove the GitHub token."""

    @token.command("set")
    @click.option("--from-env", "var", metavar="VAR", help="Read the token from this environment variable.")
    @click.option("--no-check", is_flag=True, help="Store it without asking GitHub first.")
    @click.pass_obj
    def set_(opts: Options, var: str | None, no_check: bool) -> None:
        """Store the token (read from stdin, or a variable); GitHub checks it first."""
        if var:
            value = os.environ.get(var, "")
            if not value:
                fail(f"the variable {var} is empty or not set", exitcodes.USAGE)
        elif sys.stdin.isatty():
            value = click.prompt("GitHub token", hide_input=True)
        else:
            value = sys.stdin.readline()
        value = value.strip()
        if not value:
            fail("no token given (pipe it on stdin or use --from-env VAR)", exitcodes.USAGE)
        res = run(opts, lambda c: c.call("github.set_token", {"token": value, "check": not no_check}))
        if not no_check:
            res = run(opts, lambda c: c.call("github.status", {"check": True}))
        _show(opts, res)

    @token.command("clear")
    @click.pass_obj
    def clear(opts: Options) -> None:
        """Remove the stored token (GITHUB_TOKEN, if set, applies again)."""
        _show(opts, run(opts, lambda c: c.call("github.set_token", {"token": None, "check": False})))
