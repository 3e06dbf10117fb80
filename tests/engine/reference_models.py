"""Published architectures rebuilt in plain torch for the import tests (torchvision cannot be a
test dependency): MobileNetV2, MobileNetV3-small and EfficientNet-B0 follow torchvision's source
(``torchvision/models/mobilenetv2.py``, ``mobilenetv3.py``, ``efficientnet.py`` and
``torchvision/ops/misc.py``) module for module. To keep the tests fast (tracing costs time per
operator) they are narrower (``width_mult``) and keep only the first stages by default
(``stages``/``blocks``; the full lists are here, and the later stages repeat the same module kinds). The Transformer classifier uses
``nn.TransformerEncoder``; the ViT-style model is written from the paper with plain modules.

The file is read by the tests as source and executed by the importer (``FILE.py:Class``), so every
model builds with no arguments.
"""

from __future__ import annotations

import copy
import math
from functools import partial

import torch
from torch import nn


def _make_divisible(v: float, divisor: int, min_value: int | None = None) -> int:
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class Conv2dNormActivation(nn.Sequential):
    """torchvision.ops.misc.Conv2dNormActivation."""

    def __init__(
        self,
        in_channels,
        out_channels,
        kernel_size=3,
        stride=1,
        groups=1,
        norm_layer=nn.BatchNorm2d,
        activation_layer=nn.ReLU,
        dilation=1,
    ):
        padding = (kernel_size - 1) // 2 * dilation
        layers = [
            nn.Conv2d(
                in_channels,
                out_channels,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=groups,
                bias=norm_layer is None,
            )
        ]
        if norm_layer is not None:
            layers.append(norm_layer(out_channels))
        if activation_layer is not None:
            layers.append(activation_layer(inplace=True))
        super().__init__(*layers)


class SqueezeExcitation(nn.Module):
    """torchvision.ops.misc.SqueezeExcitation."""

    def __init__(
        self, input_channels, squeeze_channels, activation=nn.ReLU, scale_activation=nn.Sigmoid
    ):
        super().__init__()
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc1 = nn.Conv2d(input_channels, squeeze_channels, 1)
        self.fc2 = nn.Conv2d(squeeze_channels, input_channels, 1)
        self.activation = activation()
        self.scale_activation = scale_activation()

    def _scale(self, input):
        scale = self.avgpool(input)
        scale = self.fc1(scale)
        scale = self.activation(scale)
        scale = self.fc2(scale)
        return self.scale_activation(scale)

    def forward(self, input):
        scale = self._scale(input)
        return scale * input


class StochasticDepth(nn.Module):
    """torchvision.ops.StochasticDepth: drops whole residual branches while training."""

    def __init__(self, p, mode):
        super().__init__()
        self.p, self.mode = p, mode

    def forward(self, input):
        if not self.training or self.p == 0.0:
            return input
        survival = 1.0 - self.p
        size = [input.shape[0]] + [1] * (input.ndim - 1) if self.mode == "row" else [1] * input.ndim
        noise = torch.empty(size, dtype=input.dtype).bernoulli_(survival)
        return input * noise.div_(survival)


def _randomize_statistics(model: nn.Module) -> None:
    """Trained-looking BatchNorm statistics (fresh ones are the identity)."""
    gen = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(torch.rand(m.num_features, generator=gen) - 0.5)
            m.running_var.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.weight.data.copy_(torch.rand(m.num_features, generator=gen) + 0.5)
            m.bias.data.copy_(torch.rand(m.num_features, generator=gen) - 0.5)


# -- MobileNetV2 -------------------------------------------------------------------------------


