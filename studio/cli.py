"""studio-cli: generate / img2img / inpaint / outpaint / info / models, headless.

With `--server URL` (repeatable) the job runs on ComfyUI servers instead (`studio.cli_remote`), with
the same output, metadata and exit codes; `models --server URL` lists a server's checkpoints.

Runs the same Engine as the app (one worker thread, typed events), shows a progress bar on stderr
and saves PNGs with A1111 `parameters` text plus Studio JSON. Bad input ends with a one-line
``error: ...`` on stderr and a non-zero exit code; tracebacks go to the log file only. What the artist
should know but does not stop the job (a prompt longer than the model reads) is a ``warning: ...``
line on stderr, and the exit code stays 0.

Heavy modules (torch, diffusers) load inside the engine thread, so ``--help`` and ``info`` are fast.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import sys
from pathlib import Path
from typing import Any, NoReturn

from studio.cli_controls import ControlSpecError, add_control_options, control_fields
from studio.cli_hires import add_hires_options, hires_fields
from studio.cli_remote import ServerOptionError, add_server_options
from studio.cli_upscale import UpscaleInputError, add_upscale_parser, upscale_request
from studio.core.request import MAX_CLIP_SKIP, MAX_LORA_WEIGHT, MAX_SEED, InpaintArea, MaskedContent, Mode
from studio.core.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from studio.core.settings import MEMORY_MODES

log = logging.getLogger("studio.cli")

EXIT_FAILED = 1  # the job failed (model, memory, NaN, internal)
EXIT_INPUT = 2  # the command line or its files are not usable
EXIT_CANCELLED = 130


class CliError(Exception):
    """A problem with the command line or its input files; exit code EXIT_INPUT."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise CliError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="studio-cli", description="Studio image generation without the window.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    gen = sub.add_parser("generate", help="text to image")
    _generation_options(gen)
    add_hires_options(gen)
    img = sub.add_parser("img2img", help="image to image")
    _generation_options(img)
    _image_option(img)
    inp = sub.add_parser("inpaint", help="regenerate the white area of a mask")
    _generation_options(inp)
    _image_option(inp)
    inp.add_argument("--mask", required=True, type=Path, help="mask image, white = regenerate")
    inp.add_argument(
        "--grow", type=int, default=0, help="grow (or with a negative value shrink) the mask, px"
    )
    inp.add_argument("--feather", type=int, default=4, help="soften the mask edge, px")
    inp.add_argument("--area", choices=[a.value for a in InpaintArea], default="whole")
    inp.add_argument("--padding", type=int, default=32, help="context around the mask for --area masked")
    inp.add_argument("--fill", choices=[f.value for f in MaskedContent], default="original")
    _infill_option(inp, "how --fill infill fills the masked area from its surroundings")
    out = sub.add_parser("outpaint", help="extend an image beyond its borders")
    _generation_options(out, strength=1.0)
    _image_option(out)
    for side in ("left", "right", "top", "bottom"):
        out.add_argument(f"--{side}", type=int, default=0, metavar="PX")
    out.add_argument(
        "--overlap", type=int, default=16, help="original pixels regenerated at the seam, feather included"
    )
    out.add_argument("--feather", type=int, default=8)
    _infill_option(out, "how the new area is pre-filled from the image")
    info = sub.add_parser("info", help="print the parameters stored in a PNG (or what a model file is)")
    info.add_argument("image", type=Path)
    models = sub.add_parser("models", help="list the models Studio can load")
    models.add_argument("--dir", action="append", default=[], type=Path, help="another folder to search")
    add_server_options(models)
    add_upscale_parser(sub)
    return parser


def _infill_option(p: argparse.ArgumentParser, help_text: str) -> None:
    from studio.core.infill import DEFAULT_INFILL, INFILL_METHODS

    p.add_argument("--infill", choices=INFILL_METHODS, default=DEFAULT_INFILL, help=help_text)


