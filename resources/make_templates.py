"""Regenerate ``resources/templates/*.json`` (one design per family) in canonical form.

Run ``python -m resources.make_templates`` after changing a template here; the tests check that
every template is valid, trains, and round-trips byte for byte.
"""

from __future__ import annotations

from typing import Any

from engine.graph import Design, Edge, Node
from engine.io import save_design
from resources import BLOCK_TEMPLATES, DATASET_TEMPLATES, TEMPLATES, template_path

# Column step as the canvas' auto-layout (184-pixel nodes plus room for the wires' shape labels).
X_STEP, Y_ROW, WRAP_ROW = 240.0, 260.0, 160.0


def chain(
    design: Design,
    layers: list[tuple[str, str, dict[str, Any]]],
    network: str = "main",
    y: float = 0.0,
    per_row: int | None = None,
) -> None:
    """Add ``(id, type, params)`` layers wired one after another, laid out left to right.

    With ``per_row`` a long chain wraps onto further rows, so it stays readable when fitted.
    """
    prev = None
    for i, (node_id, type_id, params) in enumerate(layers):
        row, col = divmod(i, per_row or len(layers))
        pos = (col * X_STEP, y + row * WRAP_ROW)
        design.add_node(Node(node_id, type_id, params, pos, network=network))
        if prev is not None:
            design.add_edge(Edge(prev, node_id))
        prev = node_id


def _digits(form: str, val: float = 0.2, stratify: bool = True, **extra: Any) -> dict[str, Any]:
    """The data section: the built-in digits in ``form``, ``val`` of them held out."""
    split = {"val": val, "test": 0.0, "stratify": stratify}
    return {"source": "builtin", "name": "digits", "form": form, "split": split, **extra}


def _design(
    name: str, description: str, layers, data: dict, training: dict, per_row: int | None = None
) -> Design:
    """A one-network design: ``layers`` as a chain, with its data and training sections."""
    d = Design(name, description)
    chain(d, layers, per_row=per_row)
    d.data = data
    d.training = training
    return d


def _classifier(
    name: str,
    description: str,
    layers,
    data: dict,
    epochs: int,
    lr: float = 1e-3,
    per_row: int | None = None,
    **training: Any,
) -> Design:
    """A digit classifier trained with Adam on cross-entropy."""
    return _design(
        name,
        description,
        layers,
        data,
        {
            "task": "classification",
            "loss": "cross_entropy",
            "optimizer": "adam",
            "lr": lr,
            "batch_size": 64,
            "epochs": epochs,
            **training,
        },
        per_row,
    )


