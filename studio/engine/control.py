"""ControlNet, T2I-Adapter and IP-Adapter on a job (issue 14), through diffusers' own classes.

- ControlNet: `ControlNetModel` (several at once: diffusers wraps a list in `MultiControlNetModel`),
  run by the family's ControlNet pipeline for the mode (`StableDiffusion[XL]ControlNet[Img2Img|
  Inpaint]Pipeline`, derived from the resident pipeline with `from_pipe`: no weight copies). Per unit:
  `controlnet_conditioning_scale` (weight), `control_guidance_start/end`; control mode "control" is
  diffusers' guess mode, "prompt" scales the unit's residuals by A1111's soft-injection factors
  (0.825 ** (12 - i), shallow blocks weaker).
- T2I-Adapter: `T2IAdapter` / `MultiAdapter`, txt2img only (diffusers has no adapter img2img/inpaint
  pipeline); `adapter_conditioning_scale`, and `adapter_conditioning_factor` = the unit's end.
- IP-Adapter: `load_ip_adapter` on the resident pipeline (its attention processors live in the
  shared UNet), `set_ip_adapter_scale` per unit, switched to 0 outside the unit's start-end steps.

Models are loaded once and kept while jobs reuse them (`ControlModels`); changing the base model
drops them. Files are checked before use: a unit made for another base family (an SD1.5 ControlNet on
SDXL) is refused with a message naming both.
"""

from __future__ import annotations

import json
import logging
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from studio.core.control import ControlKind, ControlMode, ControlUnit
from studio.core.control_images import preprocess
from studio.core.plan import GenerationPlan
from studio.core.request import GenerationRequest, Mode

if TYPE_CHECKING:
    from PIL import Image

    from studio.engine.aliases import Pipeline

log = logging.getLogger(__name__)

SOFT_INJECTION_BASE = 0.825  # A1111's "My prompt is more important"
MAX_KEPT_MODELS = 4

_CONTROLNET_CLASSES = {
    (False, Mode.TXT2IMG): "StableDiffusionControlNetPipeline",
    (False, Mode.IMG2IMG): "StableDiffusionControlNetImg2ImgPipeline",
    (False, Mode.INPAINT): "StableDiffusionControlNetInpaintPipeline",
    (True, Mode.TXT2IMG): "StableDiffusionXLControlNetPipeline",
    (True, Mode.IMG2IMG): "StableDiffusionXLControlNetImg2ImgPipeline",
    (True, Mode.INPAINT): "StableDiffusionXLControlNetInpaintPipeline",
}
_ADAPTER_CLASSES = {False: "StableDiffusionAdapterPipeline", True: "StableDiffusionXLAdapterPipeline"}
_UNION_CLASSES = {
    Mode.TXT2IMG: "StableDiffusionXLControlNetUnionPipeline",
    Mode.IMG2IMG: "StableDiffusionXLControlNetUnionImg2ImgPipeline",
    Mode.INPAINT: "StableDiffusionXLControlNetUnionInpaintPipeline",
}


class ControlError(ValueError):
    """A control unit cannot be used as given (shown to the artist as an input problem)."""


@dataclass
class ControlCall:
    """What a job's controls add to a pipeline call."""

    pipe: Pipeline | None = None  # a ControlNet / adapter pipeline, or None: the plain one
    kwargs: dict[str, object] = field(default_factory=dict)
    step_hooks: list[Callable[[int, int], None]] = field(default_factory=list)  # (next step, total)
    control_images: list[Image.Image] = field(default_factory=list)  # what the models saw
    hashes: dict[str, str] = field(default_factory=dict)  # model path -> short hash


class Models(Protocol):
    """What this module needs of `studio.engine.models.ModelManager` (which imports this module)."""

    device: str
    dtype: Any
    loaded: Any

    @property
    def family(self) -> str: ...


