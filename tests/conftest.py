"""Shared test set-up: offline Hugging Face, offscreen Qt, Studio's user folders in a temp dir.

Kept deliberately small: every part's tests rely on it.
"""

from __future__ import annotations

import os
import sys
import tempfile

import pytest

_SESSION_DIR = tempfile.mkdtemp(prefix="studio-tests-")

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
for _var, _sub in (
    ("STUDIO_CONFIG_DIR", "config"),
    ("STUDIO_DATA_DIR", "data"),
    ("STUDIO_OUTPUT_DIR", "output"),
    ("STUDIO_LOG_DIR", "logs"),
    ("STUDIO_MODELS_DIR", "models"),
):
    os.environ[_var] = os.path.join(_SESSION_DIR, _sub)


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Two shared cores: keep torch to one thread whenever a test has imported it."""
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != 1:
        torch.set_num_threads(1)
    yield
