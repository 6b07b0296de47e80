"""The built wheel is the app: installed non-editable into a fresh venv, it generates from any folder
with the built-in model it carries, and its window opens. Nothing is read from this checkout."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def _run(args: list[str | Path], cwd: Path, **kw: object) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": ""}
    env.pop("STUDIO_RESOURCES_DIR", None)
    return subprocess.run(
        [str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=600, **kw
    )  # type: ignore[call-overload]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", out, ROOT]
    done = _run(build, cwd=out)
    assert done.returncode == 0, done.stderr
    return next(out.glob("studio-*.whl"))


@pytest.fixture(scope="module")
def fresh_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv holding only the wheel; its dependencies are borrowed from this interpreter's
    site-packages through a .pth line (no network, and the editable checkout's finder stays out)."""
    venv = tmp_path_factory.mktemp("venv")
    assert _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=venv).returncode == 0
    site = next((venv / "lib").glob("python3*/site-packages"))
    (site / "borrowed-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "-q"]
    done = _run([*install, "--no-deps", wheel], cwd=venv)
    assert done.returncode == 0, done.stderr
    return venv


def test_the_wheel_carries_the_resources_and_not_the_training_code(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "studio/resources/models/studio-mini/model_index.json" in names
    assert "studio/resources/icons/app.svg" in names
    assert "studio/resources/tokenizers/clip/vocab.json" in names
    assert not [n for n in names if n.startswith("studio_train/")]


def test_installed_wheel_generates_from_any_folder(fresh_venv: Path, tmp_path: Path) -> None:
    where = _run([fresh_venv / "bin" / "python", "-c", "import studio; print(studio.__file__)"], cwd=tmp_path)
    assert str(fresh_venv) in where.stdout, where.stdout + where.stderr
    cli = fresh_venv / "bin" / "studio-cli"
    done = _run([cli, "generate", "--prompt", "red apple", "--steps", "2", "--out", "a.png"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with Image.open(tmp_path / "a.png") as image:
        assert "Model: Built-in (studio-mini)" in image.text["parameters"]


def test_installed_wheel_opens_the_window(fresh_venv: Path, tmp_path: Path) -> None:
    done = _run([fresh_venv / "bin" / "studio", "--smoke-exit-after-shown"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["torch_loaded"] is False
