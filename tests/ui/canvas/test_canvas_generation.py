"""Inpaint and outpaint from the canvas with a fake submit: requests, previews, candidates, accept/undo."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core.events import Cancelled, Failed, FailureKind, Step
from studio.core.masks import composite, effective_mask
from studio.core.plan import plan
from studio.core.request import InpaintArea, MaskedContent, Mode, PreviewKind

X0 = PreviewKind.X0


def _paint(ws, rect=(30, 20, 50, 40)) -> None:
    left, top, right, bottom = rect
    ws.doc.set_mask_region(rect, np.full((bottom - top, right - left), 255, np.uint8), "test")


def _finish(ws, submits, images) -> None:
    submits.finish(images)


def _engine_like(request, color) -> Image.Image:
    """What the engine returns: a generated picture composited through the plan's effective mask."""
    p = plan(request)
    return composite(p.image, Image.new("RGB", p.result_size, color), p.mask)


def test_inpaint_request_carries_image_mask_and_options(workspace, submits) -> None:
    _paint(workspace)
    panel = workspace.inpaint_panel
    panel.area.setCurrentIndex(panel.area.findData(InpaintArea.ONLY_MASKED))
    panel.padding.setValue(16)
    panel.fill.setCurrentIndex(panel.fill.findData(MaskedContent.BLUR))
    workspace.gen_panel.strength.spin.setValue(0.6)
    panel.grow.setValue(3)
    panel.feather.setValue(2)
    panel.button.click()
    assert len(submits.requests) == 1
    req = submits.requests[0]
    assert req.mode is Mode.INPAINT and req.prompt == workspace.gen_panel.prompt.toPlainText()
    assert np.array_equal(np.asarray(req.init_image), workspace.doc.image)
    assert np.array_equal(np.asarray(req.mask), workspace.doc.mask)
    o = req.mask_options
    assert o.area is InpaintArea.ONLY_MASKED and o.fill is MaskedContent.BLUR  # enums, not str
    assert (o.padding, o.grow, o.feather) == (16, 3, 2)
    assert req.strength == pytest.approx(0.6)
    assert req.width % 8 == 0 and req.height % 8 == 0
    req.validate()
    assert not panel.button.isEnabled() and workspace.cancel_button.isVisibleTo(workspace)
    workspace.cancel_button.click()
    assert submits.cancelled == [101]


def test_empty_mask_is_refused_with_a_message(workspace, submits) -> None:
    messages = []
    workspace.message.connect(messages.append)
    assert workspace.inpaint() is None
    assert not submits.requests
    assert "mask is empty" in messages[0]


def test_candidates_flip_accept_and_undo(workspace, submits) -> None:
    original = workspace.doc.image.copy()
    _paint(workspace)
    workspace.inpaint()
    req = submits.requests[0]
    images = [_engine_like(req, c) for c in ((255, 0, 0), (0, 255, 0), (0, 0, 255))]
    _finish(workspace, submits, images)
    assert np.array_equal(workspace.doc.image, original)  # not part of the image yet
    bar = workspace.candidate_bar
    assert bar.isVisibleTo(workspace) and bar.label.text() == "Result 1 of 3"
    workspace.actions_["next"].trigger()
    workspace.actions_["next"].trigger()
    assert bar.label.text() == "Result 3 of 3"
    bar.next.click()
    bar.prev.click()
    assert workspace.generation.index == 2
    assert workspace.view._override is not None
    assert not workspace.actions_["undo"].isEnabled()  # decide first
    workspace.accept_candidate()
    expected = np.asarray(images[2])
    assert np.array_equal(workspace.doc.image, expected)
    assert workspace.view._override is None and not bar.isVisibleTo(workspace)
    eff = np.asarray(effective_mask(Image.fromarray(workspace.doc.mask), 0, 4))
    assert np.array_equal(workspace.doc.image[eff == 0], original[eff == 0])  # outside: byte-identical
    workspace.undo()
    assert np.array_equal(workspace.doc.image, original)
    workspace.redo()
    assert np.array_equal(workspace.doc.image, expected)


def test_accept_never_changes_pixels_outside_the_mask(workspace, submits) -> None:
    original = workspace.doc.image.copy()
    _paint(workspace)
    workspace.inpaint()
    _finish(workspace, submits, [Image.new("RGB", workspace.doc.size, (1, 2, 3))])  # a careless engine
    workspace.accept_candidate()
    eff = np.asarray(effective_mask(Image.fromarray(workspace.doc.mask), 0, 4))
    assert np.array_equal(workspace.doc.image[eff == 0], original[eff == 0])
    assert (workspace.doc.image[eff > 0] == (1, 2, 3)).all()


