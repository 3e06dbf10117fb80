"""Deepwire's Qt front end: a thin view over :mod:`engine`.

``document`` owns the engine design and is its only writer; ``commands`` are the undoable edits;
``canvas`` draws the design and turns gestures into commands.
"""
