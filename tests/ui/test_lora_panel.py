"""The Generate tab's LoRA panel (issue 13), with the scripted FakeEngine: LoRAs picked with weights,
embeddings put in the prompt, the VAE choice and clip skip reach the request, with the folders from
the settings; a failure naming a LoRA offers to run without it (only when the artist clicks)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from studio.core.events import Failed, FailureKind
from studio.core.request import LoraRef
from tests.ui.conftest import engine_of


def _own_files(window: Any, user_dirs: Any) -> None:
    for folder, names in (
        (user_dirs.loras, ("detail-tweaker.safetensors", "ink-style.safetensors", "notes.txt")),
        (user_dirs.embeddings, ("easynegative.safetensors", "bad-hands.pt")),
        (user_dirs.vae, ("vae-ft-mse.safetensors",)),
    ):
        folder.mkdir(parents=True, exist_ok=True)
        for name in names:
            (folder / name).write_bytes(b"dummy")
    window.refresh_own_files()


def _submitted(window: Any) -> Any:
    job = window.generate()
    assert job is not None
    return job.request


def test_two_loras_with_weights_reach_the_request(window: Any, user_dirs: Any) -> None:
    _own_files(window, user_dirs)
    picker = window.own_files.loras
    assert [picker.available.itemText(i) for i in range(picker.available.count())] == [
        "detail-tweaker",
        "ink-style",
    ]
    picker.weight.setValue(0.6)
    picker.add_button.click()
    picker.available.setCurrentIndex(1)
    picker.weight.setValue(-0.55)
    picker.add_button.click()
    assert window.vm.loras == (LoraRef("detail-tweaker", 0.6), LoraRef("ink-style", -0.55))
    picker.rows["ink-style"][1].setValue(1.25)  # the weight edited in its row
    request = _submitted(window)
    assert request.loras == (LoraRef("detail-tweaker", 0.6), LoraRef("ink-style", 1.25))
    assert request.lora_dirs == (str(user_dirs.loras),)
    assert request.embedding_dirs == (str(user_dirs.embeddings),)
    picker.rows["detail-tweaker"][2].click()  # removed
    assert window.vm.loras == (LoraRef("ink-style", 1.25),)
    assert list(picker.rows) == ["ink-style"]


def test_weight_spin_box_range_and_step(window: Any) -> None:
    spin = window.own_files.loras.weight
    assert (spin.minimum(), spin.maximum(), spin.singleStep(), spin.value()) == (-2.0, 2.0, 0.05, 1.0)


def test_no_loras_found_says_so(window: Any) -> None:
    picker = window.own_files.loras
    assert picker.available.currentText() == "No LoRAs found"
    assert not picker.add_button.isEnabled()


def test_clicking_an_embedding_inserts_its_name_in_the_prompt(window: Any, user_dirs: Any) -> None:
    _own_files(window, user_dirs)
    embeddings = window.own_files.embeddings
    assert embeddings.names() == ["bad-hands", "easynegative"]
    window.controls.prompt.setPlainText("a cat")
    cursor = window.controls.prompt.textCursor()
    cursor.movePosition(cursor.MoveOperation.End)
    window.controls.prompt.setTextCursor(cursor)
    embeddings.itemClicked.emit(embeddings.item(1))
    assert window.vm.prompt == "a cat easynegative"
    assert _submitted(window).prompt == "a cat easynegative"


def test_vae_choice_and_clip_skip_reach_the_request(
    window: Any, user_dirs: Any, answers: Any, tmp_path: Path
) -> None:
    _own_files(window, user_dirs)
    combo = window.own_files.vae.combo
    items = [combo.itemText(i) for i in range(combo.count())]
    assert items == ["Model's own VAE", "vae-ft-mse.safetensors", "Browse…"]
    combo.setCurrentIndex(1)
    combo.activated.emit(1)
    window.own_files.vae.clip_skip.setValue(2)
    request = _submitted(window)
    assert request.vae == str(user_dirs.vae / "vae-ft-mse.safetensors")
    assert request.clip_skip == 2
    elsewhere = tmp_path / "other-vae.safetensors"
    elsewhere.write_bytes(b"dummy")
    answers.files.append(str(elsewhere))
    combo.activated.emit(combo.count() - 1)  # Browse…
    assert window.vm.vae == str(elsewhere)
    assert combo.currentText() == "other-vae.safetensors"
    combo.activated.emit(0)
    assert window.vm.vae == ""
    assert window.own_files.vae.clip_skip.maximum() == 12


def test_loading_a_request_syncs_the_panel(window: Any, user_dirs: Any) -> None:
    _own_files(window, user_dirs)
    loaded = window.vm.request().replace(loras=(LoraRef("ink-style", 0.3),), clip_skip=3)
    window.vm.set_request(loaded)
    assert list(window.own_files.loras.rows) == ["ink-style"]
    assert window.own_files.loras.rows["ink-style"][1].value() == 0.3
    assert window.own_files.vae.clip_skip.value() == 3


def test_extra_folders_from_settings_are_searched_and_sent(
    window: Any, user_dirs: Any, tmp_path: Path
) -> None:
    extra = tmp_path / "more-loras"
    extra.mkdir()
    (extra / "from-settings.safetensors").write_bytes(b"dummy")
    window.apply_settings(dataclasses.replace(window.settings, lora_dirs=(str(extra),)))
    picker = window.own_files.loras
    assert picker.available.itemText(0) == "from-settings"
    assert _submitted(window).lora_dirs == (str(user_dirs.loras), str(extra))


def test_canvas_requests_carry_the_folders(window: Any, user_dirs: Any) -> None:
    assert window.workspace_request().embedding_dirs == (str(user_dirs.embeddings),)


def test_a_failure_naming_a_lora_offers_to_run_without_it(window: Any, user_dirs: Any, qtbot: Any) -> None:
    _own_files(window, user_dirs)
    window.vm.add_lora("ink-style", 0.8)
    window.vm.add_lora("detail-tweaker", 0.5)
    job = window.generate()
    engine = engine_of(window)
    message = "The LoRA ink-style.safetensors is for SDXL; this model is SD 1.x."
    engine.emit_from_thread([Failed(job.id, FailureKind.INPUT, message, "")])
    qtbot.waitUntil(lambda: not window.generation.busy)
    banner = window.banner
    assert banner.isVisible() and banner.message.text() == message
    assert banner.action_button.isVisible()
    assert banner.action_button.text() == "Run without ink-style"
    assert len(engine.requests) == 1  # never run again without asking
    banner.action_button.click()
    assert len(engine.requests) == 2
    retry = list(engine.requests.values())[-1]
    assert retry.loras == (LoraRef("detail-tweaker", 0.5),)
    assert retry.seed == job.request.seed
    assert window.vm.loras == (LoraRef("ink-style", 0.8), LoraRef("detail-tweaker", 0.5))  # choice kept


def test_other_failures_offer_nothing(window: Any, qtbot: Any) -> None:
    window.vm.add_lora("ink-style", 0.8)
    job = window.generate()
    engine_of(window).fail(job)
    qtbot.waitUntil(lambda: not window.generation.busy)
    assert window.banner.isVisible() and not window.banner.action_button.isVisible()


def test_reusing_a_png_shows_what_was_not_applied(window: Any, tmp_path: Path) -> None:
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    path = tmp_path / "a1111.png"
    info = PngInfo()
    text = (
        "a misty forest\nSteps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 98765, Size: 640x448, "
        "Clip skip: 2, ADetailer model: face_yolov8n.pt"
    )
    info.add_text("parameters", text)
    Image.new("RGB", (64, 64)).save(path, pnginfo=info)
    messages: list[str] = []
    window.history_actions.status_message.connect(messages.append)
    assert window.history_actions.reuse_parameters(path)
    assert window.vm.clip_skip == 2 and window.own_files.vae.clip_skip.value() == 2
    assert window.banner.isVisible() and window.banner.severity == "warning"
    assert "not applied: ADetailer model" in window.banner.message.text()
    assert "not applied: ADetailer model" in messages[-1]
