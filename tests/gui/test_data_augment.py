"""The data panel's augmentation group as a user meets it: only the steps that fit the data's
form are offered, each add / edit / move / remove is one undo step, and a step that cannot
apply to the data shows in the problems list."""

from __future__ import annotations

import threading

import pytest

from engine.io import load_design
from gui.document import Document
from gui.summary import section_problems
from resources import template_path

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")


def make_panel(qtbot, template: str):
    from gui.panels.data import DataPanel

    doc = Document(load_design(template_path(template)))
    panel = DataPanel(doc)
    panel.set_on_screen(False)  # no previews prepared
    qtbot.addWidget(panel)
    return panel


@pytest.fixture
def image_panel(qtbot):
    """A data panel on the CNN template (digits as 1×8×8 images); its preview thread joined."""
    panel = make_panel(qtbot, "cnn")
    yield panel
    assert panel.shutdown()
    panel.document.undo_stack.setClean()
    assert not [
        t for t in threading.enumerate() if t.name == "deepwire-data-preview" and t.is_alive()
    ]


def offered(panel) -> list[str]:
    combo = panel.augment_op_combo
    return [combo.itemData(i) for i in range(combo.count())]


def add(panel, op: str) -> None:
    combo = panel.augment_op_combo
    combo.setCurrentIndex(combo.findData(op))
    panel.augment_add_button.click()


def shown_steps(panel) -> list[str]:
    return [panel.augment_list.item(i).text() for i in range(panel.augment_list.count())]


def test_adding_a_flip_puts_it_in_the_data_section_and_undo_removes_it(image_panel):
    panel, doc = image_panel, image_panel.document
    assert "flip" in offered(panel) and "jitter" not in offered(panel)
    assert panel.augment_help.text().startswith("No steps: training batches are used as they")
    add(panel, "flip")
    assert doc.design.data["augment"] == {"steps": [{"op": "flip", "p": 0.5}]}
    assert shown_steps(panel) == ["1. Horizontal flip — p 0.5"]
    assert doc.undo_stack.undoText() == "Add augment step Horizontal flip"
    doc.undo_stack.undo()
    assert "augment" not in doc.design.data
    assert shown_steps(panel) == []
    assert not panel.augment_remove_button.isEnabled()
    assert panel.augment_help.text().startswith("No steps")
    doc.undo_stack.redo()
    assert shown_steps(panel) == ["1. Horizontal flip — p 0.5"]


def test_a_parameter_edit_is_one_undo_step_and_out_of_range_is_impossible(image_panel):
    panel, doc = image_panel, image_panel.document
    add(panel, "cutout")
    size = panel.augment_params.findChild(object, "augment_size")
    assert size.maximum() == 4096 and size.value() == 8
    size.setValue(4)
    assert doc.design.data["augment"]["steps"] == [{"op": "cutout", "size": 4, "p": 0.5}]
    assert shown_steps(panel) == ["1. Cutout — size 4, p 0.5"]
    doc.undo_stack.undo()
    assert doc.design.data["augment"]["steps"][0]["size"] == 8
    assert panel.augment_params.findChild(object, "augment_size").value() == 8


def test_steps_move_and_go_one_undo_step_each(image_panel):
    panel, doc = image_panel, image_panel.document
    add(panel, "crop")
    add(panel, "flip")
    assert panel.augment_list.currentRow() == 1  # the new step is selected
    assert not panel.augment_down_button.isEnabled()
    panel.augment_up_button.click()
    assert [s["op"] for s in doc.design.data["augment"]["steps"]] == ["flip", "crop"]
    assert panel.augment_list.currentRow() == 0
    doc.undo_stack.undo()
    assert [s["op"] for s in doc.design.data["augment"]["steps"]] == ["crop", "flip"]
    panel.augment_list.setCurrentRow(0)
    panel.augment_remove_button.click()
    assert doc.design.data["augment"]["steps"] == [{"op": "flip", "p": 0.5}]
    panel.augment_remove_button.click()
    assert "augment" not in doc.design.data  # no steps left: no augment object


def test_table_data_is_offered_noise_only_and_a_flip_written_by_hand_is_a_problem(qtbot):
    panel = make_panel(qtbot, "mlp")  # digits as 64 numbers per sample
    try:
        assert offered(panel) == ["noise"]
        add(panel, "noise")
        assert panel.document.design.data["augment"]["steps"] == [{"op": "noise", "std": 0.05}]
        assert not section_problems(panel.document.design)
        design = panel.document.design.copy()
        design.data = {**design.data, "augment": {"steps": [{"op": "flip"}]}}
        messages = [p.message for p in section_problems(design)]
        assert messages == [
            "augment step 1 (flip) cannot apply to table data of shape (64,) (horizontal flip "
            "works on images): remove the step or use noise"
        ]
    finally:
        assert panel.shutdown()
        panel.document.undo_stack.setClean()
