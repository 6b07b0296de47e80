"""Diffusion-transformer families (SD3 / SD3.5 and Flux): what differs from Stable Diffusion's UNets.

Both run through diffusers' own pipelines (``StableDiffusion3Pipeline`` / ``...Img2Img`` /
``...Inpaint``, ``FluxPipeline`` / ``FluxImg2ImgPipeline`` / ``FluxInpaintPipeline``) with the job's
request, plan and events like every other model. What this module decides:

- **Prompts**: their text encoders (CLIP-L/G + T5) are not A1111's: weights ``(a:1.2)``, ``BREAK``,
  clip skip and textual-inversion embeddings do not apply. The pipeline gets the plain text (weights
  and ``<lora:...>`` tags taken out, the words kept) and ``Started`` says what was ignored. LoRAs are
  applied through diffusers' SD3 / Flux LoRA loaders (``engine.lora``), not to GGUF transformers.
  CLIP reads 77 tokens, T5 up to the pipeline's ``max_sequence_length`` (256 SD3, 512 Flux);
  diffusers cuts the rest, and ``Started`` warns when T5 would.
- **Guidance**: SD3 uses classifier-free guidance (``guidance_scale``) with the negative prompt.
  Flux dev takes the guidance as an input of the transformer (embedded guidance, ``guidance_scale``;
  about 3.5 is usual) and has no negative prompt; Flux schnell uses no guidance at all.
- **Samplers**: flow-matching models run with ``FlowMatchEulerDiscreteScheduler`` built from the
  model's own scheduler config (its shift / dynamic shifting): "Euler", or "Euler Karras" /
  "Euler Exponential" / "Euler Beta" for those sigma schedules. Studio's other samplers are made for
  Stable Diffusion's noise schedule: choosing one falls back to Euler with a warning naming it.
- **Previews**: the transformer predicts a velocity v; the clean latents are x0 = x_t - sigma * v
  (sigma of the step, from the scheduler). Flux packs its latents into 2x2 patches: they are unpacked
  to (16, h/8, w/8) before the colour map.

diffusers / torch are imported inside functions.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

import numpy as np

from studio.core.prompt_syntax import extract_loras, is_break, parse_attention

if TYPE_CHECKING:
    import torch

    from studio.core.request import GenerationRequest
    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)
T = TypeVar("T")

DIT_FAMILIES = ("sd3", "flux")
FAMILY_NAMES = {"sd3": "Stable Diffusion 3", "flux": "Flux"}
FLOW_SAMPLER = "Euler"  # what a sampler that does not apply falls back to
# Studio sampler names that mean the flow-matching Euler solver, with their sigma schedule
FLOW_SAMPLERS: dict[str, dict[str, object]] = {
    "Euler": {},
    "Euler Karras": {"use_karras_sigmas": True},
    "Euler Exponential": {"use_exponential_sigmas": True},
    "Euler Beta": {"use_beta_sigmas": True},
}
_PLAIN_FLOW_SIGMAS = {"use_karras_sigmas": False, "use_exponential_sigmas": False, "use_beta_sigmas": False}
SIDE_MULTIPLE = 16  # SD3 (patch 2) and Flux (2x2 packing) on 8x VAE latents
HIRES_FALLBACK = "Lanczos"  # the hires upscaler used where a latent one was chosen
T5_TOKENS = {"sd3": 256, "flux": 512}  # diffusers' default max_sequence_length of each pipeline


def is_dit(family: str) -> bool:
    return family in DIT_FAMILIES


def denoiser(pipe: Pipeline) -> Any:
    """The network that denoises: the UNet of SD 1.x/2.x/SDXL, the transformer of SD3 / Flux."""
    unet = getattr(pipe, "unet", None)
    return unet if unet is not None else pipe.transformer


def pipe_family(pipe: Pipeline) -> str:
    """ "sd3" / "flux" for a DiT pipeline, "" for a UNet one."""
    if getattr(pipe, "unet", None) is not None or getattr(pipe, "transformer", None) is None:
        return ""
    return "flux" if is_flux(pipe) else "sd3"


def is_quantized(pipe: Pipeline) -> bool:
    """A GGUF-quantised transformer (packed weights; its compute dtype is fixed at load)."""
    transformer = getattr(pipe, "transformer", None)
    return transformer is not None and any(
        type(p).__name__ == "GGUFParameter" for p in transformer.parameters()
    )


def same_components(cls: Any, pipe: Pipeline) -> Pipeline:
    """A ``cls`` pipeline (img2img / inpaint) on ``pipe``'s very components, nothing copied or cast:
    what ``from_pipe`` does for a quantised transformer, whose dtype cast it refuses."""
    import inspect

    wanted = inspect.signature(cls.__init__).parameters
    return cls(**{name: part for name, part in pipe.components.items() if name in wanted})


def is_flux(pipe: Pipeline) -> bool:
    return type(denoiser(pipe)).__name__ == "FluxTransformer2DModel"


def uses_embedded_guidance(pipe: Pipeline) -> bool:
    """Flux dev: the guidance is an input of the transformer (schnell has none)."""
    return bool(getattr(denoiser(pipe).config, "guidance_embeds", False))


# ---------------------------------------------------------------------------------------- samplers
def sampler_warning(name: str, family: str) -> str | None:
    """The warning for a sampler that does not apply to flow-matching models (None: it applies)."""
    if name in FLOW_SAMPLERS:
        return None
    return (
        f'The "{name}" sampler is made for Stable Diffusion\'s noise schedule; '
        f"{FAMILY_NAMES.get(family, family)} is a flow-matching model, so this job runs with "
        f"{FLOW_SAMPLER} (flow matching) instead."
    )


def flow_scheduler(name: str, base_config: Mapping[str, object]) -> Any:
    """A fresh FlowMatchEulerDiscreteScheduler from the model's own scheduler config, with the sigma
    schedule ``name`` asks for (Karras / Exponential / Beta; any other name: the model's own)."""
    from diffusers import FlowMatchEulerDiscreteScheduler

    overrides = {**_PLAIN_FLOW_SIGMAS, **FLOW_SAMPLERS.get(name, {})}
    return FlowMatchEulerDiscreteScheduler.from_config(dict(base_config), **overrides)


# ----------------------------------------------------------------------------------------- prompts
def plain_prompt(text: str) -> tuple[str, bool]:
    """``text`` without A1111 weights, ``BREAK`` and LoRA tags (the LoRAs themselves are applied by
    `engine.lora`); and whether weights or ``BREAK`` were there."""
    without_tags, _loras = extract_loras(text)
    chunks = parse_attention(without_tags)
    words = [" " if is_break(chunk) else chunk[0] for chunk in chunks]
    plain = " ".join("".join(words).split())
    weighted = any(not is_break(chunk) and chunk[1] != 1.0 for chunk in chunks)
    return plain, weighted or any(is_break(chunk) for chunk in chunks)


def prompt_kwargs(pipe: Pipeline, request: GenerationRequest) -> dict[str, object]:
    """The pipeline's prompt arguments: plain text (SD3 also gets the negative prompt)."""
    prompt, _ = plain_prompt(request.prompt)
    kwargs: dict[str, object] = {"prompt": prompt}
    if not is_flux(pipe):
        kwargs["negative_prompt"] = plain_prompt(request.negative_prompt)[0]
    return kwargs


def guidance_kwargs(pipe: Pipeline, request: GenerationRequest) -> dict[str, object]:
    """``guidance_scale``: CFG for SD3, the embedded guidance for Flux dev; nothing for schnell."""
    if is_flux(pipe) and not uses_embedded_guidance(pipe):
        return {}
    return {"guidance_scale": request.guidance}


def job_warnings(pipe: Pipeline, family: str, request: GenerationRequest) -> tuple[str, ...]:
    """What the job ignores or changes for a DiT model, in words for ``Started.warnings``."""
    name = FAMILY_NAMES.get(family, family)
    warnings: list[str] = []
    texts = (("prompt", request.prompt), ("negative prompt", request.negative_prompt))
    syntax = [label for label, text in texts if text and plain_prompt(text)[1]]
    if syntax:
        warnings.append(
            f"{name} reads prompts as plain text: the weights and BREAK in the "
            f"{' and '.join(syntax)} were taken out (the words are kept)."
        )
    if request.vae:
        warnings.append(
            f"A separate VAE is not used with {name} models; the model's own VAE decodes the image."
        )
    if request.clip_skip != 1:
        warnings.append(f"Clip skip does not apply to {name}'s text encoders; it was ignored.")
    if _latent_hires(request):
        warnings.append(
            f"Latent upscalers do not apply to {name} models: the hires fix upscales the image with "
            f"{HIRES_FALLBACK} instead of {request.hires.upscaler!r}."
        )
    sampler = sampler_warning(request.scheduler, family)
    if sampler:
        warnings.append(sampler)
    warnings.extend(_length_warnings(pipe, family, request))
    if is_flux(pipe):
        if request.negative_prompt.strip():
            warnings.append("Flux has no negative prompt; it was ignored.")
        if not uses_embedded_guidance(pipe):
            warnings.append("Flux schnell uses no guidance (CFG); the CFG scale was ignored.")
    return tuple(warnings)


def _length_warnings(pipe: Pipeline, family: str, request: GenerationRequest) -> tuple[str, ...]:
    """The T5 encoder reads ``T5_TOKENS`` tokens (its end token included); diffusers cuts the rest."""
    from studio.core.prompt_length import length_warnings

    tokenizer = getattr(pipe, "tokenizer_3" if family == "sd3" else "tokenizer_2", None)
    if tokenizer is None:  # SD3 without its T5 encoder: CLIP's 77 tokens only
        return ()
    texts = [("prompt", request.prompt)]
    if not is_flux(pipe):
        texts.append(("negative prompt", request.negative_prompt))
    counts = [(label, _count_tokens(tokenizer, plain_prompt(text)[0])) for label, text in texts if text]
    return length_warnings(counts, T5_TOKENS[family] - 1)


def _count_tokens(tokenizer: Any, text: str) -> int:
    """Tokens of ``text`` without the end token (as ``prompt_tokens.count_tokens``, which imports this
    module)."""
    return len(tokenizer(text, add_special_tokens=False, truncation=False, verbose=False)["input_ids"])


def as_run(request: GenerationRequest) -> GenerationRequest:
    """The request as a DiT model runs it (also for the image's metadata): its sampler (an SD one:
    Euler), no clip skip, a latent hires upscaler replaced by Lanczos (Flux packs its latents, and
    both VAEs shift them: the hires fix upscales decoded pixels)."""
    scheduler = request.scheduler if request.scheduler in FLOW_SAMPLERS else FLOW_SAMPLER
    changes: dict[str, object] = {"scheduler": scheduler, "clip_skip": 1}
    if _latent_hires(request):
        changes["hires"] = dataclasses.replace(request.hires, upscaler=HIRES_FALLBACK)
    return request.replace(**changes)


def _latent_hires(request: GenerationRequest) -> bool:
    from studio.core.request import LATENT_UPSCALERS

    return request.uses_hires and request.hires.upscaler in LATENT_UPSCALERS


# ---------------------------------------------------------------------------------------- previews
def x0_from_velocity(sample: torch.Tensor, velocity: torch.Tensor, sigma: float) -> torch.Tensor:
    """Flow matching (x_t = (1 - sigma) x0 + sigma noise, v = noise - x0): x0 = x_t - sigma v."""
    return sample - sigma * velocity[:, : sample.shape[1]]


def is_flow_matching(scheduler: object) -> bool:
    return type(scheduler).__name__.startswith("FlowMatch")


def preview_unpacker(
    pipe: Pipeline, width: int, height: int
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """For Flux (latents packed as (B, h/2 * w/2, 64)): a function back to (B, 16, h, w); else None."""
    if not is_flux(pipe):
        return None
    scale = int(pipe.vae_scale_factor)
    unpack = type(pipe)._unpack_latents

    def unpacked(latents: torch.Tensor) -> torch.Tensor:
        if latents.ndim != 3:
            return latents
        return unpack(latents, height, width, scale)

    return unpacked


# ------------------------------------------------------------------------------------ pipeline call
def call_kwargs(
    pipe: Pipeline, request: GenerationRequest, common: Mapping[str, object], call: Mapping[str, object]
) -> dict[str, object]:
    """The keyword arguments of a DiT pipeline call: the job's common ones (steps, seeds, batch), the
    plain prompts, the family's guidance and the mode's own (image, mask, size, strength).

    The size is always given (an img2img call takes its image's): Flux previews need it to unpack
    the latents."""
    kwargs = {k: v for k, v in common.items() if k != "guidance_scale"}
    kwargs.update(prompt_kwargs(pipe, request))
    kwargs.update(guidance_kwargs(pipe, request))
    kwargs.update(call)
    size = requested_size(kwargs)
    if size is not None:  # both transformers need sides in multiples of 16 (2x2 patches of 8x latents)
        kwargs["width"], kwargs["height"] = (_round_up(side, SIDE_MULTIPLE) for side in size)
    return kwargs


def requested_size(call: Mapping[str, object]) -> tuple[int, int] | None:
    """The size a call asks for: its width / height, else its (first) image's."""
    width, height = call.get("width"), call.get("height")
    if isinstance(width, int) and isinstance(height, int):
        return width, height
    image = call.get("image")
    first = image[0] if isinstance(image, list | tuple) and image else image  # a batch: one size
    size = getattr(first, "size", None)
    return (int(size[0]), int(size[1])) if isinstance(size, tuple) and len(size) == 2 else None


def _round_up(side: int, multiple: int) -> int:
    return -(-side // multiple) * multiple


def fit_output(result: T, size: tuple[int, int] | None) -> T:
    """Images generated at the sides rounded up to 16 (``call_kwargs``) resized back to ``size``."""
    if size is None or not isinstance(result, np.ndarray) or result.shape[2:0:-1] == size:
        return result
    from PIL import Image

    def resized(image: np.ndarray) -> np.ndarray:  # float HxWxC in [0, 1], channel by channel ("F")
        planes = [Image.fromarray(np.ascontiguousarray(image[..., c]), "F") for c in range(image.shape[2])]
        return np.stack([np.asarray(p.resize(size, Image.Resampling.LANCZOS)) for p in planes], axis=-1)

    return cast(T, np.clip(np.stack([resized(im) for im in result.astype(np.float32)]), 0.0, 1.0))


def refuse_unsupported(family: str, request: GenerationRequest) -> None:
    """ValueError (shown as an input problem) for what Studio cannot run on SD3 / Flux."""
    name = FAMILY_NAMES.get(family, family)
    if request.controls:
        raise ValueError(
            f"ControlNet, T2I-Adapter and IP-Adapter units are not supported for {name} models in "
            "Studio. Turn the control units off, or pick a Stable Diffusion 1.x / 2.x / SDXL model."
        )