class ControlModels:
    """ControlNet / T2I-Adapter models kept between jobs (by path), and the IP-Adapters in the UNet."""

    def __init__(self) -> None:
        self._models: dict[tuple[str, str], Any] = {}
        self._ip_loaded: tuple[str, ...] = ()
        self._ip_base: str | None = None
        self.loads = 0  # models read from disk (tests check reuse)

    def clear(self) -> None:
        self._models.clear()
        self._ip_loaded = ()
        self._ip_base = None

    def model(self, unit: ControlUnit, unet: Any, device: str, dtype: Any) -> Any:
        key = (unit.kind.value, str(Path(unit.model).expanduser().resolve()))
        found = self._models.pop(key, None)
        if found is None:
            found = _load_model(unit, unet).to(device=device, dtype=dtype)
            self.loads += 1
        self._models[key] = found  # most recently used last
        while len(self._models) > MAX_KEPT_MODELS:
            self._models.pop(next(iter(self._models)))
        return found

    def ensure_ip_adapters(self, pipe: Pipeline, units: list[ControlUnit], encoder: str) -> None:
        """Load exactly `units`' IP-Adapters into the resident UNet (nothing when the list is empty)."""
        wanted = tuple(str(Path(u.model).expanduser()) for u in units)
        base_id = f"{id(pipe.unet)}"
        if wanted == self._ip_loaded and base_id == self._ip_base:
            return
        if self._ip_loaded and self._ip_base == base_id:
            pipe.unload_ip_adapter()
        self._ip_loaded, self._ip_base = (), base_id
        if not wanted:
            return
        _attach_image_encoder(pipe, Path(wanted[0]), encoder)
        paths = [Path(p) for p in wanted]
        try:
            pipe.load_ip_adapter(
                [str(p.parent) for p in paths],
                subfolder=[""] * len(paths),
                weight_name=[p.name for p in paths],
                image_encoder_folder=None,
            )
        except Exception as exc:
            raise ControlError(f"The IP-Adapter could not be loaded: {exc}") from exc
        self.loads += len(paths)
        self._ip_loaded = wanted


def prepare(
    request: GenerationRequest,
    plan: GenerationPlan,
    mode: Mode,
    pipe: Pipeline,
    models: Models,
    cache: ControlModels,
) -> ControlCall:
    """What the request's controls change in a call of `pipe` (the resident model's pipeline for
    `mode`, its scheduler set): another pipeline derived from it, and keyword arguments."""
    units = [u for u in request.controls]
    ip_units = [u for u in units if u.kind is ControlKind.IP_ADAPTER]
    spatial = [u for u in units if u.kind is not ControlKind.IP_ADAPTER]
    call = ControlCall()
    loaded = models.loaded
    if loaded is not None:
        cache.ensure_ip_adapters(loaded.pipe, ip_units, request.ip_image_encoder)
    if spatial:
        _check_family(spatial, pipe.unet)
        if spatial[0].kind is ControlKind.CONTROLNET:
            _controlnet_call(call, spatial, plan, mode, pipe, models, cache)
        else:
            _adapter_call(call, spatial, plan, mode, pipe, models, cache)
    if ip_units:
        target = call.pipe or pipe
        if loaded is not None and target is not loaded.pipe:
            _share_image_encoder(target, loaded.pipe)
        _ip_adapter_call(call, ip_units, target, request.denoising_steps)
        _ip_adapter_masks(call, ip_units, plan)
    for unit in units:
        call.hashes[unit.model] = _short_hash(unit.model)
    return call


def _derived(cls: Any, base: Pipeline, **components: Any) -> Pipeline:
    """`cls` built on `base`'s weights (`from_pipe`: no copies) plus `components`, with `base`'s
    scheduler (set up for this job) and no progress bar."""
    # from_pipe casts every shared component to `dtype` (float32 unless given): keep the model's
    pipe: Pipeline = cls.from_pipe(base, dtype=base.unet.dtype, **components)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = base.scheduler
    return pipe


# ---- ControlNet ------------------------------------------------------------------------------


