"""The canvas's own generation panel: its values are what inpaint/outpaint use, nothing hidden."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from studio.core.native_size import native_size
from studio.core.request import InpaintArea, LoraRef, Mode
from studio.ui.canvas.tools import Tool


def _paint(ws, rect=(30, 20, 50, 40)) -> None:
    left, top, right, bottom = rect
    ws.doc.set_mask_region(rect, np.full((bottom - top, right - left), 255, np.uint8), "test")


def _fill_panel(panel) -> None:
    panel.prompt.setPlainText("a blue window")
    panel.negative.setPlainText("blurry")
    panel.strength.spin.setValue(0.4)
    panel.batch.setValue(3)
    panel.random_seed.setChecked(False)
    panel.seed.setValue(1234)
    panel.sampler.setCurrentText("Euler a")
    panel.steps.setValue(12)
    panel.guidance.spin.setValue(5.5)


def test_inpaint_uses_the_panels_values_not_the_generate_tabs(workspace, submits) -> None:
    submits.base = submits.base.replace(loras=(LoraRef("ink", 0.5),), guidance=9.0, scheduler="DDIM")
    _fill_panel(workspace.gen_panel)
    _paint(workspace)
    workspace.inpaint_panel.button.click()
    req = submits.requests[0]
    assert (req.prompt, req.negative_prompt) == ("a blue window", "blurry")  # not "a red door"
    assert req.strength == pytest.approx(0.4) and req.batch == 3 and req.seed == 1234  # not seed 5
    assert (req.scheduler, req.steps, req.guidance) == ("Euler a", 12, pytest.approx(5.5))
    side = native_size("")
    assert (req.width, req.height) == (side, side)  # the model's native size, not the tab's W x H
    assert req.loras == (LoraRef("ink", 0.5),)  # shared with the Generate tab, and shown:
    assert workspace.gen_panel.model_line.text() == "Model: Built-in (studio-mini) · LoRAs: ink 0.5"
    assert f"{side} × {side}" in workspace.gen_panel.size_line.text()


def test_outpaint_uses_the_panels_prompt_and_seed(workspace, submits) -> None:
    _fill_panel(workspace.gen_panel)
    workspace.outpaint_panel.spins["left"].setValue(16)
    workspace.outpaint_panel.button.click()
    req = submits.requests[0]
    assert req.mode is Mode.OUTPAINT and req.prompt == "a blue window" and req.seed == 1234
    assert req.strength == 1.0  # the new area is generated from scratch (said in the panel's tooltip)


def test_a_random_seed_is_drawn_per_job_and_shown(workspace, submits) -> None:
    panel = workspace.gen_panel
    assert panel.random_seed.isChecked() and not panel.seed.isEnabled()
    _paint(workspace)
    seeds = []
    for _ in range(2):
        workspace.inpaint()
        seeds.append(submits.requests[-1].seed)
        assert panel.seed_value() == seeds[-1]  # the seed used is on show
        workspace.generation.abandon()
    assert seeds[0] != seeds[1]


def test_ctrl_enter_in_the_panels_prompt_inpaints_once(workspace, submits, qtbot) -> None:
    from PySide6.QtCore import Qt

    _paint(workspace)
    panel = workspace.gen_panel
    panel.prompt.setFocus()
    qtbot.keyClicks(panel.prompt, "mbe[")  # the canvas's one-key shortcuts do not steal typing
    assert panel.prompt.toPlainText() == "mbe["
    assert workspace.view.tools.tool is Tool.BRUSH  # "e" went into the prompt, not to the eraser
    qtbot.keyClick(panel.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert len(submits.requests) == 1 and submits.requests[0].prompt == "mbe["


def test_generating_into_the_selection_is_the_default(workspace) -> None:
    panel = workspace.inpaint_panel
    assert panel.options().area is InpaintArea.ONLY_MASKED
    assert panel.area.currentText().startswith("Selection")


# -- through the real app wiring ---------------------------------------------------------------------
def test_app_canvas_panel_is_its_own_and_remembered(window: Any, tmp_path: Path, qtbot: Any) -> None:
    from studio.app import attach_canvas
    from studio.ui.canvas import CanvasWorkspace

    window.vm.set("prompt", "generate tab prompt")
    window.vm.set("model", "/models/dreamy-xl.safetensors")
    canvas = attach_canvas(window, tmp_path / "autosave")
    assert isinstance(canvas, CanvasWorkspace)
    assert canvas.gen_panel.model_line.text() == "Model: dreamy-xl.safetensors"  # what will be used
    canvas.gen_panel.prompt.setPlainText("a canvas prompt")
    canvas.gen_panel.strength.spin.setValue(0.35)
    canvas.gen_panel.random_seed.setChecked(False)
    request = canvas.generation_request()
    assert request.prompt == "a canvas prompt" and request.strength == pytest.approx(0.35)
    assert request.model == "/models/dreamy-xl.safetensors" and request.width == 1024
    window.vm.set("model", "")
    assert canvas.gen_panel.model_line.text() == "Model: Built-in (studio-mini)"  # follows the tab
    saved = window.remember_request()  # what is written on quit
    assert saved.canvas_request.prompt == "a canvas prompt" and not saved.canvas_random_seed
    canvas.gen_panel.from_generate.click()
    assert canvas.gen_panel.prompt.toPlainText() == "generate tab prompt"
    canvas.gen_panel.change_model.click()
    assert window.tabs.currentWidget() is window.page


def test_app_canvas_starts_with_the_remembered_panel(window: Any, tmp_path: Path) -> None:
    import dataclasses

    from studio.app import attach_canvas
    from studio.core.request import GenerationRequest

    remembered = GenerationRequest(prompt="kept", strength=0.3, batch=2, seed=77, scheduler="Heun")
    window.settings = dataclasses.replace(
        window.settings, canvas_request=remembered, canvas_random_seed=False
    )
    canvas = attach_canvas(window, tmp_path / "autosave")
    assert canvas is not None
    request = canvas.generation_request()
    assert (request.prompt, request.batch, request.seed, request.scheduler) == ("kept", 2, 77, "Heun")
    assert request.strength == pytest.approx(0.3)


def test_infill_choices_reach_the_request(workspace, submits) -> None:
    from studio.core.request import MaskedContent

    outpaint = workspace.outpaint_panel
    outpaint.spins["top"].setValue(16)
    outpaint.infill.setCurrentIndex(outpaint.infill.findData("ns"))
    outpaint.button.click()
    assert submits.requests[-1].mask_options.infill == "ns"  # the new area's pre-fill
    workspace.generation.abandon()
    inpaint = workspace.inpaint_panel
    assert not inpaint.infill.isEnabled()  # only used with "Infill" masked content
    inpaint.fill.setCurrentIndex(inpaint.fill.findData(MaskedContent.INFILL))
    inpaint.infill.setCurrentIndex(inpaint.infill.findData("stretch"))
    assert inpaint.infill.isEnabled()
    _paint(workspace)
    workspace.inpaint()
    options = submits.requests[-1].mask_options
    assert options.fill is MaskedContent.INFILL and options.infill == "stretch"


# -- honest previews -------------------------------------------------------------------------------------
def test_the_live_preview_changes_only_what_the_result_will(workspace, submits) -> None:
    """The step preview on the canvas is the region composited through the effective mask: wherever
    the mask keeps the picture, the preview shows the document's pixels exactly."""
    from studio.core.events import Step
    from studio.core.request import PreviewKind

    shown: list = []
    workspace.generation.preview_changed.connect(lambda rgb, box: shown.append((rgb, box)))
    _paint(workspace, (30, 20, 50, 40))
    workspace.inpaint_panel.padding.setValue(4)
    workspace.inpaint()
    the_plan = submits.start()
    w, h = the_plan.generation_size
    submits.send(Step(101, 1, 4, 0.1, np.full((h, w, 3), 255, np.uint8), PreviewKind.X0))
    patch, box = shown[-1]
    assert box == the_plan.region_in_source and box != (0, 0, *workspace.doc.size)
    x0, y0, x1, y1 = box
    weight = np.asarray(the_plan.mask)[y0:y1, x0:x1]
    document = workspace.doc.image[y0:y1, x0:x1]
    assert np.array_equal(patch[weight == 0], document[weight == 0])
    assert (patch[weight == 255] == 255).all()
