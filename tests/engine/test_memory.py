"""GPU memory modes (studio.engine.memory): the choice from the free VRAM, the diffusers calls each
mode makes, the out-of-memory fallback through the real Engine, and the CPU path left alone.

No GPU is needed: CUDA is faked (the engine's device choice, torch.cuda.mem_get_info) and the
pipeline is a fake that records the calls the memory modes make on it.
"""

from __future__ import annotations

import json

import pytest
import torch
from PIL import Image

from studio.core.events import Failed, FailureKind, Finished, ModelReady, Started
from studio.core.settings import MEMORY_MODES, Settings, load_settings, save_settings
from studio.engine import memory
from studio.engine.loading import LoadedModel
from studio.engine.memory import MemoryMode, apply_mode, choose_mode
from studio.engine.models import ModelManager

GIB = 2**30


# ---------------------------------------------------------------- the choice
@pytest.mark.parametrize(
    ("free_gib", "model_gib", "largest_gib", "family", "size", "batch", "dtype_bytes", "expected"),
    [
        (24, 2.0, 1.7, "sd1", (512, 512), 1, 2, MemoryMode.FULL),
        (7, 2.0, 1.7, "sd1", (1024, 1024), 1, 2, MemoryMode.VAE),  # the untiled decode is what does not fit
        (7, 2.0, 1.7, "sd1", (512, 512), 4, 2, MemoryMode.VAE),  # a batch decoded at once: sliced
        (6, 2.0, 1.7, "sd1", (1024, 1024), 1, 2, MemoryMode.MODEL_OFFLOAD),
        (4, 2.0, 1.7, "sd1", (512, 512), 1, 2, MemoryMode.MODEL_OFFLOAD),
        (3, 2.0, 1.7, "sd1", (512, 512), 1, 2, MemoryMode.SEQUENTIAL),
        (16, 6.5, 4.8, "sdxl", (1024, 1024), 1, 2, MemoryMode.FULL),
        (12.5, 6.5, 4.8, "sdxl", (1024, 1024), 1, 2, MemoryMode.MODEL_OFFLOAD),
        (8, 6.5, 4.8, "sdxl", (1024, 1024), 1, 2, MemoryMode.SEQUENTIAL),
        (80, 6.5, 4.8, "sdxl", (2048, 2048), 1, 2, MemoryMode.FULL),
        (20, 6.5, 4.8, "sdxl", (2048, 2048), 1, 2, MemoryMode.VAE),
        (8, 4.0, 3.4, "sd1", (512, 512), 1, 4, MemoryMode.FULL),  # fp32: weights and activations double
        (7.2, 4.0, 3.4, "sd1", (512, 512), 1, 4, MemoryMode.MODEL_OFFLOAD),
        (6, 4.0, 3.4, "sd1", (512, 512), 1, 4, MemoryMode.SEQUENTIAL),
    ],
)
def test_mode_chosen_from_free_vram(
    free_gib, model_gib, largest_gib, family, size, batch, dtype_bytes, expected
):
    chosen = choose_mode(
        int(free_gib * GIB),
        int(model_gib * GIB),
        family,
        size,
        batch=batch,
        largest_bytes=int(largest_gib * GIB),
        dtype_bytes=dtype_bytes,
    )
    assert chosen is expected


def test_more_free_memory_never_chooses_a_slower_mode():
    ranks = [
        choose_mode(gib * GIB, 2 * GIB, "sd1", (1024, 1024), largest_bytes=int(1.7 * GIB)).rank
        for gib in range(1, 30)
    ]
    assert ranks == sorted(ranks, reverse=True)
    assert ranks[0] == MemoryMode.SEQUENTIAL.rank and ranks[-1] == MemoryMode.FULL.rank


def test_modes_and_setting_values():
    assert [m.value for m in MemoryMode] == ["full", "vae", "model_offload", "sequential"]
    assert memory.MEMORY_MODES == MEMORY_MODES  # the setting's choices are the engine's modes
    assert MemoryMode.FULL.lower() is MemoryMode.VAE
    assert MemoryMode.SEQUENTIAL.lower() is None
    assert memory.mode_from_setting("auto") is None
    assert memory.mode_from_setting("model_offload") is MemoryMode.MODEL_OFFLOAD
    assert memory.mode_from_setting("nonsense") is None


