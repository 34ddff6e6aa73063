"""The dependency rules of DESIGN.md section 2, and packaging completeness."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {"octra_protocol": ROOT / "protocol", "octrad": ROOT / "octrad", "octractl": ROOT / "octractl", "octra_tui": ROOT / "octra_tui"}
OURS = set(PACKAGES)


def imported_top_levels(folder: Path) -> dict[str, set[str]]:
    """For each .py file under folder: the top-level modules it imports."""
    found: dict[str, set[str]] = {}
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        names: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[str(path.relative_to(ROOT))] = names
    return found


@pytest.mark.parametrize(
    "package,forbidden",
    [
        ("octra_protocol", OURS - {"octra_protocol"} | {"textual"}),
        ("octrad", {"textual", "octra_tui", "octractl"}),
        ("octra_tui", {"octrad", "octractl"}),
        ("octractl", {"octrad", "octra_tui", "textual"}),
    ],
)
def test_import_rules(package, forbidden):
    bad = {f: sorted(names & forbidden) for f, names in imported_top_levels(PACKAGES[package]).items() if names & forbidden}
    assert bad == {}, f"{package} imports what it must not: {bad}"


def test_clients_do_not_load_the_daemon_at_runtime():
    code = (
        "import sys, octra_protocol.client, octractl.cli, octra_tui.app;"
        "bad=[m for m in sys.modules if m == 'octrad' or m.startswith('octrad.')];"
        "print(','.join(bad))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_daemon_does_not_load_textual():
    code = "import sys, octrad.daemon, octrad.cli; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "False"


def test_pyproject_lists_every_package():
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(cfg["packages"])
    mapping = cfg["package-dir"]
    on_disk = set()
    for name, folder in PACKAGES.items():
        for init in folder.rglob("__init__.py"):
            rel = init.parent.relative_to(folder)
            on_disk.add(".".join([name, *rel.parts]))
    missing = on_disk - listed
    assert not missing, f"packages missing from pyproject.toml [tool.setuptools].packages: {sorted(missing)}"
    assert mapping["octra_protocol"] == "protocol"


def test_fast_socket_path_matches_platformdirs(tmp_path):
    import platformdirs

    from octra_protocol.paths import APP_NAME, default_socket_path

    old = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(tmp_path)
    try:
        assert default_socket_path() == os.path.join(platformdirs.user_runtime_dir(APP_NAME), "octrad.sock")
    finally:
        if old is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = old
