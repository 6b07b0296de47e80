"""Load a Stable Diffusion pipeline from a model reference, never touching the network.

A reference is one of:
- ``""``: the built-in model (``studio.core.paths.builtin_model_dir()``);
- a diffusers folder (``model_index.json``): SD 1.x/2.x, their inpaint variants, SDXL, SD3 / SD3.5, Flux;
- a single ``.safetensors`` / ``.ckpt`` checkpoint in the original LDM/A1111 layout;
- a single SD3 / Flux transformer file (``.safetensors``, or GGUF-quantised ``.gguf``) with the other
  components from a diffusers folder next to it or in the Hugging Face cache (``dit_file``);
- a Hub id (``"runwayml/stable-diffusion-v1-5"``) that is already in the local Hugging Face cache.

torch / diffusers / transformers are imported inside functions: importing this package is cheap.
Every failure is a :class:`ModelLoadError` whose message says what to do.

Modules, each importing only those below it (an import-linter ``layers`` contract checks it):

- ``loader``: :func:`load_pipeline` (resolve, load, move to the device);
- ``single_file`` (checkpoint files: read, detect, build, hash);
- ``dit_file`` (an SD3 / Flux transformer file + a folder's text encoders, tokenizers and VAE);
- ``resolve`` (reference -> folder or file), ``folder`` (diffusers folders);
- ``build``: a pipeline from LDM-layout weights;
- ``infer``: component configs from the shipped configs + the checkpoint's tensor shapes;
- ``detect``: what a checkpoint is (family, inpaint, prediction type), :func:`inspect_checkpoint`;
- ``checkpoint`` (reading checkpoint files), ``model_hash`` (A1111 model hash), ``loaded``
  (:class:`LoadedModel`);
- ``errors``: :class:`ModelLoadError`.

Modules of this package never import the package itself (this file), only their siblings.
"""

from __future__ import annotations

from studio.engine.loading.detect import CheckpointInfo, inspect_checkpoint
from studio.engine.loading.errors import ModelLoadError
from studio.engine.loading.loaded import LoadedModel, Progress
from studio.engine.loading.loader import check_ref, finish_pipeline, load_pipeline, ref_family

__all__ = [
    "CheckpointInfo",
    "LoadedModel",
    "ModelLoadError",
    "Progress",
    "check_ref",
    "finish_pipeline",
    "inspect_checkpoint",
    "load_pipeline",
    "ref_family",
]
