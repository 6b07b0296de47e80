"""NaN from a model running in fp32 is blamed on its damaged weights, not on float16 overflow."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from studio.core.events import Failed, FailureKind
from studio.engine.runner import NAN_FP32_MESSAGE, NAN_MESSAGE, non_finite


@pytest.fixture(scope="module")
def nan_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model saved with NaN in its UNet's first convolution (damaged weights)."""
    from tests.tiny_model import build_tiny_pipeline

    pipe = build_tiny_pipeline()
    with torch.no_grad():
        pipe.unet.conv_in.weight.fill_(float("nan"))
    path = tmp_path_factory.mktemp("nan") / "nan-model"
    pipe.save_pretrained(str(path), safe_serialization=True)
    return path


def test_nan_weights_in_fp32_say_the_model_is_damaged(make_engine, request_for, nan_model) -> None:
    eng, rec = make_engine(precision="fp32")
    end = rec.wait_for(eng.submit(request_for(model=str(nan_model), steps=2)))
    assert isinstance(end, Failed) and end.kind is FailureKind.NAN, end
    assert end.message == (
        "The model produced NaN values in full precision (fp32): its weights are damaged (NaN). "
        "Re-download or re-export the model file."
    )
    assert "float16" not in end.message


def test_nan_in_half_precision_still_suggests_another_precision() -> None:
    assert str(non_finite(SimpleNamespace(unet=SimpleNamespace(dtype=torch.float16)))) == NAN_MESSAGE
    assert str(non_finite(SimpleNamespace(unet=SimpleNamespace(dtype=torch.float32)))) == NAN_FP32_MESSAGE
