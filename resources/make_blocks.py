"""Regenerate ``resources/blocks/*.json`` (the shipped block definitions) in canonical form.

Run ``python -m resources.make_blocks`` after changing a block here; the tests check that every
shipped block is valid, compiles and round-trips byte for byte.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from engine.blocks import BlockDef
from engine.graph import Design, Edge, Node
from engine.io import save_block

BLOCKS_DIR = Path(__file__).resolve().parent / "blocks"
X_STEP, Y_ROW = 240.0, 160.0


def _body(name: str, layers: list[tuple[str, str, dict[str, Any], tuple[str, ...]]]) -> Design:
    """A body from ``(id, type, params, inputs)`` rows, laid out left to right (a row whose id
    starts with ``proj`` goes on a second line, under the main path)."""
    body = Design(name)
    col = 0
    for node_id, type_id, params, _inputs in layers:
        below = node_id.startswith("proj")
        pos = ((col - 1 if below else col) * X_STEP, Y_ROW if below else 0.0)
        if not below:
            col += 1
        body.add_node(Node(node_id, type_id, params, pos))
    for node_id, _type, _params, inputs in layers:
        for port, src in enumerate(inputs):
            body.add_edge(Edge(src, node_id, port))
    return body


def _conv(k: int, channels: int, stride: int = 1) -> dict[str, Any]:
    params = {"out_channels": channels, "kernel_size": k, "padding": k // 2, "bias": False}
    if stride != 1:
        params["stride"] = stride
    return params


def resnet_basic(projection: bool) -> BlockDef:
    """ResNet's basic block: two 3×3 convolutions with batch norm, added to the input."""
    name = "resnet_basic_projection" if projection else "resnet_basic"
    layers = [
        ("x", "Input", {"shape": [64, 8, 8]}, ()),
        ("conv1", "Conv2d", _conv(3, 64), ("x",)),
        ("bn1", "BatchNorm2d", {}, ("conv1",)),
        ("relu1", "ReLU", {}, ("bn1",)),
        ("conv2", "Conv2d", _conv(3, 64), ("relu1",)),
        ("bn2", "BatchNorm2d", {}, ("conv2",)),
    ]
    shortcut = "x"
    params = {"channels": ["conv1.out_channels", "conv2.out_channels"]}
    if projection:
        layers += [
            ("proj", "Conv2d", _conv(1, 64), ("x",)),
            ("proj_bn", "BatchNorm2d", {}, ("proj",)),
        ]
        shortcut = "proj_bn"
        params["channels"].append("proj.out_channels")
        params["stride"] = ["conv1.stride", "proj.stride"]
    layers += [
        ("sum", "Add", {}, ("bn2", shortcut)),
        ("relu2", "ReLU", {}, ("sum",)),
        ("out", "Output", {}, ("relu2",)),
    ]
    what = (
        "with a 1×1 projection shortcut (changes channels or stride)"
        if projection
        else "identity shortcut: input channels must equal 'channels'"
    )
    return BlockDef(name, _body(name, layers), params, f"ResNet basic block, {what}.")


