"""Finding the artist's LoRAs, embeddings and VAEs in their folders (issue 13)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from studio.core.request import GenerationRequest, LoraRef
from studio.core.user_files import find_embeddings, find_loras, find_vaes, without_named_file


def _touch(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"dummy")
    return folder


def test_loras_are_safetensors_stems_first_folder_wins(tmp_path: Path) -> None:
    own = _touch(tmp_path / "own", "b.safetensors", "A.safetensors", "notes.txt", ".hidden.safetensors")
    more = _touch(tmp_path / "more", "b.safetensors", "c.safetensors")
    (own / "folder.safetensors").mkdir()
    found = find_loras([own, more, tmp_path / "missing"])
    assert found == [own / "A.safetensors", own / "b.safetensors", more / "c.safetensors"]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_non_regular_files_are_skipped(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.safetensors")
    assert find_loras([tmp_path]) == []


def test_embeddings_and_vaes(tmp_path: Path) -> None:
    emb = _touch(tmp_path / "emb", "easyneg.safetensors", "hands.pt", "x.txt")
    assert [p.name for p in find_embeddings([emb])] == ["easyneg.safetensors", "hands.pt"]
    vae = _touch(tmp_path / "vae", "ft-mse.safetensors")
    _touch(vae / "sdxl-vae", "config.json", "diffusion_pytorch_model.safetensors")
    _touch(vae / "not-a-vae", "readme.md")
    assert [p.name for p in find_vaes([vae])] == ["ft-mse.safetensors", "sdxl-vae"]


def test_a_failure_naming_a_file_gives_the_request_without_it() -> None:
    request = GenerationRequest(
        loras=(LoraRef("ink", 1.0), LoraRef("/l/paper.safetensors", 0.5)), vae="/v/x.safetensors"
    )
    name, rest = without_named_file("paper.safetensors is corrupt", request) or ("", request)
    assert name == "paper" and rest.loras == (LoraRef("ink", 1.0),) and rest.vae == request.vae
    name, rest = without_named_file("The VAE x.safetensors is for SDXL", request) or ("", request)
    assert name == "x.safetensors" and rest.vae == "" and rest.loras == request.loras
    assert without_named_file("Out of memory", request) is None
