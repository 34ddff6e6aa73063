"""The flake builder: a ``flake.nix`` with a dev shell for a project's stack.

Public API (the pipeline and the offline provider code against it):

- ``STACKS``: the stack names this builder knows (at least the 20 of DESIGN.md
  section 10; "web" is the static web page), ``ALIASES``: other spellings mapped to them.
- ``packages_for(stack) -> list[str]``: the nixpkgs attribute paths of the stack's
  toolchain (e.g. ``python3Packages.pip``, never a bare ``pip``).
- ``flake_for(stack, name) -> str``: the flake text: a pinned nixpkgs input and a
  ``devShells.<system>.default`` for the four common systems.
- ``write_flake(folder, stack, name, overwrite=False) -> Path``.

The table is our own (not the tool guides) so the flake never depends on what
an AI wrote; the attribute names are those of nixpkgs 24.05, the pinned input.
"""

from __future__ import annotations

import re
from pathlib import Path

#: nixos-24.05 (a commit of that branch, as locked by real projects); pinned so a
#: project's dev shell does not change under it
NIXPKGS_REV = "57d6973abba7ea108bac64ae7629e7431e0199b6"
NIXPKGS_URL = f"github:NixOS/nixpkgs/{NIXPKGS_REV}"
SYSTEMS = ("x86_64-linux", "aarch64-linux", "x86_64-darwin", "aarch64-darwin")

#: every dev shell gets these as well
COMMON = ("git",)

#: stack -> nixpkgs attribute paths (checked against nixpkgs 24.05)
_PACKAGES: dict[str, tuple[str, ...]] = {
    "go": ("go", "gopls", "gotools"),
    "python": ("python3", "python3Packages.pip", "python3Packages.virtualenv", "ruff"),
    "node": ("nodejs",),
    # tsc comes from the project's devDependency; the nixpkgs one is for editors and one-off use
    "typescript": ("nodejs", "nodePackages.typescript", "nodePackages.typescript-language-server"),
    # a static page: node runs its checks (html-validate from npm, the loopback smoke test)
    "web": ("nodejs",),
    "rust": ("cargo", "rustc", "rustfmt", "clippy", "rust-analyzer"),
    "php": ("php", "phpPackages.composer"),
    "flutter": ("flutter",),
    "dart": ("dart",),
    # C with make (the make guide); C++ with CMake is "cpp"
    "c": ("gcc", "gnumake", "pkg-config", "gdb"),
    "cpp": ("gcc", "cmake", "gnumake", "pkg-config", "gdb"),
    "java": ("jdk", "maven", "gradle"),
    "kotlin": ("kotlin", "jdk", "gradle"),
    "scala": ("scala", "sbt", "jdk"),
    "ruby": ("ruby", "bundler"),
    "dotnet": ("dotnet-sdk",),
    "zig": ("zig", "zls"),
    "elixir": ("elixir", "erlang"),
    "swift": ("swift", "swiftpm"),
    "haskell": ("ghc", "cabal-install", "haskell-language-server"),
    "r": ("R",),
    "deno": ("deno",),
    "bun": ("bun",),
    "lua": ("lua", "luarocks"),
    "perl": ("perl",),
    "ocaml": ("ocaml", "dune_3", "opam"),
}

STACKS: tuple[str, ...] = tuple(_PACKAGES)

ALIASES: dict[str, str] = {
    "golang": "go",
    "py": "python",
    "python3": "python",
    "nodejs": "node",
    "javascript": "node",
    "js": "node",
    "ts": "typescript",
    "cargo": "rust",
    "c++": "cpp",
    "cxx": "cpp",
    "csharp": "dotnet",
    "c#": "dotnet",
    "fsharp": "dotnet",
    "kt": "kotlin",
    "rb": "ruby",
    "ex": "elixir",
    "hs": "haskell",
    "laravel": "php",
    "static": "web",
    "static web": "web",
    "static-web": "web",
    "static-site": "web",
    "html": "web",
    "html5": "web",
}

_ATTR = re.compile(r"^[A-Za-z_][A-Za-z0-9_'-]*(\.[A-Za-z_][A-Za-z0-9_'-]*)*$")


class UnknownStack(ValueError):
    """A stack this builder has no toolchain table for."""


def canonical(stack: str) -> str:
    """The stack's name in :data:`STACKS` (case and common aliases forgiven)."""
    key = stack.strip().lower()
    key = ALIASES.get(key, key)
    if key not in _PACKAGES:
        raise UnknownStack(f"unknown stack {stack!r}; known stacks: {', '.join(STACKS)}")
    return key


def packages_for(stack: str) -> list[str]:
    """The nixpkgs attribute paths for ``stack``'s dev shell (without the common ones)."""
    return list(_PACKAGES[canonical(stack)])


def _nix_string(text: str) -> str:
    """``text`` as a Nix double-quoted string (no interpolation can sneak in)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("${", "\\${")
    escaped = escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t")
    return f'"{escaped}"'


def flake_for(stack: str, name: str) -> str:
    """The ``flake.nix`` text for a project called ``name`` built with ``stack``."""
    key = canonical(stack)
    attrs = [*COMMON, *_PACKAGES[key]]
    for attr in attrs:  # the table is ours, but a typo must not produce a broken file
        assert _ATTR.match(attr), attr
    packages = "\n".join(f"              {a}" for a in attrs)
    systems = " ".join(_nix_string(s) for s in SYSTEMS)
    description = _nix_string(f"{name} ({key}): development shell")
    return f"""{{
  description = {description};

  inputs.nixpkgs.url = "{NIXPKGS_URL}";

  outputs = {{ self, nixpkgs }}:
    let
      systems = [ {systems} ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f nixpkgs.legacyPackages.${{system}});
    in
    {{
      devShells = forAllSystems (pkgs: {{
        default = pkgs.mkShell {{
          packages = with pkgs; [
{packages}
          ];
        }};
      }});
    }};
}}
"""


def write_flake(folder: str | Path, stack: str, name: str, *, overwrite: bool = False) -> Path:
    """Write ``flake.nix`` into ``folder``; an existing one is kept unless ``overwrite``."""
    path = Path(folder) / "flake.nix"
    if path.exists() and not overwrite:
        return path
    path.write_text(flake_for(stack, name), encoding="utf-8")
    return path
