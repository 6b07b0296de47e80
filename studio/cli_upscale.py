"""`studio-cli upscale IMAGE --scale 2 [--upscaler NAME|PATH] [--refine STRENGTH --prompt ... --tile 512
--overlap 64] -o OUT` (issue 15): the image made larger with Lanczos, Nearest or a model upscaler
(ESRGAN, ...: a name in the upscaler folders or a file), then optionally refined tile by tile with
img2img at STRENGTH on --model. The same engine job as the app's "Upscale…" (`UpscaleOptions`); the
engine checks the values when the job is submitted, with the messages the app shows."""

from __future__ import annotations

import argparse
import logging
import secrets
from pathlib import Path
from typing import Any

from studio.core.request import MAX_SEED, MAX_UPSCALE, GenerationRequest, Mode, PreviewKind, UpscaleOptions
from studio.core.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from studio.core.settings import MEMORY_MODES

log = logging.getLogger(__name__)
_DEFAULT = UpscaleOptions()


class UpscaleInputError(ValueError):
    """A problem with `upscale`'s command line or files (the CLI's input error)."""


def add_upscale_parser(sub: Any) -> None:
    """The `upscale` subcommand on the CLI's subparsers."""
    p: argparse.ArgumentParser = sub.add_parser(
        "upscale", help="make an image larger (model upscaler, tiled refine)"
    )
    p.add_argument("image", type=Path, help="the image to upscale (its alpha channel is kept)")
    p.add_argument(
        "--scale", type=float, default=_DEFAULT.scale, help=f"factor, 1-{MAX_UPSCALE:g} (default 2)"
    )
    p.add_argument(
        "--upscaler",
        default=_DEFAULT.upscaler,
        metavar="NAME|PATH",
        help="Lanczos (default), Nearest, or a model upscaler: a name in the upscaler folders or a file",
    )
    add_upscaler_dir_option(p)
    p.add_argument(
        "--refine",
        type=float,
        default=0.0,
        metavar="STRENGTH",
        help="img2img strength of a tiled refine (0: none)",
    )
    p.add_argument("--tile", type=int, default=_DEFAULT.tile, help="tile size in px (default 512)")
    p.add_argument("--overlap", type=int, default=_DEFAULT.overlap, help="tile overlap in px (default 64)")
    p.add_argument("--prompt", default="", help="prompt of the refine")
    p.add_argument("--negative", default="")
    p.add_argument("--steps", type=int, default=20, help="refine steps (the strength shortens them)")
    p.add_argument("--guidance", type=float, default=7.0, help="CFG scale of the refine")
    p.add_argument("--scheduler", default=DEFAULT_SCHEDULER, help=f"one of: {', '.join(SCHEDULER_NAMES)}")
    p.add_argument("--seed", type=int, default=None, help="default: random")
    p.add_argument(
        "--model", default="", help="model of the refine: folder, file or cached Hub id (default: built-in)"
    )
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    p.add_argument("--memory-mode", choices=MEMORY_MODES, default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("-o", "--out", required=True, type=Path, help="output .png; never replaced")
    p.add_argument("--overwrite", action="store_true", help="replace --out if it exists")
    p.set_defaults(server=[])  # runs on this computer only


def upscale_request(args: argparse.Namespace) -> GenerationRequest:
    """The engine request for `upscale`'s arguments; UpscaleInputError for unusable files."""
    from studio.core.images import ImageReadError, open_image

    if not str(args.out).lower().endswith(".png"):
        raise UpscaleInputError(f"--out must be a .png file, not {args.out}")
    if not args.image.is_file():
        raise UpscaleInputError(f"image not found: {args.image}")
    try:
        image = open_image(args.image)
    except ImageReadError as exc:
        raise UpscaleInputError(f"cannot open image {args.image}: {exc}") from exc
    if image.mode not in ("RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() or "transparency" in image.info else "RGB")
    model = Path(args.model).expanduser()
    dirs = upscaler_dirs(args.upscaler_dir)
    return GenerationRequest(
        mode=Mode.IMG2IMG,
        prompt=args.prompt,
        negative_prompt=args.negative,
        model=str(model.resolve()) if args.model and model.exists() else args.model,
        steps=args.steps,
        guidance=args.guidance,
        scheduler=args.scheduler,
        seed=secrets.randbelow(MAX_SEED + 1) if args.seed is None else args.seed,
        strength=args.refine if args.refine > 0 else 0.75,
        init_image=image,
        preview=PreviewKind.NONE,
        upscale=UpscaleOptions(
            enabled=True,
            scale=args.scale,
            upscaler=checked_upscaler(args.upscaler, dirs),
            refine=args.refine,
            tile=args.tile,
            overlap=args.overlap,
        ),
        upscaler_dirs=dirs,
    )


def checked_upscaler(name: str, dirs: tuple[str, ...]) -> str:
    """A model upscaler given as a path, made absolute; a name found in `dirs` as it is; a built-in name as
    it is. A model name found nowhere is an UpscaleInputError (before any model is loaded)."""
    from studio.core.request import is_model_upscaler
    from studio.core.user_files import find_upscalers

    if not is_model_upscaler(name):
        return name
    path = Path(name).expanduser()
    if path.suffix and path.is_file():
        return str(path.resolve())
    if any(found.stem == name or found.name == name for found in find_upscalers(dirs)):
        return name
    where = ", ".join(dirs) or "no upscaler folder"
    raise UpscaleInputError(f"The upscaler {name!r} was not found (looked in {where}).")


def add_upscaler_dir_option(p: argparse.ArgumentParser) -> None:
    """--upscaler-dir DIR (repeatable): where model upscalers are found by name (`upscaler_dirs`)."""
    p.add_argument(
        "--upscaler-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="upscaler folder (default: Studio's)",
    )


def upscaler_dirs(given: list[Path]) -> tuple[str, ...]:
    """--upscaler-dir folders (each must exist), else the app's: the user data folder's upscalers/ and the
    settings' extra folders."""
    for folder in given:
        if not folder.expanduser().is_dir():
            raise UpscaleInputError(f"--upscaler-dir {folder}: no such folder")
    if given:
        return tuple(str(folder.expanduser().resolve()) for folder in given)
    from studio.core.paths import user_dirs
    from studio.core.settings import upscaler_folders, user_settings

    dirs = user_dirs()
    return upscaler_folders(user_settings(dirs), dirs)
