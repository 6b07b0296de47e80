"""studio-cli's hires fix options on `generate` (issue 15): `--hires SCALE` turns it on;
`--hires-upscaler` (a built-in name, or a model upscaler found in `--upscaler-dir` / the app's
upscaler folders, or a file), `--hires-steps` and `--hires-denoise` set the second pass (the engine checks the
values when the job is submitted, with the same messages the app shows)."""

from __future__ import annotations

import argparse
import dataclasses

from studio.cli_upscale import add_upscaler_dir_option
from studio.core.request import HIRES_UPSCALERS, HiresOptions, is_model_upscaler

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
        default=_DEFAULT.upscaler,
        metavar="NAME",
        help=f"how the first pass is upscaled: {', '.join(HIRES_UPSCALERS)}, or a model upscaler (a name in "
        f"the upscaler folders or a file) (default: {_DEFAULT.upscaler})",
    )
    add_upscaler_dir_option(p)
    p.add_argument(
        "--hires-steps", type=int, default=_DEFAULT.steps, help="steps of the hires pass (0: same as --steps)"
    )
    p.add_argument(
        "--hires-denoise",
        type=float,
        default=_DEFAULT.denoise,
        help=f"denoising strength of the hires pass, 0-1 (default: {_DEFAULT.denoise:g})",
    )


def hires_fields(args: argparse.Namespace) -> dict[str, object]:
    """The request's `hires` and, for a model upscaler, the `upscaler_dirs` it is found in."""
    from studio.cli_upscale import checked_upscaler, upscaler_dirs

    options = hires_options(args)
    if not options.enabled or not is_model_upscaler(options.upscaler):
        return {"hires": options}
    dirs = upscaler_dirs(args.upscaler_dir)
    options = dataclasses.replace(options, upscaler=checked_upscaler(options.upscaler, dirs))
    return {"hires": options, "upscaler_dirs": dirs}


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
