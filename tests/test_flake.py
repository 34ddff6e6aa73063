"""The flake builder: every stack's flake.nix parses and evaluates (against a
stand-in nixpkgs, since the real one cannot be fetched offline) to a dev shell
holding exactly the stack's packages, with nixpkgs pinned to a commit."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from octrad.scaffold.flake import ALIASES, COMMON, NIXPKGS_URL, STACKS, SYSTEMS, UnknownStack, canonical, flake_for, packages_for, write_flake

needs_nix = pytest.mark.skipif(shutil.which("nix-instantiate") is None, reason="nix-instantiate is not installed")

REQUIRED = {
    "go", "python", "node", "typescript", "rust", "php", "flutter", "dart", "c", "cpp", "java", "kotlin",
    "scala", "ruby", "dotnet", "zig", "elixir", "swift", "haskell", "r", "web",
}


def test_required_stacks_are_there():
    assert REQUIRED <= set(STACKS)
    assert len(STACKS) >= 20


def test_attribute_names_are_the_nixpkgs_ones():
    assert "python3Packages.pip" in packages_for("python")
    assert "pip" not in packages_for("python")
    assert packages_for("r") == ["R"]
    assert "cabal-install" in packages_for("haskell")
    assert "phpPackages.composer" in packages_for("php")
    assert "dotnet-sdk" in packages_for("dotnet")
    assert {"cargo", "rustc"} <= set(packages_for("rust"))
    assert "nodePackages.typescript" in packages_for("typescript")


def test_the_static_web_c_and_typescript_stacks():
    assert packages_for("web") == ["nodejs"]  # html-validate and the smoke test run on node
    assert canonical("static web") == canonical("Static") == canonical("html") == canonical("static-site") == "web"
    c = packages_for("c")
    assert {"gcc", "gnumake"} <= set(c) and "cmake" not in c  # C is built with make
    assert {"gcc", "cmake"} <= set(packages_for("cpp"))
    assert {"nodejs", "nodePackages.typescript"} <= set(packages_for("typescript"))


def test_every_guide_stack_has_a_flake():
    """The offline provider writes the flake for the guide's first stack."""
    from octrad.knowledge.guides import GuideRegistry

    for g in GuideRegistry.load().all():
        assert canonical(g.stacks[0]) in STACKS, g.tool
        assert f"({canonical(g.stacks[0])}): development shell" in flake_for(g.stacks[0], "demo")


def test_aliases_and_unknown_stacks():
    assert canonical("Golang") == "go" and canonical(" C++ ") == "cpp" and canonical("TS") == "typescript"
    assert all(target in STACKS for target in ALIASES.values())
    with pytest.raises(UnknownStack, match="unknown stack 'cobol'; known stacks: go, python"):
        packages_for("cobol")


def test_pinned_input():
    assert re.fullmatch(r"github:NixOS/nixpkgs/[0-9a-f]{40}", NIXPKGS_URL)
    assert f'inputs.nixpkgs.url = "{NIXPKGS_URL}";' in flake_for("go", "x")


def _fake_pkgs(attrs: list[str]) -> str:
    """A Nix attrset where each attribute path evaluates to its own dotted name."""
    tree: dict = {}
    for attr in attrs:
        node = tree
        *parents, leaf = attr.split(".")
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = attr

    def render(node) -> str:
        return "{ " + " ".join(f'"{k}" = {render(v) if isinstance(v, dict) else json.dumps(v)};' for k, v in node.items()) + " }"

    return render(tree)[:-1] + " mkShell = args: args; }"


@needs_nix
@pytest.mark.parametrize("stack", STACKS)
def test_every_stack_parses_and_evaluates(stack, tmp_path):
    name = f'demo "{stack}" ${{not interpolated}}'
    write_flake(tmp_path, stack, name)
    flake = tmp_path / "flake.nix"
    parsed = subprocess.run(["nix-instantiate", "--parse", str(flake)], capture_output=True, text=True)
    assert parsed.returncode == 0, parsed.stderr
    expected = [*COMMON, *packages_for(stack)]
    systems = " ".join(f'"{s}"' for s in SYSTEMS)
    expr = f"""
      let
        flake = import {flake};
        pkgs = {_fake_pkgs(expected)};
        nixpkgs = {{
          lib.genAttrs = names: f: builtins.listToAttrs (map (n: {{ name = n; value = f n; }}) names);
          legacyPackages = builtins.listToAttrs (map (s: {{ name = s; value = pkgs; }}) [ {systems} ]);
        }};
        out = flake.outputs {{ self = {{}}; inherit nixpkgs; }};
      in {{
        description = flake.description;
        url = flake.inputs.nixpkgs.url;
        shells = builtins.mapAttrs (s: v: v.default.packages) out.devShells;
      }}
    """
    ev = subprocess.run(["nix-instantiate", "--eval", "--strict", "--json", "--expr", expr], capture_output=True, text=True)
    assert ev.returncode == 0, ev.stderr
    got = json.loads(ev.stdout)
    assert got["url"] == NIXPKGS_URL
    assert got["description"].startswith(name)
    assert set(got["shells"]) == set(SYSTEMS)
    for packages in got["shells"].values():
        assert packages == expected


def test_write_flake_keeps_an_existing_file(tmp_path):
    (tmp_path / "flake.nix").write_text("{ mine = true; }")
    write_flake(tmp_path, "go", "x")
    assert (tmp_path / "flake.nix").read_text() == "{ mine = true; }"
    write_flake(tmp_path, "go", "x", overwrite=True)
    assert "gopls" in (tmp_path / "flake.nix").read_text()


async def test_only_octras_own_flakes_are_entered(tmp_path):
    """nix evaluates a flake (and runs its shellHook) outside the sandbox: a flake a
    command or a repository wrote is never entered, only the flake builder's own."""
    import shutil

    from octrad.scaffold.devshell import probe, trusted
    from octrad.scaffold.flake import flake_for

    flake = tmp_path / "flake.nix"
    flake.write_text(flake_for("rust", "my-tool"))
    assert trusted(flake)
    flake.write_text(flake_for("rust", "my-tool").replace("packages = with pkgs; [", 'shellHook = "cat ~/.ssh/id_rsa";\n          packages = with pkgs; ['))
    assert not trusted(flake)
    flake.write_text("{ outputs = _: {}; }\n")
    assert not trusted(flake)
    if shutil.which("nix"):
        shell = await probe(tmp_path)
        assert not shell.usable and "flake builder" in shell.reason
