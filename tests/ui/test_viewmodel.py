"""Widgets bound to the request: a widget edit changes the request, a request change shows in the widget."""

from __future__ import annotations

from typing import Any

import pytest
from PIL import Image
from PySide6.QtCore import Qt

from studio.core.request import GenerationRequest, Mode
from studio.ui.viewmodel import RequestViewModel
from studio.ui.widgets.controls import ControlsPanel, size_for_aspect
from studio.ui.widgets.init_image import InitImageSlot
from studio.ui.widgets.model_picker import ModelPicker


@pytest.fixture
def panel(qtbot: Any) -> ControlsPanel:
    vm = RequestViewModel(GenerationRequest(prompt="start"))
    picker = ModelPicker(lambda: "/models/a.safetensors", lambda: None)
    widget = ControlsPanel(vm, picker, InitImageSlot(lambda: None))
    qtbot.addWidget(widget)
    return widget


def test_widget_edits_change_the_request(panel: ControlsPanel, qtbot: Any) -> None:
    panel.prompt.setPlainText("a red fox")
    panel.negative.setPlainText("blurry")
    panel.steps.setValue(33)
    panel.guidance.spin.setValue(4.5)
    panel.scheduler.setCurrentText("Euler a")
    panel.batch.setValue(3)
    panel.randomize.setChecked(False)
    panel.seed.setValue(3_000_000_000)  # above 2**31: must survive
    panel.width_spin.setValue(640)
    panel.height_spin.setValue(384)
    r = panel.vm.request()
    assert (r.prompt, r.negative_prompt, r.steps, r.guidance) == ("a red fox", "blurry", 33, 4.5)
    assert (r.scheduler, r.batch, r.seed, r.width, r.height) == ("Euler a", 3, 3_000_000_000, 640, 384)
    r.validate()


def test_request_changes_show_in_widgets(panel: ControlsPanel) -> None:
    panel.vm.set_request(
        GenerationRequest(
            prompt="castle",
            negative_prompt="text",
            steps=12,
            guidance=9.5,
            scheduler="DDIM",
            seed=42,
            width=768,
            height=512,
            batch=2,
        )
    )
    assert panel.prompt.toPlainText() == "castle"
    assert panel.negative.toPlainText() == "text"
    assert panel.steps.value() == 12
    assert panel.guidance.spin.value() == 9.5 and panel.guidance.slider.value() == 95
    assert panel.scheduler.currentText() == "DDIM"
    assert int(panel.seed.value()) == 42 and not panel.randomize.isChecked()
    assert (panel.width_spin.value(), panel.height_spin.value()) == (768, 512)
    assert panel.aspect.currentText() == "3:2"
    assert panel.batch.value() == 2


def test_sizes_snap_to_multiples_of_8(panel: ControlsPanel, qtbot: Any) -> None:
    panel.width_spin.lineEdit().selectAll()
    qtbot.keyClicks(panel.width_spin, "517")
    qtbot.keyClick(panel.width_spin, Qt.Key.Key_Return)
    assert panel.vm.width == 520 and panel.width_spin.value() == 520
    panel.vm.set("height", 333)
    assert panel.vm.height == 336 and panel.height_spin.value() == 336


def test_aspect_presets_and_swap(panel: ControlsPanel) -> None:
    index = panel.aspect.findText("16:9")
    panel.aspect.setCurrentIndex(index)
    panel.aspect.activated.emit(index)
    w, h = panel.vm.width, panel.vm.height
    assert w % 8 == 0 and h % 8 == 0 and abs(w / h - 16 / 9) < 0.05
    panel.swap.click()
    assert (panel.vm.width, panel.vm.height) == (h, w)
    assert size_for_aspect(1.0, 512 * 512) == (512, 512)


def test_limits_and_tooltips(panel: ControlsPanel) -> None:
    assert panel.steps.maximum() == 150 and panel.steps.minimum() == 1
    assert panel.guidance.spin.maximum() == 30
    for widget in (
        panel.prompt,
        panel.negative,
        panel.steps,
        panel.guidance,
        panel.scheduler,
        panel.seed,
        panel.randomize,
        panel.reuse_last,
        panel.width_spin,
        panel.height_spin,
        panel.batch,
        panel.aspect,
        panel.swap,
        panel.strength,
        panel.model_picker.combo,
        panel.dice,
    ):
        assert widget.toolTip(), widget


def test_seed_randomise_and_reuse_last(panel: ControlsPanel) -> None:
    vm = panel.vm
    assert vm.randomize_seed
    first = vm.next_request().seed
    assert panel.reuse_last.isEnabled()
    panel.reuse_last.click()
    assert vm.seed == first and not vm.randomize_seed and not panel.randomize.isChecked()
    assert vm.next_request().seed == first


def test_init_image_switches_to_img2img(panel: ControlsPanel) -> None:
    assert not panel.strength.isEnabled()
    panel.init_slot.image_chosen.emit(Image.new("RGB", (64, 64), "blue"))
    assert panel.vm.mode is Mode.IMG2IMG and panel.strength.isEnabled()
    panel.strength.spin.setValue(0.4)
    assert panel.vm.request().strength == pytest.approx(0.4)
    panel.init_slot.clear_button.click()
    assert panel.vm.mode is Mode.TXT2IMG


def test_model_picker_open_file(panel: ControlsPanel) -> None:
    panel.model_picker.open_file()
    assert panel.vm.model == "/models/a.safetensors"
    panel.vm.set("model", "")
    assert panel.model_picker.current_ref() == ""


def test_ctrl_enter_in_prompt_generates(panel: ControlsPanel, qtbot: Any) -> None:
    with qtbot.waitSignal(panel.generate_requested, timeout=1000):
        qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert "\n" not in panel.prompt.toPlainText()