def test_free_vram_reads_torch_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (5 * GIB, 24 * GIB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 3 * GIB)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 2 * GIB)
    assert memory.free_vram("cuda") == 6 * GIB  # the allocator's unused cache counts as free


def test_only_cuda_out_of_memory_is_retried():
    assert memory.is_gpu_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate"))
    wrapped = RuntimeError("decode failed")
    wrapped.__cause__ = RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")
    assert memory.is_gpu_out_of_memory(wrapped)
    assert not memory.is_gpu_out_of_memory(MemoryError())
    assert not memory.is_gpu_out_of_memory(RuntimeError("shape mismatch"))


# ---------------------------------------------------------------- the diffusers calls
class FakeVae:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def enable_tiling(self) -> None:
        self.calls.append("vae.enable_tiling")

    def enable_slicing(self) -> None:
        self.calls.append("vae.enable_slicing")

    def disable_tiling(self) -> None:
        self.calls.append("vae.disable_tiling")

    def disable_slicing(self) -> None:
        self.calls.append("vae.disable_slicing")


class FakeConfig:
    sample_size = 8


class FakeUnet(torch.nn.Linear):
    config = FakeConfig()


class FakeScheduler:
    config: dict[str, object] = {}


class FakePipe:
    """Records the calls memory modes make; weights: a UNet of 1 MiB (fp32 256x1024 Linear)."""

    vae_scale_factor = 8

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.vae = FakeVae(self.calls)
        self.unet = FakeUnet(1024, 256, bias=False)
        self.scheduler = FakeScheduler()
        self.components = {"unet": self.unet, "vae": self.vae}

    def to(self, *args: object, **kwargs: object) -> FakePipe:
        self.calls.append(f"to({args[0] if args else kwargs})")
        return self

    def enable_model_cpu_offload(self, device: str) -> None:
        self.calls.append(f"enable_model_cpu_offload({device})")

    def enable_sequential_cpu_offload(self, device: str) -> None:
        self.calls.append(f"enable_sequential_cpu_offload({device})")

    def enable_attention_slicing(self, size: str) -> None:
        self.calls.append(f"enable_attention_slicing({size})")

    def remove_all_hooks(self) -> None:
        self.calls.append("remove_all_hooks")

    def set_progress_bar_config(self, **kwargs: object) -> None:
        pass


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        (MemoryMode.FULL, ["to(cuda)", "vae.disable_tiling", "vae.disable_slicing"]),
        (MemoryMode.VAE, ["to(cuda)", "vae.enable_tiling", "vae.enable_slicing"]),
        (
            MemoryMode.MODEL_OFFLOAD,
            ["enable_model_cpu_offload(cuda)", "vae.enable_tiling", "vae.enable_slicing"],
        ),
        (
            MemoryMode.SEQUENTIAL,
            [
                "enable_sequential_cpu_offload(cuda)",
                "enable_attention_slicing(max)",
                "vae.enable_tiling",
                "vae.enable_slicing",
            ],
        ),
    ],
)
def test_apply_mode_calls_diffusers(mode, expected):
    pipe = FakePipe()
    apply_mode(pipe, mode, "cuda")
    assert pipe.calls == expected


def test_leaving_model_offload_removes_its_hooks_before_moving_back():
    pipe = FakePipe()
    apply_mode(pipe, MemoryMode.FULL, "cuda", current=MemoryMode.MODEL_OFFLOAD)
    assert pipe.calls[:2] == ["remove_all_hooks", "to(cuda)"]


def test_offload_unwraps_a_compiled_unet():
    pipe = FakePipe()
    plain = pipe.unet
    pipe.unet = torch.nn.Module()
    pipe.unet._orig_mod = plain  # what torch.compile's wrapper holds
    apply_mode(pipe, MemoryMode.MODEL_OFFLOAD, "cuda")
    assert pipe.unet is plain


