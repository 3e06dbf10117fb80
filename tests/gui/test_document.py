"""The Document: signals, incremental analysis, connection rules, files, undo-stack cleanliness."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import weakref
from pathlib import Path

import pytest

from engine.errors import DesignFormatError
from engine.graph import Edge
from engine.io import dumps, load_design
from gui.commands import AddNode, Connect, Relabel, SetParam
from gui.document import Document
from resources import template_path
from tests.gui.conftest import wired


def _mlp() -> Document:
    return Document(
        wired(
            ("x", "Input", {"shape": [8]}, (0, 0)),
            ("fc1", "Linear", {"out_features": 16}, (200, 0)),
            ("act", "ReLU", {}, (400, 0)),
            ("fc2", "Linear", {"out_features": 3}, (600, 0)),
            ("spare", "Linear", {"out_features": 5}, (600, 200)),
            edges=[("x", "fc1"), ("fc1", "act"), ("act", "fc2")],
        )
    )


def test_param_edit_updates_downstream_shapes_and_reports_only_affected_nodes(qtbot):
    doc = _mlp()
    seen = []
    doc.analysisChanged.connect(seen.append)
    doc.push(SetParam(doc, "fc1", "out_features", 32))
    assert doc.analysis.info["act"].output_shape == (32,)
    assert doc.analysis.info["fc2"].params == 32 * 3 + 3
    assert seen and seen[-1] >= {"fc1", "act", "fc2"}
    assert "spare" not in seen[-1] and "x" not in seen[-1]


def test_signals_fire_after_the_design_and_analysis_changed(qtbot):
    doc = _mlp()
    observed = []

    def on_edge(edge):
        observed.append((edge in doc.design.edges, doc.analysis.info["spare"].input_shapes))

    doc.edgeAdded.connect(on_edge)
    # edgeAdded fires before the analysis update; analysisChanged afterwards carries the result.
    shapes = []
    doc.analysisChanged.connect(lambda ids: shapes.append(doc.analysis.info["spare"].output_shape))
    doc.push(Connect(doc, Edge("act", "spare", 0)))
    assert observed[0][0] is True
    assert shapes[-1] == (5,)


def test_modified_follows_the_undo_stack_clean_state(qtbot, tmp_path):
    doc = _mlp()
    states = []
    doc.modifiedChanged.connect(states.append)
    assert not doc.modified
    doc.push(SetParam(doc, "fc2", "out_features", 4))
    assert doc.modified and states == [True]
    doc.undo_stack.undo()
    assert not doc.modified and states == [True, False]
    doc.undo_stack.redo()
    path = tmp_path / "m.json"
    doc.save(path)
    assert not doc.modified and doc.path == path
    assert load_design(path).node("fc2").params == {"out_features": 4}


def test_save_then_open_round_trips_and_clears_history(qtbot, tmp_path):
    doc = Document(load_design(template_path("gan")))
    doc.push(AddNode(doc, "ReLU", (40, 400), connect_after="d_fc1"))
    path = tmp_path / "gan.json"
    doc.save(path)
    text = path.read_text()
    other = Document()
    resets = []
    other.designReset.connect(lambda: resets.append(True))
    paths = []
    other.pathChanged.connect(paths.append)
    other.open(path)
    assert dumps(other.design) == text
    assert resets == [True] and paths == [path]
    assert other.undo_stack.count() == 0 and not other.modified


def test_opening_a_broken_file_leaves_the_document_untouched(qtbot, tmp_path):
    doc = Document(load_design(template_path("cnn")))
    doc.push(SetParam(doc, "dense", "out_features", 50))
    before = dumps(doc.design)
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "deepwire.design", "version": 1, "nodes": [{"id": 3}]}')
    with pytest.raises(DesignFormatError, match="bad.json"):
        doc.open(bad)
    assert dumps(doc.design) == before
    assert doc.undo_stack.count() == 1 and doc.modified and doc.path is None


def test_save_without_a_path_asks_for_one(qtbot):
    with pytest.raises(ValueError, match="choose where to save"):
        Document().save()


def test_reset_replaces_the_design_and_clears_undo(qtbot):
    doc = _mlp()
    doc.push(SetParam(doc, "fc2", "out_features", 4))
    fresh = load_design(template_path("mlp"))
    doc.reset(fresh, Path("x.json"))
    assert doc.design is fresh and doc.analysis.design is fresh
    assert doc.undo_stack.count() == 0 and not doc.modified and doc.path == Path("x.json")


@pytest.mark.parametrize(
    "source,target,port,reason",
    [
        ("fc2", "fc1", 0, "fed by 'x'"),  # port already used
        ("fc2", "x", 0, "Input; it takes no incoming"),  # Input has no ports
        ("fc2", "fc2", 0, "its own input"),
        ("fc2", "fc1", 1, "1 input port"),  # Linear has a single port
    ],
)
def test_can_connect_refuses_with_a_reason(qtbot, source, target, port, reason):
    ok, message = _mlp().can_connect(source, target, port)
    assert not ok and reason in message


def test_can_connect_refuses_cycles_and_shape_mismatches(qtbot):
    doc = Document(
        wired(
            ("img", "Input", {"shape": [1, 8, 8]}, (0, 0)),
            ("conv", "Conv2d", {"out_channels": 4}, (200, 0)),
            ("relu", "ReLU", {}, (400, 0)),
            ("dense", "Linear", {"out_features": 10}, (600, 0)),
            edges=[("img", "conv"), ("conv", "relu")],
        )
    )
    ok, message = doc.can_connect("relu", "conv", 0)
    assert not ok and "fed by 'img'" in message
    ok, message = doc.can_connect("relu", "dense", 0)
    assert not ok and "Flatten" in message and "'relu' gives (N, 4, 8, 8)" in message
    # A cycle: wiring a merge's output back into its own spare port.
    doc2 = Document(
        wired(
            ("x", "Input", {"shape": [4]}, (0, 0)),
            ("add", "Add", {}, (200, 0)),
            ("act", "ReLU", {}, (400, 0)),
            edges=[("x", "add", 0), ("add", "act")],
        )
    )
    ok, message = doc2.can_connect("act", "add", 1)
    assert not ok and "cycle" in message
    assert doc2.can_connect("x", "add", 1) == (False, "'x' already feeds 'add'")


def test_can_connect_keeps_networks_apart(qtbot):
    doc = Document(load_design(template_path("gan")))
    ok, message = doc.can_connect("g_fc1", "d_act1", 0)
    assert not ok and "one network" in message


def test_connect_command_refuses_before_pushing(qtbot):
    doc = _mlp()
    with pytest.raises(ValueError, match="fed by"):
        Connect(doc, Edge("spare", "fc1", 0))
    assert doc.undo_stack.count() == 0


def test_batch_defers_the_analysis_to_one_update(qtbot):
    doc = _mlp()
    seen = []
    doc.analysisChanged.connect(seen.append)
    with doc.batch():
        doc._set_param("fc1", "out_features", 7)
        doc._add_edge(Edge("act", "spare", 0))
        assert seen == []
    assert len(seen) == 1 and {"fc1", "spare"} <= seen[0]
    assert doc.analysis.info["spare"].input_shapes == ((7,),)


def test_a_document_signal_survives_100k_emissions(qtbot):
    # PySide6 6.12.0 lost a reference to True per emit and aborted Python after ~16k emits.
    doc = _mlp()
    count = 0

    def slot(_node_id: str) -> None:
        nonlocal count
        count += 1

    doc.nodeChanged.connect(slot)
    for i in range(100_000):
        doc._set_position("fc1", (float(i % 7), 1.0 + i))
    assert count == 100_000
    assert doc.design.node("fc1").position == (float(99_999 % 7), 100_000.0)


def test_a_dropped_document_is_freed_at_once_with_its_undo_stack(qtbot):
    doc = _mlp()
    doc.push(SetParam(doc, "fc1", "out_features", 32))  # a command on the stack: no cycle now
    doc.push(Relabel(doc, "fc1", "hidden"))
    refs = [weakref.ref(doc), weakref.ref(doc.undo_stack)]
    was_enabled = gc.isenabled()
    gc.disable()  # freed by reference counting alone, not left to the collector
    try:
        del doc
        assert [r() is None for r in refs] == [True, True]
    finally:
        if was_enabled:
            gc.enable()


# Edits made during a training run (gui.gc_guard freezes everything alive when it starts) put
# the commands ahead of their document and stack in the collector's list; the document then
# dies in a cycle (as with a closed window's). PySide cleared a command first and deleted it
# while the stack still listed it: a segfault in the collection. Run apart: a crash is a failure.
EDITED_DURING_A_RUN = """
import gc, sys, weakref
sys.path.insert(0, {root!r})
from PySide6.QtWidgets import QApplication
app = QApplication([])
from gui import gc_guard
from gui.commands import Relabel, SetParam
from gui.document import Document, _undo_stacks
from engine.io import load_design
from resources import template_path

gc.disable()
doc = Document(load_design(template_path("mlp")))
linear = next(n.id for n in doc.design if n.type == "Linear")
gc_guard.freeze()
for i in range(3):
    doc.push(SetParam(doc, linear, "out_features", 8 + i))
    doc.push(Relabel(doc, linear, f"edit {{i}}"))
gc.collect()
gc_guard.thaw()
owner = [doc]
owner.append(owner)  # the document's last holder is a cycle, as a closed window is
ref = weakref.ref(doc)
del doc, owner
gc.collect()
print("freed" if ref() is None and not _undo_stacks else "alive")
"""


def test_a_document_edited_during_a_run_is_collected_without_a_crash(tmp_path):
    script = tmp_path / "edited_during_a_run.py"
    script.write_text(EDITED_DURING_A_RUN.format(root=str(Path(__file__).parents[2])))
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    run = subprocess.run(
        [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["freed"]