def build() -> dict[str, Design]:
    """All seven family templates."""
    t: dict[str, Design] = {}
    t["mlp"] = _classifier(
        "MLP on digits",
        TEMPLATES["mlp"][1],
        [
            ("pixels", "Input", {"shape": [64]}),
            ("hidden1", "Linear", {"out_features": 128}),
            ("relu1", "ReLU", {}),
            ("dropout1", "Dropout", {"p": 0.1}),
            ("hidden2", "Linear", {"out_features": 64}),
            ("relu2", "ReLU", {}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("flat", preprocess={"scale": "standard"}),
        epochs=30,
    )
    t["cnn"] = _classifier(
        "CNN on digits",
        TEMPLATES["cnn"][1],
        [
            ("image", "Input", {"shape": [1, 8, 8]}),
            ("conv1", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
            ("bn1", "BatchNorm2d", {}),
            ("relu1", "ReLU", {}),
            ("conv2", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("relu2", "ReLU", {}),
            ("pool", "MaxPool2d", {"kernel_size": 2}),
            ("flatten", "Flatten", {}),
            ("dense", "Linear", {"out_features": 64}),
            ("relu3", "ReLU", {}),
            ("dropout", "Dropout", {"p": 0.25}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("image"),
        epochs=30,
        per_row=7,
    )  # feature extraction, then classification
    t["rnn"] = _classifier(
        "RNN on digit rows",
        TEMPLATES["rnn"][1],
        [
            ("rows", "Input", {"shape": [8, 8]}),
            ("rnn", "RNN", {"hidden_size": 64}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("sequence"),
        epochs=40,
        lr=2e-3,
    )
    t["lstm"] = _classifier(
        "LSTM on digit rows",
        TEMPLATES["lstm"][1],
        [
            ("rows", "Input", {"shape": [8, 8]}),
            (
                "lstm",
                "LSTM",
                {"hidden_size": 64, "num_layers": 2, "bidirectional": True, "dropout": 0.1},
            ),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("sequence"),
        epochs=30,
        lr=2e-3,
    )
    t["transformer"] = _classifier(
        "Transformer on digit rows",
        TEMPLATES["transformer"][1],
        [
            ("rows", "Input", {"shape": [8, 8]}),
            ("embed", "Linear", {"out_features": 32}),
            ("positions", "PositionalEncoding", {}),
            (
                "encoder1",
                "TransformerEncoderLayer",
                {"num_heads": 4, "dim_feedforward": 64, "norm_first": True},
            ),
            (
                "encoder2",
                "TransformerEncoderLayer",
                {"num_heads": 4, "dim_feedforward": 64, "norm_first": True},
            ),
            ("pool", "Mean", {"dim": 0}),
            ("norm", "LayerNorm", {}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("sequence"),
        epochs=30,
        lr=2e-3,
        per_row=5,
    )

    t["autoencoder"] = _design(
        "Autoencoder on digits",
        TEMPLATES["autoencoder"][1],
        [
            ("pixels", "Input", {"shape": [64]}),
            ("enc1", "Linear", {"out_features": 128}),
            ("enc_relu", "ReLU", {}),
            ("code", "Linear", {"out_features": 16}),  # linear bottleneck: no ReLU here,
            ("dec1", "Linear", {"out_features": 128}),
            ("dec_relu", "ReLU", {}),  # dead
            ("dec2", "Linear", {"out_features": 64}),
            ("pixels_out", "Sigmoid", {}),  # codes
            ("reconstruction", "Output", {}),
        ],  # cost 2× the reconstruction MSE
        _digits("flat", stratify=False),
        {
            "task": "reconstruction",
            "loss": "mse",
            "optimizer": "adam",
            "lr": 2e-3,
            "batch_size": 64,
            "epochs": 60,
            "denoise_std": 0.0,
        },
        per_row=5,
    )

    gan = Design("GAN on digits", TEMPLATES["gan"][1])
    gan.networks = {"generator": {"role": "generator"}, "discriminator": {"role": "discriminator"}}
    chain(
        gan,
        [
            ("noise", "Input", {"shape": [32]}),
            ("g_fc1", "Linear", {"out_features": 128}),
            ("g_act1", "LeakyReLU", {}),
            ("g_fc2", "Linear", {"out_features": 256}),
            ("g_act2", "LeakyReLU", {}),
            ("g_fc3", "Linear", {"out_features": 64}),
            ("g_pixels", "Sigmoid", {}),
            ("fake", "Output", {}),
        ],
        network="generator",
    )
    chain(
        gan,
        [
            ("sample", "Input", {"shape": [64]}),
            ("d_fc1", "Linear", {"out_features": 256}),
            ("d_act1", "LeakyReLU", {}),
            ("d_drop1", "Dropout", {"p": 0.3}),
            ("d_fc2", "Linear", {"out_features": 128}),
            ("d_act2", "LeakyReLU", {}),
            ("d_logit", "Linear", {"out_features": 1}),
            ("real_or_fake", "Output", {}),
        ],
        network="discriminator",
        y=Y_ROW,
    )
    gan.data = _digits("flat", val=0.0, stratify=False)
    gan.training = {
        "task": "gan",
        "loss": "bce_with_logits",
        "optimizer": "adam",
        "lr": 2e-4,
        "betas": [0.5, 0.999],
        "batch_size": 64,
        "epochs": 200,
    }
    t["gan"] = gan

    t["som"] = _design(
        "SOM on digits",
        TEMPLATES["som"][1],
        [
            ("pixels", "Input", {"shape": [64]}),
            ("som", "SOM", {"rows": 10, "cols": 10, "sigma": 3.0, "learning_rate": 0.5}),
            ("distances", "Output", {}),
        ],
        _digits("flat", preprocess={"scale": "standard"}),
        {"task": "som", "batch_size": 64, "epochs": 20},
    )
    return t


def _named(name: str, val: float, **extra: Any) -> dict[str, Any]:
    """The data section: a named dataset (downloaded on first use); its own test set is the
    test split, ``val`` of the training images are held out for validation."""
    return {
        "source": "builtin",
        "name": name,
        "split": {"val": val, "test": 0.0, "stratify": True},
        **extra,
    }


def build_datasets() -> dict[str, Design]:
    """The templates on the named datasets (:data:`resources.DATASET_TEMPLATES`)."""
    t: dict[str, Design] = {}
    t["cnn_mnist"] = _classifier(
        "CNN on MNIST",
        DATASET_TEMPLATES["cnn_mnist"][1],
        [
            ("image", "Input", {"shape": [1, 28, 28]}),
            ("conv1", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("relu1", "ReLU", {}),
            ("pool1", "MaxPool2d", {"kernel_size": 2}),
            ("conv2", "Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
            ("relu2", "ReLU", {}),
            ("pool2", "MaxPool2d", {"kernel_size": 2}),
            ("flatten", "Flatten", {}),
            ("dense", "Linear", {"out_features": 128}),
            ("relu3", "ReLU", {}),
            ("dropout", "Dropout", {"p": 0.25}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _named("mnist", 0.1, form="image"),
        epochs=5,
        per_row=7,
        batch_size=128,
    )
    t["cnn_cifar10"] = _classifier(
        "CNN on CIFAR-10",
        DATASET_TEMPLATES["cnn_cifar10"][1],
        [
            ("image", "Input", {"shape": [3, 32, 32]}),
            ("conv1", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("bn1", "BatchNorm2d", {}),
            ("relu1", "ReLU", {}),
            ("conv2", "Conv2d", {"out_channels": 32, "kernel_size": 3, "padding": 1}),
            ("relu2", "ReLU", {}),
            ("pool1", "MaxPool2d", {"kernel_size": 2}),
            ("conv3", "Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
            ("bn2", "BatchNorm2d", {}),
            ("relu3", "ReLU", {}),
            ("conv4", "Conv2d", {"out_channels": 64, "kernel_size": 3, "padding": 1}),
            ("relu4", "ReLU", {}),
            ("pool2", "MaxPool2d", {"kernel_size": 2}),
            ("flatten", "Flatten", {}),
            ("dense", "Linear", {"out_features": 256}),
            ("relu5", "ReLU", {}),
            ("dropout", "Dropout", {"p": 0.5}),
            ("logits", "Linear", {"out_features": 10}),
            ("label", "Output", {}),
        ],
        _named("cifar10", 0.1, form="image", preprocess={"scale": "standard"}),
        epochs=20,
        per_row=7,
        batch_size=128,
    )
    t["mlp_fashion_mnist"] = _classifier(
        "MLP on Fashion-MNIST",
        DATASET_TEMPLATES["mlp_fashion_mnist"][1],
        [
            ("pixels", "Input", {"shape": [784]}),
            ("hidden1", "Linear", {"out_features": 256}),
            ("relu1", "ReLU", {}),
            ("dropout1", "Dropout", {"p": 0.2}),
            ("hidden2", "Linear", {"out_features": 128}),
            ("relu2", "ReLU", {}),
            ("logits", "Linear", {"out_features": 10}),
            ("garment", "Output", {}),
        ],
        _named("fashion_mnist", 0.1, form="flat"),
        epochs=10,
        batch_size=128,
    )
    return t


def build_blocks() -> dict[str, Design]:
    """The templates built from shipped blocks (:data:`resources.BLOCK_TEMPLATES`)."""
    from engine.blocks_library import SHIPPED_DIR
    from engine.io import load_block

    t: dict[str, Design] = {}
    d = _classifier(
        "ResNet on digits",
        BLOCK_TEMPLATES["resnet"][1],
        [
            ("image", "Input", {"shape": [1, 8, 8]}),
            ("stem", "Conv2d", {"out_channels": 16, "kernel_size": 3, "padding": 1}),
            ("stem_bn", "BatchNorm2d", {}),
            ("stem_relu", "ReLU", {}),
            ("stage1", "Block", {"block": "resnet_basic", "repeat": 2, "channels": 16}),
            (
                "down",
                "Block",
                {"block": "resnet_basic_projection", "channels": 32, "stride": 2},
            ),
            ("stage2", "Block", {"block": "resnet_basic", "channels": 32}),
            ("pool", "AdaptiveAvgPool2d", {}),
            ("flatten", "Flatten", {}),
            ("logits", "Linear", {"out_features": 10}),
            ("digit", "Output", {}),
        ],
        _digits("image"),
        epochs=15,
        per_row=4,
        scheduler="cosine",  # the rate anneals: the last epoch is as good as the best
    )
    for name in ("resnet_basic", "resnet_basic_projection"):
        defn, _used = load_block(SHIPPED_DIR / f"{name}.json")
        d.blocks[name] = defn
    t["resnet"] = d
    return t


def main() -> None:
    """Write every template file."""
    for stem, design in {**build(), **build_datasets(), **build_blocks()}.items():
        save_design(design, template_path(stem))
        print("wrote", template_path(stem))


if __name__ == "__main__":
    main()
