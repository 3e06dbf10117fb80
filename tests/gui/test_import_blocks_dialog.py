"""The import dialog: repeated submodules arrive as blocks; its Flat box keeps one layer per
operation (like ``main.py import --flat``)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

WAIT_MS = 60_000  # an import takes seconds on a 2-core machine


class Unit(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(6, 6)
        self.act = nn.Tanh()

    def forward(self, x):
        return self.act(self.fc(x)) + x


@pytest.fixture
def program(tmp_path):
    model = nn.Sequential(Unit(), Unit(), nn.Linear(6, 2)).eval()
    batch = torch.export.Dim("batch", min=1, max=1024)
    exported = torch.export.export(model, (torch.rand(2, 6),), dynamic_shapes=({0: batch},))
    torch.export.save(exported, tmp_path / "units.pt2")
    return tmp_path / "units.pt2"


@pytest.mark.parametrize("flat", [False, True])
def test_import_dialog_makes_blocks_unless_flat(main_window, qtbot, program, flat):
    window, _prompts = main_window(None)
    dialog = window.show_import_dialog()
    dialog.set_source(program)
    assert not dialog.flat_box.isChecked()
    dialog.flat_box.setChecked(flat)
    assert dialog.start_import()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    assert dialog.result_label.text().startswith("✔"), dialog.result_label.text()
    qtbot.waitUntil(lambda: window.document.path == program.with_suffix(".json"), timeout=5000)
    design = window.document.design
    layers = sorted(n.type for n in design if n.type not in ("Input", "Output"))
    if flat:
        assert layers == ["Add", "Add", "Linear", "Linear", "Linear", "Tanh", "Tanh"]
        assert not design.blocks
    else:
        assert layers == ["Block", "Linear"]
        (inst,) = [n for n in design if n.type == "Block"]
        assert inst.params == {"block": "Unit", "repeat": 2}
