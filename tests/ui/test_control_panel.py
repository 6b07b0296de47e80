"""The Generate tab's Controls panel (issue 14), with the scripted FakeEngine: units added through the
panel reach the request with their images, models come from the control model folders (Settings),
a unit lacking its model or image gets a clear message and stays in the panel, presets keep the units
(without images: the source is found again), and the history shows the job's control maps."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw
from PySide6.QtGui import QAction

from studio.core.control import ControlKind, ControlMode, ControlUnit
from studio.core.events import Failed, FailureKind
from tests.ui.conftest import engine_of

CANNY_MODEL = "control_v11p_sd15_canny.safetensors"
IP_MODEL = "ip-adapter_sd15.safetensors"


def _models(window: Any, user_dirs: Any) -> Path:
    folder = user_dirs.controls
    folder.mkdir(parents=True, exist_ok=True)
    for name in (CANNY_MODEL, IP_MODEL, "t2iadapter_sketch_sd15v2.safetensors", "notes.txt"):
        (folder / name).write_bytes(b"dummy")
    window.refresh_own_files()
    return folder


def _picture(path: Path) -> Path:
    image = Image.new("RGB", (80, 64), (235, 235, 225))
    draw = ImageDraw.Draw(image)
    draw.ellipse((14, 8, 62, 56), outline=(20, 20, 20), width=3)
    image.save(path)
    return path


def _choose_image(editor: Any, answers: Any, path: Path) -> None:
    answers.files.append(str(path))
    index = editor.source.count() - 1  # "Image file…"
    editor.source.setCurrentIndex(index)
    editor.source.activated.emit(index)


def _submitted(window: Any) -> Any:
    job = window.generate()
    assert job is not None, window.banner.message.text()
    return job.request


def test_a_controlnet_added_in_the_panel_reaches_the_request_with_its_image(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    folder = _models(window, user_dirs)
    panel = window.control_panel
    assert panel.empty.isVisible()
    panel.add_actions[ControlKind.CONTROLNET].trigger()
    (editor,) = panel.editors
    assert not panel.empty.isVisible()
    models = [editor.model.itemText(i) for i in range(editor.model.count())]
    assert models[:2] == [CANNY_MODEL, IP_MODEL]  # found in the folder, this type's first; notes.txt not
    assert editor.model.currentData() == str(folder / CANNY_MODEL)
    picture = _picture(tmp_path / "sketch.png")
    _choose_image(editor, answers, picture)
    assert editor.source.currentText() == "File: sketch.png"
    assert not editor.form.isRowVisible(editor.thresholds)  # preprocessor none: no thresholds
    editor.preprocessor.setCurrentIndex(editor.preprocessor.findData("canny"))
    assert editor.form.isRowVisible(editor.thresholds) and editor.form.isRowVisible(editor.mode)
    editor.low.setValue(50)
    editor.high.setValue(150)
    editor.weight.setValue(0.8)
    editor.end.setValue(80)
    editor.mode.setCurrentIndex(editor.mode.findData(ControlMode.PROMPT))
    assert not editor.thumbnail.pixmap().isNull()  # the canny map, made on change
    request = _submitted(window)
    (unit,) = request.controls
    assert unit.kind is ControlKind.CONTROLNET and unit.model == str(folder / CANNY_MODEL)
    assert (unit.preprocessor, unit.low_threshold, unit.high_threshold) == ("canny", 50, 150)
    assert (unit.weight, unit.start, unit.end, unit.mode) == (0.8, 0.0, 0.8, ControlMode.PROMPT)
    assert unit.image_name == str(picture)
    assert np.array_equal(np.asarray(unit.image.convert("RGB")), np.asarray(Image.open(picture)))


def test_an_ip_adapter_unit_with_a_region_and_the_encoder_folder_from_the_settings(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    folder = _models(window, user_dirs)
    window.apply_settings(dataclasses.replace(window.settings, ip_image_encoder=str(tmp_path / "encoder")))
    editor = window.control_panel.add_unit(ControlKind.IP_ADAPTER)
    assert editor.model.currentData() == str(folder / IP_MODEL)  # the IP-Adapter file offered first
    assert not editor.form.isRowVisible(editor.preprocessor)  # the reference is used as it is
    assert not editor.form.isRowVisible(editor.mode)
    _choose_image(editor, answers, _picture(tmp_path / "reference.png"))
    editor.weight.setValue(0.6)
    assert editor.form.isRowVisible(editor.region) and editor.region.currentText() == "Everywhere"
    assert _submitted(window).controls[0].mask is None
    region = Image.new("L", (80, 64), 0)
    region.paste(255, (0, 0, 40, 64))  # the left half
    region.save(tmp_path / "left.png")
    answers.files.append(str(tmp_path / "left.png"))
    browse = editor.region.count() - 1  # "Mask image file…"
    editor.region.setCurrentIndex(browse)
    editor.region.activated.emit(browse)
    assert editor.region.currentText() == "File: left.png"
    request = window.generation.build_request()  # (the first job is still running)
    (unit,) = request.controls
    assert (unit.kind, unit.weight, unit.preprocessor) == (ControlKind.IP_ADAPTER, 0.6, "none")
    assert unit.image is not None and unit.image.size == (80, 64)
    assert unit.mask_name == str(tmp_path / "left.png")
    assert np.array_equal(np.asarray(unit.mask), np.asarray(region))  # white: where the reference acts
    assert request.ip_image_encoder == str(tmp_path / "encoder")


def test_a_unit_without_image_or_model_is_refused_with_a_message_and_kept(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    panel = window.control_panel
    panel.add_unit(ControlKind.CONTROLNET)  # no models found: none chosen
    assert window.generate() is None
    assert window.banner.message.text() == "Control 1 (ControlNet) has no model: choose its file or folder."
    (editor,) = panel.editors
    model = tmp_path / "my-controlnet.safetensors"
    model.write_bytes(b"dummy")
    answers.files.append(str(model))
    browse = editor.model.findData("\0browse-file")
    editor.model.setCurrentIndex(browse)
    editor.model.activated.emit(browse)
    assert editor.model.currentText() == "my-controlnet.safetensors"
    assert window.generate() is None
    assert window.banner.message.text() == (
        "Control 1 (ControlNet) has no image: choose a layer or an image file for it."
    )
    picture = _picture(tmp_path / "gone.png")
    _choose_image(editor, answers, picture)
    picture.unlink()  # the file is gone by the time the job is made
    assert window.generate() is None
    assert "Control 1 (ControlNet): its image could not be read (gone.png was not found)" in (
        window.banner.message.text()
    )
    assert [e.unit().model for e in panel.editors] == [str(model)]  # nothing lost
    assert window.vm.controls[0].image_name == str(picture)


def test_a_switched_off_unit_is_kept_but_not_used(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    _models(window, user_dirs)
    editor = window.control_panel.add_unit(ControlKind.CONTROLNET)
    editor.enabled.setChecked(False)
    assert window.generation.build_request().controls == ()
    assert window.vm.controls == () and len(window.control_panel.editors) == 1
    _choose_image(editor, answers, _picture(tmp_path / "a.png"))
    editor.enabled.setChecked(True)
    assert len(window.generation.build_request().controls) == 1
    editor.remove.click()
    assert window.control_panel.editors == [] and window.vm.controls == ()


def test_controlnet_and_t2i_adapter_together_get_a_clear_message(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    _models(window, user_dirs)
    picture = _picture(tmp_path / "a.png")
    for kind in (ControlKind.CONTROLNET, ControlKind.T2I_ADAPTER):
        editor = window.control_panel.add_unit(kind)
        _choose_image(editor, answers, picture)
    assert window.generate() is None
    assert "ControlNet and T2I-Adapter units cannot run in one job" in window.banner.message.text()


def test_preset_keeps_the_units_and_finds_their_images_again(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    _models(window, user_dirs)
    picture = _picture(tmp_path / "pose.png")
    editor = window.control_panel.add_unit(ControlKind.CONTROLNET)
    _choose_image(editor, answers, picture)
    editor.weight.setValue(1.3)
    answers.texts = ["Posed"]
    window.presets_panel.menu.findChild(QAction, "preset_save").trigger()
    saved = json.loads(next(user_dirs.presets.glob("*.json")).read_text())
    assert saved["settings"]["controls"][0]["weight"] == 1.3
    assert "image" not in saved["settings"]["controls"][0]  # images are not kept, their source is
    editor.remove.click()
    assert window.vm.controls == ()
    window.presets_panel.apply_button.click()
    (restored,) = window.control_panel.editors
    assert restored.weight.value() == 1.3 and restored.source.currentData() == str(picture)
    (unit,) = _submitted(window).controls
    assert unit.image is not None and unit.image.size == (80, 64)


def test_reused_parameters_show_their_units(window: Any, tmp_path: Path) -> None:
    unit = ControlUnit(model=str(tmp_path / "cn.safetensors"), preprocessor="lineart", weight=0.5)
    window.vm.set_request(window.vm.request().replace(controls=(unit,)))
    (editor,) = window.control_panel.editors
    assert editor.unit() == unit
    assert editor.source.currentText() == "Choose an image…"


def test_a_failure_naming_a_control_model_offers_to_run_without_it(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path, qtbot: Any
) -> None:
    folder = _models(window, user_dirs)
    editor = window.control_panel.add_unit(ControlKind.CONTROLNET)
    _choose_image(editor, answers, _picture(tmp_path / "a.png"))
    job = window.generate()
    engine = engine_of(window)
    message = f"{CANNY_MODEL} is not a ControlNet for this model (SD 1.x): it was made for SDXL."
    engine.emit_from_thread([Failed(job.id, FailureKind.INPUT, message)])
    qtbot.waitUntil(lambda: not window.generation.busy)
    assert window.banner.message.text() == message
    assert window.banner.action_button.text() == f"Run without {CANNY_MODEL}"
    window.banner.action_button.click()
    retried = engine.requests[max(engine.requests)]
    assert retried.controls == ()
    assert len(window.control_panel.editors) == 1 and window.vm.controls[0].model == str(folder / CANNY_MODEL)


def test_the_history_shows_the_control_maps_with_the_result(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path, qtbot: Any
) -> None:
    _models(window, user_dirs)
    editor = window.control_panel.add_unit(ControlKind.CONTROLNET)
    _choose_image(editor, answers, _picture(tmp_path / "sketch.png"))
    editor.preprocessor.setCurrentIndex(editor.preprocessor.findData("canny"))
    window.vm.set("width", 128)
    window.vm.set("height", 128)
    job = window.generate()
    engine_of(window).run(job, steps=2, color=(200, 30, 40))
    qtbot.waitUntil(lambda: window.history.count() > 0 and not window.generation.busy, timeout=5000)
    item = window.history.item(0)
    assert "Controls:\nControlNet canny 1 (0-100 %) control_v11p_sd15_canny" in item.toolTip()
    assert "File: sketch.png" in item.toolTip()
    thumb = item.icon().pixmap(96, 96).toImage()
    inset = thumb.pixelColor(8, thumb.height() - 8)  # the canny map (grey levels), bottom left
    result = thumb.pixelColor(thumb.width() - 10, 10)  # the (red) result itself
    assert inset.red() == inset.green() == inset.blue()
    assert (result.red(), result.green()) == (200, 30)


def test_settings_dialog_sets_control_folders_and_the_image_encoder(
    window: Any, answers: Any, tmp_path: Path
) -> None:
    extra = tmp_path / "more-controls"
    net = extra / "depth-net"
    net.mkdir(parents=True)
    (net / "config.json").write_text("{}")
    (net / "diffusion_pytorch_model.safetensors").write_bytes(b"dummy")
    encoder = tmp_path / "image_encoder"
    dialog = window.show_settings()
    answers.files = [str(extra), str(encoder)]
    dialog._add_folder(dialog.control_dirs, "Add a control model folder")
    dialog._browse_encoder()
    dialog.accept()
    assert window.settings.control_dirs == (str(extra),)
    assert window.settings.ip_image_encoder == str(encoder)
    editor = window.control_panel.add_unit(ControlKind.CONTROLNET)
    assert editor.model.currentData() == str(net)  # a diffusers folder in the new folder


def test_the_canvas_has_its_own_controls_remembered_with_its_settings(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    from studio.app import attach_canvas

    folder = _models(window, user_dirs)
    window.apply_settings(dataclasses.replace(window.settings, ip_image_encoder=str(tmp_path / "enc")))
    tab_unit = window.control_panel.add_unit(ControlKind.CONTROLNET)
    _choose_image(tab_unit, answers, _picture(tmp_path / "tab.png"))
    canvas = attach_canvas(window, tmp_path / "autosave")
    assert canvas is not None and canvas.control_panel.editors == []  # the Generate tab's stay there
    editor = canvas.control_panel.add_unit(ControlKind.IP_ADAPTER)
    assert editor.model.currentData() == str(folder / IP_MODEL)  # the same control model folders
    index = editor.source.findData("Image")
    editor.source.setCurrentIndex(index)
    editor.source.activated.emit(index)
    request = canvas.generation_request()
    (unit,) = request.controls
    assert unit.kind is ControlKind.IP_ADAPTER and unit.image is not None
    assert request.ip_image_encoder == str(tmp_path / "enc")
    remembered = window.remember_request().canvas_request  # written on quit
    assert remembered is not None and remembered.controls == (unit.replace(image=None),)
    again = attach_canvas(window, tmp_path / "autosave2")  # the next start
    assert again is not None and again.control_panel.units() == (unit.replace(image=None),)
