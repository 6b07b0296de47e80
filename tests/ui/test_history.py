"""History strip: reuse parameters / seed, open in canvas, delete; dropping a PNG offers its parameters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from studio.core.metadata import build_parameters, save_png
from studio.core.request import GenerationRequest
from tests.ui.conftest import engine_of

A1111_TEXT = (
    "a misty forest, volumetric light\nNegative prompt: lowres, watermark\n"
    "Steps: 28, Sampler: Euler a, Schedule type: Automatic, CFG scale: 6.5, Seed: 98765, Size: 640x448"
)


def _generate(win: Any, qtbot: Any, **fields: Any) -> Path:
    for name, value in {"prompt": "p", "width": 64, "height": 64, **fields}.items():
        win.vm.set(name, value)
    job = win.generate()
    with qtbot.waitSignal(win.generation.results_saved, timeout=2000) as blocker:
        engine_of(win).run(job, steps=2)
    return blocker.args[0][0].path


def test_reuse_parameters_and_seed(window: Any, qtbot: Any) -> None:
    path = _generate(
        window,
        qtbot,
        prompt="a blue whale",
        steps=9,
        guidance=3.5,
        scheduler="Euler",
        randomize_seed=False,
        seed=4242,
    )
    window.vm.set_request(GenerationRequest(prompt="something else", steps=30, seed=1))
    window.vm.set("randomize_seed", True)
    window.history.action_requested.emit("reuse_seed", path)
    assert window.vm.seed == 4242 and not window.vm.randomize_seed
    assert window.vm.prompt == "something else"
    window.history.action_requested.emit("reuse_parameters", path)
    r = window.vm.request()
    assert (r.prompt, r.steps, r.guidance, r.scheduler, r.seed) == ("a blue whale", 9, 3.5, "Euler", 4242)
    assert window.controls.prompt.toPlainText() == "a blue whale"


def test_click_shows_image_large(window: Any, qtbot: Any) -> None:
    first = _generate(window, qtbot)
    _generate(window, qtbot)
    item = window.history.item_for(first)
    rect = window.history.visualItemRect(item)
    qtbot.mouseClick(window.history.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.preview.caption() == first.name


def test_context_menu_has_every_action(window: Any, qtbot: Any) -> None:
    path = _generate(window, qtbot)
    menu = window.history.context_menu(path)
    names = [a.objectName() for a in menu.actions() if a.objectName()]
    assert names == [
        "reuse_parameters",
        "reuse_seed",
        "open_in_canvas",
        "upscale",
        "copy",
        "show_in_folder",
        "delete",
    ]
    with qtbot.waitSignal(window.open_in_canvas_requested, timeout=1000) as blocker:
        next(a for a in menu.actions() if a.objectName() == "open_in_canvas").trigger()
    assert blocker.args == [path]
    next(a for a in menu.actions() if a.objectName() == "copy").trigger()
    from PySide6.QtGui import QGuiApplication

    assert QGuiApplication.clipboard().image().width() == 64


def test_delete_asks_first(window: Any, qtbot: Any, answers: Any) -> None:
    path = _generate(window, qtbot)
    answers.confirm_answer = False
    window.history.action_requested.emit("delete", path)
    assert path.exists() and window.history.item_for(path) is not None
    answers.confirm_answer = True
    window.history.action_requested.emit("delete", path)
    assert not path.exists() and window.history.item_for(path) is None


def test_recent_files_from_the_output_folder_are_listed(qtbot: Any, settings: Any, preset_store: Any) -> None:
    from studio.ui.bridge import EngineBridge
    from studio.ui.main_window import MainWindow
    from tests.ui.fakes import FakeEngine

    out = Path(settings.output_dir)
    for i in range(3):
        Image.new("RGB", (32, 32), (i * 80, 0, 0)).save(out / f"old-{i}.png")
    win = MainWindow(EngineBridge(FakeEngine), settings, preset_store)
    qtbot.addWidget(win)
    assert {p.name for p in win.history.paths()} == {"old-0.png", "old-1.png", "old-2.png"}
    win.history.pool.waitForDone(3000)
    qtbot.waitUntil(lambda: win.history.item(0).icon().pixmap(96, 96).width() == 96, timeout=2000)


def _drop(win: Any, path: Path) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(QPoint(200, 200)),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
    )
    win.dropEvent(event)


def test_dropping_an_a1111_png_offers_its_parameters(window: Any, tmp_path: Path, answers: Any) -> None:
    path = tmp_path / "a1111.png"
    info = PngInfo()
    info.add_text("parameters", A1111_TEXT)
    Image.new("RGB", (64, 64)).save(path, pnginfo=info)
    answers.confirm_answer = False
    _drop(window, path)
    assert "a misty forest" in answers.confirms[-1] and window.vm.prompt != "a misty forest, volumetric light"
    answers.confirm_answer = True
    _drop(window, path)
    r = window.vm.request()
    assert r.prompt == "a misty forest, volumetric light" and r.negative_prompt == "lowres, watermark"
    assert (r.steps, r.guidance, r.scheduler, r.seed, r.width, r.height) == (
        28,
        6.5,
        "Euler a",
        98765,
        640,
        448,
    )


def test_dropping_a_studio_png_and_a_plain_png(window: Any, tmp_path: Path, answers: Any) -> None:
    request = GenerationRequest(prompt="studio made", steps=11, seed=5, scheduler="DDIM")
    path = save_png(
        Image.new("RGB", (64, 64)), tmp_path / "studio.png", build_parameters(request, 5, "m", "")
    )
    _drop(window, Path(path))
    assert window.vm.prompt == "studio made" and window.vm.steps == 11 and window.vm.scheduler == "DDIM"
    plain = tmp_path / "plain.png"
    Image.new("RGB", (8, 8)).save(plain)
    _drop(window, plain)
    assert answers.infos and "no A1111 or Studio parameters" in answers.infos[-1][1]


def test_new_output_folder_lists_its_images(window: Any, tmp_path: Path) -> None:
    import dataclasses

    other = tmp_path / "other-out"
    other.mkdir()
    Image.new("RGB", (16, 16)).save(other / "x.png")
    window.apply_settings(dataclasses.replace(window.settings, output_dir=str(other)))
    assert other / "x.png" in window.history.paths()
