"""The ``offline`` provider: the pipeline without any AI.

The Boss's part is done by the tool guides: the stack is the one the task
names (``--stack``) or the guide whose keywords the description matches best.
One worker runs the guide's real scaffolding commands (``cargo init``,
``npm init -y``...) when the tool is installed, or writes the guide's
structure when it is not, adds a README and a ``flake.nix``, and checks the
build when it can.  The run then goes on to commit and snapshot as usual,
and says plainly that no AI was used.
"""

from __future__ import annotations

import shutil
from typing import Any

from octra_protocol.errors import RpcError

from .answers import FileOut, ManagerBrief, Plan

NO_AI = "no AI was used: the offline provider scaffolded this project with the tool guide's real commands"


class OfflineBuild:
    def __init__(self, run: Any):
        self.run = run
        self.d = run.d

    def guide(self, plan: Plan | None = None):
        guides = getattr(self.d, "guides", None)
        if guides is None:
            raise RpcError.of("unavailable", "the tool guides are not loaded; offline tasks need them")
        r = self.run
        stack = r.stack or (plan.tech_stack if plan else None)
        if stack:
            found = guides.for_stack(stack)
            if not found:
                try:
                    found = [guides.get(stack)]
                except KeyError:
                    found = []
            if found:
                return found[0]
            raise RpcError.of(
                "invalid_params",
                f"the offline provider has no tool guide for stack {stack!r}; stacks: "
                + ", ".join(sorted({s for g in guides.all() for s in g.stacks})),
            )
        matches = guides.match(r.description, k=1)
        if not matches:
            raise RpcError.of(
                "invalid_params",
                "the offline provider could not tell the stack from the description; name it (e.g. --stack rust) "
                "or describe it (\"a Rust command-line tool\"); stacks: "
                + ", ".join(sorted({s for g in guides.all() for s in g.stacks})),
            )
        return matches[0].guide

    async def plan(self, rev: int, feedback: list[str], answers: list[tuple[str, str]]) -> Plan:
        r = self.run
        step = "plan" if rev == 0 else f"plan.{rev}"
        cached = await r.store.step(r.task_id, step)
        if cached is not None:
            import msgspec

            return msgspec.json.decode(cached, type=Plan)
        g = self.guide()
        plan = Plan(
            task_type="scaffold",
            tech_stack=g.stacks[0] if g.stacks else g.ecosystem,
            architecture_notes=f"offline: scaffold with {g.tool} ({g.name}); {NO_AI}",
            managers=[ManagerBrief(role="scaffold", description=f"create the {g.name} project with {g.tool}")],
        )
        await r.store.record(r.task_id, step, plan)
        await r.log(r.boss_id, f"offline plan: {g.tool} for stack {plan.tech_stack} (no AI)")
        return plan

    async def build(self, plan: Plan) -> None:
        from ..knowledge.guides import render

        r = self.run
        g = self.guide(plan)
        mid, wid = f"{r.task_id}-m1", f"{r.task_id}-m1-w1"
        await r.store.spawn(r.task_id, mid, r.boss_id, "manager", "scaffold")
        await r.store.spawn(r.task_id, wid, mid, "worker", "toolchain")
        name = r.project_name
        missing = [t for t in g.tools if shutil.which(t) is None]
        already = g.detected_in(r.folder, name)
        scaffolded = False
        if already:
            await r.log(wid, f"the project already has {', '.join(g.detect)}; not scaffolding again")
            scaffolded = True
        elif not missing:
            if g.scaffold == "structure":
                await self.write_structure(wid, g, name)
            ok = True
            for c in g.commands_for("init"):
                res = await r.run_command(wid, render(c.command, name))
                if res["exit_code"] != 0:
                    ok = False
                    tail = res["output_tail"].strip().splitlines()[-3:]
                    await r.note(f"`{res['command']}` failed (exit {res['exit_code']}: {' / '.join(tail)[:300]}); "
                                 "wrote the guide's structure instead")
                    break
            scaffolded = ok
            if ok:
                # the tool made the skeleton; the guide's files fill in what it left out (sources, tests)
                await self.write_structure(wid, g, name)
        else:
            await r.note(f"{', '.join(missing)} not installed: wrote the {g.tool} guide's project structure instead of running it")
        if not scaffolded:
            await self.write_structure(wid, g, name)
        await self.extras(wid, g, plan, name)
        await r.commit_all(f"scaffold/toolchain: {g.tool} project {name}", "toolchain (scaffold)")
        if not missing:
            for c in [*g.commands_for("build"), *g.commands_for("test")]:
                res = await r.run_command(wid, render(c.command, name))
                verdict = "passes" if res["exit_code"] == 0 else f"fails (exit {res['exit_code']})"
                await r.note(f"`{res['command']}` {verdict}")
                # build outputs are ignored; anything else it made is part of the project
                await r.commit_all(f"scaffold/toolchain: files from `{res['command']}`", "toolchain (scaffold)")
        await r.note(NO_AI)
        await r.store.agent_status(r.task_id, wid, "done")
        await r.store.agent_status(r.task_id, mid, "done", approved=True)

    async def write_structure(self, agent_id: str, g: Any, name: str) -> None:
        from ..knowledge.guides import render

        for f in g.structure:
            await self._write(agent_id, render(f.path, name), render(f.content, name))

    async def extras(self, agent_id: str, g: Any, plan: Plan, name: str) -> None:
        r = self.run
        commands = "\n".join(f"- {c.purpose}: `{c.command}`" for c in g.commands if c.purpose in ("build", "test", "run"))
        from ..knowledge.guides import render

        readme = (
            f"# {name}\n\n{r.description}\n\n"
            f"A {g.name} project ({plan.tech_stack}), scaffolded by Octra's offline provider: {NO_AI}.\n\n"
            f"## Build and run\n\n{render(commands, name)}\n\n"
            "`nix develop` opens a shell with the toolchain (see flake.nix).\n"
        )
        await self._write(agent_id, "README.md", readme)
        try:
            from ..scaffold.flake import UnknownStack, flake_for

            await self._write(agent_id, "flake.nix", flake_for(plan.tech_stack, name))
        except UnknownStack as exc:
            await r.note(f"no flake.nix: {exc}")

    async def _write(self, agent_id: str, path: str, content: str) -> None:
        """Write a file the project does not have yet (what the tool made stays)."""
        if not (self.run.folder / path).exists():
            await self.run.write(agent_id, [FileOut(path, content)])
