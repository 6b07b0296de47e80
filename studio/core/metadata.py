"""Generation metadata in images: A1111-compatible `parameters` text plus Studio's own JSON.

PNG files get two text chunks: `parameters` (the A1111 text that other tools read) and `studio`
(`{"version": 1, "request": {...}, "seed": ..., "model": ..., "model_hash": ..., "app_version": ...}`).
Readers prefer the JSON and fall back to the text, which may come from A1111, Forge or ComfyUI.
"""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from PIL import Image
from PIL.PngImagePlugin import PngInfo

from studio import __version__
from studio.core import control, hires_text, request_io
from studio.core.a1111_text import format_a1111, parse_a1111
from studio.core.fileio import JSONDict, atomic_write_bytes
from studio.core.images import open_guarded
from studio.core.jsontext import parse_json
from studio.core.prompt_syntax import extract_loras
from studio.core.request import GenerationRequest, HiresOptions, Mode, round_to_multiple_of_8
from studio.core.schedulers import SCHEDULER_NAMES, scheduler_from_a1111, scheduler_info

log = logging.getLogger(__name__)

STUDIO_JSON_VERSION = 1
PARAMETERS_KEY = "parameters"
STUDIO_KEY = "studio"
# A1111's own pattern for `Key: value` pairs, values optionally JSON-quoted.
# ComfyUI sampler/scheduler names as some export nodes write them.
_COMFY_SAMPLERS = {
    "euler": "Euler",
    "euler_ancestral": "Euler a",
    "heun": "Heun",
    "dpm_2": "DPM2",
    "dpm_2_ancestral": "DPM2 a",
    "lms": "LMS",
    "dpmpp_2m": "DPM++ 2M",
    "dpmpp_sde": "DPM++ SDE",
    "ddim": "DDIM",
    "ddpm": "DDPM",
    "uni_pc": "UniPC",
    "lcm": "LCM",
}
# Fields that describe the current session rather than the picture: never taken from an image.
# "upscale" describes one "Upscale…" job, not settings to reuse (it would turn the next img2img into one)
_SESSION_FIELDS = ("mode", "preview", "preview_interval", "upscale")


@dataclass
class ImageMetadata:
    """What an image says about how it was made."""

    prompt: str = ""
    negative_prompt: str = ""
    settings: dict[str, str] = field(default_factory=dict)  # A1111 keys as written: "Steps", ...
    studio: JSONDict | None = None  # Studio's JSON when present and readable
    raw: str | None = None  # the A1111 `parameters` text as stored
    notes: list[str] = field(default_factory=list)  # what could not be read, for the artist
    newer: JSONDict | None = None  # Studio's JSON from a newer Studio (not used for requests)
    newer_format: int | None = None  # its format version

    @property
    def source(self) -> str:
        return "studio" if self.studio is not None else "a1111"


# ---- A1111 text -------------------------------------------------------------------------------


def build_parameters(
    request: GenerationRequest,
    seed: int,
    model_name: str,
    model_hash: str,
    size: tuple[int, int] | None = None,
    *,
    lora_hashes: Mapping[str, str] | None = None,
    ti_hashes: Mapping[str, str] | None = None,
    vae_name: str = "",
    vae_hash: str = "",
    control_hashes: Mapping[str, str] | None = None,
) -> dict[str, object]:
    """The parameters for one image: "prompt", "negative_prompt", A1111 keys, and "studio" (JSON).

    The engine passes what only it knows: `lora_hashes` {name as in the prompt / file stem: A1111's
    short hash} of the LoRAs applied, `ti_hashes` {embedding name: hash} of the embeddings the prompts
    used, the VAE override's `vae_name` (file name) and `vae_hash` ("" when the model's own VAE ran), and
    `control_hashes` {control model path: short hash} (`ControlNet N: "Module: ..., Model: name [hash]"`).
    LoRAs chosen in the picker are added to the A1111 prompt as `<lora:name:w>` tags, as A1111 writes
    them, so other tools apply them too; Studio's JSON keeps the request as it was."""
    try:
        info = scheduler_info(request.scheduler)
        sampler, schedule = info.sampler, info.schedule_type
    except KeyError:
        sampler, schedule = request.scheduler, None
    # A1111 writes the first pass's size with the hires fix's fields
    w, h = (request.width, request.height) if request.uses_hires else size or (request.width, request.height)
    params: dict[str, object] = {
        "prompt": _prompt_with_loras(request),
        "negative_prompt": request.negative_prompt,
        "Steps": request.steps,
        "Sampler": sampler,
        "Schedule type": schedule,
        "CFG scale": request.guidance,
        "Seed": seed,
        "Size": f"{w}x{h}",
        "Model hash": model_hash or None,
        "Model": model_name or None,
        "VAE hash": vae_hash or None,
        "VAE": vae_name or None,
    }
    if request.mode is not Mode.TXT2IMG:
        params["Denoising strength"] = request.strength
    elif request.uses_hires:
        params["Denoising strength"] = request.hires.denoise
    if request.clip_skip != 1:  # A1111 writes it only when it is not the default
        params["Clip skip"] = request.clip_skip
    if request.mode is Mode.INPAINT:
        params["Mask blur"] = request.mask_options.feather
    params["Styles"] = request.styles or None  # the prompts above already contain them (as A1111 writes)
    params["Lora hashes"] = _hash_list(lora_hashes)
    params["TI hashes"] = _hash_list(ti_hashes)
    params.update(control.a1111_fields(request.controls, dict(control_hashes or {})))
    params.update(hires_text.a1111_fields(request))
    params.update(hires_text.upscale_fields(request))
    params["Version"] = f"Studio {__version__}"
    params[STUDIO_KEY] = {
        "version": STUDIO_JSON_VERSION,
        "request": request_io.request_to_dict(request),
        "seed": seed,
        "model": model_name,
        "model_hash": model_hash,
        "app_version": __version__,
    }
    return {k: v for k, v in params.items() if v is not None}


