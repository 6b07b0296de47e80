"""Request <-> JSON dict: complete, JSON-ready, forgiving on the way back."""

from __future__ import annotations

import json

from PIL import Image

from studio.core import request_io
from studio.core.request import (
    GenerationRequest,
    InpaintArea,
    LoraRef,
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
        loras=(LoraRef("ink", 0.6), LoraRef("/loras/paper.safetensors", -1.5)),
        lora_dirs=("/loras", "/more loras"),
        embedding_dirs=("/embeddings",),
        clip_skip=2,
        vae="/vae/vae-ft-mse.safetensors",
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


def test_own_files_are_json_lists_and_tuples_again() -> None:
    data = request_io.request_to_dict(_full_request())
    assert data["loras"] == [
        {"name": "ink", "weight": 0.6},
        {"name": "/loras/paper.safetensors", "weight": -1.5},
    ]
    assert data["lora_dirs"] == ["/loras", "/more loras"] and data["embedding_dirs"] == ["/embeddings"]
    back = request_io.apply_dict(GenerationRequest(), {"loras": [{"name": "ink"}], "lora_dirs": ["/a"]}, [])
    assert back.loras == (LoraRef("ink", 1.0),) and back.lora_dirs == ("/a",)


def test_bad_own_file_values_are_noted_never_raised() -> None:
    notes: list[str] = []
    data = {
        "loras": [
            {"name": "ok", "weight": 2},
            {"name": ""},
            {"weight": 1},
            "ink:0.5",
            {"name": "x", "weight": "a"},
        ],
        "lora_dirs": "/not/a/list",
        "embedding_dirs": [1, 2],
        "clip_skip": 40,
        "vae": 3,
    }
    back = request_io.apply_dict(GenerationRequest(), data, notes)
    assert back == GenerationRequest(loras=(LoraRef("ok", 2.0),))
    assert len(notes) == 8
    assert any("Clip skip must be between 1 and 12, not 40" in n for n in notes)
    bad_weight: list[str] = []
    back = request_io.apply_dict(GenerationRequest(), {"loras": [{"name": "x", "weight": 1e9}]}, bad_weight)
    assert back.loras == () and len(bad_weight) == 1 and "between -10 and 10" in bad_weight[0]
    assert request_io.apply_dict(GenerationRequest(), {"loras": "ink"}, notes).loras == ()