def test_sequential_cannot_be_left_in_place():
    assert memory.needs_reload(MemoryMode.SEQUENTIAL, MemoryMode.MODEL_OFFLOAD)
    assert not memory.needs_reload(MemoryMode.MODEL_OFFLOAD, MemoryMode.FULL)
    with pytest.raises(ValueError, match="load the model again"):
        apply_mode(FakePipe(), MemoryMode.FULL, "cuda", current=MemoryMode.SEQUENTIAL)


# ---------------------------------------------------------------- the model manager
def fake_loader(pipes: list[FakePipe], devices: list[str]):
    def load(ref: str, *, device: str, dtype: object, progress: object = None) -> LoadedModel:
        devices.append(device)
        pipe = FakePipe()
        pipes.append(pipe)
        return LoadedModel(pipe, ref, "fake", "sd1", False, "0123456789", None)

    return load


def test_manager_on_cuda_loads_to_cpu_and_places_the_model_in_the_chosen_mode(monkeypatch):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    pipes: list[FakePipe] = []
    devices: list[str] = []
    free = [GIB * 0]  # nothing free: sequential
    manager = ModelManager(
        "cuda", torch.float16, loader=fake_loader(pipes, devices), free_vram=lambda device: free[0]
    )
    manager.ensure("m")
    assert devices == ["cpu"]
    assert manager.memory_mode is MemoryMode.SEQUENTIAL
    assert "enable_sequential_cpu_offload(cuda)" in pipes[0].calls
    # a later job with plenty free: sequential cannot be undone in place, so the model is loaded again
    free[0] = 100 * GIB
    assert manager.prepare_memory((64, 64), 1) is MemoryMode.FULL
    assert len(pipes) == 2 and pipes[1].calls[0] == "to(cuda)"


class TooBigPipe(FakePipe):
    """A model that does not fit on the GPU whole: moving it there runs out of memory."""

    def to(self, *args: object, **kwargs: object) -> FakePipe:
        if args and args[0] == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")
        return super().to(*args, **kwargs)


def test_a_model_that_does_not_fit_whole_is_placed_in_a_lower_mode(monkeypatch):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")

    def load(ref: str, *, device: str, dtype: object, progress: object = None) -> LoadedModel:
        return LoadedModel(TooBigPipe(), ref, "fake", "sd1", False, "0123456789", None)

    manager = ModelManager("cuda", torch.float16, loader=load, memory_mode="full")
    loaded, _seconds = manager.ensure("m")
    assert manager.memory_mode is MemoryMode.MODEL_OFFLOAD  # full and vae both need it whole on the GPU
    assert loaded.pipe.calls[-3:] == [
        "enable_model_cpu_offload(cuda)",
        "vae.enable_tiling",
        "vae.enable_slicing",
    ]


def test_a_model_the_gpu_cannot_take_fails_as_a_model_load_error(monkeypatch):
    from studio.engine.loading import ModelLoadError

    monkeypatch.setenv("STUDIO_FAST_PATH", "0")

    class BrokenGpuPipe(FakePipe):
        def to(self, *args: object, **kwargs: object) -> FakePipe:
            raise RuntimeError("CUDA error: no kernel image is available for execution on the device")

    def load(ref: str, *, device: str, dtype: object, progress: object = None) -> LoadedModel:
        return LoadedModel(BrokenGpuPipe(), ref, "fake", "sd1", False, "0123456789", None)

    manager = ModelManager("cuda", torch.float16, loader=load, free_vram=lambda d: 100 * GIB)
    with pytest.raises(ModelLoadError, match="Could not move the model to cuda: CUDA error: no kernel image"):
        manager.ensure("m")
    assert manager.loaded is None


def test_manager_lowered_after_out_of_memory_stays_lowered(monkeypatch):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    pipes: list[FakePipe] = []
    manager = ModelManager(
        "cuda", torch.float16, loader=fake_loader(pipes, []), free_vram=lambda d: 100 * GIB
    )
    manager.ensure("m")
    assert manager.memory_mode is MemoryMode.FULL
    assert manager.lower_memory_mode() is MemoryMode.VAE
    assert manager.prepare_memory((64, 64), 1) is MemoryMode.VAE  # auto would pick full: capped
    assert manager.lower_memory_mode() is MemoryMode.MODEL_OFFLOAD
    assert pipes[0].calls[-3:] == [
        "enable_model_cpu_offload(cuda)",
        "vae.enable_tiling",
        "vae.enable_slicing",
    ]


