"""studio-cli's --lora / --lora-dir / --embeddings-dir / --vae / --clip-skip (issue 13): the flags reach
the request; bad values end with exit code 2 and a one-line message before anything is generated."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from studio.cli import EXIT_INPUT, main, parse_lora
from studio.core.request import LoraRef

FAST = ["--steps", "2", "--width", "64", "--height", "64", "--threads", "1", "--seed", "3"]


@pytest.fixture
def studio_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("CONFIG", "DATA", "OUTPUT", "LOG", "MODELS"):
        monkeypatch.setenv(f"STUDIO_{var}_DIR", str(tmp_path / "user" / var.lower()))
    return tmp_path / "user" / "data"


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Requests that reached the generation (which is then refused: nothing runs)."""
    import studio.engine.headless as headless

    requests: list[Any] = []

    def capture(request: Any, **_options: Any) -> Any:
        requests.append(request)
        raise KeyboardInterrupt

    monkeypatch.setattr(headless, "run_job", capture)
    return requests


def _loras(folder: Path, *names: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / f"{name}.safetensors").write_bytes(b"dummy")
    return folder


def _generate(tmp_path: Path, *flags: str) -> int:
    return main(["generate", "--prompt", "x", *FAST, "--out", str(tmp_path / "out.png"), *flags])


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("ink", ("ink", 1.0)),
        ("ink:0.6", ("ink", 0.6)),
        ("ink:-1.5", ("ink", -1.5)),
        ("/loras/a:b/ink.safetensors", ("/loras/a:b/ink.safetensors", 1.0)),
        (r"C:\loras\ink.safetensors:0.5", (r"C:\loras\ink.safetensors", 0.5)),
    ],
)
def test_lora_specs(spec: str, expected: tuple[str, float]) -> None:
    assert parse_lora(spec) == expected


def test_flags_reach_the_request(tmp_path: Path, studio_dirs: Path, captured: list[Any]) -> None:
    own = _loras(studio_dirs / "loras", "ink")
    extra = _loras(tmp_path / "more", "paper")
    by_path = _loras(tmp_path / "elsewhere", "direct") / "direct.safetensors"
    vae = tmp_path / "vae.safetensors"
    vae.write_bytes(b"dummy")
    code = _generate(
        tmp_path,
        *("--lora", "ink:0.6", "--lora", f"{by_path}:-0.5", "--lora", "paper"),
        *("--lora-dir", str(own), "--lora-dir", str(extra)),
        *("--embeddings-dir", str(tmp_path), "--vae", str(vae), "--clip-skip", "2"),
    )
    assert code == 130 and len(captured) == 1
    request = captured[0]
    assert request.loras == (LoraRef("ink", 0.6), LoraRef(str(by_path), -0.5), LoraRef("paper", 1.0))
    assert request.lora_dirs == (str(own), str(extra))
    assert request.embedding_dirs == (str(tmp_path),)
    assert request.vae == str(vae)
    assert request.clip_skip == 2


def test_the_folders_default_to_the_user_folders(
    tmp_path: Path, studio_dirs: Path, captured: list[Any]
) -> None:
    _loras(studio_dirs / "loras", "ink")
    assert _generate(tmp_path, "--lora", "ink") == 130
    request = captured[0]
    assert request.lora_dirs == (str(studio_dirs / "loras"),)
    assert request.embedding_dirs == (str(studio_dirs / "embeddings"),)
    assert (request.vae, request.clip_skip) == ("", 1)


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--lora", "missing"], "no LoRA named 'missing'"),
        (["--lora", "/nowhere/x.safetensors:0.5"], "LoRA file not found"),
        (["--lora", "ink:strong"], "the weight 'strong' is not a number"),
        (["--lora", "ink:nan"], "the weight must be between"),
        (["--lora-dir", "/nowhere/loras"], "--lora-dir /nowhere/loras: no such folder"),
        (["--embeddings-dir", "/nowhere/emb"], "--embeddings-dir /nowhere/emb: no such folder"),
        (["--vae", "/nowhere/vae.safetensors"], "--vae /nowhere/vae.safetensors: no such file or folder"),
        (["--clip-skip", "0"], "--clip-skip must be 1 to 12, not 0"),
        (["--clip-skip", "13"], "--clip-skip must be 1 to 12, not 13"),
    ],
)
def test_bad_values_exit_2_before_generating(
    tmp_path: Path, studio_dirs: Path, captured: list[Any], capsys: Any, flags: list[str], message: str
) -> None:
    _loras(studio_dirs / "loras", "ink")
    assert _generate(tmp_path, *flags) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1
    assert captured == []


def test_a_real_run_records_clip_skip(tmp_path: Path, studio_dirs: Path, tiny_dir: Path, capsys: Any) -> None:
    from studio.core.metadata import read_png_metadata

    out = tmp_path / "out.png"
    assert (
        main(
            [
                "generate",
                "--prompt",
                "a cat",
                "--model",
                str(tiny_dir),
                *FAST,
                "--clip-skip",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    meta = read_png_metadata(out)
    assert meta is not None and "Clip skip: 2" in meta.raw


def test_a_real_run_applies_loras_from_the_flag_and_the_prompt(
    tmp_path: Path, studio_dirs: Path, tiny_dir: Path, capsys: Any
) -> None:
    """As the README shows it: a `<lora:…>` tag in the prompt and `--lora NAME:W`, both found in the
    LoRA folder; the PNG records both in `Lora hashes` and the pixels differ from a run without."""
    import numpy as np
    from PIL import Image

    from studio.core.metadata import read_png_metadata
    from tests.engine.lora_files import kohya_lora

    folder = tmp_path / "loras"
    folder.mkdir()
    kohya_lora(folder / "ink.safetensors", seed=1)
    kohya_lora(folder / "paper.safetensors", seed=2)
    base = ["generate", "--model", str(tiny_dir), *FAST, "--lora-dir", str(folder)]
    plain, with_loras = tmp_path / "plain.png", tmp_path / "loras.png"
    assert main([*base, "--prompt", "a cat", "--out", str(plain)]) == 0
    args = [*base, "--prompt", "a cat <lora:ink:0.6>", "--lora", "paper:0.4", "--out", str(with_loras)]
    assert main(args) == 0
    meta = read_png_metadata(with_loras)
    assert meta is not None
    hashes = str(meta.settings.get("Lora hashes", ""))
    assert "ink: " in hashes and "paper: " in hashes
    assert not np.array_equal(np.asarray(Image.open(plain)), np.asarray(Image.open(with_loras)))
