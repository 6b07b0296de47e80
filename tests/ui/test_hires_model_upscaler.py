"""The hires fix's upscaler list on the Generate tab: the model upscalers in the upscaler folder are
offered after the built-in ones, choosing one sends its name and the folders with the job, and a model
name from reused parameters that is not there stays chosen, marked "(not found)"."""

from __future__ import annotations

from typing import Any

from studio.core.request import GenerationRequest, HiresOptions
from tests.ui.conftest import engine_of


def test_model_upscalers_are_listed_and_sent(window: Any, user_dirs: Any) -> None:
    user_dirs.upscalers.mkdir(parents=True, exist_ok=True)
    (user_dirs.upscalers / "4x-UltraSharp.pth").write_bytes(b"weights")
    window.refresh_own_files()
    panel = window.controls.hires
    items = [panel.upscaler.itemText(i) for i in range(panel.upscaler.count())]
    assert items[-1] == "4x-UltraSharp" and items[:2] == ["Latent", "Latent (antialiased)"]
    panel.setChecked(True)
    panel.upscaler.setCurrentText("4x-UltraSharp")
    job = window.generate()
    assert job is not None
    sent = engine_of(window).requests[job.id]
    assert sent.hires.upscaler == "4x-UltraSharp" and str(user_dirs.upscalers) in sent.upscaler_dirs


def test_a_missing_model_upscaler_from_parameters_is_kept_and_marked(window: Any) -> None:
    hires = HiresOptions(enabled=True, scale=2.0, upscaler="4x-Foolhardy")
    window.vm.set_request(GenerationRequest(hires=hires))
    panel = window.controls.hires
    assert panel.upscaler.currentText() == "4x-Foolhardy (not found)"
    assert window.vm.request().hires.upscaler == "4x-Foolhardy"
    panel.upscaler.setCurrentText("Lanczos")
    assert window.vm.request().hires.upscaler == "Lanczos"
