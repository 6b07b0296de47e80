"""Assemble a diffusers pipeline from LDM-layout weights, offline.

Why not ``from_single_file(path, config=<local folder>, local_files_only=True)``: it takes every
dimension from the given config folder, so a checkpoint whose sizes differ from the shipped SD
config (a tiny test model, a pruned or odd fine-tune) fails, and its model-type inference and
legacy paths look up Hub repos by name. Instead each component is created empty (meta device) from
the shipped config + the checkpoint's own shapes, its weights are converted with diffusers' LDM
conversion functions (``convert_ldm_unet_checkpoint``, ``convert_ldm_vae_checkpoint``,
``convert_ldm_clip_checkpoint``, ``convert_open_clip_checkpoint``) and assigned in place: no
random init, no second copy of the weights, no file other than ``studio/resources/`` is read.
"""

from __future__ import annotations

import logging
from typing import Any

from studio.core.paths import clip_tokenizer_dir
from studio.engine.device import is_out_of_memory
from studio.engine.loading import infer
from studio.engine.loading.detect import SD1_TEXT, SD2_TEXT, UNET, VAE, XL_TEXT_1, XL_TEXT_2, CheckpointInfo
from studio.engine.loading.errors import ModelLoadError, short

log = logging.getLogger(__name__)

_TOKENIZER_KEYS = ("bos_token", "eos_token", "unk_token", "pad_token", "model_max_length")


def build_pipeline(info: CheckpointInfo, weights: dict[str, Any], dtype: Any) -> Any:
    """A ready pipeline (CPU, ``dtype``) for ``info`` from LDM-layout ``weights``.

    ``weights`` is consumed: each component's source tensors are removed once it is built.
    """
    shapes = {k: tuple(v.shape) for k, v in weights.items()}
    try:
        texts = infer.text_configs(info, shapes)
        proj = texts.get("text_encoder_2", {}).get("projection_dim")
        unet_cfg = infer.unet_config(info, shapes, proj)
        infer.check_text_width(shapes, unet_cfg, texts)
        vae_cfg = infer.vae_config(info, shapes)
        components: dict[str, Any] = {"scheduler": _scheduler(info)}
        components.update(_text_encoders(info, texts, weights, dtype))
        _release(weights, "cond_stage_model.", "conditioner.")
        components["vae"] = _vae(vae_cfg, weights, dtype)
        _release(weights, VAE)
        components["unet"] = _unet(unet_cfg, weights, dtype)
        _release(weights, UNET)
    except ModelLoadError:
        raise
    except Exception as exc:  # conversion on an unexpected layout: KeyError, IndexError, ...
        if is_out_of_memory(exc):
            raise
        log.exception("Building %s from a single file failed", info.describe())
        raise ModelLoadError(
            f"The checkpoint has a layout Studio does not recognize ({short(exc)}). The file may be "
            "damaged, or a kind of model Studio does not support."
        ) from exc
    return _assemble(info, components)


def _release(weights: dict[str, Any], *prefixes: str) -> None:
    """Drop source tensors once their component holds its own (cast) copy: lower peak memory."""
    for key in [k for k in weights if k.startswith(prefixes)]:
        del weights[key]


def _empty(factory: Any) -> Any:
    from accelerate import init_empty_weights

    with init_empty_weights():
        return factory()


def assign_weights(model: Any, weights: dict[str, Any], dtype: Any, what: str) -> Any:
    """Put ``weights`` into an empty (meta) model after checking every name and shape."""
    expected = model.state_dict()
    wrong = [
        (k, tuple(weights[k].shape), tuple(v.shape))
        for k, v in expected.items()
        if k in weights and weights[k].shape != v.shape
    ]
    if wrong:
        key, got, want = wrong[0]
        raise ModelLoadError(
            f"The checkpoint's {what} weights have the wrong shapes ({len(wrong)} tensors, e.g. {key}: "
            f"{list(got)} where {list(want)} fits). The file is damaged or was edited; use another copy."
        )
    missing = [k for k in expected if k not in weights]
    if missing:
        raise ModelLoadError(
            f"The checkpoint's {what} is incomplete: {len(missing)} weights are missing (e.g. {missing[0]}). "
            "The file is damaged or was pruned too far; use another copy."
        )
    unused = [k for k in weights if k not in expected]
    if unused:
        log.debug("%s: %d unused weights, e.g. %s", what, len(unused), unused[:3])
    state = {k: (weights[k].to(dtype) if weights[k].is_floating_point() else weights[k]) for k in expected}
    model.load_state_dict(state, strict=True, assign=True)
    model.requires_grad_(False)
    return model.eval()


