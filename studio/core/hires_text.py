"""The hires fix in A1111's infotext: `Hires upscale: 2, Hires steps: 10, Hires upscaler: Latent` plus
`Denoising strength` (in a txt2img image, the hires pass's strength). A1111 writes `Size` as the first
pass's size and `Hires steps` only when it is not 0 (0: the same steps as the first pass). A model
upscaler is written by its file stem (`Hires upscaler: 4x-UltraSharp`) and read back as that name (the
engine finds it in the upscaler folders); A1111's downloaded built-ins (`R-ESRGAN 4x+`) are not files
Studio has, so they keep the current upscaler with a note. "Upscale…" writes `Upscale`, `Upscaler`."""

from __future__ import annotations

import dataclasses
from typing import Any

from studio.core.request import HIRES_UPSCALERS, GenerationRequest, HiresOptions

UPSCALE, STEPS, UPSCALER, DENOISE = "Hires upscale", "Hires steps", "Hires upscaler", "Denoising strength"
# A1111's own upscalers, which are not files the artist has (A1111 downloads them): not model names
A1111_BUILT_IN_UPSCALERS = frozenset(
    {"None", "Lanczos", "Nearest", "LDSR", "R-ESRGAN 4x+", "R-ESRGAN 4x+ Anime6B", "ESRGAN_4x", "ScuNET",
     "ScuNET GAN", "ScuNET PSNR", "SwinIR 4x", "DAT x2", "DAT x3", "DAT x4"}
)  # fmt: skip


def a1111_fields(request: GenerationRequest) -> dict[str, object]:
    """The `Hires …` fields of a request that runs the hires fix ({} otherwise)."""
    if not request.uses_hires:
        return {}
    hires = request.hires
    scale = float(hires.scale)
    fields: dict[str, object] = {UPSCALE: int(scale) if scale.is_integer() else round(scale, 4)}
    if hires.steps:
        fields[STEPS] = hires.steps
    fields[UPSCALER] = hires.upscaler
    return fields


def upscale_fields(request: GenerationRequest) -> dict[str, object]:
    """ "Upscale…"'s fields (like A1111's extras tab: `Upscale`, `Upscaler`), the refine's strength as
    `Denoising strength` and its tiles ({} for other requests)."""
    if not request.uses_upscale:
        return {}
    options = request.upscale
    scale = float(options.scale)
    fields: dict[str, object] = {
        "Upscale": int(scale) if scale.is_integer() else round(scale, 4),
        "Upscaler": options.upscaler,
        "Denoising strength": options.refine or None,
    }
    if options.refine:
        fields["Tile size"] = options.tile
        fields["Tile overlap"] = options.overlap
    return fields


def options_from_a1111(
    settings: dict[str, str], base: HiresOptions, notes: list[str]
) -> tuple[HiresOptions, set[str]]:
    """The hires options an A1111 txt2img infotext describes (off when it has no `Hires upscale`), and
    the keys used. Unreadable values keep `base`'s and add a message to `notes`."""
    if UPSCALE not in settings:
        return dataclasses.replace(base, enabled=False), set()
    changes: dict[str, Any] = {"enabled": True}
    used = {UPSCALE}
    for key, name, convert in ((UPSCALE, "scale", float), (STEPS, "steps", int), (DENOISE, "denoise", float)):
        if key not in settings:
            continue
        used.add(key)
        try:
            changes[name] = convert(settings[key].strip())
        except ValueError:
            notes.append(f"Could not read {key} {settings[key]!r}; kept the current value.")
    if STEPS not in settings:
        changes["steps"] = 0  # not written: the same steps as the first pass
    upscaler = settings.get(UPSCALER, "").strip()
    if upscaler in HIRES_UPSCALERS or (upscaler and upscaler not in A1111_BUILT_IN_UPSCALERS):
        changes["upscaler"] = upscaler  # a model upscaler's name: found in the upscaler folders
        used.add(UPSCALER)
    elif upscaler:
        notes.append(
            f"The hires upscaler {upscaler!r} is not available in Studio; using {base.upscaler!r}. "
            f"Available: {', '.join(HIRES_UPSCALERS)} and the model upscalers in your upscaler folders."
        )
        used.add(UPSCALER)
    return dataclasses.replace(base, **changes), used
