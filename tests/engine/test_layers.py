"""Every registered layer: its shape rule and parameter count agree with the module it builds."""

from __future__ import annotations

import math

import pytest
import torch

from engine.layers import REGISTRY, LayerSpec, ParamSpec, ParamValueError, ShapeRuleError
from engine.layers.registry import LayerRegistry
from engine.shapes import resolve_params

# type id -> list of (input shapes, explicit params); several settings per layer.
CASES: dict[str, list[tuple[list[tuple[int, ...]], dict]]] = {
    "Output": [([(10,)], {}), ([(3, 5, 5)], {})],
    "Linear": [([(20,)], {"out_features": 7}), ([(6, 20)], {"out_features": 3, "bias": False})],
    "Dropout": [([(20,)], {"p": 0.3}), ([(2, 4, 4)], {"p": 0.0})],
    "Flatten": [([(3, 4, 5)], {}), ([(12,)], {})],
    "Reshape": [([(64,)], {"shape": [1, 8, 8]}), ([(4, 6)], {"shape": [-1, 3]})],
    "Embedding": [([(9,)], {"num_embeddings": 50, "embedding_dim": 8})],
    "Conv1d": [
        ([(3, 20)], {"out_channels": 5, "kernel_size": 3}),
        (
            [(2, 17)],
            {"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 0, "bias": False},
        ),
    ],
    "Conv2d": [
        ([(1, 8, 8)], {"out_channels": 6}),
        ([(3, 15, 11)], {"out_channels": 4, "kernel_size": 5, "stride": 2, "padding": 2}),
        ([(2, 9, 9)], {"out_channels": 3, "kernel_size": 3, "padding": 0, "bias": False}),
    ],
    "ConvTranspose2d": [
        ([(8, 4, 4)], {"out_channels": 4}),
        (
            [(3, 5, 7)],
            {"out_channels": 2, "kernel_size": 3, "stride": 2, "padding": 1, "output_padding": 1},
        ),
    ],
    "MaxPool1d": [
        ([(3, 20)], {"kernel_size": 2}),
        ([(2, 11)], {"kernel_size": 3, "stride": 2, "padding": 1}),
    ],
    "MaxPool2d": [([(3, 8, 8)], {}), ([(2, 9, 7)], {"kernel_size": 3, "stride": 2, "padding": 1})],
    "AvgPool2d": [([(3, 8, 8)], {}), ([(2, 9, 7)], {"kernel_size": 3, "stride": 1})],
    "AdaptiveAvgPool2d": [([(5, 7, 9)], {"output_size": 1}), ([(2, 8, 8)], {"output_size": 3})],
    "Upsample": [
        ([(3, 4, 4)], {"scale_factor": 2}),
        ([(2, 5)], {"scale_factor": 3}),
        ([(1, 3, 5)], {"scale_factor": 2, "mode": "bilinear"}),
    ],
    "BatchNorm1d": [([(12,)], {}), ([(4, 9)], {"momentum": 0.2})],
    "BatchNorm2d": [([(6, 5, 5)], {}), ([(2, 3, 3)], {"eps": 1e-3})],
    "LayerNorm": [([(16,)], {}), ([(5, 8)], {"elementwise_affine": False})],
    "ReLU": [([(10,)], {})],
    "LeakyReLU": [([(10,)], {"negative_slope": 0.1})],
    "ELU": [([(2, 3, 3)], {"alpha": 0.5})],
    "GELU": [([(10,)], {}), ([(10,)], {"approximate": "tanh"})],
    "SiLU": [([(4, 4)], {})],
    "Sigmoid": [([(10,)], {})],
    "Tanh": [([(10,)], {})],
    "Softmax": [([(10,)], {}), ([(3, 4)], {"dim": 0})],
    "LogSoftmax": [([(10,)], {}), ([(3, 4)], {"dim": -2})],
    "RNN": [
        ([(7, 5)], {"hidden_size": 8}),
        (
            [(7, 5)],
            {
                "hidden_size": 6,
                "num_layers": 2,
                "bidirectional": True,
                "return_sequences": True,
                "nonlinearity": "relu",
            },
        ),
    ],
    "LSTM": [
        ([(7, 5)], {"hidden_size": 8}),
        ([(6, 3)], {"hidden_size": 4, "num_layers": 3, "bidirectional": True, "dropout": 0.2}),
        ([(6, 3)], {"hidden_size": 5, "return_sequences": True}),
    ],
    "GRU": [
        ([(7, 5)], {"hidden_size": 8, "bidirectional": True}),
        ([(4, 2)], {"hidden_size": 3, "num_layers": 2, "return_sequences": True}),
    ],
    "Add": [([(6,), (6,)], {}), ([(2, 3, 3)] * 3, {})],
    "Multiply": [([(6,), (6,)], {}), ([(4, 5)] * 3, {}), ([(3, 1, 1), (3, 4, 4)], {})],
    "Concatenate": [
        ([(6,), (4,)], {}),
        ([(2, 5, 5), (3, 5, 5)], {"dim": 0}),
        ([(7, 3), (7, 2)], {"dim": -1}),
    ],
    "SOM": [([(12,)], {"rows": 3, "cols": 4}), ([(4,)], {"rows": 1, "cols": 7})],
    "ReLU6": [([(10,)], {})],
    "Hardswish": [([(2, 3, 3)], {})],
    "Hardsigmoid": [([(10,)], {})],
    "GroupNorm": [([(6, 4, 4)], {"num_groups": 3}), ([(4, 7)], {"affine": False, "eps": 1e-3})],
    "InstanceNorm2d": [([(3, 5, 5)], {}), ([(2, 4, 4)], {"affine": True})],
    "Dropout2d": [([(3, 4, 4)], {"p": 0.2})],
    "GlobalAvgPool": [([(5, 4, 3)], {}), ([(3, 9)], {})],
    "GlobalMaxPool": [([(5, 4, 3)], {}), ([(3, 9)], {})],
    "Permute": [([(3, 4, 5)], {"dims": [1, 2, 0]}), ([(6, 2)], {})],
    "Transpose": [([(6, 2)], {}), ([(3, 4, 5)], {"dim0": 0, "dim1": -1})],
    "Squeeze": [([(1, 5)], {}), ([(4, 1, 3)], {"dim": 1})],
    "Unsqueeze": [([(5,)], {}), ([(4, 3)], {"dim": -1})],
    "Subtract": [([(6,), (6,)], {}), ([(2, 3, 3)] * 2, {})],
    "Scale": [
        ([(4, 3, 3)], {}),
        ([(5, 6)], {"per": "feature", "init": 0.1}),
        ([(7,)], {"per": "scalar"}),
    ],
    "Mean": [([(5, 6)], {}), ([(3, 4, 4)], {"dim": -1, "keepdim": True})],
    "MultiheadAttention": [
        ([(5, 8)], {"num_heads": 2}),
        ([(4, 6)], {"num_heads": 3, "bias": False, "causal": True}),
    ],
    "TransformerEncoderLayer": [
        ([(5, 8)], {"num_heads": 2, "dim_feedforward": 16}),
        ([(3, 6)], {"num_heads": 3, "activation": "gelu", "norm_first": True, "dropout": 0.0}),
    ],
    "PositionalEncoding": [([(5, 8)], {}), ([(7, 6)], {"kind": "sinusoidal"})],
    "PatchEmbedding": [
        ([(3, 8, 8)], {"patch_size": 4, "features": 10}),
        ([(1, 6, 9)], {"patch_size": 3}),
    ],
}


def test_every_registered_layer_has_cases():
    """A new layer type must come with shape cases here (Input is exercised by the templates)."""
    missing = {spec.type_id for spec in REGISTRY} - set(CASES) - {"Input"}
    assert not missing, f"add test cases for {sorted(missing)}"


@pytest.mark.parametrize(
    ("type_id", "shapes", "params"), [(t, s, p) for t, cases in CASES.items() for s, p in cases]
)
def test_shape_rule_and_param_count_match_module(type_id, shapes, params):
    spec = REGISTRY.get(type_id)
    values, errors = resolve_params(spec, params)
    assert errors == []
    expected_shape = tuple(spec.infer(shapes, values))
    module = spec.build(shapes, values)
    module.eval()
    batch = 3
    if type_id == "Embedding":
        inputs = [torch.randint(0, params["num_embeddings"], (batch, *shapes[0]))]
    else:
        inputs = [torch.randn(batch, *s) for s in shapes]
    with torch.no_grad():
        out = module(*inputs)
    assert tuple(out.shape) == (batch, *expected_shape)
    assert spec.count_params(shapes, values) == sum(p.numel() for p in module.parameters())
    assert spec.count_macs(shapes, values, expected_shape) >= 0


@pytest.mark.parametrize(
    ("type_id", "shapes", "params"), [(t, s, p) for t, cases in CASES.items() for s, p in cases]
)
def test_declared_dtype_rule_matches_the_module(type_id, shapes, params):
    """What a spec says it accepts and gives is what its module does: integer and pass-through
    layers run on int64 tensors and give the declared dtype; float layers give float32."""
    spec = REGISTRY.get(type_id)
    assert spec.accepts in ("float", "integer", "any")
    values, _ = resolve_params(spec, params)
    module = spec.build(shapes, values).eval()
    fed = "float32" if spec.accepts == "float" else "int64"
    if fed == "int64":
        inputs = [torch.randint(0, params.get("num_embeddings", 5), (3, *s)) for s in shapes]
    else:
        inputs = [torch.randn(3, *s) for s in shapes]
    with torch.no_grad():
        out = module(*inputs)
    assert str(out.dtype).removeprefix("torch.") == spec.output_dtype_for(
        [fed] * len(shapes), values
    )


@pytest.mark.parametrize(
    ("type_id", "shapes", "params", "needle"),
    [
        ("Linear", [(16, 4, 4)], {}, "insert Flatten"),
        ("Conv2d", [(64,)], {}, "(N, C, H, W)"),
        ("Conv2d", [(1, 2, 2)], {"kernel_size": 5, "padding": 0}, "smaller kernel_size"),
        ("LSTM", [(64,)], {}, "sequences"),
        ("Add", [(4,), (5,)], {}, "equal shapes"),
        ("Add", [(3, 1, 1), (3, 4, 4)], {}, "equal shapes"),
        ("Multiply", [(3, 2, 1), (3, 4, 4)], {}, "size 1 where they differ"),
        ("Concatenate", [(4, 2), (5, 3)], {"dim": 0}, "other sizes equal"),
        ("Reshape", [(10,)], {"shape": [3, 3]}, "needs 9 values"),
        ("MaxPool2d", [(1, 4, 4)], {"kernel_size": 2, "padding": 2}, "more than half"),
        ("ConvTranspose2d", [(2, 4, 4)], {"stride": 1, "output_padding": 1}, "smaller than stride"),
        ("Softmax", [(4,)], {"dim": 3}, "out of range"),
        ("Upsample", [(3, 4)], {"mode": "bilinear"}, "bilinear"),
        (
            "Conv2d",
            [(8, 8, 8)],
            {"out_channels": 6, "groups": 4},
            "out_channels 6 are not divisible by groups 4",
        ),
        ("Conv1d", [(5, 8)], {"groups": 2}, "input channels 5 are not divisible by groups 2"),
        (
            "Conv2d",
            [(1, 4, 4)],
            {"kernel_size": 3, "dilation": 3, "padding": 0},
            "smaller kernel_size",
        ),
        ("GroupNorm", [(6, 4, 4)], {"num_groups": 4}, "not divisible by num_groups 4"),
        ("MultiheadAttention", [(5, 6)], {"num_heads": 4}, "num_heads 4 does not divide the 6"),
        ("MultiheadAttention", [(6,)], {}, "token sequences"),
        ("TransformerEncoderLayer", [(5, 6)], {"num_heads": 4}, "choose num_heads dividing 6"),
        ("Permute", [(3, 4, 5)], {"dims": [0, 0, 1]}, "not an order"),
        ("Squeeze", [(3, 4)], {}, "has size 3, not 1"),
        ("PatchEmbedding", [(3, 8, 8)], {"patch_size": 3}, "does not divide the 8×8"),
        ("PositionalEncoding", [(4, 5)], {"kind": "sinusoidal"}, "even number"),
        ("Mean", [(5,)], {}, "keepdim"),
    ],
)
def test_shape_rules_refuse_bad_inputs_with_a_fix(type_id, shapes, params, needle):
    spec = REGISTRY.get(type_id)
    values, errors = resolve_params(spec, params)
    assert errors == []
    with pytest.raises(ShapeRuleError) as info:
        spec.infer(shapes, values)
    assert needle in info.value.message + info.value.fix


@pytest.mark.parametrize(
    ("kind", "value", "ok"),
    [
        ("int", 3, True),
        ("int", 3.0, True),
        ("int", 3.5, False),
        ("int", True, False),
        ("int", "3", False),
        ("int", 0, False),
        ("int", 10_000, False),
        ("float", 0.5, True),
        ("float", 2, True),
        ("float", float("nan"), False),
        ("bool", False, True),
        ("bool", 0, False),
    ],
)
def test_param_spec_coercion(kind, value, ok):
    spec = ParamSpec(
        "x",
        kind,
        1 if kind != "bool" else True,
        minimum=1 if kind == "int" else None,
        maximum=100 if kind == "int" else None,
    )
    if ok:
        spec.coerce(value)
    else:
        with pytest.raises(ParamValueError):
            spec.coerce(value)


def test_choice_and_shape_params():
    choice = ParamSpec("mode", "choice", "a", choices=("a", "b"))
    assert choice.coerce("b") == "b"
    with pytest.raises(ParamValueError, match="one of 'a', 'b'"):
        choice.coerce("c")
    shape = ParamSpec("shape", "shape", [1], allow_minus_one=True)
    assert shape.coerce([2, -1]) == (2, -1)
    with pytest.raises(ParamValueError):
        shape.coerce([-1, -1])
    with pytest.raises(ParamValueError):
        shape.coerce([0, 3])


def test_registry_refuses_duplicates_and_resolves_aliases():
    reg = LayerRegistry()
    spec = LayerSpec(
        "Thing",
        "Thing",
        "Core",
        "help",
        infer=lambda s, p: s[0],
        build=lambda s, p: torch.nn.Identity(),
        replaces=("OldThing",),
    )
    reg.register(spec)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(spec)
    with pytest.raises(ValueError, match="already registered"):
        reg.register(LayerSpec("OldThing", "x", "Core", "h", infer=spec.infer, build=spec.build))
    assert reg.get("OldThing") is spec
    assert REGISTRY.get("Dense").type_id == "Linear"
    assert REGISTRY.suggest("conv2D") == "Conv2d"


def test_specs_are_immutable_and_documented():
    for spec in REGISTRY:
        assert spec.help and spec.display_name and spec.category
        for p in spec.params:
            assert p.help, f"{spec.type_id}.{p.name} needs a help line"
            p.coerce(p.default)  # every default is valid
        with pytest.raises(AttributeError):
            spec.type_id = "x"  # type: ignore[misc]


@pytest.mark.parametrize(
    ("params", "torch_kwargs"),
    [
        ({"out_channels": 8, "groups": 8}, {"groups": 8}),  # depthwise
        (
            {"out_channels": 16, "groups": 4, "dilation": 2, "padding": 2},
            {"groups": 4, "dilation": 2, "padding": 2},
        ),
    ],
)
def test_grouped_and_dilated_conv_equal_torch(params, torch_kwargs):
    """Conv2d groups/dilation: same shape, parameter count and outputs as torch's own layer."""
    spec = REGISTRY.get("Conv2d")
    values, errors = resolve_params(spec, params)
    assert errors == []
    module = spec.build([(8, 9, 9)], values)
    kwargs = {"padding": 1} | torch_kwargs
    reference = torch.nn.Conv2d(8, params["out_channels"], 3, **kwargs)
    reference.load_state_dict(module.state_dict())
    x = torch.randn(2, 8, 9, 9)
    assert torch.equal(module(x), reference(x))
    assert tuple(module(x).shape[1:]) == spec.infer([(8, 9, 9)], values)
    assert spec.count_params([(8, 9, 9)], values) == sum(p.numel() for p in reference.parameters())


def test_new_conv_parameters_default_to_todays_behaviour():
    """Old designs (no groups/dilation) open unchanged: the defaults are torch's plain conv."""
    spec = REGISTRY.get("Conv2d")
    assert spec.defaults["groups"] == 1 and spec.defaults["dilation"] == 1


def test_causal_attention_ignores_later_tokens():
    spec = REGISTRY.get("MultiheadAttention")
    values, _ = resolve_params(spec, {"num_heads": 2, "causal": True})
    module = spec.build([(5, 8)], values).eval()
    x = torch.randn(1, 5, 8)
    changed = x.clone()
    changed[:, 3:] += 1.0
    with torch.no_grad():
        a, b = module(x), module(changed)
    torch.testing.assert_close(a[:, :3], b[:, :3])
    assert not torch.allclose(a[:, 3:], b[:, 3:])


def test_sinusoidal_positions_follow_the_published_formula():
    spec = REGISTRY.get("PositionalEncoding")
    values, _ = resolve_params(spec, {"kind": "sinusoidal"})
    module = spec.build([(4, 6)], values)
    out = module(torch.zeros(1, 4, 6))[0]
    pos, i = 3, 1  # pe[pos, 2i] = sin(pos / 10000^(2i/d)), pe[pos, 2i+1] = cos(...)
    assert abs(float(out[pos, 2 * i]) - math.sin(pos / 10000 ** (2 * i / 6))) < 1e-6
    assert abs(float(out[pos, 2 * i + 1]) - math.cos(pos / 10000 ** (2 * i / 6))) < 1e-6
    assert sum(p.numel() for p in module.parameters()) == 0
