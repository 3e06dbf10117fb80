"""Reference architectures written as designs match hand-written PyTorch twins.

Parameter counts must agree with the twin's ``sum(p.numel())`` and with shape inference, and the
compiled design's output shape must equal the twin's on the same input.
"""

from __future__ import annotations

import torch
from torch import nn

from engine.compile import compile_design
from engine.shapes import analyze
from tests.engine.builders import add, chain


def _check(design, twin: nn.Module, x: torch.Tensor) -> None:
    analysis = analyze(design)
    assert analysis.valid, [str(p) for p in analysis.problems]
    module = compile_design(design)
    twin_params = sum(p.numel() for p in twin.parameters())
    assert sum(p.numel() for p in module.parameters()) == twin_params
    assert analysis.totals().params == twin_params
    module.eval()
    twin.eval()
    with torch.no_grad():
        got, want = module(x), twin(x)
    assert got.shape == want.shape
    out_id = module.output_ids[0]
    assert (x.shape[0], *analysis.info[out_id].output_shape) == tuple(want.shape)


def test_lenet5():
    design = chain(
        ("image", "Input", {"shape": [1, 32, 32]}),
        ("c1", "Conv2d", {"out_channels": 6, "kernel_size": 5, "padding": 0}),
        ("a1", "Tanh"),
        ("s2", "AvgPool2d", {"kernel_size": 2}),
        ("c3", "Conv2d", {"out_channels": 16, "kernel_size": 5, "padding": 0}),
        ("a3", "Tanh"),
        ("s4", "AvgPool2d", {"kernel_size": 2}),
        ("flat", "Flatten"),
        ("f5", "Linear", {"out_features": 120}),
        ("a5", "Tanh"),
        ("f6", "Linear", {"out_features": 84}),
        ("a6", "Tanh"),
        ("f7", "Linear", {"out_features": 10}),
    )
    twin = nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.Tanh(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(400, 120),
        nn.Tanh(),
        nn.Linear(120, 84),
        nn.Tanh(),
        nn.Linear(84, 10),
    )
    assert sum(p.numel() for p in twin.parameters()) == 61706  # the textbook figure
    _check(design, twin, torch.randn(3, 1, 32, 32))


class ResidualBlock(nn.Module):
    def __init__(self, c: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c)
        self.conv2 = nn.Conv2d(c, c, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c)

    def forward(self, x):
        y = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(y)) + x)


def test_residual_block_with_add():
    design = chain(
        ("x", "Input", {"shape": [8, 10, 10]}),
        ("conv1", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}),
        ("bn1", "BatchNorm2d"),
        ("relu1", "ReLU"),
        ("conv2", "Conv2d", {"out_channels": 8, "kernel_size": 3, "padding": 1, "bias": False}),
        ("bn2", "BatchNorm2d"),
    )
    add(design, "skip", "Add", inputs=("bn2", "x"))
    add(design, "out", "ReLU", inputs=("skip",))
    _check(design, ResidualBlock(8), torch.randn(2, 8, 10, 10))


class BiLSTMClassifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(8, 32, num_layers=2, bidirectional=True, batch_first=True, dropout=0.1)
        self.head = nn.Linear(64, 10)

    def forward(self, x):
        _, (h, _) = self.lstm(x)
        return self.head(torch.cat([h[-2], h[-1]], dim=1))


def test_stacked_bidirectional_lstm_classifier():
    design = chain(
        ("rows", "Input", {"shape": [8, 8]}),
        (
            "lstm",
            "LSTM",
            {"hidden_size": 32, "num_layers": 2, "bidirectional": True, "dropout": 0.1},
        ),
        ("head", "Linear", {"out_features": 10}),
    )
    _check(design, BiLSTMClassifier(), torch.randn(4, 8, 8))


def test_conv_autoencoder():
    design = chain(
        ("img", "Input", {"shape": [1, 28, 28]}),
        ("e1", "Conv2d", {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("r1", "ReLU"),
        ("e2", "Conv2d", {"out_channels": 8, "kernel_size": 3, "stride": 2, "padding": 1}),
        ("r2", "ReLU"),
        (
            "d1",
            "ConvTranspose2d",
            {"out_channels": 16, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
        ),
        ("r3", "ReLU"),
        (
            "d2",
            "ConvTranspose2d",
            {"out_channels": 1, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
        ),
        ("out", "Sigmoid"),
    )
    twin = nn.Sequential(
        nn.Conv2d(1, 16, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.Conv2d(16, 8, 3, stride=2, padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(8, 16, 3, stride=2, padding=1, output_padding=1),
        nn.ReLU(),
        nn.ConvTranspose2d(16, 1, 3, stride=2, padding=1, output_padding=1),
        nn.Sigmoid(),
    )
    _check(design, twin, torch.randn(2, 1, 28, 28))
