"""Import a PyTorch model (``FILE.py:Class`` or a ``.pt2`` program) as an editable design.

    import_model("model.py:Net", "net.json", input_shape=(1, 28, 28))

``torch_import`` maps a ``torch.export`` program onto registry layers; ``safe_pt2`` checks a
``.pt2`` archive member by member before ``torch.export.load`` sees it. See docs/export.md.
"""

from engine.importer.torch_import import ImportResult, import_model, parse_shape

__all__ = ["ImportResult", "import_model", "parse_shape"]
