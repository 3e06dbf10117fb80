"""The generated PyTorch code: every layer type, hostile names and labels, and its weights.

Designs here use random (untrained) weights: what matters is that the generated module, loaded
with the exported safetensors in a fresh interpreter, computes exactly what the compiled design
computes, for every layer type and setting the registry offers.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.compile import compile_design
from engine.export import export_formats, prepare_export
from engine.export.codegen import LAYER_CODE, STRUCTURAL, comment_text, safe_identifier
from engine.graph import Design, Edge, Node
from engine.layers import REGISTRY
from engine.shapes import analyze
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from tests.helpers import run_generated_models

INJECTION = 'x"); import os; os.system("echo pwned'


def _design(name: str, nodes: list[tuple], edges: list[tuple], networks=None) -> Design:
    """``nodes``: (id, type, params[, label]); ``edges``: (source, target[, port])."""
    design = Design(name)
    if networks:
        design.networks = networks
    for spec in nodes:
        node_id, type_id, params = spec[:3]
        design.add_node(
            Node(node_id, type_id, dict(params), label=spec[3] if len(spec) > 3 else "")
        )
    for e in edges:
        design.add_edge(Edge(e[0], e[1], e[2] if len(e) > 2 else 0))
    problems = analyze(design).problems
    assert not problems, problems
    return design


def tokens_design() -> Design:
    """Embedding, Conv1d, MaxPool1d, LayerNorm, GELU(tanh), BatchNorm1d, ELU, SiLU, Softmax."""
    return _design(
        "Tokens & friends",
        [
            ("tokens", "Input", {"shape": [6], "dtype": "int64"}),
            ("embed", "Embedding", {"num_embeddings": 20, "embedding_dim": 8}),
            ("conv", "Conv1d", {"out_channels": 5, "kernel_size": 3, "stride": 2, "bias": False}),
            ("pool", "MaxPool1d", {"kernel_size": 2}),
            ("flat", "Flatten", {}),
            ("fc", "Linear", {"out_features": 12}),
            ("norm", "LayerNorm", {"eps": 1e-3}),
            ("gelu", "GELU", {"approximate": "tanh"}),
            ("drop", "Dropout", {"p": 0.3}),
            ("bn", "BatchNorm1d", {"momentum": 0.2}),
            ("elu", "ELU", {"alpha": 0.5}),
            ("silu", "SiLU", {}),
            ("fc2", "Linear", {"out_features": 4, "bias": False}),
            ("probs", "Softmax", {}),
            ("out", "Output", {}),
        ],
        [
            ("tokens", "embed"),
            ("embed", "conv"),
            ("conv", "pool"),
            ("pool", "flat"),
            ("flat", "fc"),
            ("fc", "norm"),
            ("norm", "gelu"),
            ("gelu", "drop"),
            ("drop", "bn"),
            ("bn", "elu"),
            ("elu", "silu"),
            ("silu", "fc2"),
            ("fc2", "probs"),
            ("probs", "out"),
        ],
    )


def images_design() -> Design:
    """Conv2d, BatchNorm2d, LeakyReLU, ConvTranspose2d, pools, Upsample, merges, Reshape."""
    return _design(
        "images",
        [
            ("img", "Input", {"shape": [3, 8, 8]}),
            ("conv", "Conv2d", {"out_channels": 4, "kernel_size": 3, "stride": 2, "padding": 1}),
            ("bn", "BatchNorm2d", {"eps": 1e-3}),
            ("leaky", "LeakyReLU", {"negative_slope": 0.1}),
            (
                "up",
                "ConvTranspose2d",
                {
                    "out_channels": 4,
                    "kernel_size": 3,
                    "stride": 2,
                    "padding": 1,
                    "output_padding": 1,
                },
            ),
            ("avg", "AvgPool2d", {"kernel_size": 3, "stride": 1, "padding": 1}),
            ("bilinear", "Upsample", {"scale_factor": 2, "mode": "bilinear"}),
            ("maxp", "MaxPool2d", {"kernel_size": 2}),
            ("gap", "AdaptiveAvgPool2d", {"output_size": 2}),
            ("tanh", "Tanh", {}),
            ("sig", "Sigmoid", {}),
            ("add", "Add", {}),
            ("mul", "Multiply", {}),
            ("cat", "Concatenate", {"dim": 0}),
            ("reshape", "Reshape", {"shape": [4, -1]}),
            ("near", "Upsample", {"scale_factor": 2}),
            ("flat", "Flatten", {}),
            ("logp", "LogSoftmax", {}),
            ("out", "Output", {}),
        ],
        [
            ("img", "conv"),
            ("conv", "bn"),
            ("bn", "leaky"),
            ("leaky", "up"),
            ("up", "avg"),
            ("avg", "bilinear"),
            ("bilinear", "maxp"),
            ("maxp", "gap"),
            ("gap", "tanh"),
            ("gap", "sig"),
            ("tanh", "add"),
            ("sig", "add", 1),
            ("tanh", "mul"),
            ("sig", "mul", 1),
            ("add", "cat"),
            ("mul", "cat", 1),
            ("gap", "cat", 2),
            ("cat", "reshape"),
            ("reshape", "near"),
            ("near", "flat"),
            ("flat", "logp"),
            ("logp", "out"),
        ],
    )


def recurrent_design() -> Design:
    """GRU (sequences, bidirectional, stacked), LSTM (last step), RNN (relu); two outputs."""
    return _design(
        "recurrent",
        [
            ("seq", "Input", {"shape": [5, 4]}),
            (
                "gru",
                "GRU",
                {
                    "hidden_size": 6,
                    "num_layers": 2,
                    "bidirectional": True,
                    "dropout": 0.2,
                    "return_sequences": True,
                },
            ),
            ("lstm", "LSTM", {"hidden_size": 7}),
            ("rnn", "RNN", {"hidden_size": 3, "nonlinearity": "relu", "bidirectional": True}),
            ("a", "Output", {}),
            ("b", "Output", {}),
        ],
        [("seq", "gru"), ("gru", "lstm"), ("lstm", "a"), ("seq", "rnn"), ("rnn", "b")],
    )


def modern_design() -> Design:
    """MobileNet / Transformer layers: grouped and dilated convs, new activations and norms,
    global pools, dimension shuffles, Scale, Mean, Subtract, attention and positions."""
    return _design(
        "modern",
        [
            ("img", "Input", {"shape": [4, 8, 8]}),
            ("dw", "Conv2d", {"out_channels": 8, "groups": 4, "dilation": 2, "padding": 2}),
            ("gn", "GroupNorm", {"num_groups": 2}),
            ("r6", "ReLU6", {}),
            ("inorm", "InstanceNorm2d", {"affine": True}),
            ("hs", "Hardswish", {}),
            ("drop2", "Dropout2d", {"p": 0.1}),
            ("gap", "GlobalAvgPool", {}),
            ("gmp", "GlobalMaxPool", {}),
            ("hsig", "Hardsigmoid", {}),
            ("sub", "Subtract", {}),
            ("patch", "PatchEmbedding", {"patch_size": 4, "features": 8}),
            ("pos", "PositionalEncoding", {"kind": "sinusoidal"}),
            ("lpos", "PositionalEncoding", {}),
            ("attn", "MultiheadAttention", {"num_heads": 2, "causal": True}),
            ("enc", "TransformerEncoderLayer", {"num_heads": 2, "dim_feedforward": 16}),
            ("scale", "Scale", {"per": "feature", "init": 0.5}),
            ("tr", "Transpose", {}),
            ("perm", "Permute", {"dims": [1, 0]}),
            ("unsq", "Unsqueeze", {"dim": 0}),
            ("sq", "Squeeze", {"dim": 0}),
            ("mean", "Mean", {"dim": 0}),
            ("cat", "Concatenate", {}),
            ("s1", "Scale", {"per": "scalar"}),
            ("out", "Output", {}),
        ],
        [
            ("img", "dw"),
            ("dw", "gn"),
            ("gn", "r6"),
            ("r6", "inorm"),
            ("inorm", "hs"),
            ("hs", "drop2"),
            ("drop2", "gap"),
            ("drop2", "gmp"),
            ("gmp", "hsig"),
            ("gap", "sub"),
            ("hsig", "sub", 1),
            ("img", "patch"),
            ("patch", "pos"),
            ("pos", "lpos"),
            ("lpos", "attn"),
            ("attn", "enc"),
            ("enc", "scale"),
            ("scale", "tr"),
            ("tr", "perm"),
            ("perm", "unsq"),
            ("unsq", "sq"),
            ("sq", "mean"),
            ("sub", "cat"),
            ("mean", "cat", 1),
            ("cat", "s1"),
            ("s1", "out"),
        ],
    )


def hostile_design() -> Design:
    """Keywords and shadowing names as ids, code-like labels, unicode and newlines."""
    return _design(
        'x"""; import os\n#',
        [
            ("import", "Input", {"shape": [5]}, INJECTION),
            ("class", "Linear", {"out_features": 4}, "line\nimport os; os.system('echo pwned')"),
            ("self", "ReLU", {}, "torch"),
            ("torch", "Linear", {"out_features": 4}, "Größe 𝔘 ☃"),
            ("x", "Add", {}, "\\\"\r\n'''"),
            ("nn", "Linear", {"out_features": 2}, "1st layer"),
            ("out", "Output", {}, "return"),
        ],
        [
            ("import", "class"),
            ("class", "self"),
            ("self", "torch"),
            ("torch", "x"),
            ("self", "x", 1),
            ("x", "nn"),
            ("nn", "out"),
        ],
    )


