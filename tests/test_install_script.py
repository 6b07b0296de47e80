"""scripts/install.sh, run as the README says: torch chosen for the machine, the exact apt-get line
for a user who is not root, and nothing reinstalled (offline) when nothing changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "install.sh"


def _fake_command(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(0o755)


def _install(args: list[str], fakes: Path | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **env}
    full_env.pop("STUDIO_TORCH", None)
    full_env.update(env)
    if fakes is not None:
        full_env["PATH"] = f"{fakes}:{full_env['PATH']}"
    return subprocess.run(
        ["bash", str(SCRIPT), *args], env=full_env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture
def fakes(tmp_path: Path) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    return folder


def test_a_machine_with_an_nvidia_gpu_gets_the_cuda_build(fakes: Path) -> None:
    _fake_command(fakes, "nvidia-smi", 'echo "GPU 0: NVIDIA H200 (UUID: GPU-1)"')
    assert _install(["--print-torch-choice"], fakes).stdout.strip() == "cuda"


def test_a_machine_without_gpu_gets_the_cpu_build(fakes: Path) -> None:
    _fake_command(fakes, "nvidia-smi", "exit 9")  # installed driver tools, but no GPU answers
    assert _install(["--print-torch-choice"], fakes).stdout.strip() == "cpu"


def test_the_choice_can_be_overridden(fakes: Path) -> None:
    _fake_command(fakes, "nvidia-smi", 'echo "GPU 0: NVIDIA H200"')
    assert _install(["--print-torch-choice"], fakes, STUDIO_TORCH="cpu").stdout.strip() == "cpu"
    assert _install(["--torch", "cpu", "--print-torch-choice"], fakes).stdout.strip() == "cpu"
    bad = _install(["--torch", "rocm"], fakes)
    assert bad.returncode == 2 and "auto, cpu, cuda or keep" in bad.stderr


def test_a_user_without_root_gets_the_exact_apt_line(fakes: Path) -> None:
    _fake_command(fakes, "id", 'if [ "$1" = -u ]; then echo 1000; else /usr/bin/id "$@"; fi')
    # libegl1 and libxcb-cursor0 are "missing" on this pretend machine; the rest are installed.
    _fake_command(
        fakes,
        "dpkg-query",
        'for a; do p=$a; done; case "$p" in libegl1|libxcb-cursor0) exit 1;; '
        '*) printf "install ok installed";; esac',
    )
    done = _install(["--no-desktop"], fakes)
    assert done.returncode == 1
    assert "  sudo apt-get install -y libegl1 libxcb-cursor0\n" in done.stderr


INSTALLED = ROOT / ".venv" / ".studio-installed"
needs_install = pytest.mark.skipif(
    not INSTALLED.exists(), reason="the project was not installed by install.sh"
)


def _rerun(home: Path | None = None) -> subprocess.CompletedProcess[str]:
    """install.sh again with the extras it was installed with, offline, outside CI (desktop step on)."""
    extras = INSTALLED.read_text().split("extras=")[1].split()[0]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS="")
    args = ["--extras", extras]
    if home is None:
        args.append("--no-desktop")
    else:
        env["HOME"] = str(home)
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=300)


@needs_install
def test_a_second_run_installs_nothing_and_needs_no_network() -> None:
    done = _rerun()
    assert done.returncode == 0, done.stderr
    assert "already installed" in done.stdout


@needs_install
def test_the_desktop_entry_and_the_studio_command_are_installed(tmp_path: Path) -> None:
    done = _rerun(home=tmp_path)
    assert done.returncode == 0, done.stderr
    launcher = tmp_path / ".local" / "bin" / "studio"
    assert launcher.resolve() == (ROOT / ".venv" / "bin" / "studio").resolve()
    entry = (tmp_path / ".local" / "share" / "applications" / "studio.desktop").read_text()
    assert "Exec=studio %F" in entry and "Icon=studio" in entry
    assert (
        tmp_path / ".local" / "share" / "icons" / "hicolor" / "scalable" / "apps" / "studio.svg"
    ).is_file()


@needs_install
def test_a_desktop_entry_that_cannot_be_written_does_not_fail_the_install(tmp_path: Path) -> None:
    home = tmp_path / "not-a-folder"
    home.write_text("")  # ~/.local cannot be made under a file
    done = _rerun(home=home)
    assert done.returncode == 0, done.stderr
    assert "could not be installed" in done.stderr and "Studio itself is installed" in done.stderr
