"""Who speaks when in a team's group chat (every round, the first included).

- ``all_at_once``: every worker answers in parallel, each seeing its peers'
  files as of the previous round.
- ``round_robin``: one after another, the first speaker rotating each round
  (round 1 starts with the first worker, round 2 with the second, ...);
  each sees the files its peers wrote so far and what they said, this round included.
- ``role_based``: one after another in the order the layers depend on each
  other (data, then backend, then frontend, then tests, then docs and ops).
- ``agent_based``: the speaker names the next one (its answer's ``next``);
  an unknown or missing name falls to the first worker not yet heard.
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence

SELECTORS = ("all_at_once", "round_robin", "role_based", "agent_based")

#: words in a role, by the layer they belong to (earlier layers speak first)
LAYERS = (
    ("data", "database", "schema", "model", "models", "storage", "db"),
    ("backend", "api", "server", "core", "library", "lib", "logic", "service"),
    ("frontend", "ui", "cli", "client", "web", "view", "views"),
    ("test", "tests", "testing", "qa"),
    ("docs", "documentation", "devops", "deploy", "ci", "ops", "packaging"),
)


class Speaker(Protocol):
    index: int
    role: str
    next: str | None


def layer_of(role: str) -> int:
    words = set(role.lower().replace("-", " ").replace("_", " ").split())
    for rank, layer in enumerate(LAYERS):
        if words & set(layer):
            return rank
    return len(LAYERS) // 2


def speakers(selector: str, workers: Sequence[Speaker], round_no: int) -> Iterator[Speaker]:
    """The speakers of one sequential round, lazily: ``agent_based`` reads the
    previous speaker's ``next`` only after its turn."""
    if not workers:
        return
    if selector == "round_robin":
        k = (round_no - 1) % len(workers)
        yield from [*workers[k:], *workers[:k]]
    elif selector == "role_based":
        yield from sorted(workers, key=lambda w: (layer_of(w.role), w.index))
    elif selector == "agent_based":
        left = list(workers)
        current = left.pop(0)
        while True:
            yield current
            if not left:
                return
            wanted = (current.next or "").strip().lower()
            current = next((w for w in left if w.role.lower() == wanted), left[0])
            left.remove(current)
    else:
        raise ValueError(f"{selector!r} is not a sequential selector")
