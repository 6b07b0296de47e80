"""The Generate tab's few-step hint: choosing a distilled model or LoRA shows a one-click offer that
changes nothing by itself, and clicking it sets the sampler, steps and CFG the job gets."""

from __future__ import annotations

import json
import struct
from typing import Any

from tests.ui.conftest import engine_of


def test_an_lcm_model_offers_its_settings_and_the_click_applies_them(window: Any, tmp_path: Any) -> None:
    hint = window.controls.few_step
    assert hint.isHidden()  # the built-in model is an ordinary one
    before = (window.vm.scheduler, window.vm.steps, window.vm.guidance)
    model = tmp_path / "LCM_Dreamshaper_v7"
    model.mkdir()
    window.vm.set("model", str(model))
    assert not hint.isHidden() and hint.apply_button.text() == "Use 4 steps, LCM, CFG 1.5"
    assert (window.vm.scheduler, window.vm.steps, window.vm.guidance) == before  # nothing changed silently
    hint.apply_button.click()
    assert (window.vm.scheduler, window.vm.steps, window.vm.guidance) == ("LCM", 4, 1.5)
    assert window.controls.scheduler.currentText() == "LCM" and window.controls.steps.value() == 4
    assert hint.isHidden()  # the settings match now
    job = window.generate()
    assert job is not None
    sent = engine_of(window).requests[job.id]
    assert (sent.scheduler, sent.steps, sent.guidance) == ("LCM", 4, 1.5)


def test_a_lora_found_by_its_metadata_and_dismissed(window: Any, user_dirs: Any) -> None:
    folder = user_dirs.loras
    folder.mkdir(parents=True, exist_ok=True)
    header = json.dumps({"__metadata__": {"modelspec.title": "SDXL Lightning 8-step"}})
    (folder / "speedy.safetensors").write_bytes(struct.pack("<Q", len(header)) + header.encode())
    window.controls.own_files.loras.set_found([folder / "speedy.safetensors"])
    hint = window.controls.few_step
    window.vm.add_lora("speedy", 1.0)
    assert not hint.isHidden() and hint.apply_button.text() == "Use 8 steps, Euler SGM Uniform, CFG 1"
    hint.dismiss_button.click()
    assert hint.isHidden()
    window.vm.set("steps", 30)
    assert hint.isHidden()  # dismissed for this LoRA


def test_the_message_has_the_hint_s_width_above_the_button(window: Any, tmp_path: Any) -> None:
    """The reason is a line above the button, not a narrow column beside it (a long LoRA name wrapped
    into seven lines of two words), and it says "low CFG" only when the offer sets one."""
    from PySide6.QtWidgets import QApplication, QScrollArea

    model = tmp_path / "Hyper-SDXL-8steps-CFG-lora.safetensors"
    model.write_bytes(b"dummy")
    window.vm.set("model", str(model))
    hint = window.controls.few_step
    scroll = window.findChild(QScrollArea, "controlsScroll")
    scroll.ensureWidgetVisible(hint)
    QApplication.processEvents()
    message, button = hint.message.geometry(), hint.apply_button.geometry()
    assert message.bottom() < button.top()
    assert message.width() > button.width()
    assert hint.apply_button.text() == "Use 8 steps, DDIM, CFG 5"
    assert "low CFG" not in hint.message.text()


def test_a_flux_model_offers_its_sampler_and_guidance(window: Any, tmp_path: Any) -> None:
    """The Generate tab's SD defaults (DPM++ 2M Karras, CFG 7) fall back with a warning on Flux and
    over-cook it: choosing a Flux dev file offers Euler and guidance 3.5."""
    model = tmp_path / "flux1-dev-Q8_0.gguf"
    model.write_bytes(b"dummy")
    window.vm.set("model", str(model))
    hint = window.controls.few_step
    assert not hint.isHidden() and hint.apply_button.text() == "Use 28 steps, Euler, CFG 3.5"
    assert "embedded guidance" in hint.message.text()
    hint.apply_button.click()
    assert (window.vm.scheduler, window.vm.steps, window.vm.guidance) == ("Euler", 28, 3.5)


def test_a_new_offer_is_scrolled_into_view(window: Any, user_dirs: Any, qtbot: Any) -> None:
    """Adding a LoRA happens above the Sampling group: its offer would appear below the fold, unseen."""
    from PySide6.QtCore import QPoint
    from PySide6.QtWidgets import QScrollArea

    window.resize(1200, 640)
    window.show()
    qtbot.waitExposed(window)
    scroll = window.findChild(QScrollArea, "controlsScroll")
    scroll.verticalScrollBar().setValue(0)
    folder = user_dirs.loras
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lcm-lora-sdv1-5.safetensors").write_bytes(b"x")
    window.controls.own_files.loras.set_found([folder / "lcm-lora-sdv1-5.safetensors"])
    window.vm.add_lora("lcm-lora-sdv1-5", 1.0)
    hint = window.controls.few_step
    qtbot.waitUntil(lambda: hint.isVisible())

    def in_view() -> bool:
        top = hint.mapTo(scroll.viewport(), QPoint(0, 0)).y()
        return top >= 0 and top + hint.height() <= scroll.viewport().height()

    qtbot.waitUntil(in_view, timeout=2000)  # the scroll is queued (after the layout settles)