def _controlnet_call(
    call: ControlCall,
    units: list[ControlUnit],
    plan: GenerationPlan,
    mode: Mode,
    base: Pipeline,
    models: Models,
    cache: ControlModels,
) -> None:
    import diffusers

    nets = [cache.model(u, base.unet, models.device, models.dtype) for u in units]
    nets = [_with_mode(net, u.mode) for net, u in zip(nets, units, strict=True)]
    mode = Mode.INPAINT if mode is Mode.OUTPAINT else mode
    if any(_is_union(net) for net in nets):
        _union_call(call, units, nets, plan, mode, base, models)
        return
    cls = getattr(diffusers, _CONTROLNET_CLASSES[(models.family == "sdxl", mode)])
    pipe = _derived(cls, base, controlnet=nets if len(nets) > 1 else nets[0])
    images: list[Any] = [preprocess(u, plan.generation_size) for u in _mapped(units, plan)]
    if any(u.preprocessor == "inpaint" for u in units):
        images = [
            _inpaint_condition(img, plan) if u.preprocessor == "inpaint" else img
            for u, img in zip(units, images, strict=True)
        ]
    key = "image" if mode is Mode.TXT2IMG else "control_image"
    single = len(units) == 1
    call.pipe = pipe
    call.control_images = images
    call.kwargs = {
        key: images[0] if single else images,
        "controlnet_conditioning_scale": units[0].weight if single else [u.weight for u in units],
        "control_guidance_start": units[0].start if single else [u.start for u in units],
        "control_guidance_end": units[0].end if single else [u.end for u in units],
        "guess_mode": any(u.mode is ControlMode.CONTROL for u in units),
    }


def _is_union(net: Any) -> bool:
    return type(net).__name__ == "ControlNetUnionModel"


def _union_call(
    call: ControlCall,
    units: list[ControlUnit],
    nets: list[Any],
    plan: GenerationPlan,
    mode: Mode,
    base: Pipeline,
    models: Models,
) -> None:
    """A union / promax ControlNet: one model, each unit's map tagged with its control type."""
    import diffusers

    from studio.core.control import UNION_TYPES

    if models.family != "sdxl":
        raise ControlError("Union ControlNets are SDXL models (diffusers has union pipelines for SDXL only).")
    if len(nets) != len(units) or any(net is not nets[0] for net in nets):
        raise ControlError(
            "A union ControlNet takes every map itself: give all control units the same union model "
            "(other ControlNets cannot join it in one job)."
        )
    net = nets[0]
    types = []
    for index, unit in enumerate(units):
        kind = UNION_TYPES.get(unit.preprocessor)
        if kind is None or kind >= int(net.config.num_control_type):
            raise ControlError(
                f"Control {index + 1}: a union ControlNet needs to know what the map is: choose its "
                "preprocessor (canny, line art, soft edge, scribble, tile, inpaint) or say which map you "
                f"bring (depth, normal, pose); this model knows {net.config.num_control_type} kinds."
            )
        types.append(kind)
    if len({u.weight for u in units}) > 1 or len({(u.start, u.end) for u in units}) > 1:
        raise ControlError(
            "The units of one union ControlNet share one weight, start and end: make them equal."
        )
    cls = getattr(diffusers, _UNION_CLASSES[mode])
    pipe = _derived(cls, base, controlnet=net)
    images: list[Any] = [preprocess(u, plan.generation_size) for u in _mapped(units, plan)]
    images = [
        _inpaint_condition(img, plan) if u.preprocessor == "inpaint" else img
        for u, img in zip(units, images, strict=True)
    ]
    call.pipe = pipe
    call.control_images = [img for img in images if not hasattr(img, "shape")]
    call.kwargs = {
        "control_image": images,
        "control_mode": types,
        "controlnet_conditioning_scale": units[0].weight,
        "control_guidance_start": units[0].start,
        "control_guidance_end": units[0].end,
        "guess_mode": any(u.mode is ControlMode.CONTROL for u in units),
    }


def _inpaint_condition(image: Image.Image, plan: GenerationPlan) -> Any:
    """An inpaint ControlNet's control image: RGB in [0, 1] with the pixels the job regenerates set
    to -1 (diffusers' documented `make_inpaint_condition`), at the generation size."""
    import numpy as np
    import torch
    from PIL import Image as PILImage

    if plan.mask is None or plan.mode not in (Mode.INPAINT, Mode.OUTPAINT):
        raise ControlError(
            "The inpaint preprocessor marks the area being regenerated: use it in inpaint or outpaint jobs."
        )
    region = plan.mask.crop(plan.region).resize(plan.generation_size, PILImage.Resampling.BILINEAR)
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    rgb[np.asarray(region) > 127] = -1.0
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0)


