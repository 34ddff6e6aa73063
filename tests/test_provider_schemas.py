"""docs/spec/provider-schemas is what Octra sends, is current, and passes each
provider's documented schema rules."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.schema_rules import anthropic_schema_problems, gemini_schema_problems, openai_strict_problems

ROOT = Path(__file__).resolve().parent.parent
DIR = ROOT / "docs" / "spec" / "provider-schemas"


def test_provider_schemas_are_current():
    out = subprocess.run([sys.executable, "-m", "docs.spec.provider_schemas", "--check"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, f"run `python -m docs.spec.provider_schemas`:\n{out.stdout}{out.stderr}"


FILES = sorted(DIR.glob("*.json"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_each_written_schema_follows_its_providers_rules(path):
    data = json.loads(path.read_text())
    kind = path.name.split(".")[1]
    if kind == "openai":
        rf = data["response_format"]
        assert rf["type"] == "json_schema" and rf["json_schema"]["strict"] is True
        assert openai_strict_problems(rf["json_schema"]["schema"]) == []
    elif kind == "anthropic":
        assert anthropic_schema_problems(data["tools"][0]["input_schema"]) == []
    elif kind == "gemini":
        assert gemini_schema_problems(data["generationConfig"]["responseSchema"]) == []
    else:
        assert data["format"]["type"] == "object"


def test_every_answer_type_and_kind_is_there():
    names = {p.name for p in FILES}
    for tp in ("Plan", "Staffing", "WorkerOutput", "Review", "Validation", "Debug"):
        for kind in ("openai", "anthropic", "gemini", "ollama"):
            assert f"{tp}.{kind}.json" in names
