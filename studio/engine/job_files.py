"""The artist's own files around one job: LoRAs applied and a VAE swapped in, both undone after.

Used by the engine's worker (``Engine._run_job``) around ``pipelines.generate``; the work is in
:mod:`studio.engine.lora` and :mod:`studio.engine.vae`. A file that cannot be used fails the job with
a message (an input problem); the job never runs without it silently.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from studio.core.request import GenerationRequest
from studio.engine.dit import as_run, is_dit
from studio.engine.lora import applied_loras, resolve_loras
from studio.engine.models import ModelManager
from studio.engine.vae import vae_override

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.loading import LoadedModel


@dataclass(frozen=True)
class JobFiles:
    """What the job used, for the metadata (A1111 ``Lora hashes``, ``VAE``, ``VAE hash``)."""

    lora_hashes: dict[str, str] = field(default_factory=dict)  # name as written -> A1111 short hash
    vae_name: str = ""
    vae_hash: str = ""

    def parameters(
        self,
        request: GenerationRequest,
        loaded: LoadedModel,
        images: list[Image.Image],
        tis: dict[str, str],
        control_hashes: dict[str, str] | None = None,
    ) -> list[dict[str, object]]:
        """A1111-style parameters per image (``studio.core.metadata.build_parameters``)."""
        from studio.core.metadata import build_parameters

        files = {"lora_hashes": self.lora_hashes, "ti_hashes": tis}
        if is_dit(loaded.family):  # the sampler and clip skip SD3 / Flux really ran with
            request = as_run(request)
        return [
            build_parameters(
                request,
                seed,
                loaded.name,
                loaded.model_hash,
                image.size,
                vae_name=self.vae_name,
                vae_hash=self.vae_hash,
                control_hashes=control_hashes,
                **files,
            )
            for seed, image in zip(request.seeds(), images, strict=False)
        ]


@contextmanager
def job_files(request: GenerationRequest, models: ModelManager) -> Iterator[JobFiles]:
    """Apply ``request``'s LoRAs and VAE to the resident model for the ``with`` block."""
    loaded = models.loaded
    if loaded is None:
        raise RuntimeError("no model is loaded")
    loras = resolve_loras(request)  # every name checked before anything is applied
    vae_ref = "" if is_dit(loaded.family) else request.vae  # SD3 / Flux: their own 16-channel VAE
    with (
        vae_override(vae_ref, models.pipelines, loaded.family, models.dtype, models.device) as vae,
        applied_loras(loaded.pipe, loaded.family, loras) as applied,
    ):
        yield JobFiles(dict(applied.hashes), vae.name if vae else "", vae.hash if vae else "")