def test_discard_leaves_document_alone(workspace, submits) -> None:
    original = workspace.doc.image.copy()
    _paint(workspace)
    workspace.inpaint()
    _finish(workspace, submits, [_engine_like(submits.requests[0], (9, 9, 9))] * 2)
    undo_depth = len(workspace.doc.undo_stack)
    workspace.candidate_bar.discard.click()
    assert np.array_equal(workspace.doc.image, original)
    assert len(workspace.doc.undo_stack) == undo_depth
    assert workspace.inpaint_panel.button.isEnabled()


def test_other_jobs_do_not_reach_the_canvas_and_failures_end_the_job(workspace, submits) -> None:
    _paint(workspace)
    job = workspace.inpaint()
    other = submits.submit(submits.requests[0])  # another workspace's job, not followed by the canvas
    submits.finish([Image.new("RGB", workspace.doc.size)])
    assert other.handle.done and not job.handle.done
    assert workspace.generation.busy and not workspace.generation.has_candidates
    messages = []
    workspace.message.connect(messages.append)
    submits.send(Failed(job.id, FailureKind.OUT_OF_MEMORY, "Out of memory.", ""))
    assert not workspace.generation.busy and messages == ["Out of memory."]
    job = workspace.inpaint()
    submits.send(Cancelled(job.id, 2))
    assert not workspace.generation.busy and workspace.inpaint_panel.button.isEnabled()


def test_wrong_size_results_are_left_out(workspace, submits) -> None:
    _paint(workspace)
    workspace.inpaint()
    _finish(workspace, submits, [Image.new("RGB", (10, 10))])
    assert not workspace.generation.has_candidates


@pytest.mark.parametrize("area", [InpaintArea.WHOLE_IMAGE, InpaintArea.ONLY_MASKED])
def test_step_preview_goes_into_the_generated_area(workspace, submits, area) -> None:
    _paint(workspace, (30, 20, 40, 30))
    panel = workspace.inpaint_panel
    panel.area.setCurrentIndex(panel.area.findData(area))
    panel.padding.setValue(4)
    workspace.inpaint()
    the_plan = submits.start()
    submits.send(Step(101, 1, 4, 0.1, np.zeros((64, 64, 3), np.uint8), X0))
    _, target = workspace.view._preview
    if area is InpaintArea.WHOLE_IMAGE:
        assert target == (0, 0, 96, 64)
    else:
        assert target == (15, 5, 55, 45)  # the engine's box: mask + feather + padding, square
    assert target == the_plan.region_in_source
    submits.send(Cancelled(101, 1))
    assert workspace.view._preview is None


def test_outpaint_extends_by_requested_amounts_and_keeps_original(workspace, submits) -> None:
    original = workspace.doc.image.copy()
    workspace.outpaint_panel.spins["left"].setValue(16)
    workspace.outpaint_panel.spins["bottom"].setValue(32)
    workspace.outpaint_panel.overlap.setValue(0)
    assert workspace.view.extend == (16, 0, 0, 32)
    workspace.outpaint_panel.button.click()
    req = submits.requests[0]
    assert req.mode is Mode.OUTPAINT
    o = req.outpaint
    assert (o.left, o.top, o.right, o.bottom, o.overlap) == (16, 0, 0, 32, 0)
    assert np.array_equal(np.asarray(req.init_image), original)
    req.validate()
    submits.start()
    submits.send(Step(101, 1, 4, 0.1, np.zeros((8, 8, 3), np.uint8), X0))
    assert workspace.view._preview[1] == (-16, 0, 96, 96)
    result = np.full((96, 112, 3), 77, np.uint8)
    result[0:64, 16:112] = original  # the engine composites: original pixels unchanged
    _finish(workspace, submits, [Image.fromarray(result)])
    assert workspace.generation.current()[1] == (-16, 0)
    workspace.accept_candidate()
    assert workspace.doc.size == (112, 96)
    assert np.array_equal(workspace.doc.image[0:64, 16:112], original)
    assert workspace.view.extend == (0, 0, 0, 0) and workspace.outpaint_panel.amounts() == (0, 0, 0, 0)
    workspace.undo()
    assert workspace.doc.size == (96, 64) and np.array_equal(workspace.doc.image, original)


def test_outpaint_without_sides_is_refused(workspace, submits) -> None:
    assert workspace.outpaint() is None and not submits.requests


def test_dragging_the_frame_sets_outpaint_amounts(workspace, qtbot) -> None:
    from PySide6.QtCore import QPointF, Qt

    view = workspace.view
    view.scale, view.offset = 1.0, QPointF(50, 50)
    qtbot.keyClick(view, Qt.Key.Key_F)
    right_edge = view.doc_to_widget(96, 30).toPoint()
    qtbot.mousePress(view, Qt.MouseButton.LeftButton, pos=right_edge)
    qtbot.mouseMove(view, right_edge + type(right_edge)(40, 0))
    qtbot.mouseRelease(view, Qt.MouseButton.LeftButton, pos=right_edge + type(right_edge)(40, 0))
    assert view.extend == (0, 0, 40, 0)
    assert workspace.outpaint_panel.amounts() == (0, 0, 40, 0)
    assert not workspace.doc.mask.any()


