"""Walk through the canvas as an artist would, with the real Engine and studio-mini (a script, not a test).

    xvfb-run -a -s "-screen 0 1400x900x24" python -m tests.ui.canvas.walkthrough docs/

Fresh user folders in a temp dir; the real main window (dark theme) as `studio.app` builds it. Opens a
photo, sketches red on the paint layer with the colour brush, selects a region with the rectangle
tool, inpaints it with the canvas's own prompt (not the Generate tab's) at strength 0.6, compares the
two candidates (the view shows each, and the original while Compare is held), accepts one as a new
layer, outpaints 64 px to the right with Navier-Stokes infill, checks the seam (and fixes it when it
is visible), saves an .ora and reads it back. Then the real app (`python -m studio.app`) opens that
.ora, makes its test edit, autosaves and is killed with SIGKILL; the next start restores every layer
exactly (its smoke report), and the same start-up code restores it into a new window here for the
screenshot. One PASS/FAIL line per step; writes screenshot-canvas-{mask,preview,candidates,outpaint,
restore}.png into the given folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from tests.ui.walk import RESULTS, show_window, step, use_fresh_user_dirs, wait_until

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
CANVAS_PROMPT = "smiling face with halo"  # typed into the canvas's own Generation panel
GENERATE_PROMPT = "blue heart"  # the Generate tab's prompt: the canvas must not use it
RED = (255, 0, 0)
SKETCH_BOX = (60, 118, 132, 150)  # x0, y0, x1, y1: the red sketch over the mouth, and the selection


def _env(root: Path) -> None:
    use_fresh_user_dirs(root)
    from studio.core.settings import Settings, save_settings

    config = root / "config" / "settings.json"
    if not config.exists():  # the user picked the dark theme in Preferences
        config.parent.mkdir(parents=True, exist_ok=True)
        save_settings(Settings(theme="dark"), config)


def make_image(path: Path) -> np.ndarray:
    """A 192x192 photo-like PNG: an emoji (or, without the font, a simple scene) on white."""
    from PIL import Image, ImageDraw, ImageFont

    try:
        font = ImageFont.truetype(EMOJI_FONT, 109)
        img = Image.new("RGB", (136, 128), "white")
        ImageDraw.Draw(img).text((0, 0), "\N{GRINNING FACE}", font=font, embedded_color=True)
        img = img.crop((0, 0, 128, 128)).resize((192, 192), Image.Resampling.LANCZOS)
    except OSError:
        img = Image.new("RGB", (192, 192), (135, 190, 235))
        draw = ImageDraw.Draw(img)
        draw.rectangle((0, 130, 192, 192), fill=(70, 150, 60))
        draw.ellipse((120, 20, 170, 70), fill=(250, 210, 40))
    img.save(path)
    return np.asarray(img.convert("RGB")).copy()


def drag(view: Any, doc_points: list[tuple[float, float]], substeps: int = 8) -> None:
    """A drag with real mouse events on the view, through document points."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    pts = [view.doc_to_widget(x, y) for x, y in doc_points]
    qp = [QPoint(round(p.x()), round(p.y())) for p in pts]
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mouseMove(view, qp[0])
    QTest.mousePress(view, left, none, qp[0])
    for a, b in zip(qp, qp[1:], strict=False):
        for t in np.linspace(0, 1, substeps)[1:]:
            QTest.mouseMove(
                view, QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
            )
    QTest.mouseRelease(view, left, none, qp[-1])
    QTest.qWait(50)


def key(widget: Any, k: Any) -> None:
    from PySide6.QtTest import QTest

    QTest.keyClick(widget, k)


def rendered_at(view: Any, x: float, y: float) -> np.ndarray:
    """The RGB the view shows at document point (x, y), grabbed from the widget."""
    from PySide6.QtGui import QImage

    p = view.doc_to_widget(x, y).toPoint()
    img = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    c = img.pixelColor(p.x(), p.y())
    return np.array([c.red(), c.green(), c.blue()], float)