def test_a_job_with_loras_or_an_ip_adapter_runs_in_model_offload_at_the_least(monkeypatch):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    pipes: list[FakePipe] = []
    manager = ModelManager("cuda", torch.float16, loader=fake_loader(pipes, []), free_vram=lambda d: 0)
    manager.ensure("m")
    assert manager.memory_mode is MemoryMode.SEQUENTIAL
    # LoRAs are fused into the weights, which sequential offload keeps in its hooks: loaded again
    assert manager.prepare_memory((64, 64), 1, sequential_ok=False) is MemoryMode.MODEL_OFFLOAD
    assert len(pipes) == 2 and pipes[1].calls[0] == "enable_model_cpu_offload(cuda)"
    assert not manager.can_lower_memory  # no out-of-memory retry in sequential for this job
    assert manager.prepare_memory((64, 64), 1) is MemoryMode.SEQUENTIAL  # the next job without LoRAs
    assert manager.can_lower_memory is False  # already the lowest


def test_manager_with_a_set_mode_ignores_the_free_memory(monkeypatch):
    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    pipes: list[FakePipe] = []

    def no_vram_query(device: str) -> int:
        raise AssertionError("a set mode does not look at the free memory")

    manager = ModelManager(
        "cuda",
        torch.float16,
        loader=fake_loader(pipes, []),
        memory_mode="model_offload",
        free_vram=no_vram_query,
    )
    manager.ensure("m")
    assert manager.prepare_memory((2048, 2048), 4) is MemoryMode.MODEL_OFFLOAD
    assert pipes[0].calls[0] == "enable_model_cpu_offload(cuda)"


def test_manager_on_the_cpu_never_touches_memory_modes():
    pipes: list[FakePipe] = []
    devices: list[str] = []
    manager = ModelManager("cpu", torch.float32, loader=fake_loader(pipes, devices), memory_mode="sequential")
    manager.ensure("m")
    assert manager.prepare_memory((2048, 2048), 4) is MemoryMode.FULL
    assert manager.lower_memory_mode() is None and not manager.can_lower_memory
    manager.refresh_vae_memory()
    assert devices == ["cpu"] and pipes[0].calls == []


# ---------------------------------------------------------------- the engine's fallback
def _request(tiny_request):
    return tiny_request.replace(model="fake", width=64, height=64)


@pytest.fixture
def tiny_request(request_for):
    return request_for()


def _failing_generate(monkeypatch, failures: int):
    """pipelines.generate raising a CUDA out-of-memory error `failures` times, then making images."""
    import studio.engine.pipelines as pipelines

    calls: list[int] = []

    def generate(request, plan, models, ctx):
        calls.append(len(calls))
        if len(calls) <= failures:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")
        return [Image.new("RGB", plan.result_size, (10, 20, 30)) for _ in range(plan.batch)]

    monkeypatch.setattr(pipelines, "generate", generate)
    return calls


def _fake_cuda(monkeypatch, free_gib: float):
    import studio.engine.device as device

    monkeypatch.setenv("STUDIO_FAST_PATH", "0")
    monkeypatch.setattr(device, "choose_device", lambda pref="auto": "cuda")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda d=None: (int(free_gib * GIB), 141 * GIB))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda d=None: 0)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda d=None: 0)


