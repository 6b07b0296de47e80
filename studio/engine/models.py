"""One resident model, and the pipelines for each mode derived from it without copying weights.

Used only on the engine thread. Switching models frees the previous one first (garbage collection
and the accelerator cache), so two large models are never resident together.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from studio.core.request import Mode
from studio.engine.aliases import Pipeline  # a diffusers pipeline, its components attached at run time
from studio.engine.control import ControlModels
from studio.engine.dit import denoiser, flow_scheduler, is_dit, is_quantized, same_components
from studio.engine.latent_rgb import LatentRGB, latent_rgb_for
from studio.engine.memory import MemoryMode
from studio.engine.schedulers import create_scheduler

if TYPE_CHECKING:
    import torch

    from studio.engine.loading import LoadedModel

log = logging.getLogger(__name__)


Progress = Callable[[str], None]
Loader = Callable[..., "LoadedModel"]  # (ref, *, device, dtype, progress)

# (pipeline group: "sd" | "sdxl" | "sd3" | "flux", mode) -> diffusers pipeline class name
_CLASSES = {
    ("sd", Mode.TXT2IMG): "StableDiffusionPipeline",
    ("sd", Mode.IMG2IMG): "StableDiffusionImg2ImgPipeline",
    ("sd", Mode.INPAINT): "StableDiffusionInpaintPipeline",
    ("sdxl", Mode.TXT2IMG): "StableDiffusionXLPipeline",
    ("sdxl", Mode.IMG2IMG): "StableDiffusionXLImg2ImgPipeline",
    ("sdxl", Mode.INPAINT): "StableDiffusionXLInpaintPipeline",
    ("sd3", Mode.TXT2IMG): "StableDiffusion3Pipeline",
    ("sd3", Mode.IMG2IMG): "StableDiffusion3Img2ImgPipeline",
    ("sd3", Mode.INPAINT): "StableDiffusion3InpaintPipeline",
    ("flux", Mode.TXT2IMG): "FluxPipeline",
    ("flux", Mode.IMG2IMG): "FluxImg2ImgPipeline",
    ("flux", Mode.INPAINT): "FluxInpaintPipeline",
}


def _pipeline_group(family: str) -> str:
    return family if family in ("sdxl", "sd3", "flux") else "sd"


def _default_loader(
    ref: str, *, device: str, dtype: torch.dtype, progress: Progress | None = None
) -> LoadedModel:
    from studio.engine.loading import load_pipeline

    return load_pipeline(ref, device=device, dtype=dtype, progress=progress)


class ModelManager:
    """Holds exactly one loaded model (``studio.engine.loading.LoadedModel``) and its mode pipelines."""

    def __init__(
        self,
        device: str,
        dtype: torch.dtype,
        *,
        loader: Loader | None = None,
        cache_dir: Path | None = None,
        bf16_when_faster: bool = False,
        memory_mode: str = "auto",
        free_vram: Callable[[str], int] | None = None,
        dit_bf16: bool = False,
    ) -> None:
        from studio.engine.memory import mode_from_setting

        self.device = device
        self.dtype = dtype  # the resident model's dtype (what control models are cast to)
        self._load_dtype = dtype  # what models are loaded in
        # "auto" precision on a CPU with bf16 hardware: large UNets are cast to bf16 after loading
        self._bf16_when_faster = bf16_when_faster
        # "auto" precision on a bf16 GPU: SD3 / Flux load in bf16 rather than fp16 (device.auto_gpu_bf16_for_dit)
        self._dit_bf16 = dit_bf16
        self._loader = loader or _default_loader
        self._cache_dir = cache_dir
        self.loaded: LoadedModel | None = None
        self._pipes: dict[str, Pipeline] = {}
        self._base_scheduler_config: dict[str, object] = {}
        self._latent_rgb: LatentRGB | None = None
        self.controls = ControlModels()  # ControlNets / adapters kept while jobs reuse them
        # GPU memory (CUDA only, `studio.engine.memory`): the setting (None = auto), the mode the
        # resident model is in, and the most memory a mode may use after an out-of-memory fallback
        self._memory_setting = mode_from_setting(memory_mode)
        self._free_vram = free_vram
        self.memory_mode = MemoryMode.FULL
        self._memory_cap = MemoryMode.FULL
        self._lowest_mode = MemoryMode.SEQUENTIAL  # the least memory the current job may use

    @property
    def resident_ref(self) -> str | None:
        return None if self.loaded is None else self.loaded.ref

    def ensure(self, ref: str, progress: Progress | None = None) -> tuple[LoadedModel, float]:
        """Make ``ref`` the resident model; returns (LoadedModel, seconds spent loading, 0 if resident).

        A model that fails the checks needing no weights (missing file, incomplete folder) fails before
        the resident one is unloaded; one that fails later is replaced by the previous model again
        (unless memory ran out), so a bad choice never leaves the app without a usable model.
        """
        if self.loaded is not None and self.loaded.ref == ref:
            return self.loaded, 0.0
        if self._loader is _default_loader:
            from studio.engine.loading import check_ref

            check_ref(ref)
        previous = self.resident_ref
        self.unload()
        try:
            return self._load(ref, progress)
        except Exception as exc:
            if previous is not None:
                self._restore(previous, exc)
            raise

    def _restore(self, ref: str, failure: BaseException) -> None:
        from studio.engine.device import is_out_of_memory

        if is_out_of_memory(failure):
            return
        try:
            self._load(ref, None)
            log.info("Loading failed; the previous model %s is loaded again", self.loaded_name)
        except Exception:
            log.warning("The previous model %r could not be loaded again", ref, exc_info=True)

    @property
    def loaded_name(self) -> str:
        return "" if self.loaded is None else self.loaded.name

    def _load(
        self, ref: str, progress: Progress | None, mode: MemoryMode | None = None
    ) -> tuple[LoadedModel, float]:
        """Load ``ref``; on CUDA it is read to the CPU and placed on the GPU in its memory mode
        (``mode``, or the one chosen for the native size)."""
        from studio.engine.memory import uses_memory_modes

        start = time.monotonic()
        managed = uses_memory_modes(self.device)
        device = "cpu" if managed else self.device
        dtype = self._dtype_for(ref)
        loaded = self._loader(ref, device=device, dtype=dtype, progress=progress)
        loaded.pipe.set_progress_bar_config(disable=True)
        self.dtype = dtype
        if self._bf16_when_faster:
            self._to_bf16_if_faster(loaded)
        if managed:
            side = _native_side(loaded.pipe)
            mode = mode or self._wanted_mode(loaded.pipe, loaded.family, (side, side), 1)
            if progress is not None:
                progress(f"Moving {loaded.name} to {self.device} ({mode.label})")
            self._place(loaded.pipe, mode)
        if self.memory_mode in (MemoryMode.FULL, MemoryMode.VAE):
            self._fast_path(loaded, progress)
        self.loaded = loaded
        self._base_scheduler_config = dict(loaded.pipe.scheduler.config)
        self._pipes = {type(loaded.pipe).__name__: loaded.pipe}
        return loaded, time.monotonic() - start

    def _dtype_for(self, ref: str) -> torch.dtype:
        """The load dtype; bf16 for SD3 / Flux where fp16 would be used and `dit_bf16` allows it."""
        import torch

        if not self._dit_bf16 or self._load_dtype != torch.float16:
            return self._load_dtype
        from studio.engine.loading import ref_family

        if not is_dit(ref_family(ref)):
            return self._load_dtype
        log.info("%s is a diffusion transformer: loaded in bf16 (fp16 overflows its T5 encoder)", ref)
        return torch.bfloat16

    def _to_bf16_if_faster(self, loaded: LoadedModel) -> None:
        import torch

        from studio.engine.device import bf16_pays_off

        if is_quantized(loaded.pipe):  # GGUF: its compute dtype was fixed when it was loaded
            log.info("%s stays in %s (a quantised transformer)", loaded.name, self.dtype)
            return
        params = sum(p.numel() for p in denoiser(loaded.pipe).parameters())
        if not bf16_pays_off(params):
            log.info(
                "%s stays in %s (UNet %.0fM parameters: bf16 would be slower)",
                loaded.name,
                self.dtype,
                params / 1e6,
            )
            return
        loaded.pipe.to(dtype=torch.bfloat16)
        self.dtype = torch.bfloat16
        log.info("%s runs in bf16 on this CPU (UNet %.0fM parameters)", loaded.name, params / 1e6)

    def _fast_path(self, loaded: LoadedModel, progress: Progress | None) -> None:
        """CUDA only (``studio.engine.fastpath``): channels_last, fused QKV, compiled UNet + warm-up.

        A failure here never fails the load: the plain, uncompiled UNet is kept.
        """
        from studio.engine import fastpath

        if not fastpath.fast_path_wanted(self.device) or is_dit(loaded.family):
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
        self.controls.clear()
        self.memory_mode = self._memory_cap = MemoryMode.FULL
        from studio.engine.device import free_memory

        free_memory()
        log.info("Unloaded %s", name)

    @property
    def family(self) -> str:
        return "" if self.loaded is None else self.loaded.family

    @property
    def is_inpaint_model(self) -> bool:
        return bool(self.loaded is not None and self.loaded.inpaint)

    def pipeline_for(self, mode: Mode, scheduler: str, seeds: Sequence[int] = ()) -> Pipeline:
        """The pipeline for ``mode`` (outpaint uses inpaint) with a fresh ``scheduler`` of its own.

        Derived with ``from_pipe``, which shares the weights (and the scheduler object, which is why
        every call gets a new scheduler built from the model's original scheduler config).
        """
        if self.loaded is None:
            raise RuntimeError("no model is loaded")
        if mode is Mode.OUTPAINT:
            mode = Mode.INPAINT
        class_name = _CLASSES[(_pipeline_group(self.family), mode)]
        pipe = self._pipes.get(class_name)
        if pipe is None:
            pipe = self._derive(class_name, self.loaded)
        if is_dit(self.family):  # flow matching: Euler from the model's config (dit.sampler_warning)
            pipe.scheduler = flow_scheduler(scheduler, self._base_scheduler_config)
        else:
            pipe.scheduler = create_scheduler(scheduler, self._base_scheduler_config, seeds)
        return pipe

    def pipelines(self) -> list[Pipeline]:
        """The resident model's pipelines (the loaded one first, then those derived from it)."""
        if self.loaded is None:
            return []
        return [self.loaded.pipe, *(p for p in self._pipes.values() if p is not self.loaded.pipe)]

    def _derive(self, class_name: str, loaded: LoadedModel) -> Pipeline:
        import diffusers

        from studio.engine.memory import apply_to_derived

        cls = getattr(diffusers, class_name)
        # from_pipe casts every (shared) component to its `dtype`, float32 unless given: the model's
        # own dtype keeps an fp16 / bf16 model as it is; a quantised (GGUF) transformer refuses any cast
        if is_quantized(loaded.pipe):
            pipe: Pipeline = same_components(cls, loaded.pipe)
        else:
            pipe = cls.from_pipe(loaded.pipe, dtype=denoiser(loaded.pipe).dtype)
        pipe.set_progress_bar_config(disable=True)  # from_pipe does not keep it
        apply_to_derived(pipe, self.memory_mode, self.device)
        self._pipes[class_name] = pipe
        log.debug("Derived %s from %s", class_name, type(loaded.pipe).__name__)
        return pipe

    def native_size(self) -> int:
        """The side in pixels the model was trained at (512 SD1, 768 SD2-v, 1024 SDXL, 64 tiny)."""
        if self.loaded is None:
            raise RuntimeError("no model is loaded")
        return _native_side(self.loaded.pipe)

    # ------------------------------------------------------------------ GPU memory modes
    def prepare_memory(self, size: tuple[int, int], batch: int, *, sequential_ok: bool = True) -> MemoryMode:
        """Put the resident model in the memory mode for a job of ``size`` x ``batch`` (CUDA only:
        elsewhere nothing changes and the mode stays ``full``); returns the mode.

        ``sequential_ok=False`` (a job with LoRAs or an IP-Adapter) runs in model offload at the
        least: fusing a LoRA rewrites the weights and an IP-Adapter is placed on the UNet's device,
        while sequential offload keeps the weights inside its hooks (the model's wait on the meta
        device)."""
        from studio.engine.memory import needs_reload, uses_memory_modes

        loaded = self.loaded
        self._lowest_mode = MemoryMode.SEQUENTIAL if sequential_ok else MemoryMode.MODEL_OFFLOAD
        if loaded is None or not uses_memory_modes(self.device):
            return self.memory_mode
        wanted = self._wanted_mode(loaded.pipe, loaded.family, size, batch)
        if wanted.rank > self._lowest_mode.rank:
            log.warning("This job cannot use %s mode; it runs in %s", wanted.value, self._lowest_mode.value)
            wanted = self._lowest_mode
        if wanted is not self.memory_mode:
            if needs_reload(self.memory_mode, wanted):
                self._reload_in(wanted)
            else:
                self._switch(wanted)
        return self.memory_mode

    @property
    def can_lower_memory(self) -> bool:
        """Whether an out-of-memory error can be retried in a lower-memory mode (CUDA only)."""
        from studio.engine.memory import uses_memory_modes

        lower = self.memory_mode.lower()
        allowed = lower is not None and lower.rank <= self._lowest_mode.rank
        return self.loaded is not None and allowed and uses_memory_modes(self.device)

    def refresh_vae_memory(self) -> None:
        """VAE tiling/slicing as the mode wants it on every pipeline's VAE (a VAE override swapped in
        for the job has its own switches)."""
        from studio.engine.memory import set_vae_tiling, uses_memory_modes

        if uses_memory_modes(self.device):
            for pipe in self.pipelines():
                set_vae_tiling(pipe, self.memory_mode is not MemoryMode.FULL)

    def lower_memory_mode(self) -> MemoryMode | None:
        """After an out-of-memory error on CUDA: the resident model moves to the next lower-memory
        mode, which stays the most any later job uses until the model is unloaded. None when there
        is none (not CUDA, no model, or already ``sequential``)."""
        from studio.engine.device import free_memory

        lower = self.memory_mode.lower()
        if not self.can_lower_memory or lower is None:
            return None
        self._memory_cap = lower
        free_memory()
        self._switch(lower)
        return self.memory_mode

    def _wanted_mode(self, pipe: Pipeline, family: str, size: tuple[int, int], batch: int) -> MemoryMode:
        """The setting's mode, or (auto) the one `memory.choose_mode` picks from the free VRAM; never
        more memory-hungry than the cap an out-of-memory fallback set."""
        from studio.engine import memory

        wanted = self._memory_setting
        if wanted is None:
            total, largest = memory.weight_bytes(pipe)
            free = (self._free_vram or memory.free_vram)(self.device) + self._bytes_on_gpu(total)
            dtype_bytes = 4 if str(self.dtype) == "torch.float32" else 2
            wanted = memory.choose_mode(
                free, total, family, size, batch=batch, largest_bytes=largest, dtype_bytes=dtype_bytes
            )
            log.info(
                "Memory mode for %dx%d x%d: %s (%.1f GiB free)", *size, batch, wanted.value, free / 2**30
            )
        return wanted if wanted.rank >= self._memory_cap.rank else self._memory_cap

    def _bytes_on_gpu(self, total: int) -> int:
        """What the resident model holds on the GPU between jobs (its to use again)."""
        resident = self.loaded is not None and self.memory_mode in (MemoryMode.FULL, MemoryMode.VAE)
        return total if resident else 0

    def _place(self, pipe: Pipeline, mode: MemoryMode) -> None:
        """Apply ``mode`` to a freshly loaded (CPU) pipeline; one that does not fit goes lower."""
        from studio.engine.device import free_memory, is_out_of_memory
        from studio.engine.loading.errors import ModelLoadError, short
        from studio.engine.memory import apply_mode

        current: MemoryMode | None = mode
        while current is not None:
            try:
                apply_mode(pipe, current, self.device)
                self.memory_mode = current
                return
            except RuntimeError as exc:
                if not is_out_of_memory(exc):
                    raise ModelLoadError(f"Could not move the model to {self.device}: {short(exc)}") from exc
                if current.lower() is None:
                    raise
                log.warning("The model does not fit on the GPU in %s mode; trying a lower one", current.value)
            pipe.to("cpu")
            free_memory()
            current = current.lower()

    def _switch(self, mode: MemoryMode) -> None:
        """The resident model into ``mode`` in place (derived pipelines are made again from it)."""
        from studio.engine.memory import apply_mode

        loaded = self.loaded
        assert loaded is not None
        apply_mode(loaded.pipe, mode, self.device, current=self.memory_mode)
        self.memory_mode = mode
        self._pipes = {type(loaded.pipe).__name__: loaded.pipe}

    def _reload_in(self, mode: MemoryMode) -> None:
        """Leave sequential offload: load the model again, in ``mode`` (the cap is kept)."""
        loaded = self.loaded
        assert loaded is not None
        cap = self._memory_cap
        log.info("Loading %s again to leave sequential offload", loaded.name)
        self.unload()
        self._memory_cap = cap
        self._load(loaded.ref, None, mode)

    def latent_rgb(self) -> LatentRGB:
        """Latent -> RGB factors for previews (computed once per resident model)."""
        if self._latent_rgb is None:
            loaded = self.loaded
            if loaded is None:
                raise RuntimeError("no model is loaded")
            self._latent_rgb = latent_rgb_for(
                loaded.pipe.vae, folder=loaded.folder, model_hash=loaded.model_hash, cache_dir=self._cache_dir
            )
            log.info("Preview colours for %s: %s", loaded.name, self._latent_rgb.source)
        return self._latent_rgb


def _native_side(pipe: Pipeline) -> int:
    unet = getattr(pipe, "unet", None)
    latent_side = unet.config.sample_size if unet is not None else pipe.default_sample_size
    return int(latent_side) * int(pipe.vae_scale_factor)