def layer_rows(layers: list[Any]) -> list[list[Any]]:
    """What the app's smoke report lists for each layer: name, visible, opacity, pixel hash."""
    return [[x.name, x.visible, x.opacity, hashlib.sha256(x.pixels.tobytes()).hexdigest()] for x in layers]


def brush_widgets(canvas: Any) -> tuple[Any, Any]:
    """The brush size box and hardness slider of the canvas's brush toolbar."""
    from PySide6.QtWidgets import QSlider, QSpinBox, QToolBar

    bar = next(b for b in canvas.findChildren(QToolBar) if b.windowTitle() == "Canvas brush")
    return bar.findChild(QSpinBox), bar.findChild(QSlider)


def show_panel(canvas: Any, panel: Any) -> None:
    """Scroll the canvas's side column to `panel` (its Generation or Layers panel)."""
    from PySide6.QtWidgets import QScrollArea

    canvas.findChild(QScrollArea).ensureWidgetVisible(panel, 0, 0)
    pause(50)


def pause(ms: int = 200) -> None:
    from PySide6.QtTest import QTest

    QTest.qWait(ms)


def build(app: Any, root: Path) -> tuple[Any, Any, Any]:
    """The real window as app.main builds it, with the canvas tab attached (engine not yet started)."""
    from studio.app import attach_canvas

    window, dirs = show_window(app, root)
    canvas = attach_canvas(window, dirs.autosave)
    assert canvas is not None, "no canvas workspace"
    return window, canvas, dirs


def wait_for_results(canvas: Any, timeout: float = float(os.environ.get("WALK_TIMEOUT", 300))) -> None:
    messages: list[str] = []
    canvas.message.connect(messages.append)
    assert wait_until(lambda: not canvas.generation.busy, timeout), f"no result in {timeout} s"
    assert canvas.generation.has_candidates, f"no candidates: {messages}"
    g = canvas.generation
    assert wait_until(lambda: g.seam_checker.pending == 0 and not g.seam_measuring(), 30), "seam unmeasured"


