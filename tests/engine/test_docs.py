"""The documentation stays true: the hand-written example loads, the layer reference is current."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from engine.errors import DesignFormatError
from engine.io import loads
from engine.layers import REGISTRY
from engine.layers.reference import render
from engine.shapes import analyze

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_layer_reference_is_generated_from_the_registry():
    text = (DOCS / "layers.md").read_text(encoding="utf-8")
    assert text == render(), "run: python -m engine.layers.reference > docs/layers.md"
    for spec in REGISTRY:
        assert f"### `{spec.type_id}`" in text


def test_design_format_example_is_a_valid_design():
    text = (DOCS / "design-format.md").read_text(encoding="utf-8")
    example = re.search(r"```json\n(\{\n  \"format\".*?)\n```", text, re.S).group(1)
    design = loads(example, "docs example")
    analysis = analyze(design)
    assert analysis.valid, analysis.problems
    assert analysis.info["logits"].output_shape == (10,)
    assert json.loads(example)["data"]["name"] == "digits"


def test_design_format_error_example_is_what_the_loader_says():
    text = (DOCS / "design-format.md").read_text(encoding="utf-8")
    shown = re.search(r"```\n(broken\.json: .*)\n```", text).group(1)
    doc = {
        "format": "deepwire.design",
        "version": 1,
        "nodes": [{"id": "conv1", "type": "Conv2d", "position": [1]}],
    }
    with pytest.raises(DesignFormatError) as info:
        loads(json.dumps(doc), "broken.json")
    assert str(info.value) == shown


def test_architecture_names_the_tests_that_enforce_it():
    text = (DOCS / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(tests/[\w/]+\.py)`", text))
    assert {"tests/engine/test_isolation.py", "tests/gui/test_panel_imports.py"} <= named
    assert all((DOCS.parent / path).is_file() for path in named)
    readme = (DOCS.parent / "README.md").read_text(encoding="utf-8")
    assert "(docs/architecture.md)" in readme