class InvertedResidual(nn.Module):
    def __init__(self, inp, oup, stride, expand_ratio, norm_layer=nn.BatchNorm2d):
        super().__init__()
        hidden_dim = int(round(inp * expand_ratio))
        self.use_res_connect = stride == 1 and inp == oup
        layers = []
        if expand_ratio != 1:
            layers.append(
                Conv2dNormActivation(
                    inp, hidden_dim, kernel_size=1, norm_layer=norm_layer, activation_layer=nn.ReLU6
                )
            )
        layers.extend(
            [
                Conv2dNormActivation(
                    hidden_dim,
                    hidden_dim,
                    stride=stride,
                    groups=hidden_dim,
                    norm_layer=norm_layer,
                    activation_layer=nn.ReLU6,
                ),
                nn.Conv2d(hidden_dim, oup, 1, 1, 0, bias=False),
                norm_layer(oup),
            ]
        )
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        if self.use_res_connect:
            return x + self.conv(x)
        return self.conv(x)


class MobileNetV2(nn.Module):
    def __init__(self, num_classes=10, width_mult=0.5, dropout=0.2, round_nearest=8, stages=3):
        super().__init__()
        input_channel, last_channel = 32, 1280
        setting = [
            [1, 16, 1, 1],
            [6, 24, 2, 2],
            [6, 32, 3, 2],
            [6, 64, 4, 2],
            [6, 96, 3, 1],
            [6, 160, 3, 2],
            [6, 320, 1, 1],
        ][:stages]
        input_channel = _make_divisible(input_channel * width_mult, round_nearest)
        self.last_channel = _make_divisible(last_channel * max(1.0, width_mult), round_nearest)
        features = [Conv2dNormActivation(3, input_channel, stride=2, activation_layer=nn.ReLU6)]
        for t, c, n, s in setting:
            output_channel = _make_divisible(c * width_mult, round_nearest)
            for i in range(n):
                stride = s if i == 0 else 1
                features.append(InvertedResidual(input_channel, output_channel, stride, t))
                input_channel = output_channel
        features.append(
            Conv2dNormActivation(
                input_channel, self.last_channel, kernel_size=1, activation_layer=nn.ReLU6
            )
        )
        self.features = nn.Sequential(*features)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout), nn.Linear(self.last_channel, num_classes)
        )
        _randomize_statistics(self)

    def forward(self, x):
        x = self.features(x)
        x = nn.functional.adaptive_avg_pool2d(x, (1, 1))
        x = torch.flatten(x, 1)
        return self.classifier(x)


# -- MobileNetV3-small -------------------------------------------------------------------------


class InvertedResidualConfig:
    def __init__(
        self,
        input_channels,
        kernel,
        expanded_channels,
        out_channels,
        use_se,
        activation,
        stride,
        dilation,
        width_mult,
    ):
        self.input_channels = _make_divisible(input_channels * width_mult, 8)
        self.kernel = kernel
        self.expanded_channels = _make_divisible(expanded_channels * width_mult, 8)
        self.out_channels = _make_divisible(out_channels * width_mult, 8)
        self.use_se = use_se
        self.use_hs = activation == "HS"
        self.stride = stride
        self.dilation = dilation