def test_out_of_memory_once_retries_in_a_lower_mode_and_tells_the_artist(
    make_engine, monkeypatch, tiny_request
):
    _fake_cuda(monkeypatch, free_gib=100)
    calls = _failing_generate(monkeypatch, failures=1)
    pipes: list[FakePipe] = []
    devices: list[str] = []
    eng, rec = make_engine(loader=fake_loader(pipes, devices))
    job = eng.submit(_request(tiny_request))
    end = rec.wait_for(job)
    assert isinstance(end, Finished), end
    assert len(calls) == 2
    ready = next(e for e in rec.of(job) if isinstance(e, ModelReady))
    assert ready.device == "cuda" and ready.memory_mode == "full"  # chosen from the (faked) 100 GiB free
    started = [e for e in rec.of(job) if isinstance(e, Started)]
    assert len(started) == 2 and started[0].warnings == ()
    assert "ran out of memory" in started[1].warnings[0] and "VAE tiling" in started[1].warnings[0]
    assert pipes[0].calls[-2:] == ["vae.enable_tiling", "vae.enable_slicing"]  # the mode was lowered
    assert devices == ["cpu"]  # read to the CPU, then placed on the GPU by the memory mode
    # the next job keeps the lower mode (no reload, no second fallback needed)
    second = eng.submit(_request(tiny_request))
    assert isinstance(rec.wait_for(second), Finished)
    assert len(pipes) == 1 and not any(e.warnings for e in rec.of(second) if isinstance(e, Started))


def test_out_of_memory_twice_fails_as_out_of_memory(make_engine, monkeypatch, tiny_request):
    _fake_cuda(monkeypatch, free_gib=100)
    calls = _failing_generate(monkeypatch, failures=2)
    eng, rec = make_engine(loader=fake_loader([], []))
    end = rec.wait_for(eng.submit(_request(tiny_request)))
    assert isinstance(end, Failed) and end.kind is FailureKind.OUT_OF_MEMORY, end
    assert len(calls) == 2


def test_out_of_memory_in_sequential_mode_fails_at_once(make_engine, monkeypatch, tiny_request):
    _fake_cuda(monkeypatch, free_gib=0.5)  # too little for anything but sequential offload
    calls = _failing_generate(monkeypatch, failures=1)
    pipes: list[FakePipe] = []
    eng, rec = make_engine(loader=fake_loader(pipes, []))
    job = eng.submit(_request(tiny_request))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.OUT_OF_MEMORY, end
    assert len(calls) == 1
    assert next(e for e in rec.of(job) if isinstance(e, ModelReady)).memory_mode == "sequential"


def test_the_cpu_path_never_offloads(make_engine, monkeypatch, tiny_request):
    calls = _failing_generate(monkeypatch, failures=1)
    pipes: list[FakePipe] = []
    devices: list[str] = []
    eng, rec = make_engine(loader=fake_loader(pipes, devices), memory_mode="sequential")
    job = eng.submit(_request(tiny_request))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.OUT_OF_MEMORY, end  # no retry on the CPU
    assert len(calls) == 1 and devices == ["cpu"] and pipes[0].calls == []
    assert next(e for e in rec.of(job) if isinstance(e, ModelReady)).memory_mode == ""


# ---------------------------------------------------------------- the setting
def test_memory_mode_setting_round_trip(tmp_path):
    path = tmp_path / "settings.json"
    save_settings(Settings(memory_mode="model_offload"), path)
    assert json.loads(path.read_text())["memory_mode"] == "model_offload"
    assert load_settings(path).memory_mode == "model_offload"
    data = json.loads(path.read_text())
    data["memory_mode"] = "everything"
    path.write_text(json.dumps(data))
    assert load_settings(path).memory_mode == "auto"  # an unknown value falls back to the default


