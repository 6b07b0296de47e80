"""A VAE override for one job: load it, swap it into the pipelines, put the model's own back after.

``request.vae`` is "" (the model's own VAE), a single-file ``.safetensors`` VAE in the original LDM
layout (``encoder.down.0...``, as A1111/Civitai ship them; diffusers-layout files are read too) or a
diffusers VAE folder (``config.json`` + weights). A single file is built from the shipped config of
the model's family (``studio/resources/configs/<family>/vae``) with the channels read off its tensor
shapes, never from the Hub; a pickle is refused. The VAE must fit the model (same latent channels
and downscale factor) or the job fails with a message. Loaded VAEs are kept while the same file (path,
mtime, size), model dtype and device are asked for again, so a series of jobs loads it once.

Metadata (A1111): ``VAE`` is the file name, ``VAE hash`` the first 10 hex digits of the file's
sha256 (the weights file of a folder), cached like model hashes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.engine.pipelines import RequestError

if TYPE_CHECKING:
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

_CONFIGS = {"sd1": "sd15", "sd2": "sd21", "sdxl": "sdxl-base"}
_LDM_PREFIX = "first_stage_model."
_FOLDER_WEIGHTS = ("diffusion_pytorch_model.safetensors", "diffusion_pytorch_model.bin")


class VaeError(RequestError):
    """A VAE file that cannot be used for this job (missing, pickled, damaged, does not fit)."""


@dataclass(frozen=True)
class VaeInfo:
    name: str  # A1111 `VAE`: the file (or folder) name
    hash: str  # A1111 `VAE hash`


@dataclass
class _Cached:
    key: tuple[str, int, int, str, str]
    vae: Any


_cache: list[_Cached] = []  # at most one entry: the engine thread's last VAE


def vae_source(ref: str) -> Path:
    """The file or folder ``ref`` names, checked: exists, ``.safetensors`` or a diffusers folder."""
    path = Path(ref).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file() or not any((path / w).is_file() for w in _FOLDER_WEIGHTS):
            raise VaeError(f"The VAE folder {path.name} is not a diffusers VAE (config.json and weights).")
        return path
    if not path.is_file():
        raise VaeError(f"The VAE file {ref} does not exist.")
    if path.suffix.lower() != ".safetensors":
        raise VaeError(
            f"{path.name} is not a .safetensors file: Studio loads VAEs only from .safetensors files or "
            "diffusers folders, because opening a pickle can run any code in it."
        )
    return path


def vae_info(path: Path) -> VaeInfo:
    from studio.engine.loading.model_hash import model_hash_for

    weights = path
    if path.is_dir():
        weights = next((path / w for w in _FOLDER_WEIGHTS if (path / w).is_file()), path)
    return VaeInfo(path.name, model_hash_for(weights if weights.is_file() else None))


def load_vae(path: Path, family: str, dtype: Any, device: str) -> Any:
    """The ``AutoencoderKL`` at ``path`` in ``dtype`` on ``device`` (cached: the last one asked for)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size, str(dtype), str(device))
    if _cache and _cache[0].key == key:
        return _cache[0].vae
    _cache.clear()
    vae = _read_folder(path, dtype) if path.is_dir() else _read_single_file(path, family, dtype)
    vae = vae.to(device)
    _cache.append(_Cached(key, vae))
    return vae


def _read_folder(path: Path, dtype: Any) -> Any:
    from diffusers import AutoencoderKL

    try:
        return AutoencoderKL.from_pretrained(str(path), torch_dtype=dtype, local_files_only=True).eval()
    except Exception as exc:
        if isinstance(exc, MemoryError):
            raise
        raise VaeError(f"The VAE folder {path.name} cannot be read ({_first_line(exc)}).") from exc


def _read_single_file(path: Path, family: str, dtype: Any) -> Any:
    from studio.engine.loading.build import assign_weights
    from studio.engine.loading.checkpoint import load_tensors, read_header
    from studio.engine.loading.detect import CheckpointInfo
    from studio.engine.loading.errors import ModelLoadError
    from studio.engine.loading.infer import vae_config

    try:
        ckpt = read_header(path)
        keys = list(ckpt.shapes)
        if any(k.startswith("encoder.down_blocks.") for k in keys):  # already diffusers layout
            return _diffusers_layout_file(path, family, ckpt, dtype)
        prefix = "" if any(k.startswith(_LDM_PREFIX) for k in keys) else _LDM_PREFIX
        shapes = {prefix + k: v for k, v in ckpt.shapes.items()}
        info = CheckpointInfo(family, False, "epsilon", _CONFIGS.get(family, "sd15"), "VAE override")
        cfg = vae_config(info, shapes)
        tensors = {prefix + k: v for k, v in load_tensors(ckpt).items()}
        from accelerate import init_empty_weights
        from diffusers import AutoencoderKL
        from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

        with init_empty_weights():
            model = AutoencoderKL.from_config(cfg)
        converted = convert_ldm_vae_checkpoint(
            {k: v for k, v in tensors.items() if k.startswith(_LDM_PREFIX)}, cfg
        )
        return assign_weights(model, converted, dtype, "VAE")
    except ModelLoadError as exc:
        raise VaeError(f"The VAE {path.name} cannot be used: {exc}") from exc
    except (KeyError, ValueError, RuntimeError) as exc:
        raise VaeError(
            f"The VAE {path.name} cannot be used ({_first_line(exc)}): it is damaged or not a Stable "
            "Diffusion VAE."
        ) from exc


def _diffusers_layout_file(path: Path, family: str, ckpt: Any, dtype: Any) -> Any:
    from diffusers import AutoencoderKL

    from studio.engine.loading.infer import config_dir

    config = config_dir(_CONFIGS.get(family, "sd15")) / "vae"
    return AutoencoderKL.from_single_file(
        str(path), config=str(config), torch_dtype=dtype, local_files_only=True
    ).eval()


def check_fits(vae: Any, own: Any, name: str) -> None:
    """The override must read and write the model's latents: same channels and downscale factor."""
    got = (int(vae.config.latent_channels), len(vae.config.block_out_channels))
    want = (int(own.config.latent_channels), len(own.config.block_out_channels))
    if got != want:
        raise VaeError(
            f"The VAE {name} does not fit this model: it has {got[0]} latent channels and scales by "
            f"{2 ** (got[1] - 1)}, the model needs {want[0]} and {2 ** (want[1] - 1)}. Choose a VAE made "
            "for this model's family."
        )


@contextmanager
def vae_override(
    ref: str, pipes: Callable[[], Sequence[Pipeline]], family: str, dtype: Any, device: str
) -> Iterator[VaeInfo | None]:
    """Swap the VAE at ``ref`` into ``pipes()`` for the ``with`` block ("" = keep the model's own).

    ``pipes`` is asked again at the end: a pipeline derived during the job (``from_pipe`` of the
    first, which then holds the override) gets the model's own VAE back too."""
    first = list(pipes())
    if not ref or not first:
        yield None
        return
    path = vae_source(ref)
    own = first[0].vae
    vae = load_vae(path, family, dtype, device)
    check_fits(vae, own, path.name)
    info = vae_info(path)
    try:
        for pipe in first:
            pipe.vae = vae
        log.info("VAE override: %s", path.name)
        yield info
    finally:
        for pipe in pipes():
            pipe.vae = own


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
