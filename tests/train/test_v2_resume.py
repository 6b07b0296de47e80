"""studio-mini v2 training: a run stopped and resumed (twice) ends with the same weights as a run
that was not stopped; checkpoints are sharded safetensors no larger than the limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("diffusers")


def synthetic_data():  # noqa: ANN201
    from studio_train.v2.dataset import EmojiData

    rng = np.random.default_rng(0)
    images = np.full((12, 64, 64, 3), 255, np.uint8)
    for i in range(12):
        x, y = rng.integers(0, 32, 2)
        images[i, y : y + 32, x : x + 32] = rng.integers(0, 255, 3)
    styles = ["noto", "twemoji"] * 6
    return EmojiData([f"thing {i}" for i in range(6)], np.repeat(np.arange(6), 2), styles, images)


def text_bank():  # noqa: ANN201
    from studio_train.v2.trainer import TextBank

    g = torch.Generator().manual_seed(0)
    return TextBank(
        torch.randn(12 * 3, 32, 384, generator=g).half(), torch.randn(32, 384, generator=g).half(), 3
    )


def train(work: Path, stops: list[int]):  # noqa: ANN201
    from studio_train.v2.config import Config
    from studio_train.v2.trainer import Trainer

    torch.set_num_threads(1)
    data, text = synthetic_data(), text_bank()
    phase = ""
    for stop in [*stops, None]:
        trainer = Trainer(Config.tiny_test(), work, data, text)  # a fresh process each time
        trainer.resume()
        phase = trainer.run(stop_at=stop, checkpoint_s=1e9)
    assert phase == "done"
    return trainer


def test_stop_and_resume_equals_an_uninterrupted_run(tmp_path: Path) -> None:
    whole = train(tmp_path / "whole", [])
    # stopped in the autoencoder phase and in the first UNet stage
    pieces = train(tmp_path / "pieces", [2, 6])
    notes = (tmp_path / "pieces" / "notes.txt").read_text()
    assert "stopped at ae step 2" in notes and "resumed at unet step 2" in notes
    for name in ("vae", "unet", "ema"):
        a, b = getattr(whole, name).state_dict(), getattr(pieces, name).state_dict()
        for key in a:
            assert torch.allclose(a[key], b[key], rtol=1e-5, atol=1e-6), f"{name}.{key} differs"
    assert whole.scale == pytest.approx(pieces.scale)
    # and a resumed run that did not get the same steps would differ (the check can fail)
    other = train(tmp_path / "other", [])
    other.unet_step()
    assert not torch.allclose(other.ema.conv_in.weight, whole.ema.conv_in.weight) or not torch.allclose(
        other.unet.conv_in.weight, whole.unet.conv_in.weight
    )


def test_shards_respect_the_size_limit_and_round_trip(tmp_path: Path) -> None:
    from studio_train.v2.shards import load_sharded, save_sharded

    tensors = {"big": torch.randn(300, 1000), "small": torch.arange(10), "half": torch.randn(7, 5).half()}
    files = save_sharded(tensors, tmp_path / "s", max_bytes=600_000)
    assert len(files) >= 3 and all(f.stat().st_size <= 600_000 for f in files)
    back = load_sharded(tmp_path / "s")
    assert set(back) == set(tensors)
    for k, v in tensors.items():
        assert torch.equal(back[k], v) and back[k].dtype == v.dtype


def test_a_checkpoint_is_only_used_once_complete(tmp_path: Path) -> None:
    from studio_train.v2 import state

    root = tmp_path / "ck"
    state.write_checkpoint(root, "00000001-ae", {"w": torch.ones(2)}, {"phase": "ae", "step": 1})
    (root / ".tmp-00000002-ae").mkdir()  # a write that was interrupted
    tensors, meta = state.read_checkpoint(root)
    assert meta["step"] == 1 and torch.equal(tensors["w"], torch.ones(2))