class InvertedResidualV3(nn.Module):
    def __init__(self, cnf, norm_layer):
        super().__init__()
        se_layer = partial(SqueezeExcitation, scale_activation=nn.Hardsigmoid)
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers = []
        activation_layer = nn.Hardswish if cnf.use_hs else nn.ReLU
        if cnf.expanded_channels != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    cnf.expanded_channels,
                    kernel_size=1,
                    norm_layer=norm_layer,
                    activation_layer=activation_layer,
                )
            )
        stride = 1 if cnf.dilation > 1 else cnf.stride
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels,
                cnf.expanded_channels,
                kernel_size=cnf.kernel,
                stride=stride,
                dilation=cnf.dilation,
                groups=cnf.expanded_channels,
                norm_layer=norm_layer,
                activation_layer=activation_layer,
            )
        )
        if cnf.use_se:
            squeeze_channels = _make_divisible(cnf.expanded_channels // 4, 8)
            layers.append(se_layer(cnf.expanded_channels, squeeze_channels))
        layers.append(
            Conv2dNormActivation(
                cnf.expanded_channels,
                cnf.out_channels,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=None,
            )
        )
        self.block = nn.Sequential(*layers)

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result += input
        return result


class MobileNetV3Small(nn.Module):
    def __init__(self, num_classes=10, width_mult=0.5, dropout=0.2, dilated=True, blocks=5):
        super().__init__()
        conf = partial(InvertedResidualConfig, width_mult=width_mult)
        dilation = 2 if dilated else 1  # torchvision's dilated=True (segmentation backbones)
        setting = [
            conf(16, 3, 16, 16, True, "RE", 2, 1),
            conf(16, 3, 72, 24, False, "RE", 2, 1),
            conf(24, 3, 88, 24, False, "RE", 1, 1),
            conf(24, 5, 96, 40, True, "HS", 2, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 240, 40, True, "HS", 1, 1),
            conf(40, 5, 120, 48, True, "HS", 1, 1),
            conf(48, 5, 144, 48, True, "HS", 1, 1),
            conf(48, 5, 288, 96, True, "HS", 2, dilation),
            conf(96, 5, 576, 96, True, "HS", 1, dilation),
            conf(96, 5, 576, 96, True, "HS", 1, dilation),
        ]
        if blocks < len(setting):  # the first blocks, then the dilated stride-2 one
            setting = setting[:blocks] + [
                conf(
                    setting[blocks - 1].out_channels / width_mult,
                    5,
                    288,
                    96,
                    True,
                    "HS",
                    2,
                    dilation,
                )
            ]
        last_channel = _make_divisible(1024 * width_mult, 8)
        norm_layer = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
        first = setting[0].input_channels
        layers = [
            Conv2dNormActivation(
                3,
                first,
                kernel_size=3,
                stride=2,
                norm_layer=norm_layer,
                activation_layer=nn.Hardswish,
            )
        ]
        for cnf in setting:
            layers.append(InvertedResidualV3(cnf, norm_layer))
        last_in = setting[-1].out_channels
        last_out = 6 * last_in
        layers.append(
            Conv2dNormActivation(
                last_in,
                last_out,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=nn.Hardswish,
            )
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(last_out, last_channel),
            nn.Hardswish(inplace=True),
            nn.Dropout(p=dropout, inplace=True),
            nn.Linear(last_channel, num_classes),
        )
        _randomize_statistics(self)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# -- EfficientNet-B0 ---------------------------------------------------------------------------


class MBConvConfig:
    def __init__(self, expand_ratio, kernel, stride, input_channels, out_channels, num_layers,
                 width_mult=1.0, depth_mult=1.0):  # fmt: skip
        self.expand_ratio = expand_ratio
        self.kernel = kernel
        self.stride = stride
        self.input_channels = _make_divisible(input_channels * width_mult, 8)
        self.out_channels = _make_divisible(out_channels * width_mult, 8)
        self.num_layers = int(math.ceil(num_layers * depth_mult))


class MBConv(nn.Module):
    def __init__(self, cnf, stochastic_depth_prob, norm_layer):
        super().__init__()
        self.use_res_connect = cnf.stride == 1 and cnf.input_channels == cnf.out_channels
        layers = []
        expanded = _make_divisible(cnf.input_channels * cnf.expand_ratio, 8)
        if expanded != cnf.input_channels:
            layers.append(
                Conv2dNormActivation(
                    cnf.input_channels,
                    expanded,
                    kernel_size=1,
                    norm_layer=norm_layer,
                    activation_layer=nn.SiLU,
                )
            )
        layers.append(
            Conv2dNormActivation(
                expanded,
                expanded,
                kernel_size=cnf.kernel,
                stride=cnf.stride,
                groups=expanded,
                norm_layer=norm_layer,
                activation_layer=nn.SiLU,
            )
        )
        squeeze = max(1, cnf.input_channels // 4)
        layers.append(
            SqueezeExcitation(expanded, squeeze, activation=partial(nn.SiLU, inplace=True))
        )
        layers.append(
            Conv2dNormActivation(
                expanded,
                cnf.out_channels,
                kernel_size=1,
                norm_layer=norm_layer,
                activation_layer=None,
            )
        )
        self.block = nn.Sequential(*layers)
        self.stochastic_depth = StochasticDepth(stochastic_depth_prob, "row")

    def forward(self, input):
        result = self.block(input)
        if self.use_res_connect:
            result = self.stochastic_depth(result)
            result += input
        return result


class EfficientNetB0(nn.Module):
    def __init__(self, num_classes=10, width_mult=0.5, depth_mult=1.0, dropout=0.2,
                 stochastic_depth_prob=0.2, stages=3):  # fmt: skip
        super().__init__()
        conf = partial(MBConvConfig, width_mult=width_mult, depth_mult=depth_mult)
        setting = [
            conf(1, 3, 1, 32, 16, 1),
            conf(6, 3, 2, 16, 24, 2),
            conf(6, 5, 2, 24, 40, 2),
            conf(6, 3, 2, 40, 80, 3),
            conf(6, 5, 1, 80, 112, 3),
            conf(6, 5, 2, 112, 192, 4),
            conf(6, 3, 1, 192, 320, 1),
        ][:stages]
        norm_layer = nn.BatchNorm2d
        layers = [
            Conv2dNormActivation(
                3, setting[0].input_channels, kernel_size=3, stride=2, activation_layer=nn.SiLU
            )
        ]
        total = sum(c.num_layers for c in setting)
        block_id = 0
        for cnf in setting:
            stage = []
            for _ in range(cnf.num_layers):
                block_cnf = copy.copy(cnf)
                if stage:
                    block_cnf.input_channels = block_cnf.out_channels
                    block_cnf.stride = 1
                sd_prob = stochastic_depth_prob * float(block_id) / total
                stage.append(MBConv(block_cnf, sd_prob, norm_layer))
                block_id += 1
            layers.append(nn.Sequential(*stage))
        last_in = setting[-1].out_channels
        last_out = 4 * last_in
        layers.append(
            Conv2dNormActivation(last_in, last_out, kernel_size=1, activation_layer=nn.SiLU)
        )
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout, inplace=True), nn.Linear(last_out, num_classes)
        )
        _randomize_statistics(self)

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        return self.classifier(x)


