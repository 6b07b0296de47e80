"""Infill: new and masked areas start from the surroundings' colours (issue 12)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from studio.core import infill as infill_module
from studio.core import metadata as md
from studio.core import request_io
from studio.core.geometry import outpaint_canvas
from studio.core.infill import INFILL_METHODS, NEUTRAL_GREY, check_infill_method, infill
from studio.core.masks import prefill_masked
from studio.core.request import (
    GenerationRequest,
    MaskedContent,
    MaskOptions,
    Mode,
    OutpaintOptions,
    check_request,
)
from tests.core.pictures import photo


@pytest.mark.parametrize("method", INFILL_METHODS)
def test_infill_leaves_no_pure_white_pixels_in_the_extension_of_a_photo(method: str) -> None:
    picture, side = photo(), 64
    extended, _, box = outpaint_canvas(
        Image.fromarray(picture), OutpaintOptions(side, side, side, side), method
    )
    ext = np.asarray(extended).astype(np.int32)
    new_area = np.ones(ext.shape[:2], bool)
    new_area[box[1] : box[3], box[0] : box[2]] = False
    assert not (ext[new_area] == 255).all(axis=-1).any()
    assert np.array_equal(ext[box[1] : box[3], box[0] : box[2]], picture)
    if method == "flat":  # one colour for the whole new area: only the mean of the picture
        return
    # each new strip's mean colour is close to the mean colour of the original's edge beside it
    edge = 16
    strips = {
        "left": (ext[box[1] : box[3], :side], picture[:, :edge]),
        "right": (ext[box[1] : box[3], -side:], picture[:, -edge:]),
        "top": (ext[:side, box[0] : box[2]], picture[:edge]),
        "bottom": (ext[-side:, box[0] : box[2]], picture[-edge:]),
    }
    for name, (new, beside) in strips.items():
        gap = np.abs(new.reshape(-1, 3).mean(0) - beside.reshape(-1, 3).mean(0))
        assert gap.max() < 12, f"{method} {name}: new strip {gap} off the edge colour"


@pytest.mark.parametrize("method", ["telea", "ns"])
def test_opencv_infill_continues_a_smooth_picture_into_a_large_hole(method: str) -> None:
    y, x = np.mgrid[0:768, 0:768].astype(np.float32)
    truth = np.stack([40 + x / 5, 60 + y / 5, 200 - (x + y) / 10], -1).astype(np.uint8)
    hole = np.zeros(truth.shape[:2], bool)
    hole[200:560, 250:520] = True
    damaged = truth.copy()
    damaged[hole] = 255  # what lies under the hole is never read
    out = infill(damaged, hole, method)
    assert np.array_equal(out[~hole], truth[~hole])
    error = np.abs(out[hole].astype(int) - truth[hole]).mean()
    assert error < 12, f"mean error {error:.1f} over the hole"


def test_reduced_resolution_matches_full_resolution_inpainting() -> None:
    import cv2

    picture = photo(768, 768)
    hole = np.zeros(picture.shape[:2], bool)
    hole[:128], hole[-128:], hole[:, :128], hole[:, -128:] = True, True, True, True
    fast = infill(picture, hole, "telea")
    full = cv2.inpaint(picture, hole.astype(np.uint8) * 255, 3, cv2.INPAINT_TELEA)
    difference = np.abs(fast[hole].astype(int) - full[hole]).mean()
    assert difference < 10, f"reduced-resolution infill is {difference:.1f} off the full-resolution one"
    near_edge = hole.copy()
    near_edge[:124], near_edge[-124:], near_edge[:, :124], near_edge[:, -124:] = False, False, False, False
    assert np.abs(fast[near_edge].astype(int) - full[near_edge]).mean() < 4  # the join is full-resolution


@pytest.mark.parametrize("method", INFILL_METHODS)
def test_infill_changes_only_the_hole_and_is_deterministic(method: str) -> None:
    picture = photo(96, 80, seed=3)
    hole = np.zeros(picture.shape[:2], np.uint8)
    hole[20:50, 30:70] = 255
    out = infill(picture, hole, method, seed=5)
    assert out.dtype == np.uint8 and out.shape == picture.shape
    assert np.array_equal(out[hole == 0], picture[hole == 0])
    assert not np.array_equal(out[hole > 0], picture[hole > 0])
    assert np.array_equal(out, infill(picture, hole, method, seed=5))


def test_stretch_takes_the_nearest_colour_with_slight_noise() -> None:
    picture = np.zeros((40, 120, 3), np.uint8)
    picture[:, :60] = (200, 30, 30)
    picture[:, 60:] = (20, 20, 220)
    hole = np.zeros(picture.shape[:2], bool)
    hole[:, :30], hole[:, 90:] = True, True
    out = infill(picture, hole, "stretch", seed=1).astype(int)
    assert out[20, 5, 0] > 150 and out[20, 5, 2] < 80
    assert out[20, 115, 2] > 150 and out[20, 115, 0] < 80
    assert out[:, :30].std(axis=(0, 1)).max() > 1  # not a flat fill


def test_empty_and_full_holes() -> None:
    picture = photo(32, 24)
    assert np.array_equal(infill(picture, np.zeros((24, 32), bool)), picture)
    grey = infill(picture, np.ones((24, 32), bool))
    assert (grey == NEUTRAL_GREY).all()


def test_bad_input_gets_a_clear_message() -> None:
    picture = photo(32, 24)
    with pytest.raises(ValueError, match="Unknown infill method 'magic'; use one of telea, ns"):
        infill(picture, np.zeros((24, 32), bool), "magic")
    with pytest.raises(ValueError, match="same size"):
        infill(picture, np.zeros((10, 10), bool))
    with pytest.raises(ValueError, match="8-bit RGB"):
        infill(picture[..., 0], np.zeros((24, 32), bool))
    assert check_infill_method("ns") == "ns"


def test_prefill_infill_uses_the_chosen_method() -> None:
    picture = Image.fromarray(photo(64, 64, seed=2))
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    telea = np.asarray(prefill_masked(picture, mask, MaskedContent.INFILL, method="telea"))
    flat = np.asarray(prefill_masked(picture, mask, "infill", method="flat"))
    assert np.array_equal(telea[:16], np.asarray(picture)[:16])
    assert len(np.unique(flat[20:44, 20:44].reshape(-1, 3), axis=0)) == 1
    assert not np.array_equal(telea, flat)


def test_the_request_checks_and_round_trips_the_infill_method() -> None:
    picture = Image.fromarray(photo(64, 64))
    request = GenerationRequest(
        mode=Mode.OUTPAINT,
        init_image=picture,
        outpaint=OutpaintOptions(left=32),
        mask_options=MaskOptions(infill="ns"),
        width=64,
        height=64,
    )
    assert check_request(request).mask_options.infill == "ns"
    with pytest.raises(ValueError, match="Unknown infill method 'blurry'"):
        check_request(request.replace(mask_options=MaskOptions(infill="blurry")))
    # Studio's JSON (PNG metadata, settings) keeps it ...
    data = request_io.request_to_dict(request)
    assert data["mask_options"]["infill"] == "ns"  # type: ignore[index]
    meta = md.read_png_metadata(Image.open(_png(md.build_parameters(request, 1, "m", "h"))))
    assert meta is not None
    assert md.request_from_metadata(meta, GenerationRequest()).mask_options.infill == "ns"
    # ... files written before the field existed load with the default, and a bad value is noted
    del data["mask_options"]["infill"]  # type: ignore[attr-defined]
    assert request_io.apply_dict(GenerationRequest(), data, []).mask_options.infill == "telea"
    notes: list[str] = []
    data["mask_options"]["infill"] = "blurry"  # type: ignore[index]
    assert request_io.apply_dict(GenerationRequest(), data, notes).mask_options.infill == "telea"
    assert any("blurry" in note for note in notes)


def _png(params: dict[str, object]):  # type: ignore[no-untyped-def]
    import io

    return io.BytesIO(md.png_bytes(Image.new("RGB", (8, 8)), params))


def test_importing_infill_does_not_import_opencv() -> None:
    import subprocess
    import sys

    code = "import sys, studio.core.plan, studio.core.seams; print('cv2' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert infill_module.WORK_SIDE >= 128
