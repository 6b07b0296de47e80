"""`studio-cli generate --memory-mode`: reaches the engine, leaves the CPU path as it was, and a
value that is not a mode is a one-line error."""

from __future__ import annotations

from typing import Any

from PIL import Image

import studio.engine.engine as engine_module
from studio.cli import main


def test_memory_mode_reaches_the_engine_and_the_cpu_run_is_unchanged(tiny_dir, tmp_path, capsys, monkeypatch):
    real_engine = engine_module.Engine
    options: list[dict[str, Any]] = []

    def recording_engine(publish: Any, **kw: Any) -> Any:
        options.append(kw)
        return real_engine(publish, **kw)

    monkeypatch.setattr(engine_module, "Engine", recording_engine)
    fast = ["--model", str(tiny_dir), "--steps", "2", "--width", "64", "--height", "64", "--threads", "1"]
    outs = [tmp_path / "auto.png", tmp_path / "sequential.png"]
    for out, mode in zip(outs, ("auto", "sequential"), strict=True):
        argv = ["generate", "--prompt", "a cat", "--seed", "3", "--device", "cpu", *fast, "--out", str(out)]
        assert main([*argv, "--memory-mode", mode]) == 0, capsys.readouterr().err
    assert [o["memory_mode"] for o in options] == ["auto", "sequential"]
    with Image.open(outs[0]) as first, Image.open(outs[1]) as second:
        assert first.tobytes() == second.tobytes()  # on the CPU a memory mode changes nothing


def test_an_unknown_memory_mode_is_refused(tmp_path, capsys):
    assert main(["generate", "--prompt", "a", "--memory-mode", "lots", "--out", str(tmp_path / "x.png")]) != 0
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: argument --memory-mode") and "model_offload" in err and "\n" not in err
    assert not (tmp_path / "x.png").exists()
