"""The Generate tab an artist expects (issue 11), with the scripted FakeEngine: the size follows the
model, a queue of jobs, batch preview grids, the live x0/x_t toggle, styles, the history strip,
icons in the light theme, and the built-in model's "Prompts that work"."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QDesktopServices, QImage

from studio.core.events import ModelReady, Step
from studio.core.metadata import read_png_metadata
from studio.core.presets import Preset
from studio.core.request import PreviewKind
from tests.ui.conftest import engine_of


def _folder_model(root: Path, sample_size: int, blocks: int) -> Path:
    """A diffusers folder with only the configs the native size is read from."""
    for sub, config in (
        ("unet", {"sample_size": sample_size}),
        ("vae", {"block_out_channels": [64] * blocks}),
    ):
        (root / sub).mkdir(parents=True, exist_ok=True)
        (root / sub / "config.json").write_text(json.dumps(config), encoding="utf-8")
    (root / "model_index.json").write_text("{}", encoding="utf-8")
    return root


# -- the size follows the model ----------------------------------------------------------------------
def test_built_in_model_starts_at_its_native_size(window: Any) -> None:
    assert window.vm.model == ""
    assert (window.vm.width, window.vm.height) == (128, 128)  # never 512 px for the 128 px model
    assert window.controls.width_spin.value() == 128


def test_choosing_a_model_sets_its_size_and_a_typed_size_is_kept(window: Any, tmp_path: Path) -> None:
    sdxl = _folder_model(tmp_path / "my-sdxl", 128, 4)  # 128 latents x 8 = 1024
    window.vm.set("model", str(sdxl))
    assert (window.vm.width, window.vm.height) == (1024, 1024)
    window.controls.width_spin.setValue(832)  # the artist types a size
    window.bridge.model_ready.emit(ModelReady(0, "my-sdxl", "cpu", "float32", 1.0, 1024, str(sdxl)))
    assert window.vm.width == 832  # kept: the model's answer does not overwrite a typed size
    window.vm.set("model", "")
    assert (window.vm.width, window.vm.height) == (128, 128)  # another model: its size again


def test_model_ready_gives_the_size_of_a_single_file(window: Any, tmp_path: Path) -> None:
    checkpoint = tmp_path / "v2-768-model.safetensors"
    window.vm.set("model", str(checkpoint))
    assert window.vm.width == 768  # guessed from the name until the engine knows
    window.bridge.model_ready.emit(ModelReady(0, "x", "cpu", "float32", 1.0, 512, str(checkpoint)))
    assert (window.vm.width, window.vm.height) == (512, 512)


# -- the queue ---------------------------------------------------------------------------------------
def _prompted(window: Any, prompt: str) -> Any:
    window.vm.set("prompt", prompt)
    return window.generate()


def test_generate_while_running_queues_cancel_and_reorder(window: Any, qtbot: Any) -> None:
    engine = engine_of(window)
    first = _prompted(window, "sun with face")
    assert first is not None
    assert _prompted(window, "blue heart") is None  # queued behind the running job
    assert _prompted(window, "drooling face") is None
    assert _prompted(window, "file folder") is None
    panel = window.page.queue
    assert panel.isVisible()
    lines = panel.lines()
    assert lines[0].startswith("▶ sun with face") and "blue heart" in lines[1] and "waiting" in lines[1]
    assert len(engine.requests) == 1  # only the running job is with the engine
    # move "file folder" to the front of the waiting jobs, cancel "drooling face"
    waiting = window.generation.queue.items()
    panel.select(waiting[2].id)
    panel.up_button.click()
    panel.up_button.click()
    panel.select(waiting[1].id)
    panel.cancel_button.click()
    assert [p.request.prompt for p in window.generation.queue.items()] == ["file folder", "blue heart"]
    # Esc cancels the running one; the next waiting job is submitted when it has ended
    window.controls.steps.setFocus()
    qtbot.keyClick(window.controls.steps, Qt.Key.Key_Escape)
    assert engine.cancelled == [first.id]
    engine.run(first, steps=3, cancel_at=1)
    qtbot.waitUntil(lambda: len(engine.requests) == 2, timeout=2000)
    second = window.generation.job
    assert second is not None and second.request.prompt == "file folder"
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000):
        engine.run(second, steps=2)
    qtbot.waitUntil(lambda: len(engine.requests) == 3, timeout=2000)
    assert window.generation.job is not None and window.generation.job.request.prompt == "blue heart"
    engine.run(window.generation.job, steps=2)
    qtbot.waitUntil(lambda: not window.generation.busy, timeout=2000)
    assert not panel.isVisible() and window.generate_button.text().strip() == "Generate"


def test_a_failed_job_stays_reported_while_the_next_waiting_one_runs(window: Any, qtbot: Any) -> None:
    engine = engine_of(window)
    first = _prompted(window, "sun with face")
    assert _prompted(window, "blue heart") is None  # waiting
    engine.fail(first, "Out of memory: try a smaller size.")
    qtbot.waitUntil(lambda: len(engine.requests) == 2, timeout=2000)  # the waiting one was submitted
    assert window.banner.isVisibleTo(window) and "Out of memory" in window.banner.message.text()


# -- batch previews and the live toggle ----------------------------------------------------------------
def test_every_image_of_a_batch_has_its_preview(window: Any, qtbot: Any) -> None:
    window.vm.set("batch", 4)
    job = _prompted(window, "blue heart")
    colors = [(200, 0, 0), (0, 200, 0), (0, 0, 200), (200, 200, 0)]
    cells = tuple(np.full((64, 64, 3), c, np.uint8) for c in colors)
    step = Step(job.id, 1, 4, 0.1, cells[0], PreviewKind.X0, cells)
    engine_of(window).emit_from_thread([step])
    qtbot.waitUntil(lambda: "4 images" in window.preview.caption(), timeout=2000)
    image: QImage = window.preview.image()
    assert (image.width(), image.height()) == (130, 130)  # a 2x2 grid with a 2 px gap
    for (x, y), color in zip(((10, 10), (100, 10), (10, 100), (100, 100)), colors, strict=True):
        assert image.pixelColor(x, y) == QColor(*color)


def test_preview_toggle_applies_to_the_running_job(window: Any, qtbot: Any) -> None:
    job = _prompted(window, "sun with face")
    assert job.handle.preview_kind is PreviewKind.X0
    window.progress.xt_button.click()
    assert job.handle.preview_kind is PreviewKind.LATENT  # read by the engine at its next step
    window.progress.x0_button.click()
    assert job.handle.preview_kind is PreviewKind.X0


# -- styles -----------------------------------------------------------------------------------------
def _apply(window: Any, preset: Preset) -> None:
    window._apply_preset(preset)


def test_a_style_applies_at_generation_once_and_is_recorded(window: Any, qtbot: Any) -> None:
    style = Preset("Photo look", {"prompt": "{prompt}, photograph", "negative_prompt": "cartoon", "steps": 9})
    window.vm.set("prompt", "a heron")
    _apply(window, style)
    _apply(window, style)  # twice: still one style, nothing pasted into the prompt box
    assert window.vm.prompt == "a heron" and window.controls.prompt.toPlainText() == "a heron"
    assert window.controls.style_chips.names() == ["Photo look"]
    assert window.controls.style_chips.isVisible() and window.vm.steps == 9
    job = window.generate()
    assert job.request.prompt == "a heron, photograph" and job.request.negative_prompt == "cartoon"
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000) as saved:
        engine_of(window).run(job, steps=1)
    meta = read_png_metadata(saved.args[0][0].path)
    assert meta is not None and meta.prompt == "a heron, photograph"
    assert meta.settings.get("Styles") == "Photo look"
    chip = window.controls.style_chips.chips[0]
    remove = chip.findChildren(type(window.controls.swap))[0]
    remove.click()
    assert window.vm.styles == () and window.generation.build_request().prompt == "a heron"


def test_a_style_without_placeholder_is_appended(window: Any) -> None:
    window.vm.set("prompt", "a cat")
    _apply(window, Preset("Ink", {"prompt": "ink drawing"}))
    assert window.generation.build_request().prompt == "a cat, ink drawing"


def test_preset_canvas_fields_apply_to_the_canvas(window: Any, tmp_path: Path) -> None:
    from studio.app import attach_canvas

    canvas = attach_canvas(window, tmp_path / "autosave")
    assert canvas is not None
    _apply(window, Preset("Inpaint soft change", {"strength": 0.55}))
    assert canvas.gen_panel.strength.value() == pytest.approx(0.55)


# -- history, light theme icons, messages --------------------------------------------------------------
def test_selected_thumbnail_keeps_true_colours(window: Any, tmp_path: Path) -> None:
    image = QImage(96, 96, QImage.Format.Format_RGB888)
    image.fill(QColor(230, 20, 20))
    item = window.history.add_result(tmp_path / "a.png", image)
    window.history.setCurrentItem(item)
    assert item.isSelected()
    rect = window.history.visualItemRect(item)
    shot = window.history.viewport().grab().toImage()
    assert shot.pixelColor(rect.center()) == QColor(230, 20, 20)  # no selection tint over the image


def test_show_in_folder_without_file_manager_says_where(
    window: Any, monkeypatch: Any, tmp_path: Path
) -> None:
    monkeypatch.setattr(QDesktopServices, "openUrl", staticmethod(lambda _url: False))
    path = tmp_path / "out" / "img.png"
    assert not window.history_actions.show_in_folder(path)
    assert str(path) in window.statusBar().currentMessage()


def test_every_icon_is_dark_on_light_in_the_light_theme(qapp: Any) -> None:
    from studio.core.paths import resource
    from studio.ui.icons import icon
    from studio.ui.theme import apply_theme

    apply_theme(qapp, "dark")
    names = sorted(p.stem for p in resource("icons").glob("*.svg"))
    made_in_dark = {name: icon(name) for name in names}  # icons made before the switch follow it
    try:
        apply_theme(qapp, "light")
        for name in names:
            if name in ("app", "generate"):  # the app's own colours; white on the accent Generate button
                continue
            pixels = made_in_dark[name].pixmap(24, 24).toImage()
            darkest = min(
                pixels.pixelColor(x, y).lightness()
                for x in range(24)
                for y in range(24)
                if pixels.pixelColor(x, y).alpha() > 128
            )
            assert darkest < 110, f"{name} is not dark on the light theme"
    finally:
        apply_theme(qapp, "dark")


def test_model_load_failure_does_not_say_generating() -> None:
    from studio.engine.failures import failure_for

    _kind, message, _detail = failure_for(RuntimeError("bad weights"), "loading the model")
    assert "while loading the model" in message and "generating" not in message


# -- prompts that work ----------------------------------------------------------------------------------
def test_prompts_that_work_for_the_built_in_model(window: Any, tmp_path: Path) -> None:
    button = window.controls.prompt_ideas
    assert button.isVisible() and "blue heart" in button.prompts()
    button.choose("blue heart")
    assert window.vm.prompt == "blue heart" and window.controls.prompt.toPlainText() == "blue heart"
    window.vm.set("model", str(tmp_path / "other.safetensors"))
    assert not button.isVisible()