def resnet_bottleneck(projection: bool) -> BlockDef:
    """ResNet's bottleneck block: 1×1 reduce, 3×3, 1×1 expand, added to the input."""
    name = "resnet_bottleneck_projection" if projection else "resnet_bottleneck"
    layers = [
        ("x", "Input", {"shape": [256, 8, 8]}, ()),
        ("conv1", "Conv2d", _conv(1, 64), ("x",)),
        ("bn1", "BatchNorm2d", {}, ("conv1",)),
        ("relu1", "ReLU", {}, ("bn1",)),
        ("conv2", "Conv2d", _conv(3, 64), ("relu1",)),
        ("bn2", "BatchNorm2d", {}, ("conv2",)),
        ("relu2", "ReLU", {}, ("bn2",)),
        ("conv3", "Conv2d", _conv(1, 256), ("relu2",)),
        ("bn3", "BatchNorm2d", {}, ("conv3",)),
    ]
    shortcut = "x"
    params = {"width": ["conv1.out_channels", "conv2.out_channels"]}
    params["channels"] = ["conv3.out_channels"]
    if projection:
        layers += [
            ("proj", "Conv2d", _conv(1, 256), ("x",)),
            ("proj_bn", "BatchNorm2d", {}, ("proj",)),
        ]
        shortcut = "proj_bn"
        params["channels"].append("proj.out_channels")
        params["stride"] = ["conv2.stride", "proj.stride"]
    layers += [
        ("sum", "Add", {}, ("bn3", shortcut)),
        ("relu3", "ReLU", {}, ("sum",)),
        ("out", "Output", {}, ("relu3",)),
    ]
    what = (
        "with a 1×1 projection shortcut (changes channels or stride)"
        if projection
        else "identity shortcut: input channels must equal 'channels'"
    )
    return BlockDef(name, _body(name, layers), params, f"ResNet bottleneck block, {what}.")


def lstm_stack() -> BlockDef:
    """Two LSTMs, dropout between, every step out: (N, T, F) → (N, T, hidden)."""
    layers = [
        ("x", "Input", {"shape": [8, 16]}, ()),
        ("lstm1", "LSTM", {"hidden_size": 64, "return_sequences": True}, ("x",)),
        ("drop", "Dropout", {"p": 0.1}, ("lstm1",)),
        ("lstm2", "LSTM", {"hidden_size": 64, "return_sequences": True}, ("drop",)),
        ("out", "Output", {}, ("lstm2",)),
    ]
    params = {"hidden_size": ["lstm1.hidden_size", "lstm2.hidden_size"], "dropout": ["drop.p"]}
    return BlockDef(
        "lstm_stack",
        _body("lstm_stack", layers),
        params,
        "Two stacked LSTMs with dropout between; outputs every step (N, T, hidden_size).",
    )


def _dw(channels: int, stride: int = 1) -> dict[str, Any]:
    """A 3×3 depthwise convolution (one filter per channel: groups = channels)."""
    return _conv(3, channels, stride) | {"groups": channels}


def inverted_residual(residual: bool) -> BlockDef:
    """MobileNetV2's inverted residual: 1×1 expand, 3×3 depthwise, 1×1 linear projection."""
    name = "mobilenet_inverted_residual" if residual else "mobilenet_inverted_residual_stride"
    layers = [
        ("x", "Input", {"shape": [32, 8, 8]}, ()),
        ("expand", "Conv2d", _conv(1, 192), ("x",)),
        ("bn1", "BatchNorm2d", {}, ("expand",)),
        ("relu1", "ReLU6", {}, ("bn1",)),
        ("dw", "Conv2d", _dw(192), ("relu1",)),
        ("bn2", "BatchNorm2d", {}, ("dw",)),
        ("relu2", "ReLU6", {}, ("bn2",)),
        ("project", "Conv2d", _conv(1, 32), ("relu2",)),
        ("bn3", "BatchNorm2d", {}, ("project",)),
    ]
    params = {
        "hidden": ["expand.out_channels", "dw.out_channels", "dw.groups"],
        "channels": ["project.out_channels"],
    }
    if residual:
        layers += [("sum", "Add", {}, ("bn3", "x")), ("out", "Output", {}, ("sum",))]
        what = "identity shortcut: input channels must equal 'channels'"
    else:
        layers.append(("out", "Output", {}, ("bn3",)))
        params["stride"] = ["dw.stride"]
        what = "no shortcut (changes channels or stride)"
    return BlockDef(
        name,
        _body(name, layers),
        params,
        f"MobileNetV2 inverted residual (expand to 'hidden', depthwise 3×3, project), {what}.",
    )