def test_new_job_waits_for_a_decision(workspace, submits) -> None:
    _paint(workspace)
    workspace.inpaint()
    _finish(workspace, submits, [_engine_like(submits.requests[0], (5, 5, 5))])
    assert workspace.inpaint() is None and len(submits.requests) == 1


def test_extend_canvas_only_is_undoable(workspace) -> None:
    original = workspace.doc.image.copy()
    workspace.outpaint_panel.set_amounts(8, 0, 16, 24, emit=True)
    workspace.outpaint_panel.extend_button.click()
    assert workspace.doc.size == (96 + 24, 64 + 24)
    assert np.array_equal(workspace.doc.image[0:64, 8:104], original)
    assert workspace.outpaint_panel.amounts() == (0, 0, 0, 0)
    workspace.undo()
    assert workspace.doc.size == (96, 64)


def test_replacing_the_document_abandons_the_running_job(workspace, submits) -> None:
    _paint(workspace)
    workspace.inpaint()
    assert workspace.new_canvas((32, 32))
    assert submits.cancelled == [101] and not workspace.generation.busy
    req = submits.requests[0]
    submits.finish([req.init_image])  # arrives late
    assert not workspace.generation.has_candidates


def test_title_follows_dirty_state(workspace, tmp_path) -> None:
    titles = []
    workspace.title_changed.connect(titles.append)
    _paint(workspace)
    workspace.doc.invert_mask()
    workspace.save_image(tmp_path / "x.png")
    assert titles == ["Untitled*", "x.png"]


def test_closing_with_candidates_pending_asks(make_workspace, submits) -> None:
    asked = []
    ws = make_workspace(unsaved_choice=lambda parent: asked.append(1) or "cancel")
    ws.doc.saved_version = ws.doc.version = 0
    ws.doc.mask[0:8, 0:8] = 255
    ws.inpaint()
    _finish(ws, submits, [_engine_like(submits.requests[0], (5, 5, 5))])
    assert not ws.doc.dirty and ws.maybe_close() is False and asked == [1]


def test_compare_shows_the_original_while_held(workspace, submits, qtbot) -> None:
    from PySide6.QtCore import Qt

    _paint(workspace)
    workspace.inpaint()
    submits.start()
    submits.send(Step(101, 2, 4, 0.1, None, PreviewKind.NONE))
    assert "step 2 of 4" in workspace.status.text()
    _finish(workspace, submits, [_engine_like(submits.requests[0], (0, 0, 255))])
    view = workspace.view
    centre = view.doc_to_widget(40, 30).toPoint()
    candidate_pixel = view.grab().toImage().pixelColor(centre)
    qtbot.keyPress(view, Qt.Key.Key_C)
    assert view.comparing
    original_pixel = view.grab().toImage().pixelColor(centre)
    qtbot.keyRelease(view, Qt.Key.Key_C)
    assert not view.comparing and candidate_pixel != original_pixel
    workspace.candidate_bar.compare.pressed.emit()
    assert view.comparing
    workspace.candidate_bar.compare.released.emit()
    assert not view.comparing


def test_outpaint_accept_respects_an_undo_made_while_it_ran(workspace, submits) -> None:
    original = workspace.doc.image.copy()
    _paint(workspace)
    workspace.inpaint()
    _finish(workspace, submits, [_engine_like(submits.requests[0], (0, 0, 0))])
    workspace.accept_candidate()
    inpainted = workspace.doc.image.copy()
    workspace.outpaint_panel.spins["right"].setValue(8)
    workspace.outpaint()
    workspace.undo()  # the inpaint result goes while the outpaint job runs
    assert np.array_equal(workspace.doc.image, original)
    result = np.full((64, 104, 3), 50, np.uint8)
    result[:, :96] = inpainted  # the engine's composite, made from the inpainted image
    _finish(workspace, submits, [Image.fromarray(result)])
    workspace.accept_candidate()
    assert np.array_equal(workspace.doc.image[:, :96], original) and (workspace.doc.image[:, 96:] == 50).all()


def test_a_prompt_warning_reaches_the_message_line_and_the_job_goes_on(workspace, submits) -> None:
    from studio.core.events import Started

    messages = []
    workspace.message.connect(messages.append)
    _paint(workspace)
    workspace.inpaint_panel.button.click()
    job = submits.jobs[-1]
    text = "The prompt is 95 tokens; this model reads the first 75 — the rest is ignored."
    submits.send(Started(job.id, plan(job.request), (text,)))
    assert messages == [text] and text in workspace.status.text()
    assert workspace.generation.busy
    _finish(workspace, submits, [_engine_like(job.request, (0, 200, 0))])
    assert workspace.generation.has_candidates