def _unet(cfg: dict[str, Any], weights: dict[str, Any], dtype: Any) -> Any:
    from diffusers import UNet2DConditionModel
    from diffusers.loaders.single_file_utils import convert_ldm_unet_checkpoint

    model = _empty(lambda: UNet2DConditionModel.from_config(cfg))
    return assign_weights(model, convert_ldm_unet_checkpoint(weights, cfg), dtype, "UNet")


def _vae(cfg: dict[str, Any], weights: dict[str, Any], dtype: Any) -> Any:
    from diffusers import AutoencoderKL
    from diffusers.loaders.single_file_utils import convert_ldm_vae_checkpoint

    model = _empty(lambda: AutoencoderKL.from_config(cfg))
    return assign_weights(model, convert_ldm_vae_checkpoint(weights, cfg), dtype, "VAE")


def _clip(cfg: dict[str, Any], weights: dict[str, Any], prefix: str, dtype: Any) -> Any:
    from transformers import CLIPTextConfig, CLIPTextModel

    model = _empty(lambda: CLIPTextModel(CLIPTextConfig(**_hf_config(cfg))))
    p = infer.clip_text_prefix(weights, prefix)
    state = {"text_model." + k[len(p) :]: v for k, v in weights.items() if k.startswith(p)}
    return assign_weights(model, _fit_text_keys(model, state), dtype, "text encoder")


def _open_clip(cfg: dict[str, Any], weights: dict[str, Any], prefix: str, dtype: Any, what: str) -> Any:
    from diffusers.loaders.single_file_utils import convert_open_clip_checkpoint
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    with_projection = "CLIPTextModelWithProjection" in cfg.get("architectures", [])
    cls = CLIPTextModelWithProjection if with_projection else CLIPTextModel
    model = _empty(lambda: cls(CLIPTextConfig(**_hf_config(cfg))))
    state = convert_open_clip_checkpoint(model, weights, prefix=prefix)
    return assign_weights(model, _fit_text_keys(model, state), dtype, what)


def _fit_text_keys(model: Any, state: dict[str, Any]) -> dict[str, Any]:
    """transformers 5's CLIPTextModel has no ``text_model.`` level (WithProjection still has it)."""
    if any(k.startswith("text_model.") for k in model.state_dict()):
        return state
    return {k.removeprefix("text_model."): v for k, v in state.items()}


def _hf_config(cfg: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in cfg.items() if k not in ("architectures", "model_type", "_class_name")}


def _text_encoders(
    info: CheckpointInfo, texts: dict[str, dict[str, Any]], weights: dict[str, Any], dtype: Any
) -> dict[str, Any]:
    if info.family == "sd1":
        return {
            "text_encoder": _clip(texts["text_encoder"], weights, SD1_TEXT, dtype),
            "tokenizer": _tokenizer(info, "tokenizer"),
        }
    if info.family == "sd2":
        encoder = _open_clip(texts["text_encoder"], weights, SD2_TEXT, dtype, "text encoder")
        return {"text_encoder": encoder, "tokenizer": _tokenizer(info, "tokenizer")}
    return {
        "text_encoder": _clip(texts["text_encoder"], weights, XL_TEXT_1, dtype),
        "text_encoder_2": _open_clip(
            texts["text_encoder_2"], weights, XL_TEXT_2, dtype, "second text encoder"
        ),
        "tokenizer": _tokenizer(info, "tokenizer"),
        "tokenizer_2": _tokenizer(info, "tokenizer_2"),
    }


def _tokenizer(info: CheckpointInfo, component: str) -> Any:
    from transformers import CLIPTokenizer

    cfg = infer.read_config(info.config_name, component)
    folder = clip_tokenizer_dir()
    kwargs = {k: cfg[k] for k in _TOKENIZER_KEYS if k in cfg}
    # transformers 5: the arguments are `vocab` / `merges` (a `vocab_file=` keyword is silently ignored).
    tokenizer = CLIPTokenizer(vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), **kwargs)
    if len(tokenizer) < 1000:
        raise ModelLoadError(
            f"Studio's CLIP tokenizer files in {folder} are missing or damaged; reinstall Studio."
        )
    return tokenizer


def _scheduler(info: CheckpointInfo) -> Any:
    import diffusers

    cfg = infer.read_config(info.config_name, "scheduler")
    cls = getattr(diffusers, cfg["_class_name"])
    return cls.from_config({**cfg, "prediction_type": info.prediction_type})


def _assemble(info: CheckpointInfo, components: dict[str, Any]) -> Any:
    import diffusers

    if info.family == "sdxl":
        if info.inpaint:
            return diffusers.StableDiffusionXLInpaintPipeline(**components, requires_aesthetics_score=False)
        return diffusers.StableDiffusionXLPipeline(**components)
    cls = diffusers.StableDiffusionInpaintPipeline if info.inpaint else diffusers.StableDiffusionPipeline
    return cls(**components, safety_checker=None, feature_extractor=None, requires_safety_checker=False)
