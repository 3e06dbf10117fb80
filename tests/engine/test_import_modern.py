"""Modern architectures import flat with outputs equal to the original (batch 1 and 4, eval), and
a model Deepwire cannot map is refused once, naming every unmapped kind, writing nothing.

The architectures are in ``reference_models.py`` (torchvision's definitions, rebuilt in plain
torch; random weights and trained-looking BatchNorm statistics).
"""

from __future__ import annotations

import textwrap
from collections import Counter
from pathlib import Path

import pytest
import torch

from engine.compile import compile_design
from engine.errors import ExportError
from engine.importer import import_model
from engine.io import load_design
from engine.training.checkpoint import load_checkpoint

MODELS = Path(__file__).with_name("reference_models.py")

CASES = {
    "MobileNetV2": ((3, 32, 32), {"ReLU6", "Add"}, {"groups"}),
    "MobileNetV3Small": ((3, 32, 32), {"Hardswish", "Hardsigmoid", "Multiply"}, {"dilation"}),
    "EfficientNetB0": ((3, 32, 32), {"SiLU", "Sigmoid", "Multiply", "Add"}, {"groups"}),
    "TransformerClassifier": ((8, 8), {"MultiheadAttention", "PositionalEncoding", "Mean"}, set()),
    "TinyViT": ((3, 16, 16), {"MultiheadAttention", "Transpose", "PositionalEncoding"}, set()),
}


def _original(name: str) -> torch.nn.Module:
    namespace: dict = {"__name__": "reference_models"}
    exec(compile(MODELS.read_text(), str(MODELS), "exec"), namespace)
    torch.manual_seed(0)
    return namespace[name]().eval()


@pytest.mark.parametrize("name", list(CASES))
def test_modern_architectures_import_flat_with_equal_outputs(name, tmp_path):
    shape, layer_types, conv_params = CASES[name]
    torch.manual_seed(0)
    result = import_model(f"{MODELS}:{name}", tmp_path / f"{name}.json", shape, flat=True)
    design = load_design(result.design_path)
    net = compile_design(design)
    net.load_state_dict(load_checkpoint(result.checkpoint_path).state_dicts["main"])
    net.eval()
    original = _original(name)
    for batch in (1, 4):
        x = torch.randn(batch, *shape)
        with torch.no_grad():
            assert float((net(x) - original(x)).abs().max()) <= 1e-5
    types = Counter(n.type for n in design)
    assert layer_types <= set(types), types
    used = {k for n in design if n.type == "Conv2d" for k in n.params}
    assert conv_params <= used
    # flat: one design layer per module that computes (no blocks yet)
    assert sum(types.values()) > 15


UNMAPPABLE = textwrap.dedent("""
    import torch
    from torch import nn


    class TwoKinds(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3, padding=1)
            self.act1 = nn.Hardtanh(-2.0, 2.0)
            self.act2 = nn.Hardtanh(-2.0, 2.0)
            self.act3 = nn.Hardtanh(-2.0, 2.0)
            self.act4 = nn.Hardtanh(-2.0, 2.0)
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            x = self.act4(self.act3(self.act2(self.act1(self.conv(x)))))
            x = torch.cumsum(x, dim=1)
            return self.head(x.mean((2, 3)))
""")


def test_every_unmapped_kind_is_named_at_once_and_nothing_is_written(tmp_path, run_main):
    source = tmp_path / "models.py"
    source.write_text(UNMAPPABLE)
    out = tmp_path / "out" / "two.json"
    out.parent.mkdir()
    with pytest.raises(ExportError) as info:
        import_model(f"{source}:TwoKinds", out, (3, 8, 8))
    message = str(info.value)
    assert "hardtanh ×4 (Hardtanh) at act1, act2, act3, …" in message
    assert "cumsum ×1 at cumsum_1 (models.py:" in message
    assert "nothing was written" in message
    assert list(out.parent.iterdir()) == []
    code, _, err = run_main(
        ["import", f"{source}:TwoKinds", "--output", str(out), "--input-shape", "3,8,8"]
    )
    assert code == 1 and len(err.strip().splitlines()) == 1
    assert "hardtanh ×4" in err and "cumsum ×1" in err
    assert not out.exists() and not out.with_suffix(".pt").exists()