def depthwise_separable() -> BlockDef:
    """A 3×3 depthwise convolution then a 1×1 pointwise one, each with batch norm and ReLU."""
    name = "depthwise_separable_conv"
    layers = [
        ("x", "Input", {"shape": [32, 8, 8]}, ()),
        ("dw", "Conv2d", _dw(32), ("x",)),
        ("bn1", "BatchNorm2d", {}, ("dw",)),
        ("relu1", "ReLU", {}, ("bn1",)),
        ("pw", "Conv2d", _conv(1, 64), ("relu1",)),
        ("bn2", "BatchNorm2d", {}, ("pw",)),
        ("relu2", "ReLU", {}, ("bn2",)),
        ("out", "Output", {}, ("relu2",)),
    ]
    params = {
        "in_channels": ["dw.out_channels", "dw.groups"],
        "channels": ["pw.out_channels"],
        "stride": ["dw.stride"],
    }
    return BlockDef(
        name,
        _body(name, layers),
        params,
        "Depthwise-separable convolution (MobileNetV1): 'in_channels' must equal the input's.",
    )


def squeeze_excitation() -> BlockDef:
    """Squeeze-and-excitation: a per-channel gate from the pooled map, multiplied in."""
    name = "squeeze_excitation"
    layers = [
        ("x", "Input", {"shape": [64, 8, 8]}, ()),
        ("pool", "AdaptiveAvgPool2d", {"output_size": 1}, ("x",)),
        ("fc1", "Conv2d", {"out_channels": 16, "kernel_size": 1, "padding": 0}, ("pool",)),
        ("relu", "ReLU", {}, ("fc1",)),
        ("fc2", "Conv2d", {"out_channels": 64, "kernel_size": 1, "padding": 0}, ("relu",)),
        ("gate", "Sigmoid", {}, ("fc2",)),
        ("scale", "Multiply", {}, ("x", "gate")),
        ("out", "Output", {}, ("scale",)),
    ]
    params = {"squeeze": ["fc1.out_channels"], "channels": ["fc2.out_channels"]}
    return BlockDef(
        name,
        _body(name, layers),
        params,
        "Squeeze-and-excitation gate (as torchvision's): 'channels' must equal the input's.",
    )


def transformer_encoder() -> BlockDef:
    """A pre-norm Transformer encoder block: x + attn(ln(x)), then + mlp(ln(·))."""
    name = "transformer_encoder"
    layers = [
        ("x", "Input", {"shape": [16, 64]}, ()),
        ("ln1", "LayerNorm", {}, ("x",)),
        ("attn", "MultiheadAttention", {"num_heads": 4, "dropout": 0.0}, ("ln1",)),
        ("sum1", "Add", {}, ("x", "attn")),
        ("ln2", "LayerNorm", {}, ("sum1",)),
        ("fc1", "Linear", {"out_features": 256}, ("ln2",)),
        ("act", "GELU", {}, ("fc1",)),
        ("fc2", "Linear", {"out_features": 64}, ("act",)),
        ("sum2", "Add", {}, ("sum1", "fc2")),
        ("out", "Output", {}, ("sum2",)),
    ]
    params = {
        "d_model": ["fc2.out_features"],
        "heads": ["attn.num_heads"],
        "mlp_dim": ["fc1.out_features"],
        "causal": ["attn.causal"],
    }
    return BlockDef(
        name,
        _body(name, layers),
        params,
        "Pre-norm Transformer encoder block on (T, d_model) tokens: self-attention and an MLP, "
        "each added to its input; 'd_model' must equal the input's features.",
    )


def shipped_blocks() -> list[BlockDef]:
    """Every shipped block definition, in library order."""
    return [
        resnet_basic(False),
        resnet_basic(True),
        resnet_bottleneck(False),
        resnet_bottleneck(True),
        lstm_stack(),
        inverted_residual(True),
        inverted_residual(False),
        depthwise_separable(),
        squeeze_excitation(),
        transformer_encoder(),
    ]


def main() -> None:
    BLOCKS_DIR.mkdir(exist_ok=True)
    for defn in shipped_blocks():
        save_block(defn, BLOCKS_DIR / f"{defn.name}.json")


if __name__ == "__main__":
    main()