def _with_mode(net: Any, mode: ControlMode) -> Any:
    """`net` itself, or for "prompt" mode a view of it whose residuals fade towards shallow blocks."""
    if mode is not ControlMode.PROMPT:
        if "forward" in vars(net):
            del net.forward  # a previous job's soft injection
        return net
    plain = type(net).forward

    def forward(self: Any, *args: Any, **kwargs: Any) -> Any:
        out = plain(self, *args, **kwargs)
        down, mid = (
            (out.down_block_res_samples, out.mid_block_res_sample)
            if hasattr(out, "mid_block_res_sample")
            else out
        )
        n = len(down)
        scaled = [r * SOFT_INJECTION_BASE ** float(n - i) for i, r in enumerate(down)]
        if hasattr(out, "mid_block_res_sample"):
            out.down_block_res_samples, out.mid_block_res_sample = tuple(scaled), mid
            return out
        return tuple(scaled), mid

    net.forward = types.MethodType(forward, net)
    return net


# ---- T2I-Adapter -----------------------------------------------------------------------------


def _adapter_call(
    call: ControlCall,
    units: list[ControlUnit],
    plan: GenerationPlan,
    mode: Mode,
    base: Pipeline,
    models: Models,
    cache: ControlModels,
) -> None:
    import diffusers

    if mode is not Mode.TXT2IMG:
        raise ControlError(
            "T2I-Adapters run in txt2img only (diffusers has no adapter pipeline for img2img or inpaint): "
            "use a ControlNet for this, or generate from text."
        )
    sdxl = models.family == "sdxl"
    for unit in units:
        if unit.start > 0 or (unit.end < 1 and not sdxl):
            raise ControlError(
                "A T2I-Adapter acts from the first step (start 0)"
                + ("; its end is honoured." if sdxl else " to the last (end 1) with SD1.x/SD2.x models.")
                + " Use a ControlNet to limit the steps."
            )
    adapters = [cache.model(u, base.unet, models.device, models.dtype) for u in units]
    adapter = adapters[0] if len(adapters) == 1 else diffusers.MultiAdapter(adapters)
    pipe = _derived(getattr(diffusers, _ADAPTER_CLASSES[sdxl]), base, adapter=adapter)
    images = [preprocess(u, plan.generation_size) for u in units]
    single = len(units) == 1
    call.pipe = pipe
    call.control_images = images
    call.kwargs = {
        "image": images[0] if single else images,
        "adapter_conditioning_scale": units[0].weight if single else [u.weight for u in units],
    }
    if sdxl:
        call.kwargs["adapter_conditioning_factor"] = max(u.end for u in units)


# ---- IP-Adapter ------------------------------------------------------------------------------


def _ip_adapter_call(call: ControlCall, units: list[ControlUnit], pipe: Pipeline, total: int) -> None:
    scales = [_scale_at(u, 0, total) for u in units]
    pipe.set_ip_adapter_scale(scales)
    call.kwargs["ip_adapter_image"] = [u.image.convert("RGB") for u in units if u.image is not None]

    def schedule(next_step: int, steps: int) -> None:
        pipe.set_ip_adapter_scale([_scale_at(u, next_step, steps) for u in units])

    if any(u.start > 0 or u.end < 1 for u in units):
        call.step_hooks.append(schedule)


def _ip_adapter_masks(call: ControlCall, units: list[ControlUnit], plan: GenerationPlan) -> None:
    """Regional image prompts: each unit's mask (white = where its reference acts), as diffusers'
    `ip_adapter_masks` at the generation size; units without a mask act everywhere."""
    if all(u.mask is None for u in units):
        return
    from diffusers.image_processor import IPAdapterMaskProcessor

    from studio.core.control_images import control_for_plan

    width, height = plan.generation_size
    processor = IPAdapterMaskProcessor()
    masks: list[Any] = []
    for unit in units:
        if unit.mask is None:
            masks.append(None)
            continue
        region = control_for_plan(unit.mask.convert("L"), plan)
        masks.append(processor.preprocess([region], height=height, width=width).reshape(1, 1, height, width))
    call.kwargs["cross_attention_kwargs"] = {"ip_adapter_masks": masks}


def _scale_at(unit: ControlUnit, step: int, total: int) -> float:
    """The unit's weight while `step` (0-based) lies within its start..end fraction, else 0."""
    fraction = step / max(1, total)
    return unit.weight if unit.start <= fraction < unit.end or (unit.end >= 1 and fraction >= 1) else 0.0


