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


def template_path(stem: str) -> Path:
    """Path of a packaged template design file, e.g. ``template_path("cnn")``."""
    return TEMPLATES_DIR / f"{stem}.json"
