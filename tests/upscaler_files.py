"""Random-weight upscalers for the tests, built from spandrel's own architectures (never downloaded)."""

from __future__ import annotations

from pathlib import Path


def esrgan_file(path: Path, scale: int = 4, seed: int = 0) -> Path:
    """A small random ESRGAN (spandrel's RRDBNet) saved as `path` (.safetensors, or a .pth state dict)."""
    import torch

    from studio.engine.upscale import _import_spandrel

    _import_spandrel()  # spandrel without torchvision, as the app imports it
    from spandrel.architectures.ESRGAN import ESRGAN

    torch.manual_seed(seed)
    model = ESRGAN(in_nc=3, out_nc=3, num_filters=8, num_blocks=1, scale=scale)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path))
    else:
        torch.save(state, str(path))
    return path
