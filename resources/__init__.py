"""Packaged resources: family templates, icons, stylesheet."""

from pathlib import Path

RESOURCES_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = RESOURCES_DIR / "templates"

# Template file stem -> (family title, one-line description), in gallery order.
TEMPLATES: dict[str, tuple[str, str]] = {
    "mlp": ("MLP", "Multilayer perceptron classifying 8×8 digits from 64 pixel features."),
    "cnn": ("CNN", "Convolutional network classifying 8×8 digit images."),
    "rnn": ("RNN", "Simple recurrent network reading each digit image row by row."),
    "lstm": ("LSTM", "Bidirectional LSTM reading each digit image row by row."),
    "transformer": (
        "Transformer",
        "Self-attention over the 8 rows of each digit image (rows as tokens).",
    ),
    "autoencoder": ("Autoencoder", "Compresses digits to a 16-value code and reconstructs them."),
    "gan": ("GAN", "Generator and discriminator learning to draw 8×8 digits."),
    "som": ("SOM", "Self-organizing map arranging digits on a 10×10 grid."),
}

# Templates on the named datasets (downloaded on first use, see docs/data.md), in gallery order
# after the families: stem -> (title, one-line description).
DATASET_TEMPLATES: dict[str, tuple[str, str]] = {
    "cnn_mnist": ("CNN on MNIST", "Two-block CNN on the 28×28 MNIST digits (downloads 11 MB)."),
    "cnn_cifar10": (
        "CNN on CIFAR-10",
        "VGG-style CNN with batch norm on 32×32 colour photos (downloads 170 MB).",
    ),
    "mlp_fashion_mnist": (
        "MLP on Fashion-MNIST",
        "Multilayer perceptron on 784 clothing-picture pixels (downloads 30 MB).",
    ),
}

# Templates built from blocks (docs/blocks.md), on the built-in digits, listed after the others:
# stem -> (title, one-line description).
BLOCK_TEMPLATES: dict[str, tuple[str, str]] = {
    "resnet": (
        "ResNet on digits",
        "Small ResNet built from blocks: two stages of basic blocks (×2) on 8×8 digit images.",
    ),
}


def template_path(stem: str) -> Path:
    """Path of a packaged template design file, e.g. ``template_path("cnn")``."""
    return TEMPLATES_DIR / f"{stem}.json"
