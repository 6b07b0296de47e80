"""studio-cli's hires fix options on `generate` (issue 15): `--hires SCALE` turns it on;
`--hires-upscaler`, `--hires-steps` and `--hires-denoise` set the second pass (the engine checks the
values when the job is submitted, with the same messages the app shows)."""

from __future__ import annotations

import argparse

from studio.core.request import HIRES_UPSCALERS, HiresOptions

_DEFAULT = HiresOptions()


def add_hires_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--hires",
        type=float,
        default=None,
        metavar="SCALE",
        help="hires fix: generate at --width x --height, upscale by SCALE (1-4), then denoise again",
    )
    p.add_argument(
        "--hires-upscaler",
        choices=HIRES_UPSCALERS,
        default=_DEFAULT.upscaler,
        metavar="NAME",
        help=f"how the first pass is upscaled: {', '.join(HIRES_UPSCALERS)} (default: {_DEFAULT.upscaler})",
    )
    p.add_argument(
        "--hires-steps", type=int, default=_DEFAULT.steps, help="steps of the hires pass (0: same as --steps)"
    )
    p.add_argument(
        "--hires-denoise",
        type=float,
        default=_DEFAULT.denoise,
        help=f"denoising strength of the hires pass, 0-1 (default: {_DEFAULT.denoise:g})",
    )


def hires_options(args: argparse.Namespace) -> HiresOptions:
    """The request's hires options (off without --hires)."""
    if args.hires is None:
        return _DEFAULT
    return HiresOptions(
        enabled=True,
        scale=args.hires,
        upscaler=args.hires_upscaler,
        steps=args.hires_steps,
        denoise=args.hires_denoise,
    )
