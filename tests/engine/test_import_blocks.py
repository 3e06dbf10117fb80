"""Imports into blocks: repeated submodule classes (torchvision's BasicBlock, InvertedResidual, an
``nn.TransformerEncoderLayer``) become block definitions with instances, the weights follow the
nested keys, and the outputs stay equal to the original's; ``--flat`` keeps one layer per
operation; an unmappable model is refused exactly as before."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
import torch

from engine.compile import compile_design
from engine.errors import ExportError
from engine.importer import import_model
from engine.io import load_design
from engine.shapes import analyze
from engine.training.checkpoint import load_checkpoint
from tests.engine.test_import_modern import UNMAPPABLE

MODELS = Path(__file__).with_name("reference_models.py")

#: torchvision's ResNet-18 and ResNet-50 (BasicBlock, Bottleneck, _make_layer) as published,
#: random weights; the tiny variants have the same modules at an eighth of the widths.
RESNET = """import torch
from torch import nn


def conv3x3(i, o, stride=1):
    return nn.Conv2d(i, o, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet18(nn.Module):
    def __init__(self, num_classes=10, widths=(64, 128, 256, 512)):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(widths[0], 2)
        self.layer2 = self._make_layer(widths[1], 2, stride=2)
        self.layer3 = self._make_layer(widths[2], 2, stride=2)
        self.layer4 = self._make_layer(widths[3], 2, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3], num_classes)
        for m in self.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TinyResNet18(ResNet18):
    def __init__(self):
        super().__init__(widths=(8, 16, 32, 64))


