"""The Generate tab's "Hires fix" group: its widgets set the request the engine gets, it follows the
view-model (reused parameters), shows the result size, is off for image to image, and presets keep it."""

from __future__ import annotations

from typing import Any

from PIL import Image

from studio.core.presets import Preset
from studio.core.request import GenerationRequest, HiresOptions
from tests.ui.conftest import engine_of


def test_the_group_sets_the_request(window: Any) -> None:
    panel = window.controls.hires
    assert not panel.isChecked() and not window.vm.request().hires.enabled
    panel.setChecked(True)
    panel.scale.setValue(1.5)
    panel.upscaler.setCurrentText("Lanczos")
    panel.steps.setValue(8)
    panel.denoise.spin.setValue(0.6)
    assert panel.final_size.text() == "192 × 192"  # the built-in model's 128 px x 1.5
    job = window.generate()
    assert job is not None
    sent = engine_of(window).requests[job.id]
    assert sent.hires == HiresOptions(enabled=True, scale=1.5, upscaler="Lanczos", steps=8, denoise=0.6)


def test_the_group_follows_reused_parameters(window: Any) -> None:
    hires = HiresOptions(enabled=True, scale=2.0, upscaler="Latent (nearest-exact)", steps=12, denoise=0.35)
    window.vm.set_request(GenerationRequest(width=128, height=96, hires=hires))
    panel = window.controls.hires
    assert panel.isChecked() and panel.scale.value() == 2.0 and panel.steps.value() == 12
    assert panel.upscaler.currentText() == "Latent (nearest-exact)" and panel.denoise.spin.value() == 0.35
    assert panel.final_size.text() == "256 × 192"
    assert panel.scale.isEnabled()  # the rows of a checked group


def test_image_to_image_disables_it(window: Any) -> None:
    panel = window.controls.hires
    window.vm.set("init_image", Image.new("RGB", (64, 64)))
    assert not panel.isEnabled() and "text to image only" in panel.title()
    window.vm.set("init_image", None)
    assert panel.isEnabled()


def test_a_preset_keeps_the_hires_fix(window: Any) -> None:
    hires = HiresOptions(enabled=True, scale=1.75, upscaler="Latent (bicubic)", steps=6, denoise=0.5)
    preset = Preset.from_json(Preset.capture("Big", GenerationRequest(hires=hires)).to_json())
    window._apply_preset(preset)
    assert window.vm.hires == hires and window.controls.hires.scale.value() == 1.75
    notes: list[str] = []
    broken = Preset("Broken", {"hires": {"enabled": True, "scale": "big"}})
    assert broken.apply_to(GenerationRequest(), notes).hires == HiresOptions() and notes


def test_reusing_an_a1111_png_with_hires_fields_turns_it_on(window: Any, tmp_path: Any) -> None:
    from PIL.PngImagePlugin import PngInfo

    path = tmp_path / "a1111-hires.png"
    info = PngInfo()
    info.add_text(
        "parameters",
        "a misty forest\nSteps: 28, Sampler: Euler a, CFG scale: 6.5, Seed: 98765, Size: 512x384, "
        "Denoising strength: 0.45, Hires upscale: 2, Hires steps: 14, Hires upscaler: Latent (bicubic)",
    )
    Image.new("RGB", (1024, 768)).save(path, pnginfo=info)
    assert window.history_actions.reuse_parameters(path)
    expected = HiresOptions(enabled=True, scale=2.0, upscaler="Latent (bicubic)", steps=14, denoise=0.45)
    assert window.vm.hires == expected and (window.vm.width, window.vm.height) == (512, 384)
    panel = window.controls.hires
    assert panel.isChecked() and panel.final_size.text() == "1024 × 768"
    assert "Hires" not in window.banner.message.text()  # nothing listed as not applied
    assert engine_of(window).requests[window.generate().id].hires == expected
