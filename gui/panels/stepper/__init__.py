"""The Step Through panel (teaching mode): one training step, stage by stage (``panel``), each
stage's tensor drawn by ``picture``; the stepping itself is engine/insight/stepper.py."""

from gui.panels.stepper.panel import StepperPanel

__all__ = ["StepperPanel"]
