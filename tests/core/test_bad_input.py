"""Hostile files (issue 11): each ends in a message, the rest keeps working, nothing is overwritten."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.core.document import Document
from studio.core.images import ImageReadError, open_image
from studio.core.masks import to_mask_array
from studio.core.metadata import read_png_metadata
from studio.core.model_catalog import find_models, safetensors_keys
from studio.core.presets import Preset, PresetStore
from studio.core.settings import Settings, load_settings
from tests.bad_files import DEEP_JSON, bomb_png, png_16bit, png_with_studio_json


def _aside(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f"{name}.broken-*"))


def test_deeply_nested_settings_are_set_aside_and_defaults_used(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text(DEEP_JSON, encoding="utf-8")
    settings = load_settings(path)
    assert settings == Settings()
    assert "nested too deeply" in settings.problems[0]
    (moved,) = _aside(tmp_path, "settings.json")
    assert moved.read_text(encoding="utf-8") == DEEP_JSON  # kept, not overwritten
    assert not path.exists()


def test_settings_with_a_utf8_bom_are_read(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"version": 1, "theme": "dark"}).encode())
    settings = load_settings(path)
    assert settings.theme == "dark" and settings.problems == ()
    assert _aside(tmp_path, "settings.json") == []


def test_a_deeply_nested_preset_is_set_aside_and_the_others_listed(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "user")
    store.save(_preset("Good"))
    (tmp_path / "user" / "bad.json").write_text(DEEP_JSON, encoding="utf-8")
    assert [p.name for p in store.list()] == ["Good"]
    assert any("bad.json" in p and "nested too deeply" in p for p in store.problems)
    (moved,) = _aside(tmp_path / "user", "bad.json")
    assert moved.read_text(encoding="utf-8") == DEEP_JSON


def test_a_preset_with_a_bom_is_read(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "user")
    saved = store.save(_preset("Bom"))
    assert saved.path is not None
    saved.path.write_bytes(b"\xef\xbb\xbf" + saved.path.read_bytes())
    assert [p.name for p in store.list()] == ["Bom"] and store.problems == []


def _preset(name: str) -> Preset:
    return Preset(name=name, fields={"prompt": "a cat"})


def _safetensors(path: Path, header: bytes) -> Path:
    path.write_bytes(len(header).to_bytes(8, "little") + header)
    return path


def test_a_deeply_nested_safetensors_header_does_not_empty_the_model_list(tmp_path: Path) -> None:
    _safetensors(tmp_path / "deep.safetensors", DEEP_JSON.encode())
    (tmp_path / "other.ckpt").write_bytes(b"x")
    assert safetensors_keys(tmp_path / "deep.safetensors") is None
    names = [e.name for e in find_models([tmp_path], include_hub=False) if e.kind == "checkpoint"]
    assert names == ["deep", "other"]  # unreadable files stay listed: loading says what is wrong


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_safetensors_is_skipped_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.safetensors")
    (tmp_path / "sub").mkdir()
    os.mkfifo(tmp_path / "sub" / "nested.safetensors")
    (tmp_path / "real.ckpt").write_bytes(b"x")
    # opening a FIFO for reading blocks until a writer comes: a hang here is the bug
    assert [e.name for e in find_models([tmp_path], include_hub=False)][-1:] == ["real"]
    assert "pipe" not in [e.name for e in find_models([tmp_path], include_hub=False)]


def test_deeply_nested_studio_json_in_a_png_falls_back_to_the_a1111_text(tmp_path: Path) -> None:
    path = png_with_studio_json(tmp_path / "deep.png", DEEP_JSON, "a cat\nSteps: 12")
    meta = read_png_metadata(path)
    assert meta is not None and meta.studio is None
    assert meta.prompt == "a cat" and meta.settings["Steps"] == "12"
    assert any("damaged" in n for n in meta.notes)


def test_newer_studio_json_alone_is_read_as_far_as_possible(tmp_path: Path) -> None:
    text = json.dumps({"version": 9, "request": {"prompt": "a fox", "steps": 7}, "seed": 3})
    meta = read_png_metadata(png_with_studio_json(tmp_path / "new.png", text))
    assert meta is not None and meta.newer_format == 9 and meta.prompt == "a fox"


@pytest.mark.parametrize("side", [20_000, 10_000])  # Pillow's error (> 2x limit) and its warning
def test_a_decompression_bomb_is_refused_with_a_message(tmp_path: Path, side: int) -> None:
    path = bomb_png(tmp_path / "bomb.png", side)
    for read in (open_image, Document.open, read_png_metadata):
        with pytest.raises(ImageReadError, match=r"bomb.png is too large to open safely \(\d+ million"):
            read(path)
    doc = Document.blank(8, 8)
    with pytest.raises(ImageReadError, match="too large"):
        doc.load_mask(path)
    assert path.stat().st_size < 1000  # the file is left as it was


def test_a_folder_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="is a folder"):
        open_image(tmp_path)
    with pytest.raises(ImageReadError, match="is a folder"):
        read_png_metadata(tmp_path)


def test_16bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 64, 257 * 128, 65535]], dtype=np.uint16).repeat(4, axis=0)
    path = png_16bit(tmp_path / "mask16.png", values)
    img = open_image(path)
    assert img.mode == "L" and np.asarray(img)[0].tolist() == [0, 64, 128, 255]
    with Image.open(path) as pil16:
        assert pil16.mode in ("I;16", "I")
        assert np.allclose(to_mask_array(pil16)[0], [0, 64 / 255, 128 / 255, 1.0], atol=1e-6)
    doc = Document.open(path)
    assert doc.image[0, :, 0].tolist() == [0, 64, 128, 255]
    half = png_16bit(tmp_path / "half.png", np.full((4, 4), 257 * 100))
    target = Document.blank(4, 4)
    target.load_mask(half)
    assert int(target.mask.max()) == 100  # a grey 16-bit mask stays grey, not white


def test_preset_names_differing_only_by_case_are_one_preset(tmp_path: Path) -> None:
    store = PresetStore(tmp_path / "user")
    first = store.save(_preset("foo"))
    again = store.save(Preset(name="Foo", fields={"prompt": "a dog"}))
    assert again.path == first.path and [p.name for p in store.list()] == ["Foo"]  # updated, not added
    assert store.get("FOO") is not None and store.get("FOO").fields["prompt"] == "a dog"
    other = tmp_path / "user" / "zz-other.json"  # a second file with the name in other case
    assert first.path is not None
    other.write_text(first.path.read_text(encoding="utf-8").replace('"Foo"', '"FOO"'), encoding="utf-8")
    assert [p.name for p in store.list()] == ["Foo"]
    assert any("zz-other.json has the same name" in m for m in store.problems)
    assert other.exists()  # reported, never moved or deleted