def _hash_list(hashes: Mapping[str, str] | None) -> str | None:
    """A1111's `name: hash, name2: hash` (None when there is nothing to write)."""
    if not hashes:
        return None
    return ", ".join(f"{name}: {value}" for name, value in hashes.items())


def _prompt_with_loras(request: GenerationRequest) -> str:
    """The prompt with a `<lora:name:w>` tag for each picker LoRA the prompt does not already name."""
    _, in_prompt = extract_loras(request.prompt)
    named = {ref.name for ref in in_prompt}
    tags = [
        f"<lora:{_lora_tag_name(ref.name)}:{ref.weight:g}>"
        for ref in request.loras
        if _lora_tag_name(ref.name) not in named
    ]
    if not tags:
        return request.prompt
    return ", ".join([request.prompt, *tags]) if request.prompt else ", ".join(tags)


def _lora_tag_name(name: str) -> str:
    """A LoRA's name as A1111 writes it in a tag: a path becomes its file stem."""
    if "/" in name or "\\" in name or name.lower().endswith((".safetensors", ".pt", ".ckpt")):
        return PurePath(name.replace("\\", "/")).stem
    return name


# ---- files ------------------------------------------------------------------------------------


def save_png(image: Image.Image, path: Path | str, params: Mapping[str, object]) -> Path:
    """Write `image` as PNG with `parameters` text and `studio` JSON chunks, atomically."""
    path = Path(path)
    atomic_write_bytes(path, png_bytes(image, params))
    return path


