"""Tiny SD3 and Flux pipelines built from configs (random weights, offline).

Each has the real component classes of its family (diffusers' SD3 / Flux transformer, a
16-channel AutoencoderKL, CLIP-L (+ CLIP-G for SD3) and a T5 encoder) at toy sizes. The CLIP
tokenizer is Studio's shipped one; the T5 tokenizer is a small Unigram vocabulary made here (the real
one is not shipped with Studio and there is no network in the tests).
"""

from __future__ import annotations

from pathlib import Path

from studio.core.paths import clip_tokenizer_dir

TINY_SIZE = 64  # pixels; 8x8 latents (Flux packs them to 4x4 patches)
T5_WIDTH = 32
_T5_WORDS = ["▁a", "▁cat", "▁dog", "▁red", "▁blue", "▁in", "▁the", "▁snow", "▁photo", "▁of"]


def tiny_t5_tokenizer():
    """A T5TokenizerFast over a few words + single characters (pad 0, eos 1, unk 2, as T5)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import T5TokenizerFast

    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["▁"]
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab += [(w, -2.0) for w in _T5_WORDS] + [(c, -5.0) for c in letters]
    tok = Tokenizer(models.Unigram(vocab, unk_id=2))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    return T5TokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>", extra_ids=0
    )


def _clip_tokenizer():
    from transformers import CLIPTokenizer

    folder = clip_tokenizer_dir()
    return CLIPTokenizer(
        vocab=str(folder / "vocab.json"), merges=str(folder / "merges.txt"), model_max_length=77
    )


def _clip(hidden: int, projection: int, with_projection: bool):
    from transformers import CLIPTextConfig, CLIPTextModel, CLIPTextModelWithProjection

    cfg = CLIPTextConfig(
        vocab_size=49408,
        hidden_size=hidden,
        intermediate_size=2 * hidden,
        num_hidden_layers=2,
        num_attention_heads=2,
        max_position_embeddings=77,
        projection_dim=projection,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
        hidden_act="gelu",
    )
    return (CLIPTextModelWithProjection if with_projection else CLIPTextModel)(cfg).eval()


def _t5():
    from transformers import T5Config, T5EncoderModel

    cfg = T5Config(
        vocab_size=64, d_model=T5_WIDTH, d_kv=8, d_ff=48, num_layers=2, num_heads=4, decoder_start_token_id=0
    )
    return T5EncoderModel(cfg).eval()


def _vae(scaling: float, shift: float):
    from diffusers import AutoencoderKL

    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        block_out_channels=(32, 32, 32, 32),
        latent_channels=16,
        layers_per_block=1,
        norm_num_groups=32,
        sample_size=TINY_SIZE,
        scaling_factor=scaling,
        shift_factor=shift,
        use_quant_conv=False,
        use_post_quant_conv=False,
    ).eval()


def sd3_transformer(seed: int = 0):
    import torch
    from diffusers import SD3Transformer2DModel

    torch.manual_seed(seed)
    return SD3Transformer2DModel(
        sample_size=TINY_SIZE // 8,
        patch_size=2,
        in_channels=16,
        out_channels=16,
        num_layers=2,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_WIDTH,
        caption_projection_dim=32,
        pooled_projection_dim=64,
        pos_embed_max_size=16,
    ).eval()


def flux_transformer(seed: int = 0, guidance: bool = True):
    import torch
    from diffusers import FluxTransformer2DModel

    torch.manual_seed(seed)
    return FluxTransformer2DModel(
        patch_size=1,
        in_channels=64,
        out_channels=None,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=T5_WIDTH,
        pooled_projection_dim=32,
        guidance_embeds=guidance,
        axes_dims_rope=(4, 4, 8),
    ).eval()


def build_tiny_sd3(seed: int = 0):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, StableDiffusion3Pipeline

    transformer = sd3_transformer(seed)
    torch.manual_seed(seed + 1)
    pipe = StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=3.0),
        vae=_vae(1.5305, 0.0609),
        text_encoder=_clip(32, 32, True),
        tokenizer=_clip_tokenizer(),
        text_encoder_2=_clip(32, 32, True),
        tokenizer_2=_clip_tokenizer(),
        text_encoder_3=_t5(),
        tokenizer_3=tiny_t5_tokenizer(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def build_tiny_flux(seed: int = 0, dev: bool = True):
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler, FluxPipeline

    transformer = flux_transformer(seed, guidance=dev)
    torch.manual_seed(seed + 1)
    scheduler = FlowMatchEulerDiscreteScheduler(
        shift=3.0,
        use_dynamic_shifting=True,
        base_shift=0.5,
        max_shift=1.15,
        base_image_seq_len=256,
        max_image_seq_len=4096,
    )
    pipe = FluxPipeline(
        transformer=transformer,
        scheduler=scheduler,
        vae=_vae(0.3611, 0.1159),
        text_encoder=_clip(32, 32, False),
        tokenizer=_clip_tokenizer(),
        text_encoder_2=_t5(),
        tokenizer_2=tiny_t5_tokenizer(),
    )
    pipe.set_progress_bar_config(disable=True)
    return pipe


def save_tiny_sd3(path: Path, seed: int = 0) -> Path:
    build_tiny_sd3(seed).save_pretrained(str(path), safe_serialization=True)
    return path


def save_tiny_flux(path: Path, seed: int = 0, dev: bool = True) -> Path:
    build_tiny_flux(seed, dev).save_pretrained(str(path), safe_serialization=True)
    return path


def save_transformer_file(transformer, path: Path) -> Path:
    """The transformer's weights alone as one .safetensors file (diffusers key names)."""
    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in transformer.state_dict().items()}, str(path))
    return path


def save_transformer_gguf(transformer, path: Path, arch: str = "flux") -> Path:
    """The transformer's weights as a GGUF file: 2-D weights whose rows fit Q8_0 blocks quantised to
    Q8_0, the rest F16 (as the GGUF Flux downloads mix them); gguf.GGUFWriter, diffusers key names."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch=arch)
    block = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType.Q8_0][0]
    for name, tensor in transformer.state_dict().items():
        data = tensor.detach().float().numpy()
        if data.ndim == 2 and data.shape[1] % block == 0:
            quantized = gguf.quants.quantize(data, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(
                name, quantized, raw_shape=quantized.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0
            )
        else:
            writer.add_tensor(name, data.astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def save_flux_lora(folder: Path, name: str = "tiny-flux-lora", seed: int = 5) -> Path:
    """A random LoRA (rank 4, attention projections) for the tiny Flux transformer, saved with
    diffusers' FluxPipeline.save_lora_weights (peft / diffusers key names)."""
    import torch
    from diffusers import FluxPipeline
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    transformer = flux_transformer()
    torch.manual_seed(seed)
    config = LoraConfig(r=4, lora_alpha=4, target_modules=["to_q", "to_k", "to_v"], init_lora_weights=False)
    transformer.add_adapter(config)
    layers = get_peft_model_state_dict(transformer)
    folder.mkdir(parents=True, exist_ok=True)
    FluxPipeline.save_lora_weights(
        str(folder), transformer_lora_layers=layers, weight_name=f"{name}.safetensors"
    )
    return folder / f"{name}.safetensors"
