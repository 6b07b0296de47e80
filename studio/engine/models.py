"""One resident model, and the pipelines for each mode derived from it without copying weights.

Used only on the engine thread. Switching models frees the previous one first (garbage collection
and the accelerator cache), so two large models are never resident together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from studio.core.request import Mode
from studio.engine.latent_rgb import LatentRGB, latent_rgb_for
from studio.engine.schedulers import create_scheduler

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
Loader = Callable[..., Any]  # (ref, *, device, dtype, progress) -> studio.engine.loading.LoadedModel

# (family is sdxl, mode) -> diffusers pipeline class name
_CLASSES = {
    (False, Mode.TXT2IMG): "StableDiffusionPipeline",
    (False, Mode.IMG2IMG): "StableDiffusionImg2ImgPipeline",
    (False, Mode.INPAINT): "StableDiffusionInpaintPipeline",
    (True, Mode.TXT2IMG): "StableDiffusionXLPipeline",
    (True, Mode.IMG2IMG): "StableDiffusionXLImg2ImgPipeline",
    (True, Mode.INPAINT): "StableDiffusionXLInpaintPipeline",
}


def _default_loader(ref: str, *, device: str, dtype: Any, progress: Progress | None = None) -> Any:
    from studio.engine.loading import load_pipeline

    return load_pipeline(ref, device=device, dtype=dtype, progress=progress)


class ModelManager:
    """Holds exactly one loaded model (``studio.engine.loading.LoadedModel``) and its mode pipelines."""

    def __init__(
        self, device: str, dtype: Any, *, loader: Loader | None = None, cache_dir: Path | None = None
    ) -> None:
        self.device = device
        self.dtype = dtype
        self._loader = loader or _default_loader
        self._cache_dir = cache_dir
        self.loaded: Any = None
        self._pipes: dict[str, Any] = {}
        self._base_scheduler_config: dict[str, Any] = {}
        self._latent_rgb: LatentRGB | None = None

    @property
    def resident_ref(self) -> str | None:
        return None if self.loaded is None else self.loaded.ref

    def ensure(self, ref: str, progress: Progress | None = None) -> tuple[Any, float]:
        """Make ``ref`` the resident model; returns (LoadedModel, seconds spent loading, 0 if resident)."""
        if self.loaded is not None and self.loaded.ref == ref:
            return self.loaded, 0.0
        self.unload()
        start = time.monotonic()
        loaded = self._loader(ref, device=self.device, dtype=self.dtype, progress=progress)
        loaded.pipe.set_progress_bar_config(disable=True)
        self._fast_path(loaded, progress)
        self.loaded = loaded
        self._base_scheduler_config = dict(loaded.pipe.scheduler.config)
        self._pipes = {type(loaded.pipe).__name__: loaded.pipe}
        return loaded, time.monotonic() - start

    def _fast_path(self, loaded: Any, progress: Progress | None) -> None:
        """CUDA only (``studio.engine.fastpath``): channels_last, fused QKV, compiled UNet + warm-up.

        A failure here never fails the load: the plain, uncompiled UNet is kept.
        """
        from studio.engine import fastpath

        if not fastpath.fast_path_wanted(self.device):
            return
        pipe = loaded.pipe
        try:
            if fastpath.apply_fast_path(pipe, self.device) and fastpath.is_compiled(pipe):
                if progress is not None:
                    progress("Optimising the model for this GPU (the first time can take minutes)")
                side = int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)
                fastpath.warm_up(pipe, width=side, height=side)
        except Exception:
            log.warning("GPU fast path failed; using the model without it", exc_info=True)
            if fastpath.is_compiled(pipe):
                pipe.unet = pipe.unet._orig_mod

    def unload(self) -> None:
        """Drop the resident model and every pipeline sharing its weights, then free memory."""
        if self.loaded is None:
            return
        name = self.loaded.name
        self.loaded = None
        self._pipes.clear()
        self._latent_rgb = None
        from studio.engine.device import free_memory

        free_memory()
        log.info("Unloaded %s", name)

    @property
    def family(self) -> str:
        return "" if self.loaded is None else self.loaded.family

    @property
    def is_inpaint_model(self) -> bool:
        return bool(self.loaded is not None and self.loaded.inpaint)

    def pipeline_for(self, mode: Mode, scheduler: str, seeds: Sequence[int] = ()) -> Any:
        """The pipeline for ``mode`` (outpaint uses inpaint) with a fresh ``scheduler`` of its own.

        Derived with ``from_pipe``, which shares the weights (and the scheduler object, which is why
        every call gets a new scheduler built from the model's original scheduler config).
        """
        if self.loaded is None:
            raise RuntimeError("no model is loaded")
        if mode is Mode.OUTPAINT:
            mode = Mode.INPAINT
        class_name = _CLASSES[(self.family == "sdxl", mode)]
        pipe = self._pipes.get(class_name)
        if pipe is None:
            import diffusers

            cls = getattr(diffusers, class_name)
            pipe = cls.from_pipe(self.loaded.pipe)
            pipe.set_progress_bar_config(disable=True)  # from_pipe does not keep it
            self._pipes[class_name] = pipe
            log.debug("Derived %s from %s", class_name, type(self.loaded.pipe).__name__)
        pipe.scheduler = create_scheduler(scheduler, self._base_scheduler_config, seeds)
        return pipe

    def native_size(self) -> int:
        """The side in pixels the model was trained at (512 SD1, 768 SD2-v, 1024 SDXL, 64 tiny)."""
        pipe = self.loaded.pipe
        return int(pipe.unet.config.sample_size) * int(pipe.vae_scale_factor)

    def latent_rgb(self) -> LatentRGB:
        """Latent -> RGB factors for previews (computed once per resident model)."""
        if self._latent_rgb is None:
            loaded = self.loaded
            self._latent_rgb = latent_rgb_for(
                loaded.pipe.vae, folder=loaded.folder, model_hash=loaded.model_hash, cache_dir=self._cache_dir
            )
            log.info("Preview colours for %s: %s", loaded.name, self._latent_rgb.source)
        return self._latent_rgb
