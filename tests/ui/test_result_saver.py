"""One image of a batch that cannot be saved does not lose the others: they are written and reach the
history, and the artist is told which failed."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from studio.core.events import Finished
from studio.core.request import GenerationRequest
from studio.ui import results
from studio.ui.saver import ResultSaver


def _batch_of_three() -> Finished:
    request = GenerationRequest(prompt="x", seed=10, batch=3, width=64, height=64)
    images = [Image.new("RGB", (8, 8), (i * 80, 0, 0)) for i in range(3)]
    return Finished(1, images, request.seeds(), request, 0.1)


@pytest.fixture
def second_write_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    real = results.write_unique
    calls: list[int] = []

    def flaky(folder: Path, names: object, data: bytes) -> Path:
        calls.append(1)
        if len(calls) == 2:
            raise OSError("No space left on device")
        return real(folder, names, data)  # type: ignore[arg-type]

    monkeypatch.setattr(results, "write_unique", flaky)


def test_a_failing_image_does_not_stop_the_rest(tmp_path: Path, second_write_fails: None) -> None:
    saved, errors = results.save_each(_batch_of_three(), tmp_path)
    assert [s.seed for s in saved] == [10, 12]
    assert len(errors) == 1 and "No space" in str(errors[0])
    assert len(list(tmp_path.glob("*.png"))) == 2


def test_the_saver_reports_the_saved_ones_and_the_failure(
    qtbot, tmp_path: Path, second_write_fails: None
) -> None:
    saver = ResultSaver()
    got: dict[str, object] = {}
    saver.saved.connect(lambda items: got.setdefault("saved", items))
    saver.failed.connect(lambda message, detail: got.setdefault("failed", message))
    saver.save(_batch_of_three(), tmp_path)
    qtbot.waitUntil(lambda: "saved" in got and "failed" in got, timeout=10_000)
    assert [s.seed for s in got["saved"]] == [10, 12]  # type: ignore[attr-defined]
    assert got["failed"] == "1 of 3 images were made but could not be saved: No space left on device"
