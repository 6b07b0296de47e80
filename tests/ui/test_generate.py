"""Generate with the scripted FakeEngine: progress and previews reach the view, the final image
replaces the preview and is saved with metadata, cancel works, a failure shows the banner."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor

from studio.core.metadata import read_png_metadata
from studio.core.request import PreviewKind
from tests.ui.conftest import engine_of


def _center(win: Any) -> QColor:
    """The colour at the centre of the preview as it is drawn on screen."""
    rect = win.preview.image_rect()
    return win.preview.grab().toImage().pixelColor(rect.center())


def _start(win: Any, qtbot: Any, **fields: Any) -> Any:
    win.vm.set("prompt", "a red square")
    win.vm.set("width", 64)
    win.vm.set("height", 64)
    for name, value in fields.items():
        win.vm.set(name, value)
    job = win.generate()
    assert job is not None
    return job


def test_previews_progress_and_final_image(window: Any, qtbot: Any) -> None:
    job = _start(window, qtbot, steps=4)
    engine = engine_of(window)
    assert "queue" in window.generate_button.text()  # Generate while running queues another job
    assert window.progress.cancel_button.isEnabled()
    engine.run(job, steps=4, color=(200, 40, 40), finish=False)
    qtbot.waitUntil(lambda: window.progress.bar.value() == 4, timeout=2000)
    assert "Step 4 of 4" in window.progress.label.text()
    assert _center(window) == QColor(200, 40, 40)  # the last preview is on screen
    assert "x0" in window.preview.caption()

    from PIL import Image

    from studio.core.events import Finished

    request = engine.requests[job.id]
    final = Image.new("RGB", (64, 64), (10, 220, 30))
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000):
        engine.emit_from_thread([Finished(job.id, [final], [request.seed], request, 0.5)])
    assert _center(window) == QColor(10, 220, 30)  # the final image replaced the preview
    assert window.generate_button.isEnabled() and not window.progress.cancel_button.isEnabled()
    assert window.progress.label.text().startswith("Done")


def test_result_is_saved_with_metadata_and_listed(window: Any, qtbot: Any) -> None:
    job = _start(window, qtbot, randomize_seed=False, seed=1234, steps=3)
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000) as blocker:
        engine_of(window).run(job, steps=3)
    saved = blocker.args[0]
    path = saved[0].path
    assert path.parent == Path(window.settings.output_dir) and path.name.endswith("-1234.png")
    meta = read_png_metadata(path)
    assert meta is not None and meta.prompt == "a red square"
    assert meta.settings["Seed"] == "1234" and meta.settings["Size"] == "64x64"
    assert window.history.paths()[0] == path
    # a second result with the same seed in the same second never overwrites the first
    job2 = window.generate()
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000) as blocker2:
        engine_of(window).run(job2, steps=3)
    assert blocker2.args[0][0].path != path and path.exists()


def test_batch_saves_every_image(window: Any, qtbot: Any) -> None:
    job = _start(window, qtbot, batch=3, randomize_seed=False, seed=7)
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000) as blocker:
        engine_of(window).run(job, steps=2)
    assert [r.seed for r in blocker.args[0]] == [7, 8, 9]
    assert len(window.history.paths()) == 3


def test_cancel_with_escape(window: Any, qtbot: Any) -> None:
    job = _start(window, qtbot)
    engine = engine_of(window)
    window.controls.steps.setFocus()
    qtbot.keyClick(window.controls.steps, Qt.Key.Key_Escape)
    assert engine.cancelled == [job.id]
    engine.run(job, steps=5, cancel_at=2)
    qtbot.waitUntil(lambda: not window.generation.busy, timeout=2000)
    assert "Cancelled at step 2" in window.progress.label.text()
    assert window.history.count() == 0


def test_failure_shows_banner_and_next_generation_works(window: Any, qtbot: Any) -> None:
    job = _start(window, qtbot)
    engine = engine_of(window)
    engine.fail(job, "Out of memory: try a smaller size.")
    qtbot.waitUntil(window.banner.isVisible, timeout=2000)
    assert "Out of memory" in window.banner.message.text()
    assert not window.banner.details.isVisible()
    window.banner.details_button.click()
    assert window.banner.details.isVisible() and "fake detail" in window.banner.details.toPlainText()
    assert window.generate_button.isEnabled()
    job2 = window.generate()
    assert job2 is not None and not window.banner.isVisible()
    with qtbot.waitSignal(window.generation.results_saved, timeout=2000):
        engine.run(job2, steps=2)


def test_invalid_request_shows_banner_without_submitting(window: Any, qtbot: Any) -> None:
    window.vm.set("init_image", None)
    window.generation.preview_interval = 1
    window.vm.set("steps", 20)
    engine = engine_of(window)
    window.vm._values["steps"] = 0  # bypass the widget limits to reach validate()
    assert window.generate() is None
    assert window.banner.isVisible() and "Steps" in window.banner.message.text()
    assert engine.requests == {}


def test_preview_toggle_and_interval_reach_the_request(window: Any, qtbot: Any) -> None:
    window.progress.xt_button.click()
    assert window.vm.preview is PreviewKind.LATENT
    job = _start(window, qtbot)
    assert engine_of(window).requests[job.id].preview is PreviewKind.LATENT
    engine_of(window).run(job, steps=1)
    qtbot.waitUntil(lambda: not window.generation.busy, timeout=2000)
    window.generation.preview_interval = 0  # settings: previews off
    job2 = window.generate()
    assert engine_of(window).requests[job2.id].preview is PreviewKind.NONE


def test_generate_shortcut(window: Any, qtbot: Any) -> None:
    window.vm.set("prompt", "x")
    window.controls.prompt.setFocus()
    qtbot.keyClick(window.controls.prompt, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.generation.job is not None


def test_unwritable_output_folder_shows_banner(window: Any, qtbot: Any, tmp_path: Path) -> None:
    import dataclasses

    blocker_file = tmp_path / "not-a-folder"
    blocker_file.write_text("x")
    window.settings = dataclasses.replace(window.settings, output_dir=str(blocker_file))
    job = _start(window, qtbot)
    engine_of(window).run(job, steps=2)
    qtbot.waitUntil(window.banner.isVisible, timeout=3000)
    assert "could not be saved" in window.banner.message.text()
    assert window.generate_button.isEnabled()


def test_picking_a_model_preloads_it_once_the_engine_runs(window: Any) -> None:
    window.vm.set("model", "/models/x.safetensors")  # engine not started: nothing to do
    engine = engine_of(window)
    window.vm.set("model", "/models/y")
    assert engine.preloaded == ["/models/y"]


def test_model_folders_are_listed(window: Any, tmp_path: Path) -> None:
    import dataclasses

    models = tmp_path / "my-models"
    (models / "painterly").mkdir(parents=True)
    (models / "painterly" / "model_index.json").write_text("{}")
    (models / "sketch.safetensors").write_bytes(b"")
    window.apply_settings(dataclasses.replace(window.settings, model_dirs=(str(models),)))
    combo = window.model_picker.combo
    refs = [combo.itemData(i) for i in range(combo.count())]
    assert refs[0] == "" and str(models / "painterly") in refs
    combo.setCurrentIndex(refs.index(str(models / "painterly")))
    assert window.vm.model == str(models / "painterly")


def test_jobs_of_other_workspaces_do_not_touch_the_generate_tab(window: Any, qtbot: Any) -> None:
    from studio.core.request import GenerationRequest

    job = window.submit(GenerationRequest(prompt="canvas job", width=64, height=64))
    finished: list[Any] = []
    window.bridge.finished.connect(finished.append)
    engine_of(window).run(job, steps=3)
    qtbot.waitUntil(lambda: bool(finished), timeout=2000)
    qtbot.wait(50)
    assert window.preview.image().isNull() and window.history.count() == 0
    assert window.generate_button.isEnabled()
