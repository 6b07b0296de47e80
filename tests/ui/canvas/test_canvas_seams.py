"""Seam check on the canvas: each result's seam is measured, a visible one is outlined and the
one-click fix lowers the measure; the fixed result is what Accept puts in (one undo)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from studio.core.masks import composite
from studio.core.plan import plan
from studio.core.seams import COLOUR_BREAK_LIMIT
from tests.core.pictures import photo

WARM_CAST = (35, 5, -25)


def _engine_like(request, shift: tuple[int, int, int]) -> Image.Image:
    """What the engine returns: the picture with a colour `shift` composited through the plan's mask."""
    p = plan(request)
    original = np.asarray(p.image.convert("RGB")).astype(int)
    generated = np.clip(original + shift, 0, 255).astype(np.uint8)
    return composite(p.image, Image.fromarray(generated), p.mask)


def _results(make_workspace, submits, qtbot, shifts):
    ws = make_workspace(photo(256, 256))
    ws.doc.set_mask_region((64, 80, 200, 190), np.full((110, 136), 255, np.uint8), "mask")
    ws.inpaint_panel.feather.setValue(4)
    ws.inpaint()
    request = submits.requests[0]
    submits.finish([_engine_like(request, s) for s in shifts])
    qtbot.waitUntil(lambda: ws.generation.seam_checker.pending == 0 and not ws.generation.seam_measuring())
    return ws


def test_a_visible_seam_is_flagged_outlined_and_fixed(make_workspace, submits, qtbot) -> None:
    ws = _results(make_workspace, submits, qtbot, [WARM_CAST])
    g, bar = ws.generation, ws.candidate_bar
    before = g.seam()
    assert before is not None and before.flagged and before.colour_break > COLOUR_BREAK_LIMIT
    assert bar.seam.text() == before.summary() and "(visible)" in bar.seam.text()
    assert bar.fix_seam.isVisibleTo(ws) and ws.view.seam_box is not None
    x0, y0, x1, y1 = ws.view.seam_box
    on_edge = x0 <= 64 <= x1 or x0 <= 200 <= x1 or y0 <= 80 <= y1 or y0 <= 190 <= y1
    assert on_edge and x0 < 200 and x1 > 64 and y0 < 190 and y1 > 80  # the outline is on the join
    unfixed = g.candidates[0].copy()
    bar.fix_seam.click()
    qtbot.waitUntil(lambda: g.seam_checker.pending == 0 and not g.seam_measuring())
    after = g.seam()
    assert after is not None and not after.flagged and after.colour_break < before.colour_break / 4
    assert "(ok)" in bar.seam.text() and bar.fix_seam.isChecked() and ws.view.seam_box is None
    kept = np.asarray(g.candidate_job.plan.mask) == 0
    assert np.array_equal(g.candidates[0][kept], unfixed[kept])  # the fix touches only generated pixels
    fixed = g.candidates[0].copy()
    messages: list[str] = []
    ws.message.connect(messages.append)
    original = ws.doc.image.copy()
    assert ws.accept_candidate()
    assert np.array_equal(ws.doc.image, fixed)  # the fixed result went in …
    assert any(m.startswith("Result accepted (seam fixed): seam: colour") for m in messages)
    ws.undo()
    assert np.array_equal(ws.doc.image, original)  # … as one undoable edit


def test_the_fix_can_be_taken_back_before_accepting(make_workspace, submits, qtbot) -> None:
    ws = _results(make_workspace, submits, qtbot, [WARM_CAST])
    g = ws.generation
    unfixed = g.candidates[0].copy()
    ws.candidate_bar.fix_seam.click()
    assert not np.array_equal(g.candidates[0], unfixed)
    ws.candidate_bar.fix_seam.click()
    assert np.array_equal(g.candidates[0], unfixed) and not g.seam_fixed()
    qtbot.waitUntil(lambda: g.seam_checker.pending == 0 and not g.seam_measuring())
    assert g.seam() is not None and g.seam().flagged  # measured again: visible again


def test_a_good_result_offers_no_fix_and_each_result_has_its_figure(make_workspace, submits, qtbot) -> None:
    ws = _results(make_workspace, submits, qtbot, [(0, 0, 0), WARM_CAST])
    g, bar = ws.generation, ws.candidate_bar
    assert g.seam() is not None and not g.seam().flagged
    assert "(ok)" in bar.seam.text() and not bar.fix_seam.isVisibleTo(ws) and ws.view.seam_box is None
    ws.actions_["next"].trigger()
    assert "(visible)" in bar.seam.text() and bar.fix_seam.isVisibleTo(ws)
    g.discard()
    assert not bar.isVisibleTo(ws) and ws.view.seam_box is None
