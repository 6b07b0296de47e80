"""Metadata: A1111 text both ways, Studio JSON, PNG round trip, texts written by other tools."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio.core import metadata as md
from studio.core.request import GenerationRequest, MaskOptions, Mode, OutpaintOptions, PreviewKind

A1111_FULL = """masterpiece, best quality, 1girl, (red hair:1.2),
looking at viewer
Negative prompt: lowres, bad anatomy,
bad hands
Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7, Seed: 1234567890, Size: 512x768, \
Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.5, Hires upscale: 2, \
Hires upscaler: Latent, Lora hashes: "add_detail: 7c6bad76eb54, lcm: abc123", \
TI hashes: "easynegative: c74b4e810b03", Version: v1.9.4"""

A1111_OLD_NO_NEGATIVE = """a castle on a hill, sunset
Steps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: 9aba26abdf, \
Model: deliberate_v2"""

FORGE = """portrait photo of an old man
Negative prompt: cartoon
Steps: 25, Sampler: Euler a, Schedule type: Automatic, CFG scale: 5, Seed: 99, Size: 832x1216, \
Model hash: 31e35c80fc, Model: sd_xl_base_1.0, Version: f2.0.1v1.10.1-previous-313-g8a042934, \
Module 1: sdxl_vae"""

COMFY_EXPORT = """a photo of a dog
Negative prompt: drawing
Steps: 20, Sampler: dpmpp_2m_karras, CFG scale: 8.0, Seed: 156680208700286, Size: 515x512, \
Model hash: e6bb9ea85b, Model: realistic, Version: ComfyUI"""

QUOTED = """text "in quotes"
Steps: 12, Sampler: Heun, CFG scale: 4, Seed: 3, Size: 64x64, Hires prompt: "a \\"quoted\\" word, more: yes"
Template: {red|blue} bird
Negative Template: ugly"""

PROMPT_ONLY = "just a prompt, with commas: and colons"


def test_parse_full_a1111_with_extras() -> None:
    p = md.parse_a1111(A1111_FULL)
    assert p["prompt"] == "masterpiece, best quality, 1girl, (red hair:1.2),\nlooking at viewer"
    assert p["negative_prompt"] == "lowres, bad anatomy,\nbad hands"
    assert p["Steps"] == "30" and p["Sampler"] == "DPM++ 2M" and p["Schedule type"] == "Karras"
    assert p["Size"] == "512x768" and p["Seed"] == "1234567890"
    assert p["Lora hashes"] == "add_detail: 7c6bad76eb54, lcm: abc123"
    assert p["TI hashes"] == "easynegative: c74b4e810b03"
    assert p["Version"] == "v1.9.4" and p["Hires upscale"] == "2"


def test_parse_old_style_without_negative() -> None:
    p = md.parse_a1111(A1111_OLD_NO_NEGATIVE)
    assert p["prompt"] == "a castle on a hill, sunset"
    assert p["negative_prompt"] == ""
    assert p["Sampler"] == "DPM++ 2M Karras" and "Schedule type" not in p


def test_parse_escaped_quotes_and_trailing_lines() -> None:
    p = md.parse_a1111(QUOTED)
    assert p["prompt"] == 'text "in quotes"'
    assert p["Hires prompt"] == 'a "quoted" word, more: yes'
    assert p["Template"] == "{red|blue} bird" and p["Negative Template"] == "ugly"


def test_parse_prompt_only_and_crlf() -> None:
    assert md.parse_a1111(PROMPT_ONLY) == {"prompt": PROMPT_ONLY, "negative_prompt": ""}
    p = md.parse_a1111(FORGE.replace("\n", "\r\n"))
    assert p["negative_prompt"] == "cartoon" and p["Module 1"] == "sdxl_vae"


def _request(**kw: object) -> GenerationRequest:
    base = GenerationRequest(
        prompt="a red fox,\nin snow: winter",
        negative_prompt='blurry, "bad"',
        steps=33,
        guidance=6.5,
        scheduler="Euler a",
        seed=1000,
        width=640,
        height=448,
        batch=2,
        strength=0.6,
        mask_options=MaskOptions(grow=3, feather=9),
        outpaint=OutpaintOptions(left=64, overlap=24),
        preview=PreviewKind.LATENT,
    )
    return base.replace(**kw)


def test_format_line_layout_and_quoting() -> None:
    params = md.build_parameters(_request(mode=Mode.IMG2IMG), 1001, "my, model", "abcdef1234")
    text = md.format_a1111(params)
    lines = text.split("\n")
    assert lines[0] == "a red fox,"
    assert lines[2] == 'Negative prompt: blurry, "bad"'
    last = lines[-1]
    assert last.startswith(
        "Steps: 33, Sampler: Euler a, Schedule type: Automatic, CFG scale: 6.5, Seed: 1001"
    )
    assert "Size: 640x448" in last and "Model hash: abcdef1234" in last
    assert 'Model: "my, model"' in last and "Denoising strength: 0.6" in last
    no_neg = md.format_a1111(md.build_parameters(_request(negative_prompt=""), 1, "m", "h"))
    assert "Negative prompt" not in no_neg and "Denoising strength" not in no_neg


def test_cfg_scale_written_like_a1111() -> None:
    text = md.format_a1111(md.build_parameters(_request(guidance=7.0), 1, "m", "h"))
    assert "CFG scale: 7," in text


def test_png_round_trip_prefers_studio_json(tmp_path) -> None:
    img = Image.fromarray(np.random.default_rng(0).integers(0, 256, (16, 24, 3), dtype=np.uint8))
    request = _request(mode=Mode.INPAINT)
    params = md.build_parameters(request, 1001, "mini", "abcdef1234")
    path = md.save_png(img, tmp_path / "out.png", params)
    assert path == tmp_path / "out.png" and not list(tmp_path.glob(".*tmp"))
    with Image.open(path) as back:
        assert np.array_equal(np.asarray(back), np.asarray(img))
    meta = md.read_png_metadata(path)
    assert meta is not None and meta.source == "studio"
    assert meta.prompt == request.prompt and meta.negative_prompt == request.negative_prompt
    assert meta.settings["Seed"] == "1001" and meta.settings["Mask blur"] == "9"
    assert meta.studio["version"] == 1 and meta.studio["model_hash"] == "abcdef1234"
    assert "init_image" not in meta.studio["request"]
    base = GenerationRequest(mode=Mode.INPAINT, preview=PreviewKind.X0)
    rebuilt = md.request_from_metadata(meta, base)
    assert rebuilt == request.replace(seed=1001, preview=PreviewKind.X0)


def test_png_text_only_round_trip(tmp_path) -> None:
    request = _request()
    params = md.build_parameters(request, 1000, "mini", "")
    params.pop("studio")
    path = md.save_png(Image.new("RGB", (8, 8)), tmp_path / "a.png", params)
    meta = md.read_png_metadata(path)
    assert meta is not None and meta.source == "a1111" and meta.studio is None
    rebuilt = md.request_from_metadata(meta, GenerationRequest())
    assert (rebuilt.prompt, rebuilt.negative_prompt) == (request.prompt, request.negative_prompt)
    assert (rebuilt.steps, rebuilt.guidance, rebuilt.scheduler) == (33, 6.5, "Euler a")
    assert (rebuilt.seed, rebuilt.width, rebuilt.height) == (1000, 640, 448)


def _png_with(tmp_path, **chunks: str):
    info = PngInfo()
    for key, value in chunks.items():
        info.add_text(key, value)
    path = tmp_path / "x.png"
    Image.new("RGB", (4, 4)).save(path, pnginfo=info)
    return path


def test_newer_or_damaged_studio_json_falls_back_to_text(tmp_path) -> None:
    newer = json.dumps({"version": 99, "request": {"prompt": "from json"}})
    meta = md.read_png_metadata(_png_with(tmp_path, parameters=A1111_OLD_NO_NEGATIVE, studio=newer))
    assert meta.studio is None and meta.prompt == "a castle on a hill, sunset"
    assert any("newer" in n for n in meta.notes)
    meta = md.read_png_metadata(_png_with(tmp_path, parameters=FORGE, studio="{not json"))
    assert meta.studio is None and meta.prompt.startswith("portrait") and meta.notes


def test_no_metadata_returns_none(tmp_path) -> None:
    path = tmp_path / "plain.png"
    Image.new("RGB", (4, 4)).save(path)
    assert md.read_png_metadata(path) is None


@pytest.mark.parametrize(
    ("text", "scheduler", "steps", "size"),
    [
        (A1111_FULL, "DPM++ 2M Karras", 30, (512, 768)),
        (A1111_OLD_NO_NEGATIVE, "DPM++ 2M Karras", 20, (512, 512)),
        (FORGE, "Euler a", 25, (832, 1216)),
        (COMFY_EXPORT, "DPM++ 2M Karras", 20, (512, 512)),
    ],
)
def test_request_from_other_tools(tmp_path, text: str, scheduler: str, steps: int, size) -> None:
    meta = md.read_png_metadata(_png_with(tmp_path, parameters=text))
    notes: list[str] = []
    base = GenerationRequest(mode=Mode.IMG2IMG, seed=5, init_image=Image.new("RGB", (8, 8)))
    r = md.request_from_metadata(meta, base, notes)
    assert r.scheduler == scheduler and r.steps == steps and (r.width, r.height) == size
    assert r.mode is Mode.IMG2IMG and r.init_image is base.init_image
    if text is COMFY_EXPORT:  # 515 is rounded, the 48-bit seed does not fit: both reported
        assert any("515x512" in n and "512x512" in n for n in notes)
        assert r.seed == 5 and any("Seed" in n for n in notes)
    if text is A1111_FULL:
        assert r.strength == 0.5 and r.seed == 1234567890 and r.guidance == 7.0


def test_unknown_sampler_keeps_base_and_reports() -> None:
    meta = md.ImageMetadata(prompt="x", settings={"Sampler": "Restart", "Steps": "abc", "Size": "big"})
    notes: list[str] = []
    base = GenerationRequest(scheduler="Heun", steps=9)
    r = md.request_from_metadata(meta, base, notes)
    assert r.scheduler == "Heun" and r.steps == 9 and r.prompt == "x"
    assert any("Restart" in n for n in notes) and any("abc" in n for n in notes)
    assert any("big" in n for n in notes)


def test_studio_json_bad_values_are_reported_not_applied() -> None:
    data = {"version": 1, "request": {"steps": 999, "scheduler": 3, "guidance": "high", "prompt": "ok"}}
    notes: list[str] = []
    r = md.request_from_metadata(md.ImageMetadata(studio=data), GenerationRequest(), notes)
    assert r.steps == 20 and r.guidance == 7.0 and r.prompt == "ok"
    assert len(notes) == 3 and any("Steps" in n and "999" in n for n in notes)


def test_exif_user_comment_from_jpeg(tmp_path) -> None:
    exif = Image.Exif()
    comment = b"UNICODE\0" + A1111_OLD_NO_NEGATIVE.encode("utf-16-be")
    exif.get_ifd(0x8769)[0x9286] = comment
    path = tmp_path / "a.jpg"
    Image.new("RGB", (8, 8)).save(path, exif=exif)
    meta = md.read_png_metadata(path)
    assert meta is not None and meta.prompt == "a castle on a hill, sunset"
    assert meta.settings["Model"] == "deliberate_v2"