def _attach_image_encoder(pipe: Pipeline, adapter_file: Path, setting: str) -> None:
    folder = _image_encoder_folder(adapter_file, setting)
    from transformers import CLIPImageProcessor, CLIPVisionModelWithProjection

    try:
        encoder = CLIPVisionModelWithProjection.from_pretrained(str(folder), local_files_only=True)
    except Exception as exc:
        raise ControlError(f"The IP-Adapter image encoder in {folder} could not be loaded: {exc}") from exc
    encoder = encoder.to(pipe.unet.device, pipe.unet.dtype)
    if (folder / "preprocessor_config.json").is_file():
        processor = CLIPImageProcessor.from_pretrained(str(folder), local_files_only=True)
    else:  # CLIP's preprocessing at the encoder's own input size (224 for the released encoders)
        side = int(encoder.config.image_size)
        processor = CLIPImageProcessor(
            size={"shortest_edge": side}, crop_size={"height": side, "width": side}
        )
    pipe.register_modules(image_encoder=encoder, feature_extractor=processor)


def _image_encoder_folder(adapter_file: Path, setting: str) -> Path:
    """The setting's folder, else an `image_encoder` folder beside the adapter or one level up
    (h94/IP-Adapter's layout: models/image_encoder next to models/ip-adapter_sd15.safetensors)."""
    candidates = [Path(setting).expanduser()] if setting else []
    candidates += [adapter_file.parent / "image_encoder", adapter_file.parent.parent / "image_encoder"]
    for folder in candidates:
        if (folder / "config.json").is_file():
            return folder
    raise ControlError(
        "An IP-Adapter needs its image encoder (a CLIP vision model folder): set it in Settings → "
        "IP-Adapter image encoder, or put it in an `image_encoder` folder beside the adapter file."
    )


def _share_image_encoder(target: Pipeline, resident: Pipeline) -> None:
    target.register_modules(
        image_encoder=resident.image_encoder, feature_extractor=resident.feature_extractor
    )


# ---- loading and checks ----------------------------------------------------------------------


def _load_model(unit: ControlUnit, unet: Any) -> Any:
    path = Path(unit.model).expanduser()
    if not path.exists():
        raise ControlError(f"{unit.kind.label} model not found: {path}")
    try:
        if unit.kind is ControlKind.CONTROLNET:
            return _load_controlnet(path, unet)
        return _load_adapter(path)
    except ControlError:
        raise
    except Exception as exc:
        raise ControlError(f"{path.name} could not be loaded as a {unit.kind.label}: {exc}") from exc


def _load_controlnet(path: Path, unet: Any) -> Any:
    from diffusers import ControlNetModel, ControlNetUnionModel

    if path.is_dir():
        if _folder_class(path) == ControlNetUnionModel.__name__:  # xinsir's union / promax
            return ControlNetUnionModel.from_pretrained(str(path), local_files_only=True)
        return ControlNetModel.from_pretrained(str(path), local_files_only=True)
    state = _read_state_dict(path)
    config = controlnet_config(dict(unet.config))
    if "controlnet_cond_embedding.conv_in.weight" in state:  # already diffusers' layout
        net = ControlNetModel.from_config(config)
        _load_exact(net, state, path)
        return net
    from diffusers.loaders.single_file_utils import convert_controlnet_checkpoint

    net = ControlNetModel.from_config(config)
    _load_exact(net, convert_controlnet_checkpoint(state, config), path)
    return net


def _folder_class(folder: Path) -> str:
    config = folder / "config.json"
    if not config.is_file():
        return ""
    value = json.loads(config.read_text(encoding="utf-8")).get("_class_name", "")
    return value if isinstance(value, str) else ""


def _load_adapter(path: Path) -> Any:
    from diffusers import T2IAdapter

    if path.is_dir():
        return T2IAdapter.from_pretrained(str(path), local_files_only=True)
    config_file = (
        path.with_suffix(".json") if path.with_suffix(".json").is_file() else path.parent / "config.json"
    )
    if not config_file.is_file():
        raise ControlError(
            f"{path.name}: a single-file T2I-Adapter needs its config.json beside it (or use its diffusers folder)."
        )
    adapter = T2IAdapter.from_config(json.loads(config_file.read_text(encoding="utf-8")))
    _load_exact(adapter, _read_state_dict(path), path)
    return adapter


