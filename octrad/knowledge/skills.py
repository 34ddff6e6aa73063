"""The skill warehouse: small fragments of guidance, chosen per call.

Agents are not given everything we know; each call gets the few fragments that
matter for its role, stack and task (DESIGN.md section 9).  A fragment is a
markdown file with a frontmatter block::

    ---
    name: Idempotent REST endpoints
    slug: rest-idempotency
    area: Backend
    keywords: api, rest, endpoint, retry
    tech: http, python, go
    weight: 4
    ---
    3 to 6 lines of specific guidance.

Fragments ship in the ``octra_skills`` package (read with importlib.resources,
so an installed wheel works like a checkout).  A user adds fragments by
dropping ``*.md`` files in ``<folder of config.toml>/skills/``; a user fragment
with the slug of a shipped one replaces it.  A malformed file fails the load
with its path and what is wrong (:class:`SkillError`).

Contract (``daemon.skills``, a :class:`SkillWarehouse`):

- ``catalog(categories=None) -> list[Fragment]``: every fragment (of those
  areas, case-insensitive; None or [] means every area; an unknown name raises
  :class:`UnknownCategory`).
- ``search(role, tech="", task="", k=5, categories=None) -> list[Scored]``:
  the k most relevant fragments with score > 0, best first.
- ``select(slugs) -> Selection``: the named fragments and ``text``, one
  prompt-ready block.  Unknown slugs raise :class:`UnknownSkill`.

Relevance (section 9): for each keyword, +5 when it appears in the role and +2
when in the task; +3 for each tech token present in the stack; +4 when the
slug appears in the role; +3 when the area does; the sum times the weight.
"Appears" means as whole words, case-insensitive, a trailing plural s/es
allowed ("endpoints" matches "endpoint").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Iterable, NamedTuple

from ..config import ConfigError

#: the areas of DESIGN.md section 9, in catalog order
AREAS = ("Backend", "Frontend", "DevOps", "Research", "Presentation", "Proxy", "VPN")
FIELDS = ("name", "slug", "area", "keywords", "tech", "weight")
BODY_LINES = (3, 6)
SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_NON_WORD = re.compile(r"[^a-z0-9+#]+")


class SkillError(ConfigError):
    """A fragment file is malformed; the message starts with its path."""


class UnknownSkill(KeyError):
    """select() was given slugs that no fragment has."""

    def __init__(self, slugs: list[str]):
        super().__init__(slugs)
        self.slugs = slugs

    def __str__(self) -> str:
        return f"no skill with slug {', '.join(map(repr, self.slugs))}"


class UnknownCategory(ValueError):
    """A category filter named no area."""


def normalize(text: str) -> str:
    """Lower case, words separated by single spaces, padded: ready for phrase tests."""
    return " " + " ".join(_NON_WORD.sub(" ", text.lower()).split()) + " "


def appears(phrase: str, text: "str | Words") -> bool:
    """Whether ``phrase`` (normalized) occurs in ``text`` (normalized) as whole words.

    A trailing plural is allowed: "endpoint" appears in "many endpoints".
    """
    if isinstance(text, Words):
        return text.has(phrase)
    p = phrase.strip()
    if not p:
        return False
    return f" {p} " in text or f" {p}s " in text or f" {p}es " in text


class Words:
    """A text prepared for many :func:`appears` tests: one-word phrases are set
    lookups (with the plural forms folded in), longer ones substring tests."""

    __slots__ = ("text", "_set")

    def __init__(self, raw: str):
        self.text = normalize(raw)
        words = self.text.split()
        self._set = {*words, *(w[:-1] for w in words if w.endswith("s")), *(w[:-2] for w in words if w.endswith("es"))}

    def has(self, phrase: str) -> bool:
        if " " in phrase:
            return appears(phrase, self.text)
        return phrase in self._set


@dataclass(frozen=True)
class Fragment:
    slug: str
    name: str
    area: str
    keywords: tuple[str, ...]
    tech: tuple[str, ...]
    weight: int
    body: str
    #: "shipped" or "user"
    source: str = "shipped"
    #: where it was read from (for error messages and `skills show`)
    origin: str = ""
    # normalized forms for scoring, derived in __post_init__
    _kw: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _tech: tuple[str, ...] = field(init=False, repr=False, compare=False)
    _slug: str = field(init=False, repr=False, compare=False)
    _area: str = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        derived = {
            "_kw": tuple(normalize(k).strip() for k in self.keywords),
            "_tech": tuple(normalize(t).strip() for t in self.tech),
            "_slug": normalize(self.slug).strip(),
            "_area": normalize(self.area).strip(),
        }
        for name, value in derived.items():
            object.__setattr__(self, name, value)

    def score(self, role: "str | Words", stack: "str | Words", task: "str | Words") -> int:
        """The relevance rule of DESIGN.md section 9 (texts raw or prepared as :class:`Words`)."""
        in_role = (role if isinstance(role, Words) else Words(role)).has
        in_task = (task if isinstance(task, Words) else Words(task)).has
        in_stack = (stack if isinstance(stack, Words) else Words(stack)).has
        total = 5 * sum(map(in_role, self._kw)) + 2 * sum(map(in_task, self._kw))
        total += 3 * sum(map(in_stack, self._tech))
        total += 4 * in_role(self._slug) + 3 * in_role(self._area)
        return total * self.weight

    def to_dict(self) -> dict:
        return {
            "slug": self.slug, "name": self.name, "area": self.area, "keywords": list(self.keywords),
            "tech": list(self.tech), "weight": self.weight, "body": self.body, "source": self.source,
        }


class Scored(NamedTuple):
    fragment: Fragment
    score: int


class Selection(NamedTuple):
    fragments: list[Fragment]
    #: the fragments as one block for a prompt
    text: str


# -- parsing ---------------------------------------------------------------
def _split_list(value: str) -> list[str]:
    v = value.strip()
    if v.startswith("[") and v.endswith("]"):
        v = v[1:-1]
    items = [x.strip().strip("\"'").strip() for x in v.split(",")]
    return [x for x in items if x]


def parse_fragment(text: str, origin: str, source: str = "shipped") -> Fragment:
    """One fragment from its file text; :class:`SkillError` names ``origin`` and the problem."""

    def bad(problem: str) -> SkillError:
        return SkillError(f"{origin}: {problem}")

    lines = text.replace("\r\n", "\n").split("\n")
    if not lines or lines[0].strip() != "---":
        raise bad("must start with a '---' frontmatter line")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise bad("frontmatter is not closed by a '---' line") from None
    meta: dict[str, str] = {}
    for n, line in enumerate(lines[1:end], start=2):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key = key.strip()
        if not sep or not key:
            raise bad(f"line {n}: expected 'key: value', got {line.strip()!r}")
        if key not in FIELDS:
            raise bad(f"line {n}: unknown field {key!r} (fields: {', '.join(FIELDS)})")
        if key in meta:
            raise bad(f"line {n}: field {key!r} given twice")
        meta[key] = value.strip()
    missing = [f for f in FIELDS if f not in meta]
    if missing:
        raise bad(f"frontmatter lacks {', '.join(missing)}")
    name = meta["name"].strip("\"'")
    if not name:
        raise bad("name is empty")
    slug = meta["slug"]
    if not SLUG_RE.match(slug):
        raise bad(f"slug {slug!r} must be lower-case words joined by '-'")
    area = next((a for a in AREAS if a.lower() == meta["area"].lower()), None)
    if area is None:
        raise bad(f"area {meta['area']!r} is not one of {', '.join(AREAS)}")
    keywords = [k.lower() for k in _split_list(meta["keywords"])]
    if not keywords:
        raise bad("keywords is empty")
    tech = [t.lower() for t in _split_list(meta["tech"])]
    try:
        weight = int(meta["weight"])
    except ValueError:
        raise bad(f"weight must be a whole number 1-5, not {meta['weight']!r}") from None
    if not 1 <= weight <= 5:
        raise bad(f"weight must be 1-5, not {weight}")
    body_lines = [ln.rstrip() for ln in lines[end + 1 :] if ln.strip()]
    lo, hi = BODY_LINES
    if not lo <= len(body_lines) <= hi:
        raise bad(f"body has {len(body_lines)} non-empty lines; a fragment has {lo} to {hi}")
    return Fragment(
        slug=slug, name=name, area=area, keywords=tuple(keywords), tech=tuple(tech), weight=weight,
        body="\n".join(body_lines), source=source, origin=origin,
    )


def _read_all(entries: Iterable[Traversable | Path], source: str) -> list[Fragment]:
    found: list[Fragment] = []
    seen: dict[str, str] = {}
    for entry in sorted(entries, key=lambda e: e.name):
        if not entry.name.endswith(".md") or entry.name.startswith(("_", ".")) or entry.name.upper() == "README.MD":
            continue
        origin = str(entry)
        try:
            text = entry.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise SkillError(f"{origin}: cannot read: {exc}") from None
        frag = parse_fragment(text, origin, source)
        if frag.slug in seen:
            raise SkillError(f"{origin}: slug {frag.slug!r} is already used by {seen[frag.slug]}")
        seen[frag.slug] = origin
        found.append(frag)
    return found


def user_skills_dir(config_file: str | Path) -> Path:
    """Where a user drops their own fragments: beside config.toml."""
    return Path(config_file).expanduser().parent / "skills"


# -- the warehouse -----------------------------------------------------------
class SkillWarehouse:
    """Every fragment, loaded once; search and selection are in memory."""

    def __init__(self, fragments: Iterable[Fragment]):
        self._by_slug: dict[str, Fragment] = {}
        for f in fragments:
            self._by_slug[f.slug] = f
        order = {a: i for i, a in enumerate(AREAS)}
        self._all = sorted(self._by_slug.values(), key=lambda f: (order[f.area], f.slug))

    @classmethod
    def load(cls, user_dir: str | Path | None = None, package: str = "octra_skills") -> "SkillWarehouse":
        """The shipped fragments, then the user's (same slug: the user's wins)."""
        shipped = _read_all(resources.files(package).iterdir(), "shipped")
        user: list[Fragment] = []
        if user_dir is not None and Path(user_dir).is_dir():
            user = _read_all(Path(user_dir).iterdir(), "user")
        return cls([*shipped, *user])

    def __len__(self) -> int:
        return len(self._all)

    def areas(self) -> list[str]:
        return [a for a in AREAS if any(f.area == a for f in self._all)]

    def _areas_filter(self, categories: Iterable[str] | None) -> set[str] | None:
        """The areas to keep; None (no filter) for None or an empty list."""
        categories = list(categories or ())
        if not categories:
            return None
        wanted: set[str] = set()
        for c in categories:
            area = next((a for a in AREAS if a.lower() == c.strip().lower()), None)
            if area is None:
                raise UnknownCategory(f"unknown skill category {c!r}; categories are {', '.join(AREAS)}")
            wanted.add(area)
        return wanted

    def get(self, slug: str) -> Fragment:
        try:
            return self._by_slug[slug]
        except KeyError:
            raise UnknownSkill([slug]) from None

    def catalog(self, categories: Iterable[str] | None = None) -> list[Fragment]:
        areas = self._areas_filter(categories)
        return [f for f in self._all if areas is None or f.area in areas]

    def search(
        self, role: str, tech: str = "", task: str = "", k: int = 5, categories: Iterable[str] | None = None
    ) -> list[Scored]:
        """The k best fragments with a positive score; ties go to the higher weight, then the slug."""
        r, s, t = Words(role), Words(tech), Words(task)
        scored = [Scored(f, f.score(r, s, t)) for f in self.catalog(categories)]
        scored = [x for x in scored if x.score > 0]
        scored.sort(key=lambda x: (-x.score, -x.fragment.weight, x.fragment.slug))
        return scored[: max(k, 0)]

    def select(self, slugs: Iterable[str]) -> Selection:
        """The named fragments, in the order given (duplicates once), and their prompt text."""
        wanted = list(dict.fromkeys(slugs))
        missing = [s for s in wanted if s not in self._by_slug]
        if missing:
            raise UnknownSkill(missing)
        frags = [self._by_slug[s] for s in wanted]
        return Selection(frags, format_for_prompt(frags))


def format_for_prompt(fragments: Iterable[Fragment]) -> str:
    """Fragments as one compact block: a heading line each, then its guidance."""
    return "\n\n".join(f"[{f.area}] {f.name} ({f.slug})\n{f.body}" for f in fragments)
