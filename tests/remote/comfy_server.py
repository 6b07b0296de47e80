"""A REAL ComfyUI for the `comfyui`-marked tests, from env ``STUDIO_COMFYUI``:

- one or more URLs (``http://127.0.0.1:8188`` or ``url1,url2``): servers already running, each with
  at least one SD1.5-architecture checkpoint (the first listed is used);
- or the path of a ComfyUI checkout: servers are started from it on free loopback ports with
  ``python main.py --cpu --listen 127.0.0.1 --port N --preview-method latent2rgb`` (the Python from
  ``STUDIO_COMFYUI_PYTHON``, else ``<checkout>/../venv/bin/python`` when it exists, else this one),
  with ``--extra-model-paths-config`` naming a folder that holds `CHECKPOINT`, and input, output and
  temp folders of their own.

`CHECKPOINT` has random weights in the SD1.5 architecture as ComfyUI recognises it (the shipped
``studio/resources/configs/sd15`` text encoder and VAE, whose shapes ComfyUI fixes; the UNet from the
shipped config with 320/640 channels, one layer per block and 768-wide cross-attention, so CPU steps
take a fraction of a second at 64x64). It is built once and cached (``STUDIO_COMFY_CACHE``, else
``~/.cache/studio-tests/comfyui``, in ``small/``). Nothing of ComfyUI is imported or copied: it runs as a process.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

CHECKPOINT = "sd15-small-random.safetensors"
CONFIGS = Path(__file__).resolve().parents[2] / "studio" / "resources" / "configs" / "sd15"
SMALL_UNET = {
    "block_out_channels": [320, 640],
    "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"],
    "layers_per_block": 1,
}
START_TIMEOUT = 300.0


def cache_dir() -> Path:
    root = Path(os.environ.get("STUDIO_COMFY_CACHE", Path.home() / ".cache" / "studio-tests" / "comfyui"))
    return root / "small"  # a folder of its own: the servers list only this checkpoint


def small_sd15_checkpoint(folder: Path | None = None) -> Path:
    """``<folder>/checkpoints/sd15-small-random.safetensors``, built once (fp16, original layout)."""
    path = (folder or cache_dir()) / "checkpoints" / CHECKPOINT
    if path.is_file():
        return path
    import torch
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from tests.single_file import export_original_layout
    from tests.tiny_model import build_tiny_components

    log.info("Building a random-weight SD1.5-architecture checkpoint at %s (once)", path)
    torch.manual_seed(0)
    tiny = build_tiny_components()  # for the real CLIP tokenizer and a scheduler
    pipe = StableDiffusionPipeline(
        unet=UNet2DConditionModel.from_config({**_config("unet"), **SMALL_UNET}).eval(),
        vae=AutoencoderKL.from_config(_config("vae")).eval(),
        text_encoder=CLIPTextModel(CLIPTextConfig(**_config("text_encoder"))).eval(),
        tokenizer=tiny["tokenizer"],
        scheduler=tiny["scheduler"],
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.to(dtype=torch.float16)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".partial{os.getpid()}")
    export_original_layout(pipe, partial)
    partial.replace(path)
    return path


def _config(part: str) -> dict[str, object]:
    data = json.loads((CONFIGS / part / "config.json").read_text("utf-8"))
    return {k: v for k, v in data.items() if not k.startswith("_")}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def comfy_python(checkout: Path) -> Path:
    if os.environ.get("STUDIO_COMFYUI_PYTHON"):
        return Path(os.environ["STUDIO_COMFYUI_PYTHON"])
    beside = checkout.parent / "venv" / "bin" / "python"
    return beside if beside.is_file() else Path(sys.executable)


@dataclass
class ComfyProcess:
    """A ComfyUI server this test session started."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def kill(self) -> None:
        """Kill it at once (as a crash or a pulled cable would end it)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text("utf-8", "replace").splitlines()[-lines:])
        except OSError:
            return ""


def start_comfyui(
    checkout: Path, workdir: Path, *, python: Path | None = None, port: int = 0
) -> ComfyProcess:
    """Start ComfyUI from `checkout` with the small checkpoint; returns once it answers /system_stats."""
    models = small_sd15_checkpoint().parent.parent
    workdir.mkdir(parents=True, exist_ok=True)
    paths = workdir / "extra_model_paths.yaml"
    paths.write_text(f"studio_tests:\n    base_path: {models}\n    checkpoints: checkpoints\n", "utf-8")
    port = port or free_port()
    log_path = workdir / f"comfyui-{port}.log"
    command = [
        str(python or comfy_python(checkout)),
        str(checkout / "main.py"),
        "--cpu",
        "--listen",
        "127.0.0.1",
        "--port",
        str(port),
        "--preview-method",
        "latent2rgb",
        "--extra-model-paths-config",
        str(paths),
        *("--output-directory", str(workdir / "output")),
        *("--input-directory", str(workdir / "input")),
        *("--temp-directory", str(workdir / "temp")),
        "--disable-auto-launch",
    ]
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    with log_path.open("wb") as out:
        process = subprocess.Popen(command, cwd=checkout, env=env, stdout=out, stderr=subprocess.STDOUT)
    server = ComfyProcess(f"http://127.0.0.1:{port}", process, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ComfyUI exited ({process.returncode}):\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url + "/system_stats", timeout=2):
                return server
        except OSError:
            time.sleep(0.5)
    server.stop()
    raise RuntimeError(f"ComfyUI did not answer within {START_TIMEOUT:.0f} s:\n{server.log_tail()}")


def configured() -> tuple[list[str], Path | None]:
    """From STUDIO_COMFYUI: (URLs of running servers, []) or ([], a checkout to start servers from)."""
    value = os.environ.get("STUDIO_COMFYUI", "").strip()
    if not value:
        return [], None
    if "://" in value or value.split(",")[0].strip().split(":")[-1].isdigit():
        return [part.strip() for part in value.split(",") if part.strip()], None
    return [], Path(value).expanduser()
