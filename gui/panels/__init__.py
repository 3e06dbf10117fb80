"""Dockable panels around the canvas: palette, inspector, problems, and the template gallery."""
