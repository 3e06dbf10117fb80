"""Live plots of a training run (:class:`TrainingPlots`) and the family views they show.

``training_plots`` holds the grid of losses, metrics and layer charts; ``family`` one class per
family view (confusion matrix, predictions, reconstructions, GAN samples, SOM maps), picked by the
epoch sample's ``view``; ``common`` the series, axes, legends and colours they share.
"""

from gui.formatting import pretty
from gui.plots.common import COLOURS, Series
from gui.plots.family import FAMILY_VIEWS, FamilyView
from gui.plots.training_plots import TrainingPlots

__all__ = ["COLOURS", "FAMILY_VIEWS", "FamilyView", "Series", "TrainingPlots", "pretty"]