# ---------------------------------------------------------------- real diffusers pipelines
def test_modes_on_a_real_pipeline_give_the_same_pixels_and_can_be_left():
    """diffusers' own methods on the tiny pipeline, the CPU standing in for the GPU as the execution
    device: every mode but sequential (whose accelerate hooks need a real accelerator) runs, gives
    the pixels of the plain pipeline, and model offload is left again without a trace."""
    import numpy as np
    from diffusers import StableDiffusionImg2ImgPipeline

    from tests.tiny_model import build_tiny_pipeline

    def run(pipe, **kw):
        generator = torch.Generator().manual_seed(1)
        args = {"prompt": "a cat", "num_inference_steps": 2, "generator": generator, "output_type": "np"}
        return pipe(**args, **kw).images

    size = {"width": 64, "height": 64}
    plain = run(build_tiny_pipeline(), **size)
    pipe = build_tiny_pipeline()
    apply_mode(pipe, MemoryMode.MODEL_OFFLOAD, "cpu")
    assert hasattr(pipe.unet, "_hf_hook")
    np.testing.assert_array_equal(run(pipe, **size), plain)
    derived = StableDiffusionImg2ImgPipeline.from_pipe(pipe)
    memory.apply_to_derived(derived, MemoryMode.MODEL_OFFLOAD, "cpu")
    assert run(derived, image=Image.new("RGB", (64, 64)), strength=0.5).shape == (1, 64, 64, 3)
    apply_mode(pipe, MemoryMode.VAE, "cpu", current=MemoryMode.MODEL_OFFLOAD)
    assert not hasattr(pipe.unet, "_hf_hook") and pipe.vae.use_tiling and pipe.vae.use_slicing
    np.testing.assert_array_equal(run(pipe, **size), plain)
    apply_mode(pipe, MemoryMode.FULL, "cpu", current=MemoryMode.VAE)
    assert not pipe.vae.use_tiling and not pipe.vae.use_slicing


def test_a_lora_under_model_offload_gives_the_full_modes_pixels(tmp_path, monkeypatch):
    """LoRAs are fused into the weights while model offload's hooks move them (CPU as the device)."""
    import diffusers.pipelines.pipeline_utils as pipeline_utils
    import numpy as np

    # diffusers' LoRA loader takes the offload off and puts it back on the detected accelerator:
    # here the CPU stands in for it (as "cpu:0", which diffusers does not refuse)
    monkeypatch.setattr(pipeline_utils, "get_device", lambda: "cpu:0")

    from studio.engine.lora import ResolvedLora, applied_loras
    from tests.engine.lora_files import kohya_lora
    from tests.tiny_model import build_tiny_pipeline

    lora = ResolvedLora("ink", kohya_lora(tmp_path / "ink.safetensors"), 1.0)

    def run(pipe):
        generator = torch.Generator().manual_seed(0)
        return pipe(
            "a red apple", num_inference_steps=2, height=64, width=64, generator=generator, output_type="np"
        )

    full = build_tiny_pipeline()
    base = run(full).images
    with applied_loras(full, "sd1", [lora]):
        with_lora = run(full).images
    offloaded = build_tiny_pipeline()
    apply_mode(offloaded, MemoryMode.MODEL_OFFLOAD, "cpu")
    with applied_loras(offloaded, "sd1", [lora]):
        np.testing.assert_allclose(run(offloaded).images, with_lora, atol=1e-5)
    np.testing.assert_array_equal(run(offloaded).images, base)  # removed exactly


def test_prompts_are_encoded_on_the_offload_hooks_device_under_sequential_offload():
    """Sequential offload leaves a text encoder's weights on the meta device: the prompt's token ids
    go to the device its hooks run it on (studio's own prompt encoding, not the pipeline's)."""
    from types import SimpleNamespace

    from studio.engine.conditioning import input_device

    encoder = torch.nn.Sequential(torch.nn.Linear(4, 4))
    assert input_device(encoder) == torch.device("cpu")
    encoder.to("meta")
    encoder[0]._hf_hook = SimpleNamespace(execution_device="cuda:0")
    assert input_device(encoder) == torch.device("cuda:0")


def test_the_engine_keeps_a_lora_job_out_of_sequential_offload(make_engine, monkeypatch, tiny_request):
    _fake_cuda(monkeypatch, free_gib=0.5)  # too little for anything but sequential offload
    _failing_generate(monkeypatch, failures=0)
    pipes: list[FakePipe] = []
    eng, rec = make_engine(loader=fake_loader(pipes, []))
    assert isinstance(rec.wait_for(eng.submit(_request(tiny_request))), Finished)
    assert pipes[0].calls[0] == "enable_sequential_cpu_offload(cuda)"
    job = eng.submit(_request(tiny_request).replace(prompt="a cat <lora:missing:0.5>"))
    end = rec.wait_for(job)
    assert isinstance(end, Failed) and end.kind is FailureKind.INPUT and "missing" in end.message
    assert len(pipes) == 2 and pipes[1].calls[0] == "enable_model_cpu_offload(cuda)"  # loaded again for it