# the killed app --------------------------------------------------------------------------------------
def kill_real_app_after_autosave(root: Path, ora: Path) -> Path:
    """`studio --no-preload WORK.ora` with its test edit; SIGKILL once the edit is autosaved."""
    from tests.launch import app_command, app_env

    autosave = root / "data" / "autosave"
    before = set(autosave.glob("canvas-*"))
    proc = subprocess.Popen(
        app_command("--no-preload", ora),
        env=app_env(root, STUDIO_TORCH_THREADS="1", STUDIO_TEST_EDIT="1"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=root,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            states = [p for p in autosave.glob("canvas-*/state.json") if p.parent not in before]
            if states:
                break
            time.sleep(0.2)
        assert proc.poll() is None, (
            f"the app ended by itself: {proc.stderr.read()[-2000:] if proc.stderr else ''}"
        )
        assert states, "the app wrote no autosave in 90 s"
        time.sleep(1.0)  # any write still going finishes (the edit is one autosave)
    finally:
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL, proc.returncode
    assert "Traceback" not in err, err[-2000:]
    return states[0].parent


def expected_after_test_edit(ora: Path) -> Any:
    """The document the killed app had: the .ora opened, then studio.app's own test edit."""
    from studio.app import apply_test_edit
    from studio.core.document import Document

    doc = Document.open(ora)
    apply_test_edit(SimpleNamespace(doc=doc))  # type: ignore[arg-type] - it uses only .doc
    return doc


# the walkthrough -------------------------------------------------------------------------------------
def main(out_dir: str) -> int:  # noqa: C901, PLR0915 - one script, one step a nested function
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="studio-walkthrough-"))
    _env(root)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(threadName)s %(name)s: %(message)s")
    from PIL import Image
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    from studio.core.geometry import outpaint_canvas
    from studio.core.layers import LayerKind
    from studio.core.masks import effective_mask
    from studio.core.ora import read_ora
    from studio.core.paths import builtin_model_dir
    from studio.core.request import InpaintArea
    from studio.ui.canvas.tools import Tool

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    image_path = root / "photo.png"
    original = make_image(image_path)
    h, w = original.shape[:2]
    window, canvas, dirs = build(app, root)
    canvas.unsaved_choice = lambda parent: "discard"
    vm = window.vm
    state: dict[str, Any] = {}

    def shoot(name: str, target: Any = None) -> str:
        pause()
        (target or window).grab().save(str(out / name))
        return name

    def s1_open() -> str:
        assert (builtin_model_dir() / "model_index.json").exists(), "studio-mini is missing"
        vm.set("prompt", GENERATE_PROMPT)
        window.show_workspace(canvas)
        assert canvas.open_file(image_path), "open_file failed: " + canvas.status.text()
        assert window.tabs.currentWidget() is canvas
        assert wait_until(lambda: canvas.view.isVisible(), 5)
        canvas.view.fit()
        assert canvas.doc.size == (w, h) and np.array_equal(canvas.doc.image, original)
        names = [x.name for x in canvas.doc.layers]
        assert names == ["Image", "Paint 1"], names
        return f"{w}x{h} opened, Canvas tab current, layers {names}, theme {window.settings.theme}"

    def s2_paint() -> str:
        key(canvas.view, Qt.Key.Key_P)
        assert canvas.view.tools.tool is Tool.PAINT, canvas.view.tools.tool
        canvas.layers_panel.list.setCurrentRow(canvas.layers_panel._row(1))  # the Paint 1 row
        assert canvas.doc.active_layer.name == "Paint 1"
        canvas.colour_box.set_colour(RED)
        brush_size, hardness = brush_widgets(canvas)
        brush_size.setValue(14)
        hardness.setValue(100)
        assert canvas.view.tools.settings.size == 14 and canvas.view.tools.settings.hardness == 1.0
        x0, y0, x1, y1 = SKETCH_BOX
        for y in range(y0 + 6, y1 - 4, 8):
            drag(canvas.view, [(x0 + 8, y), (x1 - 8, y)])
        paint = canvas.doc.layers[1]
        alpha = paint.pixels[..., 3]
        assert alpha[y0:y1, x0:x1].mean() > 200, "the sketch did not cover the mouth"
        assert not alpha[: y0 - 2].any() and not canvas.doc.mask.any(), "paint outside the sketch / mask"
        shown = canvas.doc.image[y0 + 10, (x0 + x1) // 2]
        assert tuple(shown) == RED, shown
        assert np.array_equal(canvas.doc.layers[0].pixels[..., 2::-1], original), "the photo layer changed"
        return f"{int((alpha > 0).sum())} px of red on 'Paint 1'; the photo layer untouched"

    def s3_select() -> str:
        key(canvas.view, Qt.Key.Key_R)
        assert canvas.view.tools.tool is Tool.RECT
        x0, y0, x1, y1 = SKETCH_BOX
        drag(canvas.view, [(x0 - 6, y0 - 6), (x1 + 6, y1 + 6)], substeps=4)
        mask = canvas.doc.mask
        assert mask[y0:y1, x0:x1].min() == 255, "the rectangle does not cover the sketch"
        assert not mask[: y0 - 10].any() and not mask[:, : x0 - 10].any(), "mask outside the rectangle"
        panel = canvas.inpaint_panel
        assert panel.options().area is InpaintArea.ONLY_MASKED, "not generating into the selection"
        canvas.gen_panel.prompt.setPlainText(CANVAS_PROMPT)
        canvas.gen_panel.strength.spin.setValue(0.6)  # typed into its box
        canvas.gen_panel.batch.setValue(2)
        canvas.gen_panel.steps.setValue(30)
        canvas.gen_panel.random_seed.setChecked(False)
        canvas.gen_panel.seed.setValue(7)
        assert wait_until(lambda: canvas.view.region is not None, 5), "no region outline"
        show_panel(canvas, canvas.layers_panel)
        shot = shoot("screenshot-canvas-mask.png")
        return f"{int((mask > 0).sum())} px selected, region {canvas.view.region}; {shot}"

    def s4_inpaint() -> str:
        def on_step(event: Any) -> None:
            if "grabbed" not in state and canvas.generation.busy and event.step >= event.total // 2:
                state["grabbed"] = event.step
                canvas.view.repaint()
                shoot("screenshot-canvas-preview.png")

        show_panel(canvas, canvas.gen_panel)  # the canvas's own prompt on show while it generates
        window.bridge.ensure_engine()
        state["before_inpaint"] = canvas.doc.image.copy()
        state["mask"] = canvas.doc.mask.copy()
        job = canvas.inpaint()
        assert job is not None, "inpaint was refused: " + canvas.status.text()
        job.step.connect(on_step)
        request = job.request
        assert request.prompt.startswith(CANVAS_PROMPT) and GENERATE_PROMPT not in request.prompt, (
            request.prompt
        )
        assert request.strength == 0.6 and request.batch == 2 and request.seed == 7, request
        init = np.asarray(request.init_image.convert("RGB"))
        assert tuple(init[SKETCH_BOX[1] + 10, 96]) == RED, "the sketch is not in what the model starts from"
        t0 = time.monotonic()
        wait_for_results(canvas)
        assert "grabbed" in state, "no mid-generation preview"
        state["inpaint_s"] = time.monotonic() - t0
        return (
            f"prompt {request.prompt!r} (Generate tab: {GENERATE_PROMPT!r}), strength 0.6, 2 results in "
            f"{state['inpaint_s']:.0f} s, preview grabbed at step {state['grabbed']}"
        )

    def s5_compare() -> str:
        g, bar = canvas.generation, canvas.candidate_bar
        first, second = g.candidates[0], g.candidates[1]
        assert not np.array_equal(first, second), "the two results are the same"
        before = state["before_inpaint"]
        diff = np.abs(second.astype(int) - before.astype(int)).sum(axis=2)
        y, x = np.unravel_index(np.argmax(diff), diff.shape)
        bar.next.click()
        assert g.index == 1 and bar.label.text() == "Result 2 of 2", bar.label.text()
        assert bar.seam.text() == g.seam().summary() and bar.seam.text().startswith("seam:"), bar.seam.text()
        shown = rendered_at(canvas.view, x + 0.5, y + 0.5)
        bar.compare.pressed.emit()  # held
        held = rendered_at(canvas.view, x + 0.5, y + 0.5)
        bar.compare.released.emit()

        def near(a: np.ndarray, b: np.ndarray) -> bool:
            return float(np.abs(a - b).sum()) < float(np.abs(a - before[y, x]).sum())

        assert near(shown, second[y, x].astype(float)), (shown, second[y, x], before[y, x])
        assert np.abs(held - before[y, x]).sum() < np.abs(held - second[y, x]).sum(), (held, before[y, x])
        shot = shoot("screenshot-canvas-candidates.png")
        bar.prev.click()
        assert g.index == 0
        bar.next.click()
        return f"result 2 shown at ({x},{y}) {shown.astype(int)}, Compare shows the original {held.astype(int)}; {bar.seam.text()}; {shot}"

    def s6_accept() -> str:
        g = canvas.generation
        chosen = g.candidates[1].copy()
        before, mask = state["before_inpaint"], state["mask"]
        opts = canvas.inpaint_panel.options()
        canvas.candidate_bar.accept.click()
        assert not g.has_candidates
        layers = canvas.doc.layers
        assert [x.name for x in layers] == ["Image", "Paint 1", "Result 1"], [x.name for x in layers]
        assert layers[2].kind is LayerKind.RESULT and canvas.doc.active_layer is layers[2]
        after = canvas.doc.image
        eff = np.asarray(effective_mask(Image.fromarray(mask, "L"), opts.grow, opts.feather))
        assert np.array_equal(after[eff == 0], before[eff == 0]), "pixels outside the mask changed"
        assert np.array_equal(after[eff == 255], chosen[eff == 255]), "the result is not what was shown"
        alpha = layers[2].pixels[..., 3]
        assert not alpha[eff == 0].any(), "the result layer holds pixels outside the mask"
        canvas.undo()
        assert np.array_equal(canvas.doc.image, before) and len(canvas.doc.layers) == 2, "undo"
        canvas.redo()
        assert np.array_equal(canvas.doc.image, after) and len(canvas.doc.layers) == 3, "redo"
        state["inpainted"] = after.copy()
        return f"'Result 1' on top holds {int((alpha > 0).sum())} changed px, none outside the mask; undo/redo exact"

    def s7_outpaint() -> str:
        before = canvas.doc.image.copy()
        canvas.actions_["clear"].trigger()  # Clear mask
        assert not canvas.doc.mask.any()
        op = canvas.outpaint_panel
        op.spins["right"].setValue(64)
        op.infill.setCurrentIndex(op.infill.findData("ns"))
        assert op.amounts() == (0, 0, 64, 0) and op.infill_method() == "ns"
        o = op.options()
        op.button.click()
        job = canvas.generation.job.job if canvas.generation.job else None
        assert job is not None, "outpaint was refused: " + canvas.status.text()
        assert job.request.mask_options.infill == "ns", job.request.mask_options
        state["outpaint_options"] = o
        wait_for_results(canvas)
        g, bar = canvas.generation, canvas.candidate_bar
        report = g.seam()
        assert report is not None and bar.seam.text() == report.summary(), bar.seam.text()
        detail = f"seam {report.summary()!r}"
        if report.flagged:  # the fix is offered; take it and check the figure drops
            assert bar.fix_seam.isVisible() and canvas.view.seam_box is not None
            bar.fix_seam.click()
            assert wait_until(lambda: g.seam_checker.pending == 0 and not g.seam_measuring(), 30)
            fixed = g.seam()
            assert fixed is not None and fixed.colour_break < report.colour_break, fixed.summary()
            detail += f" -> fixed {fixed.summary()!r}"
        else:
            assert not bar.fix_seam.isVisible() and canvas.view.seam_box is None
        canvas.view.fit()
        show_panel(canvas, canvas.layers_panel)
        shot = shoot("screenshot-canvas-outpaint.png")
        bar.accept.click()
        assert canvas.doc.size == (w + 64, h), canvas.doc.size
        _, out_mask, _ = outpaint_canvas(Image.fromarray(before), o, fill="none")
        opts = canvas.inpaint_panel.options()
        eff = np.asarray(effective_mask(out_mask, opts.grow, opts.feather))[:, :w]
        changed = (canvas.doc.image[:, :w] != before).any(axis=2) & (eff == 0)
        assert not changed.any(), f"{int(changed.sum())} original pixels changed"
        new = canvas.doc.image[:, w:]
        assert new.std() > 0, "the new strip is flat"
        names = [x.name for x in canvas.doc.layers]
        assert names[:3] == ["Image", "Paint 1", "Result 1"] and len(names) == 4, names
        return f"{w}x{h} -> {w + 64}x{h} with ns infill; {detail}; originals kept; layers {names}; {shot}"

    def s8_save_ora() -> str:
        ora = root / "work.ora"
        assert canvas.save_image(ora), "save failed: " + canvas.status.text()
        assert (
            not canvas.doc.dirty
            and canvas.doc.path == ora
            and window.tabs.tabText(window.tabs.indexOf(canvas)).startswith("work.ora")
        ), window.tabs.tabText(window.tabs.indexOf(canvas))
        with zipfile.ZipFile(ora) as zf:
            assert zf.namelist()[0] == "mimetype" and zf.read("mimetype") == b"image/openraster"
            assert "stack.xml" in zf.namelist() and "mergedimage.png" in zf.namelist()
        back = read_ora(ora)
        assert back.size == canvas.doc.size
        assert layer_rows(back.layers) == layer_rows(canvas.doc.layers), "the .ora differs from the canvas"
        state["ora"] = ora
        return f"{ora.name}: {os.path.getsize(ora) // 1024} KiB, layers {[x.name for x in back.layers]} read back exactly"

    def s9_kill_restore() -> str:
        from tests.launch import app_env, smoke_run

        assert canvas.maybe_close(), "the canvas would not close"  # saved: its autosave goes cleanly
        ora = state["ora"]
        folder = kill_real_app_after_autosave(root, ora)
        expected = expected_after_test_edit(ora)
        done, reports = smoke_run(
            root, env=app_env(root, STUDIO_TORCH_THREADS="1", STUDIO_RESTORE_ANSWER="restore")
        )
        assert "Traceback" not in done.stderr, done.stderr[-2000:]
        report = reports[-1]
        assert report["canvas_path"] == str(ora) and report["canvas_dirty"] is True, report
        assert report["canvas_autosave"] == str(folder), (report["canvas_autosave"], folder)
        assert report["canvas_layers"] == json.loads(json.dumps(layer_rows(expected.layers))), (
            report["canvas_layers"],
            layer_rows(expected.layers),
        )
        assert report["canvas_image_sha256"] == hashlib.sha256(expected.image.tobytes()).hexdigest()
        # the same start-up code (studio.app.offer_crashed_work) in a new window, for the screenshot
        from studio.app import offer_crashed_work

        os.environ["STUDIO_RESTORE_ANSWER"] = "restore"
        window2, canvas2, _ = build(app, root)
        try:
            assert offer_crashed_work(window2, canvas2), "nothing offered back"
        finally:
            del os.environ["STUDIO_RESTORE_ANSWER"]
        canvas2.unsaved_choice = lambda parent: "discard"
        assert layer_rows(canvas2.doc.layers) == layer_rows(expected.layers), "restored layers differ"
        assert window2.tabs.currentWidget() is canvas2
        assert wait_until(lambda: canvas2.view.isVisible(), 5)
        canvas2.view.fit()
        show_panel(canvas2, canvas2.layers_panel)
        shot = shoot("screenshot-canvas-restore.png", window2)
        names = [row[0] for row in report["canvas_layers"]]
        state["window2"] = window2
        assert canvas2.maybe_close()
        return f"real app SIGKILLed after autosave; the next start restored {names} exactly; {shot}"

    wait_until(lambda: window.isVisible(), 5)
    pause()
    for name, fn in (
        ("1 open a photo in the Canvas tab", s1_open),
        ("2 paint red on the colour layer", s2_paint),
        ("3 select a region, the canvas's own prompt", s3_select),
        ("4 inpaint with the canvas's prompt, live preview", s4_inpaint),
        ("5 compare the candidates", s5_compare),
        ("6 accept as a layer, undo/redo", s6_accept),
        ("7 outpaint 64 px right with infill, seam check", s7_outpaint),
        ("8 save .ora and read it back", s8_save_ora),
        ("9 kill -9 the real app, restore", s9_kill_restore),
    ):
        step(name, fn)
    window.bridge.shutdown(timeout=30)
    failed = [n for n, ok, _ in RESULTS if not ok]
    print(f"{'FAIL' if failed else 'PASS'} walkthrough: {len(RESULTS) - len(failed)}/{len(RESULTS)} steps")
    os._exit(1 if failed else 0)  # skip Qt teardown of two windows


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1] if len(sys.argv) > 1 else "docs/"))
