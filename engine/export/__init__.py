"""Export trained designs (ONNX, .pt2, safetensors, PyTorch code); importing is engine.importer.

    export_model(design, checkpoint, "onnx", "model.onnx")          # + model.onnx.json sidecar
    export_model(design, checkpoint, "python", "model.py", network="encoder")

See docs/export.md.
"""

from engine.export.formats import FORMATS, ExportResult, export_formats, export_model
from engine.export.prepare import ExportPlan, export_parts, prepare_export

__all__ = [
    "FORMATS",
    "ExportPlan",
    "ExportResult",
    "export_parts",
    "export_formats",
    "export_model",
    "prepare_export",
]
