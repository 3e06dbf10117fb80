"""Every built-in layer type, declared once and registered in :data:`REGISTRY`.

Shape-rule messages may name the inputs with ``{in0}``, ``{in1}``… (rendered as
"'conv3' gives (N, 16, 4, 4)"), their source nodes with ``{src0}``… and the node itself with
``{self}``; :mod:`engine.shapes` fills them in so every error names the nodes involved.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.layers.registry import register
from engine.layers.spec import LayerSpec, Params, ParamSpec, Shape, ShapeRuleError, numel
from engine.lazy import LazyModule

# torch is imported when a layer is first built, not when the catalogue loads: ``check`` and the
# editor's shape inference need only the specs.
nn = LazyModule("torch.nn")
modules = LazyModule("engine.layers.modules")

# ---------------------------------------------------------------------------------------------
# helpers


def _rank(
    shapes: Sequence[Shape], ranks: tuple[int, ...], name: str, expects: str, fix: str = ""
) -> Shape:
    """The single input shape, checked to have one of ``ranks`` sample dimensions."""
    shape = shapes[0]
    if len(shape) not in ranks:
        raise ShapeRuleError(f"{name} expects {expects}, but {{in0}}", fix)
    return shape


def _sample_dim(dim: int, rank: int, name: str) -> int:
    """Normalise a per-sample dimension index (batch excluded) to 0..rank-1."""
    if not -rank <= dim < rank:
        raise ShapeRuleError(
            f"{name}: dim {dim} is out of range for {{in0}}",
            f"choose dim between {-rank} and {rank - 1} (0 is the first dimension after N)",
        )
    return dim % rank


def _conv_len(size: int, k: int, s: int, p: int) -> int:
    return (size + 2 * p - k) // s + 1


def _check_positive(out: Shape, name: str, fix: str) -> Shape:
    if any(d < 1 for d in out):
        raise ShapeRuleError(f"{name} would produce an empty output {out} from {{in0}}", fix)
    return out


def _same(shape: Shape) -> Shape:
    return tuple(shape)


def _no_params(_shapes: Sequence[Shape], _p: Params) -> int:
    return 0


# ---------------------------------------------------------------------------------------------
# Input / Output

register(
    LayerSpec(
        type_id="Input",
        display_name="Input",
        category="Input / Output",
        help="Where samples enter a network; shape excludes the batch dimension.",
        params=(
            ParamSpec(
                "shape", "shape", [64], "Sample shape without batch: (F), (T, F) or (C, H, W)."
            ),
            ParamSpec(
                "dtype",
                "choice",
                "float32",
                "Element type: float32 for features and images, int64 for token ids (Embedding).",
                choices=("float32", "int64"),
            ),
        ),
        inputs=0,
        learning="none",
        output_dtype="param:dtype",
        infer=lambda shapes, p: tuple(p["shape"]),
        build=lambda shapes, p: nn.Identity(),
    )
)

register(
    LayerSpec(
        type_id="Output",
        display_name="Output",
        category="Input / Output",
        help="Marks a network output; passes its input through unchanged.",
        learning="none",
        accepts="any",
        output_dtype="input",
        infer=lambda shapes, p: _same(shapes[0]),
        build=lambda shapes, p: nn.Identity(),
        replaces=("Identity",),
    )
)

# ---------------------------------------------------------------------------------------------
# Core


def _linear_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(
        shapes, (1, 2), "Linear", "(N, F) or (N, T, F)", "insert Flatten between {src0} and {self}"
    )
    return (*shape[:-1], p["out_features"])


register(
    LayerSpec(
        type_id="Linear",
        display_name="Linear",
        category="Core",
        help="Fully connected layer: y = x·Wᵀ + b over the last dimension.",
        params=(
            ParamSpec("out_features", "int", 64, "Number of output features.", 1, 1_000_000),
            ParamSpec("bias", "bool", True, "Learn an additive bias."),
        ),
        infer=_linear_infer,
        build=lambda s, p: nn.Linear(s[0][-1], p["out_features"], bias=p["bias"]),
        count_params=lambda s, p: (
            s[0][-1] * p["out_features"] + (p["out_features"] if p["bias"] else 0)
        ),
        count_macs=lambda s, p, out: numel(s[0][:-1]) * s[0][-1] * p["out_features"],
        replaces=("Dense",),
    )
)

register(
    LayerSpec(
        type_id="Dropout",
        display_name="Dropout",
        category="Core",
        help="Randomly zeroes a fraction p of values while training (helps against overfitting).",
        params=(
            ParamSpec(
                "p",
                "float",
                0.5,
                "Probability of zeroing each value.",
                0.0,
                1.0,
                exclusive_maximum=True,
            ),
        ),
        infer=lambda s, p: _same(s[0]),
        build=lambda s, p: nn.Dropout(p["p"]),
    )
)

register(
    LayerSpec(
        type_id="Flatten",
        display_name="Flatten",
        category="Core",
        help="Flattens each sample to one feature vector: (N, C, H, W) → (N, C·H·W).",
        accepts="any",
        output_dtype="input",
        infer=lambda s, p: (numel(s[0]),),
        build=lambda s, p: nn.Flatten(1),
    )
)


def _reshape_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    target = list(p["shape"])
    total = numel(shapes[0])
    known = numel([d for d in target if d != -1])
    if -1 in target:
        if total % known:
            raise ShapeRuleError(
                f"Reshape cannot fit {{in0}} ({total} values) into {tuple(target)}",
                "choose a shape whose fixed sizes divide " + str(total),
            )
        target[target.index(-1)] = total // known
    elif known != total:
        raise ShapeRuleError(
            f"Reshape to {tuple(target)} needs {known} values per sample, but "
            f"{{in0}} ({total} values)",
            "make the sizes multiply to " + str(total),
        )
    return tuple(target)


register(
    LayerSpec(
        type_id="Reshape",
        display_name="Reshape",
        category="Core",
        help="Reshapes each sample to a new shape with the same number of values (-1 infers one size).",
        params=(
            ParamSpec(
                "shape", "shape", [-1], "Target sample shape; at most one -1.", allow_minus_one=True
            ),
        ),
        accepts="any",
        output_dtype="input",
        infer=_reshape_infer,
        build=lambda s, p: modules.Reshape(_reshape_infer(s, p)),
    )
)

register(
    LayerSpec(
        type_id="Embedding",
        display_name="Embedding",
        category="Core",
        help="Looks up a learned vector for each integer token id: (N, T) → (N, T, D).",
        params=(
            ParamSpec(
                "num_embeddings",
                "int",
                1000,
                "Vocabulary size (largest token id + 1).",
                1,
                10_000_000,
            ),
            ParamSpec("embedding_dim", "int", 32, "Length of each vector.", 1, 100_000),
        ),
        infer=lambda s, p: (
            *_rank(
                s,
                (1,),
                "Embedding",
                "token ids of shape (N, T)",
                "use an Input of shape (T) with dtype int64",
            ),
            p["embedding_dim"],
        ),
        accepts="integer",
        build=lambda s, p: nn.Embedding(p["num_embeddings"], p["embedding_dim"]),
        count_params=lambda s, p: p["num_embeddings"] * p["embedding_dim"],
    )
)

# ---------------------------------------------------------------------------------------------
# Convolution

_CONV_PARAMS = (
    ParamSpec("out_channels", "int", 16, "Number of filters (output channels).", 1, 65_536),
    ParamSpec("kernel_size", "int", 3, "Width of each filter.", 1, 63),
    ParamSpec("stride", "int", 1, "Step between filter positions.", 1, 32),
    ParamSpec("padding", "int", 1, "Zeros added on each border.", 0, 64),
    ParamSpec("bias", "bool", True, "Learn an additive bias per filter."),
    ParamSpec(
        "groups",
        "int",
        1,
        "Split channels into this many independent groups (= in channels: depthwise).",
        1,
        65_536,
    ),
    ParamSpec("dilation", "int", 1, "Spacing between filter taps (> 1: dilated).", 1, 64),
)


def _conv_groups(shapes: Sequence[Shape], p: Params, name: str) -> None:
    """Both channel counts must divide into ``groups``: one line that says which does not."""
    g, cin, cout = p["groups"], shapes[0][0], p["out_channels"]
    for what, count in (("input channels", cin), ("out_channels", cout)):
        if count % g:
            raise ShapeRuleError(
                f"{name}: {what} {count} are not divisible by groups {g} ({{in0}})",
                f"choose groups dividing both {cin} and {cout} (groups = {cin} is depthwise "
                f"when out_channels is a multiple of {cin})",
            )


def _conv_infer(dims: int):
    name = f"Conv{dims}d"
    expects = "(N, C, L)" if dims == 1 else "(N, C, H, W)"

    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        fix = (
            "use an Input of shape (C, L)"
            if dims == 1
            else "give the Input a (C, H, W) shape or insert Reshape before {self}"
        )
        shape = _rank(shapes, (dims + 1,), name, expects, fix)
        _conv_groups(shapes, p, name)
        k = p["dilation"] * (p["kernel_size"] - 1) + 1
        st, pad = p["stride"], p["padding"]
        out = (p["out_channels"], *(_conv_len(d, k, st, pad) for d in shape[1:]))
        return _check_positive(out, name, "use a smaller kernel_size or more padding")

    return infer


def _conv_params(dims: int):
    return lambda s, p: (
        s[0][0] // p["groups"] * p["out_channels"] * p["kernel_size"] ** dims
        + (p["out_channels"] if p["bias"] else 0)
    )


def _conv_macs(dims: int):
    return lambda s, p, out: numel(out) * s[0][0] // p["groups"] * p["kernel_size"] ** dims


for _dims in (1, 2):
    _cls = "Conv1d" if _dims == 1 else "Conv2d"
    register(
        LayerSpec(
            type_id=f"Conv{_dims}d",
            display_name=f"Conv{_dims}d",
            category="Convolution",
            help=(
                "1-D convolution over sequences (N, C, L)."
                if _dims == 1
                else "2-D convolution over images (N, C, H, W): learns local feature detectors."
            ),
            params=_CONV_PARAMS,
            infer=_conv_infer(_dims),
            build=(
                lambda cls: (
                    lambda s, p: getattr(nn, cls)(
                        s[0][0],
                        p["out_channels"],
                        p["kernel_size"],
                        stride=p["stride"],
                        padding=p["padding"],
                        bias=p["bias"],
                        groups=p["groups"],
                        dilation=p["dilation"],
                    )
                )
            )(_cls),
            count_params=_conv_params(_dims),
            count_macs=_conv_macs(_dims),
        )
    )


def _convt_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(
        shapes,
        (3,),
        "ConvTranspose2d",
        "(N, C, H, W)",
        "insert Reshape before {self} to make (C, H, W) samples",
    )
    k, st, pad, op = p["kernel_size"], p["stride"], p["padding"], p["output_padding"]
    if op >= st:
        raise ShapeRuleError(
            f"ConvTranspose2d: output_padding {op} must be smaller than stride {st}",
            "lower output_padding or raise stride",
        )
    out = (p["out_channels"], *((d - 1) * st - 2 * pad + k + op for d in shape[1:]))
    return _check_positive(out, "ConvTranspose2d", "use less padding")


register(
    LayerSpec(
        type_id="ConvTranspose2d",
        display_name="ConvTranspose2d",
        category="Convolution",
        help="Transposed 2-D convolution: upsamples feature maps (decoders, generators).",
        params=(
            ParamSpec("out_channels", "int", 16, "Number of output channels.", 1, 65_536),
            ParamSpec("kernel_size", "int", 4, "Width of each filter.", 1, 63),
            ParamSpec("stride", "int", 2, "Upsampling step.", 1, 32),
            ParamSpec("padding", "int", 1, "Border removed from the output.", 0, 64),
            ParamSpec(
                "output_padding", "int", 0, "Extra size added on one side (< stride).", 0, 31
            ),
            ParamSpec("bias", "bool", True, "Learn an additive bias per channel."),
        ),
        infer=_convt_infer,
        build=lambda s, p: nn.ConvTranspose2d(
            s[0][0],
            p["out_channels"],
            p["kernel_size"],
            stride=p["stride"],
            padding=p["padding"],
            output_padding=p["output_padding"],
            bias=p["bias"],
        ),
        count_params=lambda s, p: (
            s[0][0] * p["out_channels"] * p["kernel_size"] ** 2
            + (p["out_channels"] if p["bias"] else 0)
        ),
        count_macs=lambda s, p, out: numel(s[0]) * p["out_channels"] * p["kernel_size"] ** 2,
    )
)

_POOL_PARAMS = (
    ParamSpec("kernel_size", "int", 2, "Window size.", 1, 64),
    ParamSpec("stride", "int", 0, "Step between windows; 0 means the window size.", 0, 64),
    ParamSpec("padding", "int", 0, "Padding on each border (at most half the window).", 0, 32),
)


def _pool_infer(dims: int, name: str):
    expects = "(N, C, L)" if dims == 1 else "(N, C, H, W)"

    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        shape = _rank(shapes, (dims + 1,), name, expects)
        k, pad = p["kernel_size"], p["padding"]
        st = p["stride"] or k
        if pad * 2 > k:
            raise ShapeRuleError(
                f"{name}: padding {pad} is more than half the window {k}",
                f"set padding to at most {k // 2}",
            )
        out = (shape[0], *(_conv_len(d, k, st, pad) for d in shape[1:]))
        return _check_positive(out, name, "use a smaller kernel_size")

    return infer


def _pool(type_id: str, dims: int, help_text: str) -> None:
    """Register one pooling layer: a ``dims``-D window of ``torch.nn.<type_id>`` with the shared
    pool params (the class is looked up by name when built, so registering imports no torch)."""
    register(
        LayerSpec(
            type_id=type_id,
            display_name=type_id,
            category="Convolution",
            help=help_text,
            params=_POOL_PARAMS,
            infer=_pool_infer(dims, type_id),
            build=lambda s, p: getattr(nn, type_id)(
                p["kernel_size"], stride=p["stride"] or p["kernel_size"], padding=p["padding"]
            ),
        )
    )


_pool("MaxPool1d", 1, "Keeps the largest value in each window along a sequence (N, C, L).")
_pool("MaxPool2d", 2, "Keeps the largest value in each window of an image (N, C, H, W).")
_pool("AvgPool2d", 2, "Averages each window of an image (N, C, H, W).")


def _adaptive_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(shapes, (3,), "AdaptiveAvgPool2d", "(N, C, H, W)")
    return (shape[0], p["output_size"], p["output_size"])


register(
    LayerSpec(
        type_id="AdaptiveAvgPool2d",
        display_name="AdaptiveAvgPool2d",
        category="Convolution",
        help="Averages each feature map down to a fixed size (1 = global average pooling).",
        params=(ParamSpec("output_size", "int", 1, "Output height and width.", 1, 1024),),
        infer=_adaptive_infer,
        build=lambda s, p: nn.AdaptiveAvgPool2d(p["output_size"]),
    )
)


def _upsample_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(shapes, (2, 3), "Upsample", "(N, C, L) or (N, C, H, W)")
    if p["mode"] == "bilinear" and len(shape) != 3:
        raise ShapeRuleError(
            "Upsample: bilinear mode needs images (N, C, H, W), but {in0}",
            "use mode 'nearest' for sequences",
        )
    f = p["scale_factor"]
    return (shape[0], *(d * f for d in shape[1:]))


register(
    LayerSpec(
        type_id="Upsample",
        display_name="Upsample",
        category="Convolution",
        help="Enlarges feature maps by an integer factor (nearest or bilinear).",
        params=(
            ParamSpec("scale_factor", "int", 2, "Integer enlargement factor.", 1, 16),
            ParamSpec(
                "mode", "choice", "nearest", "Interpolation.", choices=("nearest", "bilinear")
            ),
        ),
        infer=_upsample_infer,
        build=lambda s, p: nn.Upsample(
            scale_factor=p["scale_factor"],
            mode=p["mode"],
            **({"align_corners": False} if p["mode"] == "bilinear" else {}),
        ),
    )
)

# ---------------------------------------------------------------------------------------------
# Normalization

_BN_PARAMS = (
    ParamSpec("momentum", "float", 0.1, "Update rate of the running statistics.", 0.0, 1.0),
    ParamSpec("eps", "float", 1e-5, "Added to the variance for stability.", 1e-12, 1.0),
)


def _batchnorm(
    type_id: str,
    ranks: tuple[int, ...],
    expects: str,
    fix: str,
    help_text: str,
) -> None:
    """Register one batch-norm layer: ``torch.nn.<type_id>`` over inputs of ``ranks`` sample
    dimensions (looked up by name when built)."""
    register(
        LayerSpec(
            type_id=type_id,
            display_name=type_id,
            category="Normalization",
            help=help_text,
            params=_BN_PARAMS,
            infer=lambda s, p: _rank(s, ranks, type_id, expects, fix),
            build=lambda s, p: getattr(nn, type_id)(s[0][0], eps=p["eps"], momentum=p["momentum"]),
            count_params=lambda s, p: 2 * s[0][0],
            count_macs=lambda s, p, out: numel(s[0]),
        )
    )


_batchnorm(
    "BatchNorm1d",
    (1, 2),
    "(N, F) or (N, C, L)",
    "use BatchNorm2d for images",
    "Normalizes each feature over the batch, then scales and shifts it.",
)
_batchnorm(
    "BatchNorm2d",
    (3,),
    "(N, C, H, W)",
    "use BatchNorm1d for vectors",
    "Normalizes each channel of an image batch, then scales and shifts it.",
)
register(
    LayerSpec(
        type_id="LayerNorm",
        display_name="LayerNorm",
        category="Normalization",
        help="Normalizes each sample over its last dimension (batch-size independent).",
        params=(
            ParamSpec("eps", "float", 1e-5, "Added to the variance for stability.", 1e-12, 1.0),
            ParamSpec("elementwise_affine", "bool", True, "Learn a scale and shift per feature."),
        ),
        infer=lambda s, p: _same(s[0]),
        build=lambda s, p: nn.LayerNorm(
            s[0][-1], eps=p["eps"], elementwise_affine=p["elementwise_affine"]
        ),
        count_params=lambda s, p: 2 * s[0][-1] if p["elementwise_affine"] else 0,
        count_macs=lambda s, p, out: numel(s[0]),
    )
)

# ---------------------------------------------------------------------------------------------
# Activations


def _activation(
    type_id: str, help_text: str, build, params: tuple[ParamSpec, ...] = (), infer=None
) -> None:
    """Register one activation: shape-preserving unless ``infer`` checks more."""
    register(
        LayerSpec(
            type_id=type_id,
            display_name=type_id,
            category="Activation",
            help=help_text,
            params=params,
            infer=infer or (lambda s, p: _same(s[0])),
            build=build,
        )
    )


_activation("ReLU", "max(0, x): the default hidden-layer non-linearity.", lambda s, p: nn.ReLU())
_activation(
    "LeakyReLU",
    "Like ReLU but lets a small slope through for x < 0.",
    lambda s, p: nn.LeakyReLU(p["negative_slope"]),
    (ParamSpec("negative_slope", "float", 0.2, "Slope for negative inputs.", 0.0, 1.0),),
)
_activation(
    "ELU",
    "Smooth ReLU variant with negative saturation α.",
    lambda s, p: nn.ELU(p["alpha"]),
    (ParamSpec("alpha", "float", 1.0, "Value approached for very negative x.", 0.0, 10.0),),
)
_activation(
    "GELU",
    "Gaussian error linear unit (used in transformers).",
    lambda s, p: nn.GELU(approximate=p["approximate"]),
    (
        ParamSpec(
            "approximate",
            "choice",
            "none",
            "Exact or tanh approximation.",
            choices=("none", "tanh"),
        ),
    ),
)
_activation("SiLU", "x·sigmoid(x), also called swish.", lambda s, p: nn.SiLU())
_activation(
    "Sigmoid",
    "Squashes values into (0, 1): probabilities and [0, 1] pixels.",
    lambda s, p: nn.Sigmoid(),
)
_activation("Tanh", "Squashes values into (−1, 1).", lambda s, p: nn.Tanh())


def _softmax_spec(type_id: str, log: bool, help_text: str) -> None:
    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        _sample_dim(p["dim"], len(shapes[0]), type_id)
        return _same(shapes[0])

    _activation(
        type_id,
        help_text,
        lambda s, p: modules.Softmax(_sample_dim(p["dim"], len(s[0]), type_id) + 1, log),
        (ParamSpec("dim", "int", -1, "Sample dimension to normalize (-1 = last).", -8, 7),),
        infer=infer,
    )


_softmax_spec("Softmax", False, "Turns scores into probabilities that sum to 1.")
_softmax_spec(
    "LogSoftmax", True, "Logarithm of softmax (pairs with a negative log-likelihood loss)."
)

# ---------------------------------------------------------------------------------------------
# Recurrent

_GATES = {"RNN": 1, "GRU": 3, "LSTM": 4}


def _recurrent_infer(kind: str):
    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        shape = _rank(
            shapes,
            (2,),
            kind,
            "sequences (N, T, F)",
            "give the Input a (T, F) shape, or set return_sequences on the layer before",
        )
        width = p["hidden_size"] * (2 if p["bidirectional"] else 1)
        return (shape[0], width) if p["return_sequences"] else (width,)

    return infer


def _recurrent_params(kind: str):
    def count(shapes: Sequence[Shape], p: Params) -> int:
        g, h = _GATES[kind], p["hidden_size"]
        dirs = 2 if p["bidirectional"] else 1
        total, width = 0, shapes[0][-1]
        for _ in range(p["num_layers"]):
            total += dirs * (g * h * (width + h) + 2 * g * h)
            width = h * dirs
        return total

    return count


def _recurrent_macs(kind: str):
    def count(shapes: Sequence[Shape], p: Params, out: Shape) -> int:
        g, h = _GATES[kind], p["hidden_size"]
        dirs = 2 if p["bidirectional"] else 1
        steps, width, total = shapes[0][0], shapes[0][-1], 0
        for _ in range(p["num_layers"]):
            total += steps * dirs * g * h * (width + h)
            width = h * dirs
        return total

    return count


for _kind, _help in (
    ("RNN", "Simple recurrent layer: reads a sequence step by step."),
    ("LSTM", "Long short-term memory: a recurrent layer that keeps long context."),
    ("GRU", "Gated recurrent unit: a lighter LSTM."),
):
    _params = [
        ParamSpec("hidden_size", "int", 64, "Size of the hidden state.", 1, 65_536),
        ParamSpec("num_layers", "int", 1, "Stacked recurrent layers.", 1, 16),
        ParamSpec("bidirectional", "bool", False, "Also read the sequence backwards."),
        ParamSpec(
            "dropout",
            "float",
            0.0,
            "Dropout between stacked layers.",
            0.0,
            1.0,
            exclusive_maximum=True,
        ),
        ParamSpec(
            "return_sequences",
            "bool",
            False,
            "Output every step (N, T, H) instead of the last state (N, H).",
        ),
    ]
    if _kind == "RNN":
        _params.append(
            ParamSpec(
                "nonlinearity",
                "choice",
                "tanh",
                "Activation of the state.",
                choices=("tanh", "relu"),
            )
        )
    register(
        LayerSpec(
            type_id=_kind,
            display_name=_kind,
            category="Recurrent",
            help=_help,
            params=tuple(_params),
            infer=_recurrent_infer(_kind),
            build=(
                lambda kind: (
                    lambda s, p: modules.Recurrent(
                        kind,
                        s[0][-1],
                        p["hidden_size"],
                        p["num_layers"],
                        p["bidirectional"],
                        p["dropout"],
                        p["return_sequences"],
                        p.get("nonlinearity", "tanh"),
                    )
                )
            )(_kind),
            count_params=_recurrent_params(_kind),
            count_macs=_recurrent_macs(_kind),
        )
    )

# ---------------------------------------------------------------------------------------------
# Merge


def _elementwise_infer(name: str):
    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        first = shapes[0]
        for i, shape in enumerate(shapes[1:], start=1):
            if shape != first:
                raise ShapeRuleError(
                    f"{name} needs equal shapes, but {{in0}} and {{in{i}}}",
                    "make both branches produce the same shape",
                )
        return _same(first)

    return infer


def _broadcast_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    """Equal ranks; each size equal or 1 (a (C, 1, 1) gate scales a (C, H, W) map)."""
    out = list(shapes[0])
    for i, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(out) or any(a != b and 1 not in (a, b) for a, b in zip(out, shape)):
            raise ShapeRuleError(
                f"Multiply needs equal shapes (or size 1 where they differ), but {{in0}} and "
                f"{{in{i}}}",
                "make both branches produce the same shape",
            )
        out = [max(a, b) for a, b in zip(out, shape)]
    return tuple(out)


def _concat_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    first = shapes[0]
    dim = _sample_dim(p["dim"], len(first), "Concatenate")
    for i, shape in enumerate(shapes[1:], start=1):
        if len(shape) != len(first) or any(
            a != b for j, (a, b) in enumerate(zip(first, shape)) if j != dim
        ):
            raise ShapeRuleError(
                f"Concatenate along dim {p['dim']} needs all other sizes equal, but {{in0}} "
                f"and {{in{i}}}",
                "change dim or reshape one branch",
            )
    out = list(first)
    out[dim] = sum(s[dim] for s in shapes)
    return tuple(out)


def _elementwise(type_id: str, op: str, help_text: str, infer=None) -> None:
    """Register one element-wise merge of two or more equally shaped inputs (``op`` of Merge)."""
    register(
        LayerSpec(
            type_id=type_id,
            display_name=type_id,
            category="Merge",
            help=help_text,
            inputs=2,
            variadic=True,
            min_inputs=2,
            accepts="any",
            output_dtype="input",
            infer=infer or _elementwise_infer(type_id),
            build=lambda s, p: modules.Merge(op),
        )
    )


_elementwise(
    "Add", "add", "Element-wise sum of two or more equally shaped inputs (residual connections)."
)
_elementwise(
    "Multiply",
    "mul",
    "Element-wise product of two or more equally shaped inputs (gating); a size of 1 stretches "
    "(a (C, 1, 1) gate scales every pixel of its channel).",
    _broadcast_infer,
)
register(
    LayerSpec(
        type_id="Concatenate",
        display_name="Concatenate",
        category="Merge",
        help="Joins inputs along one sample dimension (0 = features or channels).",
        params=(
            ParamSpec("dim", "int", 0, "Sample dimension to join along (batch excluded).", -8, 7),
        ),
        inputs=2,
        variadic=True,
        min_inputs=2,
        accepts="any",
        output_dtype="input",
        infer=_concat_infer,
        build=lambda s, p: modules.Merge(
            "cat", _sample_dim(p["dim"], len(s[0]), "Concatenate") + 1
        ),
        replaces=("Concat",),
    )
)

# ---------------------------------------------------------------------------------------------
# Self-organizing map


def _som_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    _rank(shapes, (1,), "SOM", "feature vectors (N, F)", "insert Flatten between {src0} and {self}")
    return (p["rows"] * p["cols"],)


register(
    LayerSpec(
        type_id="SOM",
        display_name="Self-organizing map",
        category="Self-organizing map",
        help="Grid of prototypes trained by competitive learning; outputs each unit's distance.",
        params=(
            ParamSpec("rows", "int", 10, "Grid rows.", 1, 256),
            ParamSpec("cols", "int", 10, "Grid columns.", 1, 256),
            ParamSpec(
                "sigma",
                "float",
                0.0,
                "Initial neighbourhood radius (0 = half the larger grid side).",
                0.0,
                256.0,
            ),
            ParamSpec("learning_rate", "float", 0.5, "Initial learning rate.", 0.0, 10.0),
        ),
        learning="competitive",
        infer=_som_infer,
        build=lambda s, p: modules.SelfOrganizingMap(s[0][0], p["rows"], p["cols"]),
        count_params=lambda s, p: p["rows"] * p["cols"] * s[0][0],
        count_macs=lambda s, p, out: p["rows"] * p["cols"] * s[0][0],
    )
)

# ---------------------------------------------------------------------------------------------
# Modern building blocks (MobileNet / EfficientNet / Transformer): activations, normalizations,
# pooling, dimension shuffles, reductions and attention.

_activation("ReLU6", "min(max(0, x), 6): ReLU capped at 6 (MobileNet).", lambda s, p: nn.ReLU6())
_activation(
    "Hardswish",
    "x·ReLU6(x + 3)/6: a cheap swish (MobileNetV3).",
    lambda s, p: nn.Hardswish(),
)
_activation(
    "Hardsigmoid",
    "ReLU6(x + 3)/6: a cheap sigmoid (MobileNetV3 squeeze-excitation).",
    lambda s, p: nn.Hardsigmoid(),
)

_EPS = ParamSpec("eps", "float", 1e-5, "Added to the variance for stability.", 1e-12, 1.0)


def _groupnorm_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(shapes, (1, 2, 3), "GroupNorm", "(N, C), (N, C, L) or (N, C, H, W)")
    if shape[0] % p["num_groups"]:
        raise ShapeRuleError(
            f"GroupNorm: {shape[0]} channels are not divisible by num_groups "
            f"{p['num_groups']} ({{in0}})",
            f"choose num_groups dividing {shape[0]}",
        )
    return _same(shape)


register(
    LayerSpec(
        type_id="GroupNorm",
        display_name="GroupNorm",
        category="Normalization",
        help="Normalizes groups of channels within each sample (batch-size independent).",
        params=(
            ParamSpec(
                "num_groups", "int", 1, "Channel groups (must divide the channels).", 1, 65_536
            ),
            _EPS,
            ParamSpec("affine", "bool", True, "Learn a scale and shift per channel."),
        ),
        infer=_groupnorm_infer,
        build=lambda s, p: nn.GroupNorm(p["num_groups"], s[0][0], eps=p["eps"], affine=p["affine"]),
        count_params=lambda s, p: 2 * s[0][0] if p["affine"] else 0,
        count_macs=lambda s, p, out: numel(s[0]),
    )
)
register(
    LayerSpec(
        type_id="InstanceNorm2d",
        display_name="InstanceNorm2d",
        category="Normalization",
        help="Normalizes each channel of each image on its own (style transfer, small batches).",
        params=(
            _EPS,
            ParamSpec("affine", "bool", False, "Learn a scale and shift per channel."),
        ),
        infer=lambda s, p: _rank(
            s, (3,), "InstanceNorm2d", "(N, C, H, W)", "use LayerNorm or GroupNorm for vectors"
        ),
        build=lambda s, p: nn.InstanceNorm2d(s[0][0], eps=p["eps"], affine=p["affine"]),
        count_params=lambda s, p: 2 * s[0][0] if p["affine"] else 0,
        count_macs=lambda s, p, out: numel(s[0]),
    )
)

register(
    LayerSpec(
        type_id="Dropout2d",
        display_name="Dropout2d",
        category="Core",
        help="Randomly zeroes whole channels of an image while training.",
        params=(
            ParamSpec(
                "p",
                "float",
                0.5,
                "Probability of zeroing each channel.",
                0.0,
                1.0,
                exclusive_maximum=True,
            ),
        ),
        infer=lambda s, p: _rank(s, (3,), "Dropout2d", "(N, C, H, W)", "use Dropout for vectors"),
        build=lambda s, p: nn.Dropout2d(p["p"]),
    )
)


def _global_pool(type_id: str, op: str, help_text: str) -> None:
    """Register a global pooling layer: (N, C, L) or (N, C, H, W) → (N, C)."""

    def infer(shapes: Sequence[Shape], p: Params) -> Shape:
        shape = _rank(shapes, (2, 3), type_id, "(N, C, L) or (N, C, H, W)")
        return (shape[0],)

    register(
        LayerSpec(
            type_id=type_id,
            display_name=type_id,
            category="Convolution",
            help=help_text,
            infer=infer,
            build=lambda s, p: modules.Reduce(op, tuple(range(2, len(s[0]) + 1))),
        )
    )


_global_pool(
    "GlobalAvgPool", "mean", "Averages each channel over the whole map: (N, C, H, W) → (N, C)."
)
_global_pool("GlobalMaxPool", "max", "Largest value of each channel: (N, C, H, W) → (N, C).")


def _permute_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape, dims = shapes[0], list(p["dims"])
    if sorted(dims) != list(range(len(shape))):
        raise ShapeRuleError(
            f"Permute: dims {tuple(dims)} are not an order of the {len(shape)} sample "
            "dimensions of {in0}",
            f"list each of 0..{len(shape) - 1} once (0 is the first dimension after N)",
        )
    return tuple(shape[d] for d in dims)


register(
    LayerSpec(
        type_id="Permute",
        display_name="Permute",
        category="Core",
        help="Reorders the sample dimensions, e.g. (C, H, W) → (H, W, C) with dims [1, 2, 0].",
        params=(
            ParamSpec(
                "dims",
                "shape",
                [1, 0],
                "New order of the sample dimensions (0 = first after N).",
                minimum=0,
            ),
        ),
        accepts="any",
        output_dtype="input",
        infer=_permute_infer,
        build=lambda s, p: modules.Permute((0, *(d + 1 for d in p["dims"]))),
    )
)


def _transpose_dims(shapes: Sequence[Shape], p: Params) -> tuple[int, int]:
    rank = len(shapes[0])
    return _sample_dim(p["dim0"], rank, "Transpose"), _sample_dim(p["dim1"], rank, "Transpose")


def _transpose_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    a, b = _transpose_dims(shapes, p)
    out = list(shapes[0])
    out[a], out[b] = out[b], out[a]
    return tuple(out)


register(
    LayerSpec(
        type_id="Transpose",
        display_name="Transpose",
        category="Core",
        help="Swaps two sample dimensions, e.g. (T, F) → (F, T) for Conv1d over a sequence.",
        params=(
            ParamSpec("dim0", "int", 0, "First sample dimension (batch excluded).", -8, 7),
            ParamSpec("dim1", "int", 1, "Second sample dimension.", -8, 7),
        ),
        accepts="any",
        output_dtype="input",
        infer=_transpose_infer,
        build=lambda s, p: _transpose_module(s, p),
    )
)


def _transpose_module(shapes: Sequence[Shape], p: Params):
    a, b = _transpose_dims(shapes, p)
    order = list(range(len(shapes[0])))
    order[a], order[b] = order[b], order[a]
    return modules.Permute((0, *(d + 1 for d in order)))


def _squeeze_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = shapes[0]
    dim = _sample_dim(p["dim"], len(shape), "Squeeze")
    if shape[dim] != 1 or len(shape) == 1:
        raise ShapeRuleError(
            f"Squeeze: sample dimension {p['dim']} of {{in0}} has size {shape[dim]}, not 1"
            if len(shape) > 1
            else "Squeeze would leave no sample dimension of {in0}",
            "choose a dimension of size 1, or use Reshape or Flatten",
        )
    return tuple(d for i, d in enumerate(shape) if i != dim)


def _unsqueeze_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = shapes[0]
    rank = len(shape) + 1
    if not -rank <= p["dim"] < rank:
        raise ShapeRuleError(
            f"Unsqueeze: dim {p['dim']} is out of range for {{in0}}",
            f"choose dim between {-rank} and {rank - 1}",
        )
    out = list(shape)
    out.insert(p["dim"] % rank, 1)
    return tuple(out)


for _type, _infer, _help in (
    ("Squeeze", _squeeze_infer, "Removes a sample dimension of size 1: (1, F) → (F)."),
    ("Unsqueeze", _unsqueeze_infer, "Inserts a sample dimension of size 1: (F) → (1, F)."),
):
    register(
        LayerSpec(
            type_id=_type,
            display_name=_type,
            category="Core",
            help=_help,
            params=(ParamSpec("dim", "int", 0, "Sample dimension (batch excluded).", -8, 7),),
            accepts="any",
            output_dtype="input",
            infer=_infer,
            build=(lambda infer: lambda s, p: modules.Reshape(infer(s, p)))(_infer),
        )
    )


def _scale_shape(shapes: Sequence[Shape], p: Params) -> tuple[int, ...]:
    shape = shapes[0]
    if p["per"] == "scalar":
        return (1,)
    if p["per"] == "feature":
        return (shape[-1],)
    return (shape[0], *([1] * (len(shape) - 1)))


register(
    LayerSpec(
        type_id="Scale",
        display_name="Scale",
        category="Core",
        help="Multiplies by a learned scale: one number, one per channel or one per feature.",
        params=(
            ParamSpec(
                "per",
                "choice",
                "channel",
                "One scale per channel (first sample dimension), per feature (last) or one scalar.",
                choices=("channel", "feature", "scalar"),
            ),
            ParamSpec("init", "float", 1.0, "Starting value of the scale.", -1e6, 1e6),
        ),
        infer=lambda s, p: _same(s[0]),
        build=lambda s, p: modules.Scale(_scale_shape(s, p), p["init"]),
        count_params=lambda s, p: numel(_scale_shape(s, p)),
        count_macs=lambda s, p, out: numel(s[0]),
    )
)


def _mean_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = shapes[0]
    dim = _sample_dim(p["dim"], len(shape), "Mean")
    if p["keepdim"]:
        return tuple(1 if i == dim else d for i, d in enumerate(shape))
    if len(shape) == 1:
        raise ShapeRuleError(
            "Mean over the only sample dimension of {in0} leaves nothing", "set keepdim to true"
        )
    return tuple(d for i, d in enumerate(shape) if i != dim)


register(
    LayerSpec(
        type_id="Mean",
        display_name="Mean",
        category="Core",
        help="Averages over one sample dimension, e.g. the tokens of (N, T, F) → (N, F).",
        params=(
            ParamSpec("dim", "int", 0, "Sample dimension to average over (batch excluded).", -8, 7),
            ParamSpec("keepdim", "bool", False, "Keep the dimension with size 1."),
        ),
        infer=_mean_infer,
        build=lambda s, p: modules.Reduce(
            "mean", (_sample_dim(p["dim"], len(s[0]), "Mean") + 1,), p["keepdim"]
        ),
    )
)

register(
    LayerSpec(
        type_id="Subtract",
        display_name="Subtract",
        category="Merge",
        help="Element-wise difference of two equally shaped inputs: in1 − in2.",
        inputs=2,
        accepts="any",
        output_dtype="input",
        infer=_elementwise_infer("Subtract"),
        build=lambda s, p: modules.Merge("sub"),
    )
)

# -- attention ---------------------------------------------------------------------------------


def _tokens(shapes: Sequence[Shape], name: str) -> Shape:
    return _rank(
        shapes,
        (2,),
        name,
        "token sequences (N, T, F)",
        "give the Input a (T, F) shape, or use PatchEmbedding for images",
    )


def _heads(shape: Shape, p: Params, name: str) -> None:
    if shape[-1] % p["num_heads"]:
        raise ShapeRuleError(
            f"{name}: num_heads {p['num_heads']} does not divide the {shape[-1]} features of "
            "{in0}",
            f"choose num_heads dividing {shape[-1]}",
        )


def _attention_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _tokens(shapes, "MultiheadAttention")
    _heads(shape, p, "MultiheadAttention")
    return _same(shape)


def _attention_params(f: int, bias: bool) -> int:
    return 4 * f * f + (4 * f if bias else 0)


_HEADS = ParamSpec("num_heads", "int", 4, "Attention heads (must divide the features).", 1, 1024)
_ATT_DROPOUT = ParamSpec(
    "dropout", "float", 0.0, "Dropout on the attention weights.", 0.0, 1.0, exclusive_maximum=True
)

register(
    LayerSpec(
        type_id="MultiheadAttention",
        display_name="MultiheadAttention",
        category="Attention",
        help="Self-attention: each token of (N, T, F) mixes in the tokens it attends to.",
        params=(
            _HEADS,
            _ATT_DROPOUT,
            ParamSpec("bias", "bool", True, "Learn biases in the projections."),
            ParamSpec("causal", "bool", False, "Each token sees only itself and earlier tokens."),
        ),
        infer=_attention_infer,
        build=lambda s, p: modules.SelfAttention(
            s[0][-1], p["num_heads"], s[0][0], p["dropout"], p["bias"], p["causal"]
        ),
        count_params=lambda s, p: _attention_params(s[0][-1], p["bias"]),
        count_macs=lambda s, p, out: s[0][0] * 4 * s[0][-1] ** 2 + 2 * s[0][0] ** 2 * s[0][-1],
    )
)


def _encoder_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _tokens(shapes, "TransformerEncoderLayer")
    _heads(shape, p, "TransformerEncoderLayer")
    return _same(shape)


register(
    LayerSpec(
        type_id="TransformerEncoderLayer",
        display_name="TransformerEncoderLayer",
        category="Attention",
        help="Self-attention then a feed-forward network, each with a residual and LayerNorm.",
        params=(
            _HEADS,
            ParamSpec(
                "dim_feedforward", "int", 128, "Width of the feed-forward layer.", 1, 1_000_000
            ),
            ParamSpec(
                "dropout", "float", 0.1, "Dropout in the layer.", 0.0, 1.0, exclusive_maximum=True
            ),
            ParamSpec(
                "activation", "choice", "relu", "Feed-forward activation.", choices=("relu", "gelu")
            ),
            ParamSpec("norm_first", "bool", False, "LayerNorm before each part (pre-norm)."),
            _EPS,
        ),
        infer=_encoder_infer,
        build=lambda s, p: nn.TransformerEncoderLayer(
            s[0][-1],
            p["num_heads"],
            dim_feedforward=p["dim_feedforward"],
            dropout=p["dropout"],
            activation=p["activation"],
            layer_norm_eps=p["eps"],
            batch_first=True,
            norm_first=p["norm_first"],
        ),
        count_params=lambda s, p: (
            _attention_params(s[0][-1], True)
            + 2 * s[0][-1] * p["dim_feedforward"]
            + p["dim_feedforward"]
            + 5 * s[0][-1]
        ),
        count_macs=lambda s, p, out: (
            s[0][0] * (4 * s[0][-1] ** 2 + 2 * s[0][-1] * p["dim_feedforward"])
            + 2 * s[0][0] ** 2 * s[0][-1]
        ),
    )
)


def _positional_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _tokens(shapes, "PositionalEncoding")
    if p["kind"] == "sinusoidal" and shape[-1] % 2:
        raise ShapeRuleError(
            "PositionalEncoding: sinusoidal codes need an even number of features, but {in0}",
            "use kind 'learned' or an even feature count",
        )
    return _same(shape)


register(
    LayerSpec(
        type_id="PositionalEncoding",
        display_name="PositionalEncoding",
        category="Attention",
        help="Adds where each token is to (N, T, F): a learned or a fixed sinusoidal code.",
        params=(
            ParamSpec(
                "kind",
                "choice",
                "learned",
                "Learned per position, or fixed sine/cosine waves.",
                choices=("learned", "sinusoidal"),
            ),
        ),
        infer=_positional_infer,
        build=lambda s, p: modules.PositionalEncoding(s[0][0], s[0][1], p["kind"]),
        count_params=lambda s, p: numel(s[0]) if p["kind"] == "learned" else 0,
        count_macs=lambda s, p, out: numel(s[0]),
    )
)


def _patch_infer(shapes: Sequence[Shape], p: Params) -> Shape:
    shape = _rank(shapes, (3,), "PatchEmbedding", "images (N, C, H, W)")
    k = p["patch_size"]
    if shape[1] % k or shape[2] % k:
        raise ShapeRuleError(
            f"PatchEmbedding: patch_size {k} does not divide the {shape[1]}×{shape[2]} "
            "image of {in0}",
            "choose a patch_size dividing the height and width",
        )
    return ((shape[1] // k) * (shape[2] // k), p["features"])


register(
    LayerSpec(
        type_id="PatchEmbedding",
        display_name="PatchEmbedding",
        category="Attention",
        help="Cuts images into square patches and embeds each as a token: (N, T, F).",
        params=(
            ParamSpec("patch_size", "int", 4, "Side of each square patch.", 1, 256),
            ParamSpec("features", "int", 64, "Length of each token vector.", 1, 65_536),
        ),
        infer=_patch_infer,
        build=lambda s, p: modules.PatchEmbedding(s[0][0], p["features"], p["patch_size"]),
        count_params=lambda s, p: s[0][0] * p["patch_size"] ** 2 * p["features"] + p["features"],
        count_macs=lambda s, p, out: numel(out) * s[0][0] * p["patch_size"] ** 2,
    )
)
