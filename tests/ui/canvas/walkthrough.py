"""Walk through the canvas as a new user would, with the real Engine and studio-mini (not a test).

    xvfb-run -s "-screen 0 1400x900x24" python -m tests.ui.canvas.walkthrough docs/

Fresh user dirs in a temp folder; the real main window (dark theme, as `studio.app.main` builds it).
Opens an image, paints a mask with mouse events, inpaints (screenshot mid-generation), accepts,
undoes and redoes, outpaints 64 px to the right, then kills a child process after its autosave and
restores that work in a new window. Prints one PASS/FAIL line per step; writes
screenshot-canvas-{mask,preview,outpaint}.png into the given folder.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from tests.ui.walk import RESULTS, show_window, step, use_fresh_user_dirs, wait_until

EMOJI_FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
PROMPT = "red apple"  # the Emoji preset's style makes it "an emoji of a red apple"


def _env(root: Path) -> None:
    use_fresh_user_dirs(root)
    from studio.core.settings import Settings, save_settings

    config = root / "config" / "settings.json"
    if not config.exists():  # the user picked the dark theme in Preferences
        config.parent.mkdir(parents=True, exist_ok=True)
        save_settings(Settings(theme="dark"), config)


def make_image(path: Path) -> np.ndarray:
    """A 192x192 PNG: an emoji (or, without the font, a simple scene) on white."""
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


def paint_stroke(view: Any, doc_points: list[tuple[float, float]]) -> None:
    """A brush stroke with real mouse events on the view, through document points."""
    from PySide6.QtCore import QPoint, Qt
    from PySide6.QtTest import QTest

    pts = [view.doc_to_widget(x, y) for x, y in doc_points]
    qp = [QPoint(round(p.x()), round(p.y())) for p in pts]
    left, none = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    QTest.mouseMove(view, qp[0])
    QTest.mousePress(view, left, none, qp[0])
    for a, b in zip(qp, qp[1:], strict=False):
        for t in np.linspace(0, 1, 8)[1:]:
            QTest.mouseMove(
                view, QPoint(round(a.x() + (b.x() - a.x()) * t), round(a.y() + (b.y() - a.y()) * t))
            )
    QTest.mouseRelease(view, left, none, qp[-1])
    QTest.qWait(50)


def build(app: Any, root: Path) -> tuple[Any, Any, Any]:
    """The real window as app.main builds it, with the canvas tab attached (engine not yet started)."""
    from studio.app import attach_canvas

    window, dirs = show_window(app, root)
    canvas = attach_canvas(window, dirs.autosave)
    assert canvas is not None, "no canvas workspace"
    return window, canvas, dirs


# the crash child -------------------------------------------------------------------------------------
def crash_child(root: Path, image_path: Path, dump: Path) -> None:
    """Open, paint, wait for the autosave, write what the user sees, then die without cleanup."""
    _env(root)
    from PySide6.QtWidgets import QApplication

    app = QApplication(sys.argv[:1])
    window, canvas, _dirs = build(app, root)
    window.show_workspace(canvas)
    assert canvas.open_file(image_path)
    wait_until(lambda: canvas.view.isVisible(), 5)
    canvas.view.fit()
    paint_stroke(canvas.view, [(30, 150), (90, 120), (160, 160)])
    assert canvas.doc.mask.any(), "the stroke painted nothing"
    folder = canvas.autosave.folder
    wait_until(lambda: (folder / "state.json").is_file(), 10)  # the ~2 s debounce, then the write
    canvas.autosave.flush()
    np.savez(dump, image=canvas.doc.image, mask=canvas.doc.mask, folder=str(folder))
    os.kill(os.getpid(), signal.SIGKILL)


# the walkthrough -------------------------------------------------------------------------------------
def main(out_dir: str) -> int:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="studio-walkthrough-"))
    _env(root)
    from PIL import Image
    from PySide6.QtWidgets import QApplication

    from studio.core.geometry import outpaint_canvas
    from studio.core.masks import effective_mask
    from studio.core.paths import builtin_model_dir

    app = QApplication(sys.argv[:1])
    app.setApplicationName("Studio")
    image_path = root / "smiley.png"
    original = make_image(image_path)
    h, w = original.shape[:2]
    window, canvas, dirs = build(app, root)
    canvas.unsaved_choice = lambda parent: "discard"
    vm = window.vm
    state: dict[str, Any] = {}

    def s1_open() -> str:
        assert (builtin_model_dir() / "model_index.json").exists(), "studio-mini is missing"
        vm.set("prompt", "red apple")
        window.presets_panel.select("Emoji (studio-mini)")
        window.presets_panel.apply_selected()
        for name, value in {"prompt": PROMPT, "batch": 2, "steps": 40, "seed": 7}.items():
            vm.set(name, value)
        canvas.gen_panel.set_values(window.workspace_request(), random_seed=False)  # the canvas's own
        window.show_workspace(canvas)
        assert canvas.open_file(image_path), "open_file failed"
        assert window.tabs.currentWidget() is canvas
        assert wait_until(lambda: canvas.view.isVisible(), 5)
        canvas.view.fit()
        assert canvas.doc.size == (w, h) and np.array_equal(canvas.doc.image, original)
        return f"{w}x{h} opened, Canvas tab current, theme {window.settings.theme}"

    def s2_mask() -> str:
        paint_stroke(canvas.view, [(60, 50), (130, 50), (130, 95), (60, 95)])
        mask = canvas.doc.mask
        assert mask.any(), "the stroke painted nothing"
        assert mask[:, :20].max() == 0 and mask[150:].max() == 0, "mask outside the stroke"
        QApplicationProcess()
        window.grab().save(str(out / "screenshot-canvas-mask.png"))
        return f"{int((mask > 0).sum())} mask pixels; screenshot-canvas-mask.png"

    def s3_inpaint() -> str:
        steps_seen: list[int] = []

        def on_step(event: Any) -> None:
            steps_seen.append(event.step)
            if "grabbed" in state or not canvas.generation.busy or event.preview is None:
                return
            if event.step >= event.total // 2:
                state["grabbed"] = event.step
                canvas.view.repaint()
                window.grab().save(str(out / "screenshot-canvas-preview.png"))

        window.bridge.ensure_engine()
        before = canvas.doc.image.copy()
        mask = canvas.doc.mask.copy()
        opts = canvas.inpaint_panel.options()
        job = canvas.inpaint()
        assert job is not None, "inpaint was refused"
        job.step.connect(on_step)  # this job's steps only
        assert wait_until(lambda: not canvas.generation.busy, 300), "no result in 300 s"
        assert steps_seen, "no Step events"
        assert "grabbed" in state, "no mid-generation preview grabbed"
        assert canvas.generation.has_candidates, canvas.status.text()
        assert len(canvas.generation.candidates) == 2, len(canvas.generation.candidates)
        canvas.candidate_bar.next.click()
        assert canvas.generation.index == 1
        canvas.candidate_bar.prev.click()
        canvas.candidate_bar.next.click()
        chosen = canvas.generation.candidates[1].copy()
        canvas.candidate_bar.accept.click()
        assert not canvas.generation.has_candidates
        after = canvas.doc.image
        eff = np.asarray(effective_mask(Image.fromarray(mask, "L"), opts.grow, opts.feather))
        assert np.array_equal(after[eff == 0], before[eff == 0]), "pixels outside the mask changed"
        changed = int((after != before).any(axis=2).sum())
        assert changed > 0, "nothing changed inside the mask"
        assert np.array_equal(after[eff == 255], chosen[eff == 255])
        state["inpainted"] = after.copy()
        return (
            f"{len(steps_seen)} Step events, preview grabbed at step {state['grabbed']}, 2 candidates, "
            f"accepted #2: {changed} px changed, 0 outside the effective mask"
        )

    def s4_undo() -> str:
        canvas.undo()
        assert np.array_equal(canvas.doc.image, original), "undo did not bring back the original"
        canvas.redo()
        assert np.array_equal(canvas.doc.image, state["inpainted"]), "redo did not bring back the result"
        return "undo == original, redo == accepted result"

    def s5_outpaint() -> str:
        before = canvas.doc.image.copy()
        canvas.doc.set_mask_region((0, 0, w, h), np.zeros((h, w), np.uint8), "clear")
        op = canvas.outpaint_panel
        op.set_amounts(0, 0, 64, 0, emit=True)
        assert op.amounts() == (0, 0, 64, 0), op.amounts()
        o = op.options()  # (accepting resets the amounts to 0)
        assert canvas.outpaint() is not None, "outpaint was refused: " + canvas.status.text()
        assert wait_until(lambda: not canvas.generation.busy, 300), "no result in 300 s"
        assert canvas.generation.has_candidates, canvas.status.text()
        canvas.candidate_bar.accept.click()
        assert canvas.doc.size == (w + 64, h), canvas.doc.size
        _, out_mask, box = outpaint_canvas(Image.fromarray(before), o, fill="none")
        opts = canvas.inpaint_panel.options()
        eff = np.asarray(effective_mask(out_mask, opts.grow, opts.feather))[:, :w]
        image = canvas.doc.image
        diff = (image[:, :w] != before).any(axis=2) & (eff == 0)
        assert not diff.any(), (
            f"{int(diff.sum())} original pixels changed, columns {np.nonzero(diff.any(0))[0]}"
        )
        band = int(w - np.nonzero((eff == 0).all(axis=0))[0].max() - 1)
        assert band <= o.overlap + 4 * opts.feather + 2, f"blend band {band} px"
        new = canvas.doc.image[:, w:]
        assert new.std() > 0, "the new strip is flat"
        QApplicationProcess()
        canvas.view.fit()
        QApplicationProcess()
        window.grab().save(str(out / "screenshot-canvas-outpaint.png"))
        return (
            f"{w}x{h} -> {w + 64}x{h}; original pixels outside the {band} px seam band (overlap {o.overlap}, "
            f"feather {opts.feather}) byte-identical; screenshot-canvas-outpaint.png"
        )

    def s6_crash() -> str:
        assert canvas.maybe_close(), "the canvas would not close"  # our own autosave goes away cleanly
        dump = root / "child.npz"
        child = subprocess.run(
            [
                sys.executable,
                "-m",
                "tests.ui.canvas.walkthrough",
                "--crash-child",
                str(root),
                str(image_path),
                str(dump),
            ],
            timeout=120,
            capture_output=True,
            text=True,
        )
        assert child.returncode == -signal.SIGKILL, f"child exited {child.returncode}: {child.stderr[-2000:]}"
        saved = np.load(dump)
        from studio.ui.canvas import find_restorable, offer_restore

        item = find_restorable(dirs.autosave)
        assert item is not None, "find_restorable found nothing"
        assert item.folder == Path(str(saved["folder"])), (item.folder, saved["folder"])
        window2, canvas2, _ = build(app, root)
        asked: list[Any] = []
        restored = offer_restore(canvas2, window2, lambda parent, it: asked.append(it) or "restore")
        assert restored and asked, "offer_restore did not restore"
        assert np.array_equal(canvas2.doc.image, saved["image"]), "restored image differs"
        assert np.array_equal(canvas2.doc.mask, saved["mask"]), "restored mask differs"
        assert canvas2.doc.mask.any() and canvas2.doc.dirty
        state["window2"] = window2
        assert canvas2.maybe_close.__self__ is canvas2
        canvas2.unsaved_choice = lambda parent: "discard"
        assert canvas2.maybe_close()
        return f"child SIGKILLed after autosave; restored {item.size[0]}x{item.size[1]} image+mask equal"

    def QApplicationProcess() -> None:  # noqa: N802 - let paints and timers run
        from PySide6.QtTest import QTest

        QTest.qWait(200)

    wait_until(lambda: window.isVisible(), 5)
    QApplicationProcess()
    for name, fn in (
        ("1 open image in the Canvas tab", s1_open),
        ("2 paint a mask with the mouse", s2_mask),
        ("3 inpaint, preview, candidates, accept", s3_inpaint),
        ("4 undo / redo the accept", s4_undo),
        ("5 outpaint 64 px right, accept", s5_outpaint),
        ("6 kill after autosave, restore", s6_crash),
    ):
        step(name, fn)
    window.bridge.shutdown(timeout=30)
    failed = [n for n, ok, _ in RESULTS if not ok]
    print(f"{'FAIL' if failed else 'PASS'} walkthrough: {len(RESULTS) - len(failed)}/{len(RESULTS)} steps")
    os._exit(1 if failed else 0)  # skip Qt teardown of two windows


if __name__ == "__main__":
    argv = sys.argv[1:]
    if argv and argv[0] == "--crash-child":
        crash_child(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    else:
        raise SystemExit(main(argv[0] if argv else "docs/"))
