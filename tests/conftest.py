"""Shared test set-up: offline Hugging Face, offscreen Qt, Studio's user folders in a temp dir
(removed when the session ends), benchmark tests only when asked for (`pytest -m bench`).

Kept deliberately small: every part's tests rely on it.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

from tests.launch import user_dir_env

_SESSION_DIR = tempfile.mkdtemp(prefix="studio-tests-")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.update(user_dir_env(Path(_SESSION_DIR)))


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two shared cores: keep torch to one thread whenever a test has imported it."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    yield


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny txt2img pipeline saved once per session (~20 MB), shared by every test."""
    from tests.tiny_model import save_tiny_diffusers

    return save_tiny_diffusers(tmp_path_factory.mktemp("tiny") / "tiny")


@pytest.fixture(scope="session")
def tiny_inpaint_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny inpainting pipeline saved once per session."""
    from tests.tiny_model import save_tiny_diffusers

    return save_tiny_diffusers(tmp_path_factory.mktemp("tiny-inpaint") / "tiny-inpaint", inpaint=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """`bench` tests (benchmark smoke runs, minutes of CPU) are left out unless `-m` names them."""
    if "bench" in (config.getoption("markexpr") or ""):
        return
    bench = [item for item in items if item.get_closest_marker("bench")]
    if bench:
        config.hook.pytest_deselected(items=bench)
        items[:] = [item for item in items if not item.get_closest_marker("bench")]


def pytest_unconfigure(config: pytest.Config) -> None:
    shutil.rmtree(_SESSION_DIR, ignore_errors=True)
