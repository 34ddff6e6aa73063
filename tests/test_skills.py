"""The skill warehouse: loading (checkout, user folder, installed wheel), the
relevance rule of DESIGN.md section 9, the category filter, selection, loud
failures on malformed fragments, and the methods and commands over the socket."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import pytest

from octrad.knowledge.skills import (
    AREAS,
    SkillError,
    SkillWarehouse,
    UnknownCategory,
    UnknownSkill,
    normalize,
    parse_fragment,
    user_skills_dir,
)

ROOT = Path(__file__).resolve().parent.parent

BODY = "Line one of guidance.\nLine two of guidance.\nLine three of guidance.\n"


def frag_text(slug="a-b", name="A B", area="Backend", keywords="api, rest", tech="go", weight=3, body=BODY) -> str:
    return f"---\nname: {name}\nslug: {slug}\narea: {area}\nkeywords: {keywords}\ntech: {tech}\nweight: {weight}\n---\n{body}"


def frag(**kw):
    return parse_fragment(frag_text(**kw), f"{kw.get('slug', 'a-b')}.md")


@pytest.fixture(scope="module")
def shipped() -> SkillWarehouse:
    return SkillWarehouse.load()


# -- the shipped warehouse --------------------------------------------------------
def test_shipped_fragments(shipped):
    files = sorted((ROOT / "skills").glob("*.md"))
    assert len(shipped) == len(files) >= 42
    assert shipped.areas() == list(AREAS), "every area has fragments"
    for f in shipped.catalog():
        assert 3 <= len(f.body.splitlines()) <= 6
        assert f.origin.endswith(f"{f.slug}.md"), "file named after its slug"
        assert f.source == "shipped"


def test_relevance_on_the_shipped_set(shipped):
    top = shipped.search("vpn engineer", "wireguard", "set up a tunnel and its dns", k=3)
    assert [s.fragment.slug for s in top] == ["wireguard-setup", "vpn-routing-dns", "vpn-nixos"]
    top = shipped.search("frontend developer", "react typescript", "build the signup form with validation", k=3)
    assert [s.fragment.slug for s in top] == ["component-structure", "input-validation", "accessible-forms"]


# -- the relevance rule, on chosen fragments ----------------------------------------
def test_each_part_of_the_relevance_rule():
    f = frag(slug="rest-design", area="Backend", keywords="api, endpoint", tech="go, postgres", weight=2)
    score = lambda role, tech="", task="": f.score(normalize(role), normalize(tech), normalize(task))  # noqa: E731
    assert score("writer") == 0
    assert score("api writer") == 5 * 2  # keyword in role
    assert score("writer", task="add an endpoint") == 2 * 2  # keyword in task
    assert score("writer", task="the endpoints of the api") == (2 + 2) * 2  # both keywords, plural allowed
    assert score("api writer", task="api work") == (5 + 2) * 2  # the same keyword in role and task
    assert score("writer", tech="Go + PostgreSQL 16") == 3 * 2  # "postgresql" is not the token "postgres"
    assert score("writer", tech="go, postgres") == (3 + 3) * 2
    assert score("rest design writer") == 4 * 2  # slug in role
    assert score("backend writer") == 3 * 2  # area in role
    assert score("Backend API rest-design", "go", "endpoint") == (5 + 2 + 3 + 4 + 3) * 2
    # whole words only
    assert score("rapid prototyper", task="endpointless", tech="gopher") == 0


def test_known_top3_and_order():
    wh = SkillWarehouse(
        [
            frag(slug="sql-migrations", area="Backend", keywords="database, migration, schema", tech="postgres", weight=4),
            frag(slug="api-pagination", area="Backend", keywords="pagination, list, api", tech="sql", weight=3),
            frag(slug="rest-api", area="Backend", keywords="api, rest, endpoint", tech="go, python", weight=4),
            frag(slug="css-grid", area="Frontend", keywords="layout, css, grid", tech="css", weight=5),
            frag(slug="queues", area="Backend", keywords="queue, job", tech="redis", weight=1),
        ]
    )
    found = wh.search("backend api developer", "python postgres", "paginate the list endpoint", k=3)
    # rest-api: api in role 5 + endpoint in task 2 + python 3 + area 3 = 13 * 4 = 52
    # api-pagination: api in role 5 + list in task 2 + area 3 = 10 * 3 = 30
    # sql-migrations: postgres 3 + area 3 = 6 * 4 = 24;  queues: area 3 * 1 = 3;  css-grid: 0
    assert [(s.fragment.slug, s.score) for s in found] == [("rest-api", 52), ("api-pagination", 30), ("sql-migrations", 24)]
    assert [s.fragment.slug for s in wh.search("backend api developer", "python postgres", "paginate the list endpoint", k=10)] == [
        "rest-api", "api-pagination", "sql-migrations", "queues"
    ], "zero scores are left out"
    # ties: higher weight first, then slug
    tie = SkillWarehouse([frag(slug="b-two", weight=2, keywords="x"), frag(slug="a-one", weight=2, keywords="x"), frag(slug="c-four", weight=4, keywords="y")])
    assert [s.fragment.slug for s in tie.search("x y")] == ["c-four", "a-one", "b-two"]


def test_category_filter(shipped):
    vpn = shipped.catalog(["vpn"])
    assert vpn and {f.area for f in vpn} == {"VPN"}
    two = shipped.catalog(["Proxy", "VPN"])
    assert {f.area for f in two} == {"Proxy", "VPN"} and len(two) == len(vpn) + len(shipped.catalog(["proxy"]))
    assert len(shipped.catalog()) == len(shipped) and len(shipped.catalog(None)) == len(shipped)
    assert shipped.catalog([]) == shipped.catalog(), "an empty filter is no filter"
    found = shipped.search("api developer", "python", "rest endpoint with tls proxy", k=10, categories=["PROXY"])
    assert found and {s.fragment.area for s in found} == {"Proxy"}
    with pytest.raises(UnknownCategory, match="'Mobile'.*Backend, Frontend"):
        shipped.catalog(["Mobile"])


def test_select(shipped):
    sel = shipped.select(["wireguard-setup", "rest-api-design", "wireguard-setup"])
    assert [f.slug for f in sel.fragments] == ["wireguard-setup", "rest-api-design"]
    assert sel.text.startswith("[VPN] WireGuard setup (wireguard-setup)\n")
    assert shipped.get("rest-api-design").body in sel.text
    with pytest.raises(UnknownSkill) as exc:
        shipped.select(["rest-api-design", "no-such", "nor-this"])
    assert exc.value.slugs == ["no-such", "nor-this"]


# -- malformed fragments fail loudly with the file name ------------------------------
@pytest.mark.parametrize(
    "text,problem",
    [
        ("name: x\n", "must start with a '---' frontmatter line"),
        ("---\nname: x\n", "frontmatter is not closed"),
        (frag_text().replace("weight: 3\n", ""), "frontmatter lacks weight"),
        (frag_text().replace("weight: 3", "weight: heavy"), "weight must be a whole number"),
        (frag_text().replace("weight: 3", "weight: 9"), "weight must be 1-5"),
        (frag_text().replace("area: Backend", "area: Mobile"), "area 'Mobile' is not one of"),
        (frag_text().replace("slug: a-b", "slug: A B"), "slug 'A B' must be"),
        (frag_text().replace("tech: go", "tech: go\ncolour: red"), "line 7: unknown field 'colour'"),
        (frag_text().replace("tech: go", "tech go"), "line 6: expected 'key: value'"),
        (frag_text().replace("tech: go", "tech: go\ntech: rust"), "field 'tech' given twice"),
        (frag_text(keywords=""), "keywords is empty"),
        (frag_text(body="only one line\n"), "body has 1 non-empty lines; a fragment has 3 to 6"),
        (frag_text(body=BODY * 3), "body has 9 non-empty lines"),
    ],
)
def test_malformed_fragment(text, problem):
    with pytest.raises(SkillError) as exc:
        parse_fragment(text, "/home/u/.config/octra/skills/broken.md")
    msg = str(exc.value)
    assert msg.startswith("/home/u/.config/octra/skills/broken.md: "), msg
    assert problem in msg, msg


def test_user_folder_adds_and_overrides(tmp_path):
    folder = tmp_path / "skills"
    folder.mkdir()
    (folder / "graphql-schema.md").write_text(frag_text(slug="graphql-schema", name="GraphQL schemas", keywords="graphql, schema"))
    (folder / "rest.md").write_text(frag_text(slug="rest-api-design", name="Our REST rules", keywords="rest"))
    (folder / "notes.txt").write_text("not a fragment")
    (folder / "README.md").write_text("# my skills\n")
    wh = SkillWarehouse.load(folder)
    assert wh.get("graphql-schema").source == "user"
    assert wh.get("rest-api-design").name == "Our REST rules" and wh.get("rest-api-design").source == "user"
    assert len(wh) == len(SkillWarehouse.load()) + 1
    assert wh.search("graphql developer")[0].fragment.slug == "graphql-schema"
    # a duplicate slug inside one folder is an error naming both files
    (folder / "zz-dup.md").write_text(frag_text(slug="graphql-schema"))
    with pytest.raises(SkillError, match=r"zz-dup\.md: slug 'graphql-schema' is already used by .*graphql-schema\.md"):
        SkillWarehouse.load(folder)
    assert user_skills_dir("/x/y/config.toml") == Path("/x/y/skills")
    assert len(SkillWarehouse.load(tmp_path / "absent")) == len(SkillWarehouse.load())


# -- the installed wheel ---------------------------------------------------------------
def test_loads_from_a_built_wheel(tmp_path):
    """Build the wheel, check it ships every fragment and guide, and load both
    from the unpacked wheel in a process that cannot see the checkout."""
    src = tmp_path / "src"
    # a private copy, so concurrent builds never share a build/ folder
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache"))
    out = tmp_path / "wheel"
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-q", "-w", str(out), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (wheel,) = out.glob("octra-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    for md in (ROOT / "skills").glob("*.md"):
        assert f"octra_skills/{md.name}" in names
    for toml in (ROOT / "guides").glob("*/*.toml"):
        assert f"octra_guides/{toml.parent.name}/{toml.name}" in names
    code = textwrap.dedent(
        f"""
        import json, sys
        # -S: no site module, so no .pth file and no editable-install finder for the checkout
        sys.path[:0] = [{str(tmp_path / 'site')!r}, {sysconfig.get_paths()["purelib"]!r}]
        assert not any(p == {str(ROOT)!r} or p.startswith({str(ROOT) + '/'!r}) and 'site-packages' not in p for p in sys.path), sys.path
        from octrad.knowledge.skills import SkillWarehouse
        from octrad.knowledge.guides import GuideRegistry
        import octra_skills, octra_guides
        w, g = SkillWarehouse.load(), GuideRegistry.load()
        print(json.dumps({{"skills": len(w), "guides": len(g), "where": [octra_skills.__file__, octra_guides.__file__],
                          "top": w.search("vpn engineer", "wireguard", "tunnel")[0].fragment.slug,
                          "cargo": g.get("cargo").commands_for("init")[0].command}}))
        """
    )
    res = subprocess.run([sys.executable, "-I", "-S", "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    got = json.loads(res.stdout)
    assert got["skills"] == len(list((ROOT / "skills").glob("*.md")))
    assert got["guides"] == len(list((ROOT / "guides").glob("*/*.toml")))
    assert all(p.startswith(str(tmp_path / "site")) for p in got["where"])
    assert got["top"] == "wireguard-setup" and got["cargo"] == "cargo init --name {name}"


# -- over the socket ----------------------------------------------------------------------
async def test_skills_methods(daemon):
    from octra_protocol.errors import RpcError

    async with daemon.connect() as c:
        cat = (await c.call("skills.catalog"))["skills"]
        assert len(cat) >= 42 and {s["area"] for s in cat} == set(AREAS)
        assert set(cat[0]) >= {"slug", "name", "area", "keywords", "tech", "weight", "body", "source"}
        vpn = (await c.call("skills.catalog", {"categories": ["vpn"]}))["skills"]
        assert vpn and {s["area"] for s in vpn} == {"VPN"}
        found = (await c.call("skills.search", {"role": "vpn engineer", "tech": "wireguard", "task": "set up a tunnel and its dns", "k": 3}))["skills"]
        assert [s["slug"] for s in found] == ["wireguard-setup", "vpn-routing-dns", "vpn-nixos"]
        assert found[0]["score"] >= found[1]["score"] >= found[2]["score"] > 0
        sel = await c.call("skills.select", {"slugs": ["rest-api-design"]})
        assert sel["skills"][0]["slug"] == "rest-api-design" and "rest-api-design" in sel["text"]
        with pytest.raises(RpcError) as exc:
            await c.call("skills.select", {"slugs": ["nope"]})
        assert exc.value.kind == "not_found" and "'nope'" in exc.value.message and exc.value.data["slugs"] == ["nope"]
        with pytest.raises(RpcError) as exc:
            await c.call("skills.catalog", {"categories": ["Mobile"]})
        assert exc.value.kind == "invalid_params" and "Mobile" in exc.value.message
        with pytest.raises(RpcError) as exc:
            await c.call("skills.search", {"role": "x", "k": 0})
        assert exc.value.kind == "invalid_params"


def test_octractl_skills(daemon):
    out = daemon.ctl("skills", "search", "vpn engineer", "--tech", "wireguard", "--task", "tunnel", "-k", "2")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "wireguard-setup" in lines[0]
    out = daemon.ctl("--json", "skills", "catalog", "--category", "proxy")
    assert {s["area"] for s in json.loads(out.stdout)["skills"]} == {"Proxy"}
    out = daemon.ctl("skills", "show", "wireguard-setup")
    assert out.returncode == 0 and out.stdout.startswith("[VPN] WireGuard setup")
    out = daemon.ctl("skills", "show", "nope")
    assert out.returncode == 1 and "no skill with slug 'nope'" in out.stderr


def test_user_fragment_is_found_by_the_daemon(octra_env):
    from tests.conftest import DaemonProcess

    folder = octra_env.config.parent / "skills"
    folder.mkdir()
    (folder / "house-style.md").write_text(frag_text(slug="house-style", name="House style", keywords="style, house"))
    d = DaemonProcess(octra_env).start()
    try:
        out = d.ctl("--json", "skills", "search", "house style reviewer")
        assert json.loads(out.stdout)["skills"][0]["slug"] == "house-style"
        assert json.loads(out.stdout)["skills"][0]["source"] == "user"
    finally:
        d.stop()


def test_malformed_user_fragment_stops_the_daemon_start(octra_env):
    from tests.conftest import DaemonProcess

    folder = octra_env.config.parent / "skills"
    folder.mkdir()
    (folder / "broken.md").write_text(frag_text(area="Mobile"))
    d = DaemonProcess(octra_env).start(wait=False)
    try:
        code = d.proc.wait(timeout=30)
    finally:
        d.kill()
    assert code != 0
    err = d.stderr()
    assert str(folder / "broken.md") in err and "area 'Mobile' is not one of" in err, err[-3000:]
