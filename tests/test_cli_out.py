"""`studio-cli --out` never silently overwrites, and an unusable --out is refused before generating."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from studio.cli import EXIT_INPUT, main

ROOT = Path(__file__).resolve().parents[1]
FAST = ["--steps", "2", "--width", "64", "--height", "64", "--threads", "1", "--seed", "3"]


@pytest.fixture(scope="module")
def tiny(tiny_dir) -> list[str]:
    return ["--model", str(tiny_dir), *FAST]


def _no_generation(monkeypatch) -> None:
    import studio.engine.headless as headless

    def refuse(*args, **kwargs):
        raise AssertionError("an unusable --out must be refused before generating")

    monkeypatch.setattr(headless, "run_job", refuse)


def test_an_existing_out_gets_a_numbered_sibling_unless_overwrite(tiny, tmp_path, capsys) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"the artist's file")
    assert main(["generate", "--prompt", "x", *tiny, "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "out-1.png")]
    assert out.read_bytes() == b"the artist's file"
    assert main(["generate", "--prompt", "x", *tiny, "--out", str(out)]) == 0
    assert capsys.readouterr().out.split() == [str(tmp_path / "out-2.png")]
    assert main(["generate", "--prompt", "x", *tiny, "--out", str(out), "--overwrite"]) == 0
    assert capsys.readouterr().out.split() == [str(out)]
    with Image.open(out) as im:
        assert im.size == (64, 64)


def test_batch_names_are_never_replaced_either(tmp_path) -> None:
    from studio.core.events import Finished
    from studio.core.request import GenerationRequest
    from studio.engine.headless import save_results

    (tmp_path / "many-0001.png").write_bytes(b"keep")
    images = [Image.new("RGB", (8, 8), (i, 0, 0)) for i in range(2)]
    event = Finished(1, images, [1, 2], GenerationRequest(), 0.0)
    paths = save_results(event, tmp_path / "many.png")
    assert [p.name for p in paths] == ["many-0001-1.png", "many-0002.png"]
    assert (tmp_path / "many-0001.png").read_bytes() == b"keep"


@pytest.mark.parametrize(
    ("make_out", "words"),
    [
        (lambda tmp: tmp / "nowhere" / "x.png", "does not exist"),
        (lambda tmp: tmp, "is a folder"),
        (lambda tmp: (tmp / "dir.png").mkdir() or tmp / "dir.png", "is a folder"),
    ],
)
def test_an_unusable_out_is_refused_before_generating(make_out, words, tmp_path, capsys, monkeypatch) -> None:
    _no_generation(monkeypatch)
    out = make_out(tmp_path)
    assert main(["generate", "--prompt", "x", *FAST, "--out", str(out)]) == EXIT_INPUT
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and words in err, err


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="POSIX permissions (not root)")
def test_an_out_in_a_read_only_folder_is_refused(tmp_path, capsys, monkeypatch) -> None:
    _no_generation(monkeypatch)
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        assert main(["generate", "--prompt", "x", *FAST, "--out", str(folder / "x.png")]) == EXIT_INPUT
    finally:
        folder.chmod(0o755)
    assert "not writable" in capsys.readouterr().err


def test_the_installed_command_refuses_a_missing_folder_in_one_line(tmp_path) -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT), STUDIO_LOG_DIR=str(tmp_path / "logs"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "studio.cli",
            "generate",
            "--prompt",
            "x",
            "--out",
            str(tmp_path / "no" / "x.png"),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == EXIT_INPUT
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1, done.stderr
    assert "Traceback" not in done.stderr and done.stdout == ""
    assert "torch" not in done.stderr
