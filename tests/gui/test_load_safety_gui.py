"""The window treats checkpoints and ``.pt2`` archives as hostile: Train → Resume From
Checkpoint… with a malformed or code-running checkpoint shows one line and starts nothing; File →
Import PyTorch Model… with a ``.pt2`` that hides a code-running pickle refuses it with one line
naming the member, runs nothing, writes nothing and keeps the open design."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
import torch

from engine.compile import compile_design
from engine.io import load_design
from engine.training.checkpoint import checkpoint_from_modules, save_checkpoint
from resources import template_path
from tests.engine.hostile import RunsCode, deepwire_pt2, evil_torch_save, rewrite

pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")
WAIT_MS = 60_000


class FakeChooser:
    """Answers the file dialog with a fixed path."""

    def __init__(self, answer: Path | None) -> None:
        self.answer = answer

    def open_file(self, title: str, start: str, filters: str) -> Path | None:
        return self.answer


def training_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "deepwire-training" and t.is_alive()]


def _payload(design) -> dict:
    torch.manual_seed(0)
    return {
        "format": "deepwire.checkpoint",
        "version": 1,
        "design_json": None,
        "state_dicts": {next(iter(design.networks)): compile_design(design).state_dict()},
        "preprocessor": None,
        "data_info": {},
        "epoch": 1,
        "metrics": {},
        "trainer_state": {},
    }


@pytest.mark.parametrize(
    "change, message",
    [
        ({"design_json": 7}, "its design is 7"),
        ({"state_dicts": [1, 2]}, '"state_dicts" is a list'),
        ({"version": "1"}, "\"version\" is the text '1'"),
        ({"version": -5}, '"version" is -5'),
        ("hostile", "not a readable Deepwire checkpoint"),
    ],
)
def test_resume_from_a_malformed_checkpoint_shows_one_line_and_starts_nothing(
    change, message, main_window, tmp_path
):
    from engine.io import dumps

    design = load_design(template_path("mlp"))
    win, _prompts = main_window(design)
    panel = win.training_panel
    panel.runs_dir = tmp_path / "runs"
    payload = _payload(design)
    payload["design_json"] = dumps(design)
    marker = tmp_path / "code-ran"
    if change == "hostile":
        payload["metrics"] = RunsCode(marker)
    else:
        payload.update(change)
    path = tmp_path / "broken.pt"
    torch.save(payload, path)
    panel.chooser = FakeChooser(path)
    panel.resume_action.trigger()  # what Train → Resume From Checkpoint… does
    assert not panel.is_training and not training_threads()
    assert panel.error_label.isVisible()
    text = panel.error_label.text()
    assert text.startswith("Cannot resume:") and "broken.pt" in text and message in text, text
    assert "\n" not in text and win.statusBar().currentMessage() == text
    assert not marker.exists() and not panel.runs_dir.exists()


def test_a_good_checkpoint_still_passes_the_resume_checks(main_window, tmp_path):
    design = load_design(template_path("mlp"))
    win, _prompts = main_window(design)
    panel = win.training_panel
    path = tmp_path / "good.pt"
    torch.manual_seed(0)
    save_checkpoint(
        path,
        checkpoint_from_modules(
            design, {next(iter(design.networks)): compile_design(design)}, epoch=99
        ),
    )
    panel.chooser = FakeChooser(path)
    panel.resume_action.trigger()  # loads and matches; refused only for having no epochs left
    assert "already trained 99" in panel.error_label.text()


def test_import_dialog_refuses_a_pt2_with_a_hidden_pickle(main_window, qtbot, tmp_path):
    clean = deepwire_pt2(tmp_path)
    marker = tmp_path / "code-ran"
    stealth = rewrite(
        clean, tmp_path / "stealth.pt2", extra={"data/weights/model.pt": evil_torch_save(marker)}
    )
    window, prompts = main_window(load_design(template_path("mlp")))
    before = window.document.design
    dialog = window.show_import_dialog()
    dialog.set_source(stealth)
    assert not dialog.trust_box.isVisible()  # nothing in a .pt2 is run, so nothing to consent to
    assert "refused if loading it could run code" in dialog.source_note.text()
    assert dialog.blocked_reason() is None
    assert dialog.start_import()
    qtbot.waitUntil(lambda: not dialog.busy, timeout=WAIT_MS)
    text = dialog.result_label.text()
    assert "refused" in text and "data/weights/model.pt" in text and "\n" not in text, text
    assert not marker.exists()
    assert dialog.isVisible() and window.document.design is before and prompts.asked == []
    assert not (tmp_path / "stealth.json").exists() and not (tmp_path / "stealth.pt").exists()