def _read_state_dict(path: Path) -> dict[str, Any]:
    if path.suffix.lower() != ".safetensors":
        raise ControlError(
            f"{path.name}: only .safetensors control files are read (pickled .pth/.bin/.ckpt files can run "
            "code when opened); convert it, or use its diffusers folder."
        )
    from safetensors.torch import load_file

    return dict(load_file(str(path)))


def _load_exact(model: Any, state: dict[str, Any], path: Path) -> None:
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ControlError(
            f"{path.name} does not fit this base model ({len(missing)} weights missing, {len(unexpected)} "
            "unexpected): it is made for another model family or is not a control model."
        )


def controlnet_config(unet_config: dict[str, Any]) -> dict[str, Any]:
    """A ControlNetModel config for a base UNet's config (what `ControlNetModel.from_unet` builds,
    without allocating weights); 4 input channels even for an inpainting UNet."""
    keys = (
        "encoder_hid_dim", "encoder_hid_dim_type", "addition_embed_type", "addition_time_embed_dim",
        "transformer_layers_per_block", "flip_sin_to_cos", "freq_shift", "down_block_types",
        "only_cross_attention", "block_out_channels", "layers_per_block", "downsample_padding",
        "mid_block_scale_factor", "act_fn", "norm_num_groups", "norm_eps", "cross_attention_dim",
        "attention_head_dim", "num_attention_heads", "use_linear_projection", "class_embed_type",
        "num_class_embeds", "upcast_attention", "resnet_time_scale_shift",
        "projection_class_embeddings_input_dim", "mid_block_type",
    )  # fmt: skip
    config = {k: unet_config[k] for k in keys if k in unet_config}
    config.update(in_channels=4, conditioning_embedding_out_channels=(16, 32, 96, 256))
    return config


def _check_family(units: list[ControlUnit], unet: Any) -> None:
    """Refuse units whose model cannot condition this UNet, before any weights are read."""
    want = int(unet.config.cross_attention_dim)
    for unit in units:
        dim = _declared_cross_attention(Path(unit.model).expanduser(), unit.kind)
        if dim is not None and dim != want:
            raise ControlError(
                f"{Path(unit.model).name} is a {unit.kind.label} for {_family_name(dim)}, but the model is "
                f"{_family_name(want)}: choose a {unit.kind.label} made for {_family_name(want)}."
            )


def _declared_cross_attention(path: Path, kind: ControlKind) -> int | None:
    if kind is not ControlKind.CONTROLNET:
        return None
    if path.is_dir():
        config = path / "config.json"
        if config.is_file():
            value = json.loads(config.read_text(encoding="utf-8")).get("cross_attention_dim")
            return int(value) if isinstance(value, int) else None
        return None
    if path.suffix.lower() != ".safetensors" or not path.is_file():
        return None
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            for key in f.keys():  # noqa: SIM118 - safe_open has no __iter__
                if key.endswith("attn2.to_k.weight"):
                    return int(f.get_slice(key).get_shape()[1])
    except Exception as exc:
        raise ControlError(
            f"{path.name} could not be loaded as a ControlNet: it is not a readable safetensors file ({exc})."
        ) from exc
    return None


def _family_name(dim: int) -> str:
    known = {768: "SD1.x", 1024: "SD2.x", 2048: "SDXL"}.get(dim)
    return f"{known} (text width {dim})" if known else f"a model with text width {dim}"


def _mapped(units: list[ControlUnit], plan: GenerationPlan) -> list[ControlUnit]:
    from studio.core.control_images import control_for_plan

    return [u.replace(image=control_for_plan(u.image, plan)) if u.image is not None else u for u in units]


def _short_hash(model: str) -> str:
    """sd-webui-controlnet's `[hash]` after the model name: 8 hex digits of the file's sha256 (cached);
    "" for a folder."""
    from studio.engine.loading.model_hash import model_hash_for

    path = Path(model).expanduser()
    if not path.is_file():
        return ""
    try:
        return model_hash_for(path)[:8]
    except OSError:
        return ""
