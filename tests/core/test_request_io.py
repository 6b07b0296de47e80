"""Request <-> JSON dict: complete, JSON-ready, forgiving on the way back."""

from __future__ import annotations

import json

from PIL import Image

from studio.core import request_io
from studio.core.request import (
    GenerationRequest,
    InpaintArea,
    MaskedContent,
    MaskOptions,
    Mode,
    OutpaintOptions,
    PreviewKind,
)


def _full_request() -> GenerationRequest:
    return GenerationRequest(
        mode=Mode.OUTPAINT,
        prompt="p\nq",
        negative_prompt="n",
        model="/models/x.safetensors",
        steps=12,
        guidance=3.5,
        scheduler="DDIM",
        seed=99,
        width=256,
        height=320,
        batch=3,
        strength=0.4,
        init_image=Image.new("RGB", (8, 8)),
        mask=Image.new("L", (8, 8)),
        mask_options=MaskOptions(
            grow=-2, feather=6, area=InpaintArea.ONLY_MASKED, padding=8, fill=MaskedContent.NOISE
        ),
        outpaint=OutpaintOptions(left=32, top=8, overlap=4),
        preview=PreviewKind.NONE,
        preview_interval=3,
    )


def test_to_dict_has_every_field_but_images_and_is_json() -> None:
    data = request_io.request_to_dict(_full_request())
    assert set(data) == set(request_io.REQUEST_FIELDS)
    assert "init_image" not in data and "mask" not in data
    assert data["mode"] == "outpaint" and data["mask_options"]["area"] == "masked"
    assert json.loads(json.dumps(data)) == data


def test_round_trip_through_json() -> None:
    request = _full_request()
    data = json.loads(json.dumps(request_io.request_to_dict(request)))
    notes: list[str] = []
    back = request_io.apply_dict(GenerationRequest(), data, notes)
    assert back == request and not notes
    assert back.init_image is None  # images never travel through JSON


def test_bad_values_keep_base_and_are_noted() -> None:
    notes: list[str] = []
    data = {
        "steps": "ten",
        "guidance": 99,
        "mode": "sketch",
        "mask_options": {"grow": 1.5},
        "seed": 7.0,
        "unknown": 1,
        "width": 100,
    }
    back = request_io.apply_dict(GenerationRequest(), data, notes)
    assert back == GenerationRequest(seed=7)
    assert len(notes) == 5
    assert any("Width 100 is not a multiple of 8; use 104" in n for n in notes)
