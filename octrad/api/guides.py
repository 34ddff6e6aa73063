"""guides.list / guides.get.

``setup`` creates ``daemon.guides`` (a :class:`~octrad.knowledge.guides.GuideRegistry`)
from the shipped guides and the user's (``<folder of config.toml>/guides/<ecosystem>/<tool>.toml``);
a malformed guide stops the daemon's start with the file's name.
"""

from __future__ import annotations

import logging

import msgspec

from octra_protocol.errors import RpcError
from octra_protocol.methods.guides import Guide, GuideSummary, GuidesListResult

from ..knowledge.guides import GuideError, GuideRegistry, UnknownGuide, user_guides_dir

log = logging.getLogger(__name__)


async def setup(daemon) -> None:
    folder = user_guides_dir(daemon.config.config_file)
    try:
        daemon.guides = GuideRegistry.load(folder)
    except GuideError as exc:
        log.error("cannot load the tool guides: %s", exc)
        raise
    log.info("guides: %d tools (user folder %s)", len(daemon.guides), folder)


def _summary(g, score=None) -> GuideSummary:
    return GuideSummary(
        tool=g.tool, name=g.name, ecosystem=g.ecosystem, description=g.description, keywords=list(g.keywords),
        stacks=list(g.stacks), tools=list(g.tools), nix_packages=list(g.nix_packages), score=score, source=g.source,
    )


def register(router) -> None:
    @router.method("guides.list", inline=True)
    async def list_(call, p):
        reg = call.daemon.guides
        if p.match is not None:
            found = [(m.guide, m.score) for m in reg.match(p.match, k=len(reg))]
        else:
            found = [(g, None) for g in reg.all()]
        if p.stack is not None:
            allowed = {g.tool for g in reg.for_stack(p.stack)}
            found = [(g, s) for g, s in found if g.tool in allowed]
        return GuidesListResult([_summary(g, s) for g, s in found])

    @router.method("guides.get", inline=True)
    async def get(call, p):
        try:
            g = call.daemon.guides.get(p.tool)
        except UnknownGuide as exc:
            raise RpcError.of("not_found", str(exc), tool=p.tool) from None
        return msgspec.convert(g.to_dict(), Guide)
