"""Save studio-mini as a standard diffusers folder; preview factors; labelled sample grids."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageDraw, ImageFont

log = logging.getLogger(__name__)


def save_pipeline(
    out: Path,
    vae: Any,  # noqa: ANN401
    text_encoder: Any,  # noqa: ANN401
    tokenizer: Any,  # noqa: ANN401
    tokenizer_src: Path,
    unet: Any,  # noqa: ANN401
    scheduler: Any,  # noqa: ANN401
    fp16: bool = True,
) -> None:
    """Write model_index.json + component folders; weights as safetensors (fp16 if asked)."""
    import torch
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline(
        vae=copy_as(vae, torch.float16 if fp16 else torch.float32),
        text_encoder=copy_as(text_encoder, torch.float16 if fp16 else torch.float32),
        tokenizer=tokenizer,
        unet=copy_as(unet, torch.float16 if fp16 else torch.float32),
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    if out.exists():
        for sub in ("vae", "text_encoder", "tokenizer", "unet", "scheduler"):
            shutil.rmtree(out / sub, ignore_errors=True)
    pipe.save_pretrained(out, safe_serialization=True)
    # Load in fp32 by default (transformers 5 otherwise follows the stored dtype).
    cfg_path = out / "text_encoder" / "config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    for key in ("dtype", "torch_dtype"):
        if key in cfg:
            cfg[key] = "float32"
    cfg_path.write_text(json.dumps(cfg, indent=2) + "\n", encoding="utf-8")
    for name in ("vocab.json", "merges.txt"):  # for loaders that want the BPE files
        shutil.copy(tokenizer_src / name, out / "tokenizer" / name)
    size = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    log.info("saved %s (%.1f MB)", out, size / 1e6)


def copy_as(module: Any, dtype: Any) -> Any:  # noqa: ANN401
    import copy

    return copy.deepcopy(module).to(dtype=dtype)


def fit_latent_rgb(
    vae: Any,  # noqa: ANN401
    lat_mean: Any,  # noqa: ANN401
    scale: float,
    device: str,
) -> dict[str, list]:
    """Least-squares 4x3 map + bias from scaled latents to RGB in [-1, 1] (8x8 decoded images)."""
    import torch
    import torch.nn.functional as F  # noqa: N812

    xs, ys = [], []
    with torch.no_grad():
        for i in range(0, len(lat_mean), 64):
            z = lat_mean[i : i + 64]
            img = vae.decode(z).sample.float().clamp(-1, 1)
            small = F.adaptive_avg_pool2d(img, z.shape[-2:])
            xs.append((z * scale).permute(0, 2, 3, 1).reshape(-1, 4).cpu().numpy())
            ys.append(small.permute(0, 2, 3, 1).reshape(-1, 3).cpu().numpy())
    x, y = np.concatenate(xs), np.concatenate(ys)
    a = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
    w, *_ = np.linalg.lstsq(a, y, rcond=None)
    err = float(np.abs(a @ w - y).mean())
    log.info("latent_rgb fit: mean abs error %.3f", err)
    return {
        "factors": [[round(float(v), 5) for v in row] for row in w[:4]],
        "bias": [round(float(v), 5) for v in w[4]],
    }


def label_font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    for path in (
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/noto/NotoSans-Regular.ttf",
    ):
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default()


def labelled_grid(images: list[Image.Image], labels: list[str], cols: int = 8, scale: int = 2) -> Image.Image:
    """Images (upscaled by `scale`) with a wrapped label under each."""
    cell = images[0].width * scale
    label_h = 30
    rows = (len(images) + cols - 1) // cols
    grid = Image.new("RGB", (cols * cell, rows * (cell + label_h)), "white")
    draw = ImageDraw.Draw(grid)
    font = label_font(10)
    for i, (img, label) in enumerate(zip(images, labels, strict=True)):
        x, y = (i % cols) * cell, (i // cols) * (cell + label_h)
        grid.paste(img.resize((cell, cell), Image.Resampling.NEAREST), (x, y))
        words, lines, line = label.split(), [], ""
        for word in words:
            if line and draw.textlength(line + " " + word, font=font) > cell - 4:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines.append(line)
        for j, text in enumerate(lines[:2]):
            draw.text((x + 2, y + cell + 2 + 12 * j), text, fill="black", font=font)
    return grid