def _generation_options(p: argparse.ArgumentParser, strength: float = 0.75) -> None:
    p.add_argument("--prompt", default="")
    p.add_argument("--negative", default="")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--guidance", type=float, default=7.0, help="CFG scale")
    p.add_argument("--scheduler", default=DEFAULT_SCHEDULER, help=f"one of: {', '.join(SCHEDULER_NAMES)}")
    p.add_argument("--seed", type=int, default=None, help="default: random")
    p.add_argument("--width", type=int, default=None, help="default: the model's native size")
    p.add_argument("--height", type=int, default=None)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--strength", type=float, default=strength, help="denoising strength (not txt2img)")
    p.add_argument(
        "--model",
        default="",
        help="model folder, file or cached Hub id (default: built-in); with --server: a checkpoint name "
        "as `studio-cli models --server URL` lists it (default: the server's first)",
    )
    _own_file_options(p)
    add_control_options(p)
    p.add_argument("--device", choices=["auto", "cpu", "cuda", "mps"], default="auto")
    p.add_argument("--precision", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    p.add_argument(
        "--memory-mode",
        choices=MEMORY_MODES,
        default="auto",
        help="GPU memory: full, vae (VAE tiling), model_offload, sequential; auto: from the free VRAM",
    )
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    add_server_options(p)
    p.add_argument(
        "--out", required=True, type=Path, help="output .png (batch: NAME-0001.png, ...); never replaced"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace --out if it exists (default: out-1.png, ...)"
    )


def _own_file_options(p: argparse.ArgumentParser) -> None:
    """LoRAs, embeddings, VAE and clip skip (issue 13); `<lora:name:w>` in --prompt works too."""
    p.add_argument(
        "--lora",
        action="append",
        default=[],
        metavar="NAME_OR_PATH[:W]",
        help="apply a LoRA (a name in the LoRA folders or a .safetensors path), weight W (default 1); repeatable",
    )
    p.add_argument(
        "--lora-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="LoRA folder (default: Studio's)",
    )
    p.add_argument(
        "--embeddings-dir",
        action="append",
        default=[],
        type=Path,
        metavar="DIR",
        help="textual inversion embeddings folder (default: Studio's); repeatable",
    )
    p.add_argument(
        "--vae", default="", metavar="PATH", help="a VAE .safetensors file or diffusers VAE folder"
    )
    p.add_argument(
        "--clip-skip", type=int, default=1, metavar="N", help=f"1 (default) to {MAX_CLIP_SKIP}, as in A1111"
    )


def _image_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--image", required=True, type=Path)


# ---------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    log_file = _setup_logging()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "info":
            return _info(args.image)
        if args.command == "models":
            return _remote_models(args) if args.server else _models(args.dir)
        return _generate(args)
    except (CliError, ServerOptionError, UpscaleInputError) as exc:
        return _error(str(exc), EXIT_INPUT)
    except KeyboardInterrupt:
        return _error("interrupted", EXIT_CANCELLED)
    except Exception as exc:  # never a traceback on the terminal
        log.exception("studio-cli failed")
        return _error(f"{_one_line(exc)} (details in {log_file})", EXIT_FAILED)


def _error(message: str, code: int) -> int:
    sys.stderr.write(f"error: {_one_line(message)}\n")
    return code


def _one_line(value: Any) -> str:
    text = " ".join(str(value).split())
    return text or type(value).__name__


def _setup_logging() -> Path | None:
    for var in ("TRANSFORMERS_VERBOSITY", "DIFFUSERS_VERBOSITY"):
        os.environ.setdefault(var, "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TQDM_DISABLE", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from studio.core.errors import setup_logging
        from studio.core.paths import user_dirs

        return setup_logging(user_dirs().logs)
    except Exception:  # no log folder: keep going without a file
        logging.basicConfig(level=logging.CRITICAL)
        return None


MODEL_SUFFIXES = (".safetensors", ".ckpt", ".pt", ".pth", ".bin", ".gguf")


def _info(path: Path) -> int:
    from studio.core.a1111_text import format_a1111
    from studio.core.images import ImageReadError
    from studio.core.metadata import read_png_metadata, readable_fields

    if path.is_dir():
        raise CliError(f"{path} is a folder; give an image (PNG) or a model file")
    if path.suffix.lower() in MODEL_SUFFIXES:
        return _model_info(path)
    try:
        meta = read_png_metadata(path)
    except ImageReadError as exc:
        raise CliError(str(exc)) from exc
    except (OSError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {_one_line(exc)}") from exc
    if meta is None:
        raise CliError(f"{path} has no generation parameters")
    if meta.newer_format is not None:
        sys.stderr.write(
            f"warning: {path.name} was saved by a newer Studio (format {meta.newer_format}); "
            "showing what this version can read\n"
        )
    text = meta.raw or format_a1111(readable_fields(meta))
    sys.stdout.write(text.rstrip("\n") + "\n")
    return 0


def _model_info(path: Path) -> int:
    """What a checkpoint file is (family, inpainting, prediction type), from its header."""
    from studio.engine.loading import ModelLoadError, inspect_checkpoint

    if not path.is_file():
        raise CliError(f"model file not found: {path}")
    try:
        info = inspect_checkpoint(path)
    except ModelLoadError as exc:
        raise CliError(str(exc)) from exc
    sys.stdout.write(f"{path.name}: {info.describe()}\n")
    return 0


def _models(extra_dirs: list[Path]) -> int:
    from studio.core.model_catalog import find_models
    from studio.core.paths import user_dirs

    dirs = [*_settings_model_dirs(), user_dirs().models, *extra_dirs]
    for entry in find_models(dirs):
        sys.stdout.write(f"{entry.name}\t{entry.kind}\t{entry.ref or '(built-in)'}\n")
    return 0


def _settings_model_dirs() -> list[Path]:
    """The extra model folders the app's settings name (the same list the app searches)."""
    from studio.core.paths import user_dirs
    from studio.core.settings import user_settings

    return [Path(d) for d in user_settings(user_dirs()).model_dirs]


def _remote_models(args: argparse.Namespace) -> int:
    from studio.cli_remote import list_models, servers_from_args

    return list_models(servers_from_args(args))


def _generate(args: argparse.Namespace) -> int:
    from studio.core.events import FailureKind
    from studio.engine.headless import JobFailed, save_results

    if args.threads is not None and args.threads < 1:
        raise CliError(f"--threads must be 1 or more, not {args.threads}")
    check_out(args.out, overwrite=args.overwrite)
    request = upscale_request(args) if args.command == "upscale" else request_from_args(args)
    try:  # the engine checks the request when it is submitted: a bad one fails as "input"
        outcome = _run(args, request)
    except JobFailed as exc:
        if exc.kind is FailureKind.INPUT:
            raise CliError(str(exc)) from exc
        return _error(str(exc), EXIT_FAILED)
    paths = save_results(outcome, args.out, overwrite=args.overwrite)
    for path in paths:
        sys.stdout.write(f"{path}\n")
    return 0


def _run(args: argparse.Namespace, request: Any) -> Any:
    """The job's Finished event, from the local engine or (--server) the ComfyUI servers."""
    if args.server:
        from studio.cli_remote import check_model, checkpoints, run_remote, servers_from_args

        servers = servers_from_args(args)
        check_model(request.model, checkpoints(servers))
        return run_remote(request, servers)
    from studio.engine.headless import run_job

    return run_job(
        request,
        device=args.device,
        precision=args.precision,
        threads=args.threads,
        memory_mode=args.memory_mode,
    )


def check_out(out: Path, *, overwrite: bool = False) -> None:
    """Refuse an --out that cannot be written, before any time is spent generating."""
    folder = out.parent
    if out.is_dir():
        raise CliError(f"--out {out} is a folder; give a .png file name in it")
    if not folder.is_dir():
        raise CliError(f"--out {out}: the folder {folder} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise CliError(f"--out {out}: the folder {folder} is not writable")
    if overwrite and out.exists() and not os.access(out, os.W_OK):
        raise CliError(f"--out {out} exists and is not writable")


def request_from_args(args: argparse.Namespace) -> Any:
    from studio.core.request import GenerationRequest, MaskOptions, OutpaintOptions, PreviewKind

    if not str(args.out).lower().endswith(".png"):
        raise CliError(f"--out must be a .png file, not {args.out}")
    mode = Mode.TXT2IMG if args.command == "generate" else Mode(args.command)
    image = _open_image(args.image, "RGB") if mode is not Mode.TXT2IMG else None
    width, height = _size(args, mode, image)
    fields: dict[str, Any] = {
        "mode": mode,
        "prompt": args.prompt,
        "negative_prompt": args.negative,
        "model": args.model if args.server else _model_ref(args.model),  # a server's name as it is
        "steps": args.steps,
        "guidance": args.guidance,
        "scheduler": args.scheduler,
        "seed": secrets.randbelow(MAX_SEED + 1) if args.seed is None else args.seed,
        "width": width,
        "height": height,
        "batch": args.batch,
        "strength": args.strength,
        "init_image": image,
        "preview": PreviewKind.NONE,
        **own_file_fields(args),
        **_controls(args),
    }
    if mode is Mode.TXT2IMG:
        fields.update(hires_fields(args))
    if mode is Mode.INPAINT:
        fields["mask"] = _open_image(args.mask, "L")
        fields["mask_options"] = MaskOptions(
            grow=args.grow,
            feather=args.feather,
            area=InpaintArea(args.area),
            padding=args.padding,
            fill=MaskedContent(args.fill),
            infill=args.infill,
        )
    if mode is Mode.OUTPAINT:
        fields["outpaint"] = OutpaintOptions(args.left, args.right, args.top, args.bottom, args.overlap)
        fields["mask_options"] = MaskOptions(feather=args.feather, infill=args.infill)
    return GenerationRequest(**fields)


def _controls(args: argparse.Namespace) -> dict[str, Any]:
    try:
        return control_fields(args, _open_image)
    except ControlSpecError as exc:
        raise CliError(str(exc)) from exc


def own_file_fields(args: argparse.Namespace) -> dict[str, Any]:
    """`loras`, `lora_dirs`, `embedding_dirs`, `vae`, `clip_skip` from the command line, checked:
    a missing file or folder, a weight that is not a number or a clip skip out of range is a CliError."""
    if not 1 <= args.clip_skip <= MAX_CLIP_SKIP:
        raise CliError(f"--clip-skip must be 1 to {MAX_CLIP_SKIP}, not {args.clip_skip}")
    lora_dirs, embedding_dirs = _own_folders(args)
    return {
        "loras": tuple(_lora(spec, lora_dirs) for spec in args.lora),
        "lora_dirs": lora_dirs,
        "embedding_dirs": embedding_dirs,
        "vae": _vae(args.vae),
        "clip_skip": args.clip_skip,
    }


def _own_folders(args: argparse.Namespace) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--lora-dir / --embeddings-dir as given (each must be a folder), else the app's folders."""
    for option, dirs in (("--lora-dir", args.lora_dir), ("--embeddings-dir", args.embeddings_dir)):
        for folder in dirs:
            if not folder.expanduser().is_dir():
                raise CliError(f"{option} {folder}: no such folder")
    if args.lora_dir and args.embeddings_dir:
        defaults: tuple[tuple[str, ...], ...] = ((), ())
    else:
        defaults = _settings_own_folders()
    loras = tuple(str(d.expanduser().resolve()) for d in args.lora_dir) or defaults[0]
    embeddings = tuple(str(d.expanduser().resolve()) for d in args.embeddings_dir) or defaults[1]
    return loras, embeddings


def _settings_own_folders() -> tuple[tuple[str, ...], tuple[str, ...]]:
    from studio.core.paths import user_dirs
    from studio.core.settings import user_folders, user_settings

    dirs = user_dirs()
    loras, embeddings, _vaes = user_folders(user_settings(dirs), dirs)
    return loras, embeddings


def parse_lora(spec: str) -> tuple[str, float]:
    """`NAME_OR_PATH[:W]` as (name or path, weight); a path with a drive letter or colons is kept whole
    when it exists. Raises CliError when W is not a number."""
    name, sep, weight = spec.rpartition(":")
    if not sep or Path(spec).expanduser().exists() or any(c in weight for c in "/\\"):
        return spec, 1.0
    try:
        value = float(weight)
    except ValueError:
        raise CliError(f"--lora {spec}: the weight {weight!r} is not a number") from None
    if not -MAX_LORA_WEIGHT <= value <= MAX_LORA_WEIGHT:  # also NaN
        raise CliError(
            f"--lora {spec}: the weight must be between {-MAX_LORA_WEIGHT:g} and {MAX_LORA_WEIGHT:g}"
        )
    return name, value


def _lora(spec: str, lora_dirs: tuple[str, ...]) -> Any:
    """A LoraRef for `spec`: a file path (made absolute) or a name found in `lora_dirs`."""
    from studio.core.request import LoraRef
    from studio.core.user_files import find_loras

    name, weight = parse_lora(spec)
    if not name:
        raise CliError(f"--lora {spec}: give a LoRA name or file")
    path = Path(name).expanduser()
    if path.suffix.lower() == ".safetensors" or len(path.parts) > 1:
        if not path.is_file():
            raise CliError(f"--lora {spec}: LoRA file not found: {path}")
        return LoraRef(str(path.resolve()), weight)
    if name not in {found.stem for found in find_loras(lora_dirs)}:
        where = ", ".join(lora_dirs) or "no LoRA folder"
        raise CliError(f"--lora {spec}: no LoRA named {name!r} in {where}")
    return LoraRef(name, weight)


def _vae(vae: str) -> str:
    if not vae:
        return ""
    path = Path(vae).expanduser()
    if not path.exists():
        raise CliError(f"--vae {vae}: no such file or folder")
    if not (path.is_file() or path.is_dir()):
        raise CliError(f"--vae {vae}: not a regular file or folder")
    return str(path.resolve())


def _model_ref(model: str) -> str:
    path = Path(model).expanduser()
    return str(path.resolve()) if model and path.exists() else model


def _open_image(path: Path, mode: str) -> Any:
    from studio.core.images import ImageReadError, open_image

    if not path.exists():
        raise CliError(f"image not found: {path}")
    try:
        im = open_image(path)  # 16-bit greyscale scaled to 8-bit
    except ImageReadError as exc:
        raise CliError(f"cannot open image {path}: {exc}") from exc
    return im.convert(mode) if mode == "L" or im.mode not in ("RGB", "RGBA") else im


def _size(args: argparse.Namespace, mode: Mode, image: Any) -> tuple[int, int]:
    """Explicit --width/--height; else img2img keeps the image size (snapped to 8) and the other
    modes work at the model's native size (inpaint/outpaint: that area, the image's aspect)."""
    if args.width is not None and args.height is not None:
        return args.width, args.height
    from studio.core.geometry import snap_size
    from studio.core.native_size import native_size

    if mode is Mode.IMG2IMG:
        w, h = snap_size(image.size)
    else:
        side = native_size(_model_ref(args.model))
        w, h = side, side
    return (args.width or w), (args.height or h)


if __name__ == "__main__":
    sys.exit(main())
