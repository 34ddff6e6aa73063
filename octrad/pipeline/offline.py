"""The ``offline`` provider: the pipeline without any AI.

The Boss's part is done by the tool guides: the stack is the one the task
names (``--stack``) or the guide whose keywords the description matches
best, and the plan's checks are the guide's own (set-up, build, test).  One
worker runs the guide's scaffolding commands (``cargo init``, ``npm init
-y``...) when the tool is installed, or writes the guide's structure when it
is not, and adds a README and a ``flake.nix``.  The verification stage then
runs the checks like for any task (no debug step: there is no AI to ask), and
the notes and the README say exactly what ran, what was written from the
guide, and that no AI was used.
"""

from __future__ import annotations

import shutil
from typing import Any

import msgspec

from octra_protocol.errors import RpcError

from .answers import FileOut, FileSpec, ManagerBrief, Plan
from .contract import checks_from_guide

NO_AI = "no AI was used (offline provider): the project is the tool guide's skeleton, not an implementation of the task"


class OfflineBuild:
    def __init__(self, run: Any):
        self.run = run
        self.d = run.d
        #: what happened, for the notes and the README
        self.ran: list[str] = []
        self.written: list[str] = []
        self.missing: list[str] = []

    def guide(self, plan: Plan | None = None):
        guides = getattr(self.d, "guides", None)
        if guides is None:
            raise RpcError.of("unavailable", "the tool guides are not loaded; offline tasks need them")
        r = self.run
        stack = r.stack or (plan.tech_stack if plan else None)
        pick = getattr(guides, "pick", None)  # the registry's own choice ("a C program": make, not cmake)
        if pick is not None and (chosen := pick(r.description, stack)) is not None:
            return chosen
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
        from ..knowledge.guides import render

        r = self.run
        step = "plan" if rev == 0 else f"plan.{rev}"
        cached = await r.store.step(r.task_id, step)
        if cached is not None:
            return msgspec.json.decode(cached, type=Plan)
        g = self.guide()
        name = r.project_name
        plan = Plan(
            task_type="scaffold",
            tech_stack=g.stacks[0] if g.stacks else g.ecosystem,
            architecture_notes=f"offline: the {g.tool} guide's skeleton ({g.name}); {NO_AI}",
            managers=[ManagerBrief(role="scaffold", description=f"create the {g.name} project with {g.tool}")],
            files=[FileSpec(path=render(f.path, name), owner="scaffold", purpose=f"from the {g.tool} guide")
                   for f in g.structure],
            checks=checks_from_guide(g, name),
        )
        await r.store.record(r.task_id, step, plan)
        await r.log(r.boss_id, f"offline plan: {g.tool} for stack {plan.tech_stack}, "
                               f"{len(plan.checks)} check(s) from the guide (no AI)")
        return plan

    async def build(self, plan: Plan) -> None:
        from ..knowledge.guides import render

        r = self.run
        g = self.guide(plan)
        self.g = g
        mid, wid = f"{r.task_id}-m1", f"{r.task_id}-m1-w1"
        self.worker = wid
        await r.store.spawn(r.task_id, mid, r.boss_id, "manager", "scaffold")
        await r.store.spawn(r.task_id, wid, mid, "worker", "toolchain")
        name = r.project_name
        self.missing = [t for t in g.tools if shutil.which(t) is None]
        if g.detected_in(r.folder, name):
            await r.log(wid, f"the project already has {', '.join(g.detect)}; not scaffolding again")
        elif self.missing:
            await self.write_structure(wid, g, name)
        elif g.scaffold == "structure":
            # no generator: the guide's files are the project (its init commands are set-up checks)
            await self.write_structure(wid, g, name)
        else:
            for c in g.commands_for("init"):
                res = await r.run_command(wid, render(c.command, name))
                self.ran.append(f"`{res['command']}` (exit {res['exit_code']})")
                if res["exit_code"] != 0:
                    tail = " / ".join(res["output_tail"].strip().splitlines()[-3:])[:300]
                    await r.note(f"`{res['command']}` failed (exit {res['exit_code']}: {tail}); "
                                 "wrote the guide's files instead")
                    break
            # the tool made the skeleton; the guide's files fill in what it left out (sources, tests)
            await self.write_structure(wid, g, name)
        await self.extras(wid, g, plan, name)
        await r.commit_all(f"scaffold/toolchain: {g.tool} project {name}", "toolchain (scaffold)")
        await r.store.agent_status(r.task_id, wid, "done")
        await r.store.agent_status(r.task_id, mid, "done", approved=True)

    async def report(self) -> None:
        """The notes: what ran, what was written from the guide, how each check went, no AI."""
        r = self.run
        g = self.g
        if self.ran:
            await r.note(f"ran the {g.tool} guide's scaffolding: {', '.join(self.ran)}")
        if self.missing:
            await r.note(f"{', '.join(self.missing)} not installed: wrote the {g.tool} guide's files "
                         f"({', '.join(self.written) or 'none'}) instead of running its commands")
        elif self.written:
            await r.note(f"wrote from the {g.tool} guide: {', '.join(self.written)}")
        for c in r.checks:
            if c["exit_code"] is None:
                await r.note(f"`{c['command']}` did not run: {c['skipped_reason']}")
            else:
                await r.note(f"`{c['command']}` " + ("passes" if c["passed"] else f"fails (exit {c['exit_code']})"))
        await r.note(NO_AI)

    async def write_structure(self, agent_id: str, g: Any, name: str) -> None:
        from ..knowledge.guides import render

        for f in g.structure:
            await self._write(agent_id, render(f.path, name), render(f.content, name))

    async def extras(self, agent_id: str, g: Any, plan: Plan, name: str) -> None:
        from ..knowledge.guides import render

        r = self.run
        flake = False
        try:
            from ..scaffold.flake import UnknownStack, flake_for

            flake = await self._write(agent_id, "flake.nix", flake_for(plan.tech_stack, name))
            flake = flake or (r.folder / "flake.nix").exists()
        except UnknownStack as exc:
            await r.note(f"no flake.nix: {exc}")
        if self.missing:
            made = (f"{', '.join(self.missing)} was not installed, so nothing ran: these files were written "
                    f"from the {g.tool} guide: {', '.join(self.written)}.")
        else:
            made = ("Ran: " + ", ".join(self.ran) + ". " if self.ran else "") + (
                f"Written from the {g.tool} guide: {', '.join(self.written)}." if self.written else "")
        checks = "\n".join(f"- {c.name}: `{c.command}`" for c in plan.checks) or "- none (the guide has no checks)"
        run_cmds = "\n".join(f"- `{render(c.command, name)}`" for c in g.commands_for("run"))
        readme = (
            f"# {name}\n\n"
            f"A minimal {g.name} project ({plan.tech_stack}): the starting skeleton of Octra's {g.tool} tool guide, "
            "made by the offline provider without any AI. It does not implement the task it was made for; "
            "give the task to an AI provider (or edit the code) for that.\n\n"
            f"The task asked: {r.description}\n\n"
            f"## How it was made\n\n{made}\n\n"
            f"## Checks\n\nOctra runs these on the whole project, in order (their results are in `octractl show`):\n\n"
            f"{checks}\n\n"
            + (f"## Run\n\n{run_cmds}\n\n" if run_cmds else "")
            + ("`nix develop` opens a shell with the toolchain (see flake.nix).\n" if flake else "")
        )
        await self._write(agent_id, "README.md", readme)

    async def _write(self, agent_id: str, path: str, content: str) -> bool:
        """Write a file the project does not have yet (what the tool made stays); whether it was written."""
        if (self.run.folder / path).exists():
            return False
        accepted = await self.run.write(agent_id, [FileOut(path, content)])
        if accepted and path not in ("README.md", "flake.nix"):
            self.written.append(accepted[0][0])
        return bool(accepted)
