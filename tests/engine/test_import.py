"""Import hand-written PyTorch models as designs, and round-trip them through export.

LeNet-5, a residual block and an LSTM classifier (torchvision-free, written below) go through
import → check → compile → same outputs → export → same outputs. Unmappable operators are
reported by name and place, and nothing is written.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.errors import ExportError
from engine.export import export_formats
from engine.importer import import_model, parse_shape
from engine.io import load_design
from engine.training.checkpoint import load_checkpoint
from tests.helpers import run_generated_models

MODELS = textwrap.dedent("""
    import torch
    import torch.nn.functional as F
    from torch import nn


    class LeNet5(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 6, 5, padding=2)
            self.pool1 = nn.AvgPool2d(2)
            self.conv2 = nn.Conv2d(6, 16, 5)
            self.fc1 = nn.Linear(16 * 5 * 5, 120)
            self.fc2 = nn.Linear(120, 84)
            self.fc3 = nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool1(torch.tanh(self.conv1(x)))
            x = F.max_pool2d(F.relu(self.conv2(x)), 2)
            x = x.view(x.size(0), -1)
            x = F.relu(self.fc1(x))
            x = torch.sigmoid(self.fc2(x))
            return F.log_softmax(self.fc3(x), dim=1)


    class ResidualBlock(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 8, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(8)
            self.conv2 = nn.Conv2d(8, 8, 3, padding=1, bias=False)
            self.bn2 = nn.BatchNorm2d(8)
            self.shortcut = nn.Conv2d(3, 8, 1)
            self.head = nn.Linear(8, 4)
            for bn in (self.bn1, self.bn2):  # trained-looking statistics
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.5, 2.0)

        def forward(self, x):
            out = F.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            out = F.relu(out + self.shortcut(x))
            gate = torch.sigmoid(out)
            out = out * gate
            pooled = torch.flatten(F.adaptive_avg_pool2d(out, 1), 1)
            return self.head(pooled)


    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True,
                                dropout=0.1)
            self.norm = nn.LayerNorm(32)
            self.dropout = nn.Dropout(0.2)
            self.classifier = nn.Linear(32, 10)

        def forward(self, x):
            _, (h, _) = self.lstm(x)
            last = torch.cat([h[-2], h[-1]], dim=1)
            return self.classifier(self.dropout(self.norm(last)))


    class GridWarp(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(16, 6)

        def forward(self, x):
            theta = self.fc(torch.flatten(x, 1)).view(-1, 2, 3)
            grid = F.affine_grid(theta, [x.shape[0], 1, 4, 4], align_corners=False)
            return F.grid_sample(x, grid, align_corners=False)


    class SharedHead(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(6, 6), nn.GELU(), nn.Flatten())
            self.fc = nn.Linear(6, 6)

        def forward(self, x):
            return self.fc(torch.relu(self.fc(self.body(x)))).unsqueeze(1).softmax(-1)


    class NeedsArgs(nn.Module):
        def __init__(self, width):
            super().__init__()
            self.fc = nn.Linear(4, width)
""")

CASES = {"LeNet5": (1, 28, 28), "ResidualBlock": (3, 8, 8), "LSTMClassifier": (5, 8)}


@pytest.fixture(scope="module")
def models_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("models") / "models.py"
    path.write_text(MODELS)
    return path


def _original(models_file: Path, name: str) -> torch.nn.Module:
    namespace: dict = {}
    exec(compile(models_file.read_text(), str(models_file), "exec"), namespace)
    torch.manual_seed(0)
    return namespace[name]().eval()


@pytest.fixture(scope="module")
def imported(models_file, tmp_path_factory):
    """Each model imported through the API (weights from a seeded construction)."""
    folder = tmp_path_factory.mktemp("imported")
    out = {}
    for name, shape in CASES.items():
        torch.manual_seed(0)
        result = import_model(f"{models_file}:{name}", folder / f"{name}.json", shape)
        out[name] = result
    return out


@pytest.mark.parametrize("name", list(CASES))
def test_import_check_compile_reproduces_the_outputs(imported, models_file, name, run_main):
    result = imported[name]
    assert result.design_path.is_file() and result.checkpoint_path.is_file()
    code, stdout, _ = run_main(["check", str(result.design_path)])
    assert code == 0 and "valid" in stdout
    design = load_design(result.design_path)
    net = compile_design(design)
    net.load_state_dict(load_checkpoint(result.checkpoint_path).state_dicts["main"])
    net.eval()
    original = _original(models_file, name)
    x = torch.randn(5, *CASES[name])
    with torch.no_grad():
        torch.testing.assert_close(net(x), original(x), atol=1e-5, rtol=0)
    assert result.max_difference <= 1e-5


def test_imported_designs_use_the_expected_layers(imported):
    types = {name: [n.type for n in r.design] for name, r in imported.items()}
    assert types["LeNet5"] == [
        "Input",
        "Conv2d",
        "Tanh",
        "AvgPool2d",
        "Conv2d",
        "ReLU",
        "MaxPool2d",
        "Flatten",
        "Linear",
        "ReLU",
        "Linear",
        "Sigmoid",
        "Linear",
        "LogSoftmax",
        "Output",
    ]
    assert types["LSTMClassifier"] == ["Input", "LSTM", "LayerNorm", "Dropout", "Linear", "Output"]
    lstm = imported["LSTMClassifier"].design.node("lstm").params
    assert lstm == {
        "hidden_size": 16,
        "num_layers": 2,
        "bidirectional": True,
        "dropout": 0.1,
        "return_sequences": False,
    }
    residual = imported["ResidualBlock"].design
    assert {n.type for n in residual} >= {"BatchNorm2d", "Add", "Multiply", "AdaptiveAvgPool2d"}
    add = next(n for n in residual if n.type == "Add")
    assert sorted(e.source for e in residual.in_edges(add.id)) == ["bn2", "shortcut"]


def test_layout_is_layered_left_to_right(imported):
    design = imported["ResidualBlock"].design
    pos = {n.id: n.position for n in design}
    for edge in design.edges:
        assert pos[edge.source][0] < pos[edge.target][0], edge
    columns = {}
    for x, y in pos.values():
        columns.setdefault(x, []).append(y)
    assert all(len(set(ys)) == len(ys) for ys in columns.values())  # no overlaps


def test_imported_models_export_with_the_same_outputs(imported, models_file, tmp_path):
    """import → export (.pt2 + Python) → torch.export.load and a fresh interpreter agree."""
    jobs = []
    for name, result in imported.items():
        outputs = export_formats(
            result.design_path,
            result.checkpoint_path,
            {"pt2": tmp_path / f"{name}.pt2", "python": tmp_path / f"{name}.py"},
        )
        original = _original(models_file, name)
        x = torch.randn(7, *CASES[name])
        with torch.no_grad():
            want = original(x)
            got = torch.export.load(str(outputs[0].paths[0])).module()(x)
        torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        np.savez(tmp_path / f"{name}_x.npz", x.numpy())
        np.save(tmp_path / f"{name}_want.npy", want.numpy())
        side = outputs[1].sidecar
        jobs.append(
            {
                "py": str(outputs[1].paths[0]),
                "cls": side["python_class"],
                "weights": str(outputs[1].paths[1]),
                "inputs": str(tmp_path / f"{name}_x.npz"),
                "out": str(tmp_path / f"{name}_out.npz"),
            }
        )
    proc = run_generated_models(jobs)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for name in imported:
        np.testing.assert_allclose(
            np.load(tmp_path / f"{name}_out.npz")["arr_0"],
            np.load(tmp_path / f"{name}_want.npy"),
            atol=1e-5,
            rtol=0,
        )


def test_pt2_import_round_trip(models_file, tmp_path):
    model = _original(models_file, "ResidualBlock")
    x = torch.randn(2, 3, 8, 8)
    batch = torch.export.Dim("batch", min=1, max=1024)
    torch.export.save(
        torch.export.export(model, (x,), dynamic_shapes=({0: batch},)), tmp_path / "res.pt2"
    )
    result = import_model(tmp_path / "res.pt2", tmp_path / "res.json")
    net = compile_design(load_design(tmp_path / "res.json"))
    net.load_state_dict(load_checkpoint(tmp_path / "res.pt").state_dicts["main"])
    net.eval()
    with torch.no_grad():
        torch.testing.assert_close(net(x), model(x), atol=1e-5, rtol=0)
    assert result.design.node("x").params == {"shape": [3, 8, 8]}


def test_unmappable_operations_are_named_with_their_place_and_nothing_is_written(
    models_file, tmp_path, run_main
):
    out = tmp_path / "warp.json"
    code, _, err = run_main(
        ["import", f"{models_file}:GridWarp", "--output", str(out), "--input-shape", "1,4,4"]
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "grid_sample ×1 at grid_sample_1 (models.py:" in err
    assert "affine_grid ×1 at affine_grid_1" in err
    assert "no Deepwire layer for 2 operations of 2 kinds" in err and "nothing was written" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "argv, message",
    [
        (["{models}:LeNet5"], "needs --input-shape"),
        (["{models}:Missing", "--input-shape", "1,28,28"], "no nn.Module class 'Missing'"),
        (["{models}:NeedsArgs", "--input-shape", "4"], "must build with no arguments"),
        (["{models}:LeNet5", "--input-shape", "1,x,28"], "is not a sample shape"),
        (["{models}:LeNet5", "--input-shape", "3,28,28"], "cannot trace LeNet5"),
        (["{folder}/missing.pt2"], "no such file"),
        (["{folder}/model.onnx"], "give a Python file and a class"),
    ],
)
def test_bad_imports_fail_with_one_line(argv, message, models_file, tmp_path, run_main):
    args = [a.format(models=models_file, folder=tmp_path) for a in argv]
    code, _, err = run_main(["import", args[0], "--output", str(tmp_path / "d.json"), *args[1:]])
    assert code == 1, err
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not (tmp_path / "d.json").exists() and not (tmp_path / "d.pt").exists()


def test_sequential_paths_and_shared_weights(models_file, tmp_path):
    result = import_model(f"{models_file}:SharedHead", tmp_path / "shared.json", (6,))
    # the Flatten of an already flat (N, 6) is no layer at all
    assert [n.id for n in result.design] == [
        "x",
        "body_0",
        "body_1",
        "fc",
        "relu",
        "fc_2",
        "unsqueeze",
        "softmax",
        "output",
    ]
    assert result.notes == [
        "'fc' and 'fc_2' share weights in the model; the design gives each its own copy"
    ]
    assert result.design.node("unsqueeze").params == {"shape": [1, 6]}


def test_help_says_the_python_file_is_executed(run_main):
    code, out, _ = run_main(["import", "--help"])
    assert code == 0 and "EXECUTED" in out


def test_parse_shape():
    assert parse_shape("1,28,28") == [((1, 28, 28), "float32")]
    assert parse_shape("12:int64; 4") == [((12,), "int64"), ((4,), "float32")]
    with pytest.raises(ExportError):
        parse_shape("0,3")


def test_template_pt2_imports_back_to_the_same_layers(tmp_path):
    """A Deepwire export (.pt2, no preprocessing) imports back as the same layer sequence."""
    from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
    from resources import template_path

    design = load_design(template_path("cnn"))
    torch.manual_seed(0)
    net = compile_design(design).eval()
    save_checkpoint(tmp_path / "cnn.pt", checkpoint_from_modules(design, {"main": net}))
    export_formats(design, tmp_path / "cnn.pt", {"pt2": tmp_path / "cnn.pt2"})
    result = import_model(tmp_path / "cnn.pt2", tmp_path / "back.json")
    assert [n.type for n in result.design] == [n.type for n in design]
    side = json.loads((tmp_path / "cnn.pt2.json").read_text())
    assert side["inputs"][0]["shape"] == ["batch", 1, 8, 8]


def test_pt2_exported_with_a_fixed_batch_imports(tmp_path):
    """A .pt2 traced without a dynamic batch is compared at its own batch size."""
    model = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    ).eval()
    source = tmp_path / "fixed.pt2"
    torch.export.save(torch.export.export(model, (torch.randn(2, 4),)), str(source))
    result = import_model(str(source), tmp_path / "fixed.json")
    assert [n.type for n in result.design] == ["Input", "Linear", "ReLU", "Linear", "Output"]
    net = compile_design(load_design(tmp_path / "fixed.json"))
    net.load_state_dict(load_checkpoint(result.checkpoint_path).state_dicts["main"])
    x = torch.randn(5, 4)
    with torch.no_grad():
        torch.testing.assert_close(net.eval()(x), model(x))