def png_bytes(image: Image.Image, params: Mapping[str, object]) -> bytes:
    """`image` encoded as PNG with `parameters` text and `studio` JSON chunks."""
    info = PngInfo()
    info.add_text(PARAMETERS_KEY, format_a1111(params))
    studio = params.get(STUDIO_KEY)
    if isinstance(studio, dict):
        info.add_itxt(STUDIO_KEY, json.dumps(studio, ensure_ascii=False))
    if image.mode not in ("1", "L", "LA", "I", "I;16", "P", "RGB", "RGBA"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def read_png_metadata(source: Path | str | Image.Image) -> ImageMetadata | None:
    """Read Studio JSON and/or A1111 text from a PNG (or A1111 EXIF from JPEG/WebP); None if none."""
    image = source if isinstance(source, Image.Image) else None
    chunks = _text_chunks(image) if image is not None else _file_text_chunks(Path(str(source)))
    raw, studio_text = chunks.get(PARAMETERS_KEY), chunks.get(STUDIO_KEY)
    if raw is None and studio_text is None:
        return None
    meta = ImageMetadata(raw=raw)
    if raw is not None:
        parsed = parse_a1111(raw)
        meta.prompt, meta.negative_prompt = parsed.pop("prompt"), parsed.pop("negative_prompt")
        meta.settings = parsed
    if studio_text is not None:
        meta.studio = _read_studio_json(studio_text, meta.notes)
        if meta.studio is None:
            _keep_newer(meta, studio_text)
    readable = meta.studio if meta.studio is not None else (meta.newer if raw is None else None)
    if readable is not None:
        request = _studio_request(readable)
        meta.prompt = str(request.get("prompt", meta.prompt))
        meta.negative_prompt = str(request.get("negative_prompt", meta.negative_prompt))
    return meta


def _file_text_chunks(path: Path) -> dict[str, str]:
    """The text chunks of an image file; ImageReadError for a folder or an image too large to open."""
    with open_guarded(path) as im:
        return _text_chunks(im)


def _studio_request(studio: JSONDict) -> JSONDict:
    """The `request` object of Studio's JSON ({} when absent; _read_studio_json refused other shapes)."""
    request = studio.get("request")
    return request if isinstance(request, dict) else {}


def _read_studio_json(text: str, notes: list[str]) -> JSONDict | None:
    try:
        data = parse_json(text)
    except ValueError:  # bad or too deeply nested JSON
        notes.append("Studio's own settings in this image are damaged; using the A1111 text instead.")
        return None
    if not isinstance(data, dict) or not isinstance(data.get("request", {}), dict):
        notes.append("Studio's own settings in this image are not in a known shape; using the A1111 text.")
        return None
    version = data.get("version")
    if not isinstance(version, int) or version > STUDIO_JSON_VERSION:
        notes.append(f"This image was saved by a newer Studio (format {version}); using the A1111 text.")
        return None
    return data


def _keep_newer(meta: ImageMetadata, text: str) -> None:
    """Keep Studio JSON of a newer format, so what it says can still be shown (and its prompts used)."""
    try:
        data = parse_json(text)
    except ValueError:
        return
    if isinstance(data, dict) and isinstance(data.get("request", {}), dict):
        version = data.get("version")
        if isinstance(version, int) and not isinstance(version, bool) and version > STUDIO_JSON_VERSION:
            meta.newer, meta.newer_format = data, version


def readable_fields(meta: ImageMetadata) -> dict[str, object]:
    """Prompt, negative prompt and the plain (text/number) fields Studio's JSON holds, for showing."""
    studio = meta.studio if meta.studio is not None else meta.newer
    shown: dict[str, object] = {"prompt": meta.prompt, "negative_prompt": meta.negative_prompt}
    if studio is None:
        return {**shown, **meta.settings}
    request = _studio_request(studio)
    for key, value in request.items():
        if key not in shown and isinstance(value, (str, int, float)) and not isinstance(value, bool):
            shown[key] = value
    for key in ("seed", "model"):
        value = studio.get(key)
        if isinstance(value, (str, int)) and value != "":
            shown[key] = value
    return shown


def _text_chunks(im: Image.Image) -> dict[str, str]:
    chunks: dict[str, str] = {}
    text = getattr(im, "text", None)  # PNG: also reads chunks stored after the image data
    for key, value in {**im.info, **(text or {})}.items():
        if isinstance(value, str) and key in (PARAMETERS_KEY, STUDIO_KEY):
            chunks[key] = value
    if PARAMETERS_KEY not in chunks:
        comment = _exif_user_comment(im)
        if comment:
            chunks[PARAMETERS_KEY] = comment
    return chunks


def _exif_user_comment(im: Image.Image) -> str | None:
    """A1111 writes JPEG/WebP parameters into EXIF UserComment ("UNICODE\\0" + UTF-16)."""
    try:
        raw = im.getexif().get_ifd(0x8769).get(0x9286)
    except Exception:  # noqa: BLE001 - damaged EXIF must not stop reading the image
        log.debug("Unreadable EXIF", exc_info=True)
        return None
    if isinstance(raw, str):
        return raw.strip("\0") or None
    if not isinstance(raw, bytes) or len(raw) <= 8:
        return None
    prefix, body = raw[:8], raw[8:]
    if prefix.startswith(b"UNICODE"):
        candidates = [body.decode(enc, "replace") for enc in ("utf-16-be", "utf-16-le")]
        text = max(candidates, key=lambda s: sum(c.isascii() for c in s))
    else:
        text = body.decode("utf-8", "replace")
    return text.strip("\0").strip() or None


# ---- back to a request ------------------------------------------------------------------------


def request_from_metadata(
    meta: ImageMetadata, base: GenerationRequest, notes: list[str] | None = None
) -> GenerationRequest:
    """`base` with the image's settings applied (prompt, negative, steps, guidance, scheduler, seed,
    size, strength, model from Studio JSON). Mode, images and preview settings stay as in `base`.
    Values that cannot be used keep the base value and add a message to `notes`."""
    notes = notes if notes is not None else []
    notes.extend(meta.notes)
    if meta.studio is not None:
        data = dict(_studio_request(meta.studio))
        seed = meta.studio.get("seed")
        if isinstance(seed, int):
            data["seed"] = seed
        changes = {k: v for k, v in data.items() if k not in _SESSION_FIELDS}
        return request_io.apply_dict(base, changes, notes)
    changes = _changes_from_a1111(meta, notes, base.mode, base.hires)
    return request_io.apply_checked(base, changes, notes)


# A1111 keys read into the request, and keys that only describe the image (hashes, versions: the
# prompt's `<lora:…>` tags and embedding names are what apply). Every other key is listed as not applied.
_APPLIED_KEYS = frozenset(
    {"Steps", "CFG scale", "Seed", "Size", "Sampler", "Schedule type", "Scheduler", "Clip skip", "VAE"}
)
_DESCRIPTIVE_KEYS = frozenset({"Model hash", "VAE hash", "Lora hashes", "TI hashes", "Version", "Styles"})


def _changes_from_a1111(
    meta: ImageMetadata, notes: list[str], mode: Mode, base_hires: HiresOptions
) -> JSONDict:
    s = meta.settings
    changes: JSONDict = {"prompt": meta.prompt, "negative_prompt": meta.negative_prompt, "loras": ()}
    numbers: list[tuple[str, str, type[int] | type[float]]] = [
        ("Steps", "steps", int),
        ("CFG scale", "guidance", float),
        ("Seed", "seed", int),
        ("Clip skip", "clip_skip", int),
    ]
    if mode is not Mode.TXT2IMG:  # in a txt2img image it is the hires pass's strength
        numbers.append(("Denoising strength", "strength", float))
    applied = {key for key, _, _ in numbers} | (_APPLIED_KEYS & set(s))
    if mode is Mode.TXT2IMG:
        changes["hires"], hires_keys = hires_text.options_from_a1111(s, base_hires, notes)
        applied |= hires_keys
    for key, name, convert in numbers:
        if key in s:
            try:
                changes[name] = convert(s[key].strip())
            except ValueError:
                notes.append(f"Could not read {key} {s[key]!r}; kept the current value.")
    if "Size" in s:
        changes.update(_size_changes(s["Size"], notes))
    if "Sampler" in s:
        scheduler = _scheduler_from_text(s["Sampler"], s.get("Schedule type") or s.get("Scheduler"))
        if scheduler is None:
            notes.append(f"The sampler {s['Sampler']!r} is not available in Studio; kept the current one.")
        else:
            changes["scheduler"] = scheduler
    if s.get("VAE", "").strip():
        changes["vae"] = s["VAE"].strip()
    notes.extend(_lora_hash_notes(meta.prompt, s.get("Lora hashes", "")))
    notes.extend(_control_notes(s))
    applied |= {key for key in s if control.A1111_KEY.match(key)}
    not_applied = [key for key in s if key not in applied and key not in _DESCRIPTIVE_KEYS]
    if not_applied:
        notes.append(f"not applied: {', '.join(not_applied)}")
    return changes


def _control_notes(settings: dict[str, str]) -> list[str]:
    """`ControlNet N` entries: PNG text holds no control image, so none is applied; say which."""
    units, unreadable = control.units_from_a1111(settings)
    if not units and not unreadable:
        return []
    described = [u.describe() for u in units]
    return [
        f"not applied: {'; '.join(described + unreadable)} (the image does not hold the control images: "
        "add them as controls to use them again)"
    ]


def _lora_hash_notes(prompt: str, hashes: str) -> list[str]:
    """LoRAs named in `Lora hashes` but not in the prompt's tags cannot be applied: say so."""
    _, refs = extract_loras(prompt)
    in_prompt = {ref.name for ref in refs}
    names = [item.split(":", 1)[0].strip() for item in hashes.split(",") if item.strip()]
    missing = [name for name in names if name and name not in in_prompt]
    if not missing:
        return []
    return [f"not applied: LoRA {', '.join(missing)} (in Lora hashes but not in the prompt)"]


def _size_changes(text: str, notes: list[str]) -> dict[str, int]:
    match = re.fullmatch(r"\s*(\d+)\s*[xX×]\s*(\d+)\s*", text)
    if not match:
        notes.append(f"Could not read the size {text!r}; kept the current size.")
        return {}
    w, h = int(match.group(1)), int(match.group(2))
    if w % 8 or h % 8:
        rw, rh = round_to_multiple_of_8(w), round_to_multiple_of_8(h)
        notes.append(f"The image size {w}x{h} is not a multiple of 8; using {rw}x{rh}.")
        w, h = rw, rh
    return {"width": w, "height": h}


def _scheduler_from_text(sampler: str, schedule: str | None) -> str | None:
    name = scheduler_from_a1111(sampler, schedule)
    if name is not None:
        return name
    key = sampler.strip().lower()
    karras = (schedule or "").strip().lower() == "karras"
    for suffix in ("_karras", " karras"):  # ComfyUI exports: "dpmpp_2m_karras", "dpmpp_2m karras"
        if key.endswith(suffix):
            key, karras = key[: -len(suffix)], True
    base = _COMFY_SAMPLERS.get(key)
    if base and karras and f"{base} Karras" in SCHEDULER_NAMES:
        return f"{base} Karras"
    return base
