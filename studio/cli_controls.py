"""studio-cli's control options (issue 14): `--control` and `--ip-adapter` specs -> ControlUnits.

    --control TYPE:MODEL:IMAGE[:WEIGHT[:START:END]]   (repeatable)
        TYPE: controlnet | t2i | a preprocessor (canny, softedge, lineart, invert, scribble, tile),
        which means a ControlNet fed through that preprocessor; "t2i-canny" etc. for a T2I-Adapter.
    --ip-adapter MODEL:IMAGE[:WEIGHT]                 (repeatable)

Paths may hold a drive letter (`C:\\...`): a colon after a lone letter and before a slash or backslash
is part of a path.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from studio.core.control import PREPROCESSORS, ControlKind, ControlMode, ControlUnit

if TYPE_CHECKING:
    from collections.abc import Callable

_DRIVE = re.compile(r"[A-Za-z]")


class ControlSpecError(ValueError):
    """A --control / --ip-adapter value that cannot be read (the CLI prints it)."""


def add_control_options(p: argparse.ArgumentParser) -> None:
    kinds = ", ".join(("controlnet", "t2i", *[n for n in PREPROCESSORS if n != "none"]))
    p.add_argument(
        "--control",
        action="append",
        default=[],
        metavar="TYPE:MODEL:IMAGE[:W[:START:END]]",
        help=f"a ControlNet / T2I-Adapter unit; TYPE one of {kinds} (t2i-canny ...); repeatable",
    )
    p.add_argument(
        "--control-mode",
        choices=[m.value for m in ControlMode],
        default=ControlMode.BALANCED.value,
        help="balanced, prompt (my prompt is more important) or control (ControlNet is more important)",
    )
    p.add_argument(
        "--ip-adapter",
        action="append",
        default=[],
        metavar="MODEL:IMAGE[:W]",
        help="an image prompt; repeatable",
    )
    p.add_argument(
        "--ip-encoder",
        default="",
        metavar="DIR",
        help="IP-Adapter image encoder folder (default: beside the adapter)",
    )


def control_fields(args: argparse.Namespace, open_image: Callable[[Path, str], Any]) -> dict[str, Any]:
    """`controls` and `ip_image_encoder` for the request; ControlSpecError for a spec that cannot be used."""
    mode = ControlMode(args.control_mode)
    units = [parse_control(spec, open_image, mode) for spec in args.control]
    units += [parse_ip_adapter(spec, open_image) for spec in args.ip_adapter]
    encoder = ""
    if args.ip_encoder:
        folder = Path(args.ip_encoder).expanduser()
        if not folder.is_dir():
            raise ControlSpecError(f"--ip-encoder {args.ip_encoder}: not a folder")
        encoder = str(folder.resolve())
    return {"controls": tuple(units), "ip_image_encoder": encoder}


def parse_control(spec: str, open_image: Callable[[Path, str], Any], mode: ControlMode) -> ControlUnit:
    parts = split_spec(spec)
    if len(parts) < 3:
        raise ControlSpecError(f"--control {spec}: write TYPE:MODEL:IMAGE[:weight[:start:end]]")
    kind, preprocessor = _kind(parts[0], spec)
    weight, start, end = _numbers(parts[3:], spec, "--control", allowed=(1, 3))
    return ControlUnit(
        kind=kind,
        model=_existing(parts[1], spec, "--control", "model"),
        image=open_image(Path(_existing(parts[2], spec, "--control", "image")), "RGB"),
        image_name=Path(parts[2]).name,
        preprocessor=preprocessor,
        mode=mode if kind is ControlKind.CONTROLNET else ControlMode.BALANCED,
        weight=weight,
        start=start,
        end=end,
    )


def parse_ip_adapter(spec: str, open_image: Callable[[Path, str], Any]) -> ControlUnit:
    parts = split_spec(spec)
    if len(parts) < 2:
        raise ControlSpecError(f"--ip-adapter {spec}: write MODEL:IMAGE[:weight]")
    return ControlUnit(
        kind=ControlKind.IP_ADAPTER,
        model=_existing(parts[0], spec, "--ip-adapter", "model"),
        image=open_image(Path(_existing(parts[1], spec, "--ip-adapter", "image")), "RGB"),
        image_name=Path(parts[1]).name,
        weight=_numbers(parts[2:], spec, "--ip-adapter", allowed=(1,))[0],
    )


def split_spec(spec: str) -> list[str]:
    """`spec` split at its colons, except the colon of a Windows drive letter (`C:\\x`, `D:/x`)."""
    parts: list[str] = []
    current = ""
    for index, char in enumerate(spec):
        following = spec[index + 1 : index + 2]
        if char == ":" and not (_DRIVE.fullmatch(current) and following in ("\\", "/")):
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _kind(text: str, spec: str) -> tuple[ControlKind, str]:
    name = text.strip().lower()
    if name in ("controlnet", "cn"):
        return ControlKind.CONTROLNET, "none"
    if name in ("t2i", "t2i-adapter", "t2i_adapter"):
        return ControlKind.T2I_ADAPTER, "none"
    if name.startswith("t2i-") and name[4:] in PREPROCESSORS:
        return ControlKind.T2I_ADAPTER, name[4:]
    if name in PREPROCESSORS:
        return ControlKind.CONTROLNET, name
    raise ControlSpecError(
        f"--control {spec}: unknown TYPE {text!r}; use controlnet, t2i or a preprocessor "
        f"({', '.join(n for n in PREPROCESSORS if n != 'none')}); depth/normal/pose maps: controlnet with your map"
    )


def _numbers(
    parts: list[str], spec: str, option: str, allowed: tuple[int, ...]
) -> tuple[float, float, float]:
    """(weight, start, end) from the spec's trailing numbers; 1, 0, 1 where not given."""
    if parts and len(parts) not in allowed:
        also = ", or weight:start:end" if 3 in allowed else ""
        raise ControlSpecError(f"{option} {spec}: after the image give a weight{also}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ControlSpecError(f"{option} {spec}: weight, start and end must be numbers") from None
    weight = values[0] if values else 1.0
    start, end = (values[1], values[2]) if len(values) == 3 else (0.0, 1.0)
    return weight, start, end


def _existing(text: str, spec: str, option: str, what: str) -> str:
    path = Path(text).expanduser()
    if not text or not path.exists():
        raise ControlSpecError(f"{option} {spec}: {what} not found: {text or '(empty)'}")
    return str(path.resolve())
