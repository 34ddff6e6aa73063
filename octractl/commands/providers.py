"""octractl providers list|set|remove|test|default."""

from __future__ import annotations

import os
import sys

import click

from .. import exitcodes
from ..session import Options, fail, run

KINDS = ("openai", "anthropic", "gemini", "ollama")


def register(cli: click.Group) -> None:
    @cli.group()
    def providers() -> None:
        """Configure the AI providers the daemon calls.

        \b
        Keys are given on stdin or through a variable, never as an argument
        (arguments are visible to every user in `ps`):
          octractl providers set work --kind openai --model gpt-4o-mini --api-key-env OPENAI_API_KEY
          echo "$KEY" | octractl providers set claude --kind anthropic --model claude-sonnet-4-5 --api-key-stdin
          octractl providers set local --kind ollama --model llama3.1 --base-url http://127.0.0.1:11434
          octractl providers test work
          octractl providers default work      (or offline: no AI)

        \b
        The first provider added becomes the default; adding more does not change it.
        """

    @providers.command("list")
    @click.pass_obj
    def list_(opts: Options) -> None:
        """Show configured providers (* marks the default)."""
        from ..render import print_json

        res = run(opts, lambda c: c.call("providers.list"))
        if opts.json:
            print_json(res)
            return
        rows = [("", "NAME", "KIND", "MODEL", "KEY", "SOURCE", "BASE URL")]
        for p in res["providers"]:
            rows.append(("*" if p["default"] else "", p["name"], p["kind"], p["model"], "yes" if p["has_key"] else "no",
                         p["source"], p.get("base_url") or "(default)"))
        if len(rows) > 1:
            widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
            for r in rows:
                click.echo("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())
        else:
            click.echo("no providers configured")
        click.echo(f"default: {res['default']}")
        for e in res.get("errors", []):
            click.echo(f"unusable: {e['name']}: {e['error']}", err=True)

    @providers.command("set")
    @click.argument("name")
    @click.option("--kind", type=click.Choice(KINDS), required=True, help="Wire format the provider speaks.")
    @click.option("--model", required=True, help="Model name, e.g. gpt-4o-mini.")
    @click.option("--base-url", metavar="URL", help="Endpoint (OpenAI-compatible servers, proxies, Ollama host).")
    @click.option("--api-key-env", metavar="VAR", help="Read the key from this environment variable.")
    @click.option("--api-key-stdin", is_flag=True, help="Read the key from standard input.")
    @click.option("--no-key", is_flag=True, help="Remove a stored key.")
    @click.option("--timeout", "timeout_s", type=float, metavar="SECONDS", help="Bound on one exchange (default 600).")
    @click.option("--structured", type=click.Choice(["json_schema", "json_object", "none"]),
                  help="openai kind: how the schema is sent (default json_schema).")
    @click.pass_obj
    def set_(opts: Options, name, kind, model, base_url, api_key_env, api_key_stdin, no_key, timeout_s, structured) -> None:
        """Store provider NAME (its key is kept unless a new one is given)."""
        from ..render import print_json

        if sum(map(bool, (api_key_env, api_key_stdin, no_key))) > 1:
            fail("give at most one of --api-key-env, --api-key-stdin, --no-key", exitcodes.USAGE)
        params = {"name": name, "kind": kind, "model": model}
        if base_url:
            params["base_url"] = base_url
        if timeout_s is not None:
            params["timeout_s"] = timeout_s
        if structured:
            params["structured"] = structured
        if api_key_env:
            key = os.environ.get(api_key_env, "").strip()
            if not key:
                fail(f"environment variable {api_key_env} is not set", exitcodes.USAGE)
            params["api_key"] = key
        elif api_key_stdin:
            key = sys.stdin.readline().strip()
            if not key:
                fail("no key on standard input", exitcodes.USAGE)
            params["api_key"] = key
        elif no_key:
            params["api_key"] = None
        res = run(opts, lambda c: c.call("providers.set", params))
        if opts.json:
            print_json(res)
        else:
            click.echo(f"{res['name']}: {res['kind']} {res['model']}, key {'stored' if res['has_key'] else 'none'}")

    @providers.command("remove")
    @click.argument("name")
    @click.pass_obj
    def remove(opts: Options, name: str) -> None:
        """Remove stored provider NAME."""
        from ..render import print_json

        async def body(c):
            was = (await c.call("providers.list"))["default"]
            return was, await c.call("providers.remove", {"name": name}), (await c.call("providers.list"))["default"]

        was, res, now = run(opts, body)
        print_json(res) if opts.json else click.echo(f"removed {res['removed']}")
        if now != was:
            click.echo(f"octractl: the default provider is now {now}", err=True)

    @providers.command("default")
    @click.argument("name", required=False)
    @click.option("--auto", is_flag=True, help="Forget the choice: OCTRA_PROVIDER/config.toml, else the first configured one.")
    @click.pass_obj
    def default(opts: Options, name: str | None, auto: bool) -> None:
        """Choose the provider of tasks that name none (a configured one, or offline); no NAME: show it.

        \b
        Examples:
          octractl providers default work
          octractl providers default offline
          octractl providers default --auto
        """
        from ..render import print_json

        if name is not None and auto:
            fail("give NAME or --auto, not both", exitcodes.USAGE)

        async def body(c):
            if name is not None or auto:
                await c.call("settings.set", {"default_provider": "" if auto else name})
            return await c.call("providers.list")

        res = run(opts, body)
        if opts.json:
            print_json({"default": res["default"]})
            return
        click.echo(f"default provider: {res['default']}")
        if name is not None and res["default"] != name.strip().lower():
            click.echo(f"note: {res['default']} is used, not {name}", err=True)

    @providers.command("test")
    @click.argument("name")
    @click.option("--model", help="Test this model instead of the configured one.")
    @click.pass_obj
    def test(opts: Options, name: str, model: str | None) -> None:
        """Make one tiny structured call to NAME; show latency and the answer."""
        from ..render import print_json

        params = {"name": name, **({"model": model} if model else {})}
        res = run(opts, lambda c: c.call("providers.test", params))
        if opts.json:
            print_json(res)
        else:
            click.echo(
                f"ok: {res['name']} ({res['kind']}, {res['model']}) answered {res['answer']!r} "
                f"in {res['latency_ms']:.0f} ms, {res['tokens_in']}+{res['tokens_out']} tokens"
            )
