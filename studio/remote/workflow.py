"""A `GenerationRequest` and its `GenerationPlan` -> a ComfyUI API-format workflow (graph JSON).

The graph (node ids are Studio's own names):

    ckpt: CheckpointLoaderSimple -> [clip: CLIPSetLastLayer, when clip skip > 1]
    pos / neg: CLIPTextEncode
    txt2img: latent_i: EmptyLatentImage(generation size, batch 1)
    img2img: load: LoadImage(upload) -> enc: VAEEncode
    inpaint / outpaint: load: LoadImage(upload with the mask as alpha) -> enc: VAEEncode
                        -> masked: SetLatentNoiseMask(the mask)
    per batch image i: sample_i: KSamplerAdvanced(seed + i) -> decode_i: VAEDecode -> out_i: PreviewImage

One sampler per batch image, each with its own seed, because Studio's batch image i is seed + i (a
ComfyUI batch shares one seed's noise, so its images could not be made again from their metadata).
KSamplerAdvanced runs `plan.total_steps` of `steps` from step `steps - total_steps`, as diffusers'
img2img does with its strength (ComfyUI's `denoise` would run all the steps over a shorter schedule).
Results go to PreviewImage (the server's temp folder), so nothing piles up in its output folder.

What a server cannot run through this workflow (control units, LoRAs, the hires fix, a VAE override,
or a sampler ComfyUI lacks) raises `Unsupported` naming it; nothing is silently left out.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath
from typing import Any

from studio.core.plan import GenerationPlan
from studio.core.prompt_syntax import extract_loras
from studio.core.request import GenerationRequest, Mode
from studio.remote.errors import Unsupported
from studio.remote.samplers import comfy_sampler

Graph = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Chain:
    """One batch image's nodes: `index` in the batch, its seed, its sampler and output node ids."""

    index: int
    seed: int
    sampler: str
    output: str


@dataclass(frozen=True)
class Workflow:
    graph: Graph
    chains: tuple[Chain, ...]

    def chain_of(self, node: str) -> Chain | None:
        return next((c for c in self.chains if node in (c.sampler, c.output)), None)


def unsupported(request: GenerationRequest) -> list[str]:
    """What in `request` a ComfyUI server cannot run through Studio's workflow (empty: all fine)."""
    problems = []
    if request.controls:
        problems.append("control units (ControlNet, T2I-Adapter, IP-Adapter)")
    _, tags = extract_loras(request.prompt)
    if request.loras or tags:
        problems.append("LoRAs")
    if request.uses_hires:
        problems.append("the hires fix")
    if request.uses_upscale:
        problems.append("upscaling (Upscale…)")
    if request.vae:
        problems.append("a VAE override")
    return problems


def check_supported(request: GenerationRequest) -> tuple[str, str]:
    """Raise `Unsupported` naming what cannot run remotely; returns (sampler_name, scheduler)."""
    problems = unsupported(request)
    if problems:
        raise Unsupported(
            f"This job uses {_listing(problems)}, which Studio cannot run on a ComfyUI server yet: "
            "remove them or run it on this computer."
        )
    return comfy_sampler(request.scheduler)


def build(
    request: GenerationRequest,
    plan: GenerationPlan,
    *,
    checkpoint: str,
    upload: str = "",
    indices: tuple[int, ...] | None = None,
) -> Workflow:
    """The workflow for `request` as `plan` on `checkpoint` (a name the server lists). `upload`: the
    uploaded input image's name (img2img; inpaint/outpaint: the upload that carries the mask).
    `indices`: which batch images to make (default all; a resubmitted job makes the missing ones)."""
    sampler = check_supported(request)
    if plan.mode is not Mode.TXT2IMG and not upload:
        raise ValueError(f"A {plan.mode.value} workflow needs its uploaded image.")
    graph: Graph = {"ckpt": _node("CheckpointLoaderSimple", ckpt_name=checkpoint)}
    clip: list[Any] = ["ckpt", 1]
    if request.clip_skip > 1:
        graph["clip"] = _node("CLIPSetLastLayer", clip=clip, stop_at_clip_layer=-request.clip_skip)
        clip = ["clip", 0]
    graph["pos"] = _node("CLIPTextEncode", text=request.prompt, clip=clip)
    graph["neg"] = _node("CLIPTextEncode", text=request.negative_prompt, clip=clip)
    source = _source_latent(graph, plan, upload)
    chains = tuple(
        _add_chain(graph, request, plan, sampler, index, source)
        for index in (range(request.batch) if indices is None else indices)
    )
    return Workflow(graph, chains)


def _add_chain(
    graph: Graph,
    request: GenerationRequest,
    plan: GenerationPlan,
    sampler: tuple[str, str],
    index: int,
    source: list[Any] | None,
) -> Chain:
    """Batch image `index`: its own empty latent (txt2img) or the shared source, its sampler with
    seed + index, its decode and output."""
    seed = request.seeds()[index]
    latent = source
    if latent is None:
        width, height = plan.generation_size
        graph[f"latent_{index}"] = _node("EmptyLatentImage", width=width, height=height, batch_size=1)
        latent = [f"latent_{index}", 0]
    graph[f"sample_{index}"] = _node(
        "KSamplerAdvanced",
        model=["ckpt", 0],
        add_noise="enable",
        noise_seed=seed,
        steps=request.steps,
        cfg=float(request.guidance),
        sampler_name=sampler[0],
        scheduler=sampler[1],
        positive=["pos", 0],
        negative=["neg", 0],
        latent_image=latent,
        start_at_step=request.steps - plan.total_steps,  # diffusers' strength: the last total_steps
        end_at_step=request.steps,
        return_with_leftover_noise="disable",
    )
    graph[f"decode_{index}"] = _node("VAEDecode", samples=[f"sample_{index}", 0], vae=["ckpt", 2])
    graph[f"out_{index}"] = _node("PreviewImage", images=[f"decode_{index}", 0])
    return Chain(index, seed, f"sample_{index}", f"out_{index}")


def model_label(checkpoint: str) -> str:
    """The model's name in the metadata: the checkpoint's file stem, as the local engine names a
    single-file model ("sd15-random.safetensors" -> "sd15-random")."""
    return PurePath(checkpoint.replace("\\", "/")).stem


def _source_latent(graph: Graph, plan: GenerationPlan, upload: str) -> list[Any] | None:
    """img2img / inpaint / outpaint: the encoded (and masked) upload; None for txt2img."""
    if plan.mode is Mode.TXT2IMG:
        return None
    graph["load"] = _node("LoadImage", image=upload)
    graph["enc"] = _node("VAEEncode", pixels=["load", 0], vae=["ckpt", 2])
    if plan.mode is Mode.IMG2IMG:
        return ["enc", 0]
    graph["masked"] = _node("SetLatentNoiseMask", samples=["enc", 0], mask=["load", 1])
    return ["masked", 0]


def _node(class_type: str, **inputs: Any) -> dict[str, Any]:
    return {"class_type": class_type, "inputs": inputs}


def _listing(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"
