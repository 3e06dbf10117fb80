"""The one palette of status colours, shared by the canvas, the panels and the dialogs.

Each is readable on light and dark backgrounds. The canvas theme (:mod:`gui.canvas.theme`) makes
its ``QColor`` constants from these strings; labels use them in style sheets and rich text.
"""

ERROR_COLOUR = "#d64545"  # red: errors, a blocked action, a port that does not fit
WARNING_COLOUR = "#c77c02"  # amber: warnings, a refused close, a data mismatch
OK_COLOUR = "#2e8b57"  # sea green: success lines, a port that fits
UNKNOWN_CATEGORY_COLOUR = "#8a8a8a"  # grey: a layer type the registry does not know
