"""skills.catalog / skills.search / skills.select.

``setup`` creates ``daemon.skills`` (a :class:`~octrad.knowledge.skills.SkillWarehouse`):
the shipped fragments plus the user's (``<folder of config.toml>/skills/*.md``).
A malformed fragment stops the daemon's start with the file's name.
"""

from __future__ import annotations

import logging

from octra_protocol.errors import RpcError
from octra_protocol.methods.skills import Skill, SkillsResult, SkillsSelectResult

from ..knowledge.skills import SkillError, SkillWarehouse, UnknownCategory, UnknownSkill, user_skills_dir

log = logging.getLogger(__name__)


async def setup(daemon) -> None:
    folder = user_skills_dir(daemon.config.config_file)
    try:
        daemon.skills = SkillWarehouse.load(folder)
    except SkillError as exc:
        log.error("cannot load the skill fragments: %s", exc)
        raise
    log.info("skills: %d fragments (user folder %s)", len(daemon.skills), folder)


def _wire(frag, score=None) -> Skill:
    return Skill(**frag.to_dict(), score=score)


def register(router) -> None:
    @router.method("skills.catalog", inline=True)
    async def catalog(call, p):
        try:
            frags = call.daemon.skills.catalog(p.categories)
        except UnknownCategory as exc:
            raise RpcError.of("invalid_params", str(exc)) from None
        return SkillsResult([_wire(f) for f in frags])

    @router.method("skills.search", inline=True)
    async def search(call, p):
        try:
            found = call.daemon.skills.search(p.role, p.tech, p.task, p.k, p.categories)
        except UnknownCategory as exc:
            raise RpcError.of("invalid_params", str(exc)) from None
        return SkillsResult([_wire(s.fragment, s.score) for s in found])

    @router.method("skills.select", inline=True)
    async def select(call, p):
        try:
            sel = call.daemon.skills.select(p.slugs)
        except UnknownSkill as exc:
            raise RpcError.of("not_found", str(exc), slugs=exc.slugs) from None
        return SkillsSelectResult(text=sel.text, skills=[_wire(f) for f in sel.fragments])