# -- Transformers --------------------------------------------------------------------------------


class TransformerClassifier(nn.Module):
    """Rows of a digit as tokens: (N, 8, 8) → linear embedding → positions → 2 encoder layers
    (``nn.TransformerEncoder``) → mean over tokens → classes."""

    def __init__(self, tokens=8, features=8, d_model=16, heads=2, layers=2, num_classes=10):
        super().__init__()
        self.embed = nn.Linear(features, d_model)
        self.pos = nn.Parameter(torch.randn(tokens, d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            d_model, heads, dim_feedforward=32, dropout=0.1, batch_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
        self.head = nn.Linear(d_model, num_classes)

    def forward(self, x):
        x = self.embed(x) + self.pos
        x = self.encoder(x)
        return self.head(x.mean(dim=1))


class ViTBlock(nn.Module):
    """Pre-norm encoder block: x + attn(norm(x)), then x + mlp(norm(x))."""

    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-6)
        self.attn = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.norm2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Linear(mlp_dim, dim))

    def forward(self, x):
        y = self.norm1(x)
        x = x + self.attn(y, y, y, need_weights=False)[0]
        return x + self.mlp(self.norm2(x))


class TinyViT(nn.Module):
    """ViT-style: 4×4 patches of a 3×16×16 image → tokens + learned positions → 2 blocks →
    LayerNorm → mean of the tokens → classes."""

    def __init__(self, image=16, patch=4, dim=24, heads=3, depth=2, num_classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, dim, patch, stride=patch)
        tokens = (image // patch) ** 2
        self.pos = nn.Parameter(torch.randn(1, tokens, dim) * 0.02)
        self.blocks = nn.Sequential(*(ViTBlock(dim, heads, 2 * dim) for _ in range(depth)))
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.head = nn.Linear(dim, num_classes)

    def forward(self, x):
        x = self.patch(x).flatten(2).transpose(1, 2)
        x = self.blocks(x + self.pos)
        return self.head(self.norm(x).mean(dim=1))
