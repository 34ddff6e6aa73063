"""docs/spec is generated from the protocol types and must be current."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT


def test_generated_spec_is_current():
    out = subprocess.run(
        [sys.executable, "-m", "docs.spec.generate", "--check"], cwd=ROOT, capture_output=True, text=True
    )
    assert out.returncode == 0, f"run `python -m docs.spec.generate`:\n{out.stdout}{out.stderr}"


def test_every_method_has_schemas_that_describe_real_messages():
    from octra_protocol.methods import all_methods

    schema_dir = ROOT / "docs" / "spec" / "schema"
    for name, method in all_methods().items():
        params = json.loads((schema_dir / f"{name}.params.json").read_text())
        assert "$defs" in params or "type" in params, name
        assert method.doc, f"{name} has no description"
    # the documented request envelope matches a frame the daemon accepts
    req = json.loads((schema_dir / "envelope.request.json").read_text())
    props = req["$defs"]["Request"]["properties"]
    assert set(props) == {"jsonrpc", "method", "params", "id"}
    assert (ROOT / "docs" / "spec" / "protocol.md").exists()