class Bottleneck(nn.Module):
    expansion = 4

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        width = planes
        self.conv1 = nn.Conv2d(inplanes, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * 4)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet50(nn.Module):
    def __init__(self, num_classes=10, widths=(64, 128, 256, 512), layers=(3, 4, 6, 3)):
        super().__init__()
        self.inplanes = widths[0]
        self.conv1 = nn.Conv2d(3, widths[0], 7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self.layer1 = self._make_layer(widths[0], layers[0])
        self.layer2 = self._make_layer(widths[1], layers[1], stride=2)
        self.layer3 = self._make_layer(widths[2], layers[2], stride=2)
        self.layer4 = self._make_layer(widths[3], layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(widths[3] * 4, num_classes)

    def _make_layer(self, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * 4:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * 4, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * 4),
            )
        layers = [Bottleneck(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * 4
        layers += [Bottleneck(self.inplanes, planes) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


class TinyResNet50(ResNet50):
    def __init__(self):
        super().__init__(widths=(8, 16, 32, 64))
"""


def _build(path: Path, name: str) -> torch.nn.Module:
    namespace: dict = {"__name__": "models"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    torch.manual_seed(0)
    return namespace[name]().eval()


def _reloaded(result) -> torch.nn.Module:
    """The written design compiled with the written weights (strict: every key fits)."""
    design = load_design(result.design_path)
    assert analyze(design).valid
    net = compile_design(design)
    net.load_state_dict(load_checkpoint(result.checkpoint_path).state_dicts["main"], strict=True)
    return net.eval()


def _assert_same_outputs(net, original, shape):
    for batch in (1, 4):
        x = torch.randn(batch, *shape)
        with torch.no_grad():
            assert float((net(x) - original(x)).abs().max()) <= 1e-5


@pytest.fixture(scope="module")
def resnet_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resnet") / "resnet.py"
    path.write_text(RESNET)
    return path


def _layers(design) -> int:
    return sum(1 for n in design if n.type not in ("Input", "Output"))


def test_resnet18_opens_as_stages_of_basic_blocks(resnet_file, tmp_path, run_main):
    out = tmp_path / "resnet18.json"
    torch.manual_seed(0)
    code, stdout, err = run_main(
        ["import", f"{resnet_file}:ResNet18", "--output", str(out), "--input-shape", "3,32,32"]
    )
    assert code == 0, err
    assert "(14 layers)" in stdout
    design = load_design(out)
    blocks = {n.id: n.params for n in design if n.type == "Block"}
    assert blocks == {
        "layer1": {"block": "BasicBlock", "repeat": 2},
        "layer2_0": {"block": "BasicBlock_downsample"},
        "layer2_1": {"block": "BasicBlock", "out_channels": 128},
        "layer3_0": {"block": "BasicBlock_downsample", "out_channels": 256},
        "layer3_1": {"block": "BasicBlock", "out_channels": 256},
        "layer4_0": {"block": "BasicBlock_downsample", "out_channels": 512},
        "layer4_1": {"block": "BasicBlock", "out_channels": 512},
    }
    # the downsampling variant has the 1×1 projection; stride is the same in every instance of it
    basic2 = design.blocks["BasicBlock_downsample"]
    assert [n.type for n in basic2.body].count("Conv2d") == 3
    assert basic2.body.node("conv1").params["stride"] == 2
    assert sorted(design.blocks["BasicBlock"].params) == ["out_channels"]
    state = load_checkpoint(out.with_suffix(".pt")).state_dicts["main"]
    assert "layers.layer1.1.conv2.weight" in state
    assert tuple(state["layers.layer4_0.downsample_0.weight"].shape) == (512, 256, 1, 1)
    net = _reloaded(type("R", (), {"design_path": out, "checkpoint_path": out.with_suffix(".pt")}))
    assert sum(p.numel() for p in net.parameters()) == 11_181_642  # resnet18, 10 classes
    _assert_same_outputs(net, _build(resnet_file, "ResNet18"), (3, 32, 32))


def test_flat_keeps_one_layer_per_operation(resnet_file, tmp_path, run_main):
    out = tmp_path / "flat.json"
    torch.manual_seed(0)
    code, stdout, err = run_main(
        [
            "import",
            f"{resnet_file}:TinyResNet18",
            "--output",
            str(out),
            "--input-shape",
            "3,32,32",
            "--flat",
        ]
    )
    assert code == 0, err
    design = load_design(out)
    assert _layers(design) == 69 and not design.blocks
    assert (
        "layers.layer1_0_conv1.weight"
        in load_checkpoint(out.with_suffix(".pt")).state_dicts["main"]
    )


def test_resnet50_stages_are_bottleneck_instances_repeated(resnet_file, tmp_path):
    torch.manual_seed(0)
    result = import_model(f"{resnet_file}:TinyResNet50", tmp_path / "r50.json", (3, 32, 32))
    design = load_design(result.design_path)
    blocks = [
        (n.id, n.params["block"], n.params.get("repeat", 1)) for n in design if n.type == "Block"
    ]
    assert blocks == [
        (f"layer{s}_{i}", name, repeat)
        for s, rest in zip((1, 2, 3, 4), (2, 3, 5, 2))
        for i, name, repeat in ((0, "Bottleneck_downsample", 1), (1, "Bottleneck", rest))
    ]
    assert _layers(design) == 15
    assert sorted(design.blocks["Bottleneck"].params) == [
        "conv1_out_channels",
        "conv3_out_channels",
    ]
    _assert_same_outputs(_reloaded(result), _build(resnet_file, "TinyResNet50"), (3, 32, 32))


CASES = {
    # name: (sample shape, flat layer count at least, layers with blocks, definitions)
    "MobileNetV2": (
        (3, 32, 32),
        58,
        11,
        {"Conv2dNormActivation", "InvertedResidual", "InvertedResidual_2", "InvertedResidual_add"},
    ),
    "TransformerClassifier": ((8, 8), 20, 5, {"TransformerEncoderLayer"}),
    "TinyViT": ((3, 16, 16), 20, 8, {"ViTBlock"}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_reference_architectures_import_as_blocks_with_equal_outputs(name, tmp_path):
    shape, flat_at_least, layers, definitions = CASES[name]
    torch.manual_seed(0)
    result = import_model(f"{MODELS}:{name}", tmp_path / f"{name}.json", shape)
    assert not result.notes  # no fallback to the flat design
    design = load_design(result.design_path)
    assert _layers(design) == layers
    assert set(design.blocks) == definitions
    _assert_same_outputs(_reloaded(result), _build(MODELS, name), shape)
    flat = load_design(
        import_model(f"{MODELS}:{name}", tmp_path / "flat.json", shape, flat=True).design_path
    )
    assert _layers(flat) >= flat_at_least > layers


def test_an_encoder_stack_is_one_repeated_instance(tmp_path):
    torch.manual_seed(0)
    result = import_model(f"{MODELS}:TransformerClassifier", tmp_path / "t.json", (8, 8))
    design = load_design(result.design_path)
    (inst,) = [n for n in design if n.type == "Block"]
    assert inst.params == {"block": "TransformerEncoderLayer", "repeat": 2}
    body = design.blocks["TransformerEncoderLayer"].body
    assert Counter(n.type for n in body)["MultiheadAttention"] == 1
    assert Counter(n.type for n in body)["Add"] == 2


REPEATED_UNMAPPABLE = (
    UNMAPPABLE
    + """

class Twice(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = TwoKinds()
        self.b = TwoKinds()

    def forward(self, x):
        return self.a(x) + self.b(x)
"""
)


def test_the_refusal_is_unchanged_and_writes_nothing(tmp_path, run_main):
    source = tmp_path / "models.py"
    source.write_text(REPEATED_UNMAPPABLE)
    out = tmp_path / "out" / "two.json"
    out.parent.mkdir()
    with pytest.raises(ExportError) as info:
        import_model(f"{source}:Twice", out, (3, 8, 8))
    message = str(info.value)
    assert "hardtanh ×8 (Hardtanh) at a.act1, a.act2, a.act3, …" in message
    assert "cumsum ×2" in message and "nothing was written" in message
    assert list(out.parent.iterdir()) == []
    for flat in ([], ["--flat"]):
        code, _, err = run_main(
            ["import", f"{source}:Twice", "--output", str(out), "--input-shape", "3,8,8", *flat]
        )
        assert code == 1 and len(err.strip().splitlines()) == 1
        assert "hardtanh ×8" in err
        assert list(out.parent.iterdir()) == []


def test_a_grouping_that_does_not_check_falls_back_to_flat_with_a_note(
    resnet_file, tmp_path, monkeypatch
):
    import engine.importer.torch_import as torch_import

    real = torch_import.group_into_blocks

    def lossy(design, weights, origins):  # a grouping that loses one tensor
        grouped, moved = real(design, weights, origins)
        moved.pop(next(k for k in moved if k.endswith("conv1.weight")))
        return grouped, moved

    monkeypatch.setattr(torch_import, "group_into_blocks", lossy)
    torch.manual_seed(0)
    result = import_model(f"{resnet_file}:TinyResNet18", tmp_path / "r.json", (3, 32, 32))
    assert not load_design(result.design_path).blocks and _layers(result.design) == 69
    (note,) = result.notes
    assert note.startswith("imported flat: the design with blocks did not check (")
    assert "note: imported flat" in result.summary()
    _assert_same_outputs(_reloaded(result), _build(resnet_file, "TinyResNet18"), (3, 32, 32))
