"""The Evaluate panel: a checkpoint evaluated on the test or validation split, its worst samples,
"Try it" on one sample, and fine-tuning from the checkpoint (``panel``; ``try_it``; ``pictures``)."""

from gui.panels.evaluate.panel import EvaluatePanel, newest_checkpoint

__all__ = ["EvaluatePanel", "newest_checkpoint"]
