"""The "Upscale…" dialog offers only factors whose result the engine accepts (sides up to
MAX_UPSCALE_SIDE): a 2048 px image goes to 4x at most, not 8x to be refused after the dialog closed."""

from __future__ import annotations

from typing import Any

from studio.core.request import MAX_UPSCALE, MAX_UPSCALE_SIDE, GenerationRequest, Mode
from studio.ui.dialogs.upscale_dialog import UpscaleDialog


def _accepted(size: tuple[int, int], dialog: UpscaleDialog) -> bool:
    from PIL import Image

    request = GenerationRequest(
        mode=Mode.IMG2IMG, init_image=Image.new("RGB", size), upscale=dialog.options()
    )
    try:
        request.validate()
    except ValueError:
        return False
    return True


def test_the_factor_stops_at_the_largest_result_the_engine_takes(qtbot: Any) -> None:
    for size, most in (((2048, 1024), 4.0), ((3000, 100), 2.73), ((512, 512), MAX_UPSCALE)):
        dialog = UpscaleDialog(size, [])
        qtbot.addWidget(dialog)
        assert dialog.scale.maximum() == most
        dialog.scale.setValue(MAX_UPSCALE)
        width, height = dialog.options().size(*size)
        assert max(width, height) <= MAX_UPSCALE_SIDE and _accepted(size, dialog)


def test_an_image_already_past_the_limit_keeps_a_usable_factor(qtbot: Any) -> None:
    dialog = UpscaleDialog((MAX_UPSCALE_SIDE + 100, 64), [])
    qtbot.addWidget(dialog)
    assert dialog.scale.minimum() == dialog.scale.maximum() == 1.0


def test_the_overlap_shown_is_the_overlap_used(qtbot: Any) -> None:
    """The overlap box stops at half the tile (what the engine takes), so the number shown is the one
    sent: it was silently cut to half the tile in the options."""
    dialog = UpscaleDialog((512, 512), [])
    qtbot.addWidget(dialog)
    dialog.refine.setChecked(True)
    dialog.tile.setValue(128)
    assert dialog.overlap.maximum() == 64 and dialog.overlap.value() == 64
    dialog.overlap.setValue(400)
    assert dialog.overlap.value() == dialog.options().overlap == 64
    dialog.tile.setValue(1024)
    dialog.overlap.setValue(400)
    assert dialog.overlap.value() == dialog.options().overlap == 400
    dialog.tile.setValue(135)  # sent as 128: the overlap stops at 64, and the engine takes the options
    dialog.overlap.setValue(400)
    assert dialog.options().tile == 128 and dialog.options().overlap == 64
    assert _accepted((512, 512), dialog)