def _checkpoint(design: Design, path: Path) -> None:
    torch.manual_seed(1)
    modules = {}
    for network in design.networks:
        net = compile_design(design, network)
        for module in net.modules():  # non-trivial running statistics
            if isinstance(module, torch.nn.modules.batchnorm._BatchNorm):
                module.running_mean.uniform_(-1, 1)
                module.running_var.uniform_(0.5, 2)
        modules[network] = net
    save_checkpoint(path, checkpoint_from_modules(design, modules))


def test_every_layer_type_has_a_code_rule():
    missing = [
        spec.type_id
        for spec in REGISTRY
        if spec.type_id not in LAYER_CODE and spec.type_id not in STRUCTURAL
    ]
    assert missing == []


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Each design exported as Python (+ weights) and .pt2, with reference outputs."""
    folder = tmp_path_factory.mktemp("codegen")
    cases = {}
    for make in (tokens_design, images_design, recurrent_design, modern_design, hostile_design):
        design = make()
        key = make.__name__
        ckpt = folder / f"{key}.pt"
        _checkpoint(design, ckpt)
        results = export_formats(
            design, ckpt, {"python": folder / f"{key}.py", "pt2": folder / f"{key}.pt2"}
        )
        plan = prepare_export(design, ckpt)
        gen = torch.Generator().manual_seed(3)
        if plan.input_dtypes[0] == "int64":
            x = (torch.randint(0, 20, (5, 6), generator=gen),)
        else:
            x = (torch.randn((5, *plan.input_shapes[0]), generator=gen),)
        with torch.no_grad():
            ref = plan.module(*x)
        cases[key] = {
            "results": {r.format: r for r in results},
            "x": x,
            "ref": ref if isinstance(ref, tuple) else (ref,),
            "plan": plan,
        }
    return cases


def test_generated_modules_match_the_compiled_design_in_a_fresh_interpreter(generated, tmp_path):
    jobs = []
    for key, case in generated.items():
        result = case["results"]["python"]
        np.savez(tmp_path / f"{key}_in.npz", *[t.numpy() for t in case["x"]])
        jobs.append(
            {
                "py": str(result.paths[0]),
                "cls": result.sidecar["python_class"],
                "weights": str(result.paths[1]),
                "inputs": str(tmp_path / f"{key}_in.npz"),
                "out": str(tmp_path / f"{key}_out.npz"),
            }
        )
    proc = run_generated_models(jobs, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "pwned" not in proc.stdout + proc.stderr
    for key, case in generated.items():
        got = np.load(tmp_path / f"{key}_out.npz")
        assert len(got.files) == len(case["ref"]), key
        for i, want in enumerate(case["ref"]):
            np.testing.assert_allclose(
                got[f"arr_{i}"], want.numpy(), atol=1e-5, rtol=0, err_msg=key
            )


def test_pt2_of_every_layer_type_reloads_equal(generated):
    for key, case in generated.items():
        program = torch.export.load(str(case["results"]["pt2"].paths[0]))
        with torch.no_grad():
            got = program.module()(*case["x"])
        got = got if isinstance(got, tuple) else (got,)
        for g, want in zip(got, case["ref"], strict=True):
            torch.testing.assert_close(g, want, atol=1e-6, rtol=0, msg=key)


def test_hostile_names_become_harmless_identifiers(generated, tmp_path):
    code = generated["hostile_design"]["results"]["python"].paths[0].read_text()
    compile(code, "hostile.py", "exec")  # valid Python
    for line in code.splitlines():
        stripped = line.strip()
        # the injected text may survive only inside comments or string literals
        assert not stripped.startswith("import os"), line
        assert "os.system" not in stripped or stripped.startswith("#"), line
    assert "self.class_ = " not in code and "self.import" not in code
    assert "def forward(self, x_import_os_os_system_echo_pwned" in code
    # running the file as a script executes nothing injected
    proc = subprocess.run(
        [sys.executable, str(generated["hostile_design"]["results"]["python"].paths[0])],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "pwned" not in proc.stdout.replace("x_import_os_os_system_echo_pwned", "")


def test_generated_code_passes_ruff(generated, assert_ruff_clean):
    assert_ruff_clean([c["results"]["python"].paths[0] for c in generated.values()])


def test_generated_forward_reads_like_hand_written_pytorch(generated):
    code = generated["recurrent_design"]["results"]["python"].paths[0].read_text()
    assert "self.gru = nn.GRU(\n" in code or "self.gru = nn.GRU(4, 6, num_layers=2" in code
    assert "gru, _ = self.gru(seq)" in code
    assert "_, (h_n, _) = self.lstm(gru)" in code and "lstm = h_n[-1]" in code
    assert "rnn = torch.cat([h_n[-2], h_n[-1]], dim=-1)" in code
    assert "return lstm, rnn" in code
    images = generated["images_design"]["results"]["python"].paths[0].read_text()
    assert "add = tanh + sig" in images and "mul = tanh * sig" in images
    assert "cat = torch.cat([add, mul, gap], dim=1)" in images
    assert "reshape = cat.reshape(cat.shape[0], 4, 12)" in images


@pytest.mark.parametrize(
    "text, expected",
    [
        ("class", "class_2"),
        ("import", "import_2"),
        ("forward", "forward_2"),
        ("1st", "layer_1st"),
        ("Größe", "grosse"),
        ("", "layer"),
        ("a b-c", "a_b_c"),
        (INJECTION, "x_import_os_os_system_echo_pwned"),
    ],
)
def test_safe_identifier(text, expected):
    name = safe_identifier(text, set())
    assert name.isidentifier() and name == expected


def test_comment_text_keeps_one_harmless_line():
    text = comment_text('a\nb\r"c"\\ \u2028 d')
    assert "\n" not in text and "\r" not in text and '"' not in text and "\\" not in text


def test_onnx_of_the_modern_layers_matches_torch_at_batch_1_and_4(tmp_path):
    """Grouped/dilated convs, new norms and activations, shuffles and attention all go to ONNX."""
    import onnxruntime as ort

    design = modern_design()
    ckpt = tmp_path / "modern.pt"
    _checkpoint(design, ckpt)
    export_formats(design, ckpt, {"onnx": tmp_path / "modern.onnx"})
    plan = prepare_export(design, ckpt)
    session = ort.InferenceSession(str(tmp_path / "modern.onnx"))
    for batch in (1, 4):
        x = torch.randn(batch, *plan.input_shapes[0])
        with torch.no_grad():
            want = plan.module(x).numpy()
        got = session.run(None, {session.get_inputs()[0].name: x.numpy()})[0]
        assert got.shape == want.shape
        assert float(abs(got - want).max()) < 1e-4
