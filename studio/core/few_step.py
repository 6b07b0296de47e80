"""Few-step distillations (LCM, TCD, Lightning, Hyper, Turbo): which a model or LoRA is, and the
sampler / steps / CFG it wants (pure Python: names and safetensors metadata, no weights read).

A distilled model or LoRA run with the usual 20-30 steps at CFG 7 gives burnt, noisy pictures; with
its own settings it gives a good one in 1-8 steps. The Generate tab shows `FewStepSuggestion.label`
("Use 4 steps, LCM, CFG 1.5") as a one-click offer when such a model or LoRA is chosen; nothing is
changed until the artist clicks it.

Detection, first match wins: the safetensors metadata (`modelspec.title`, `ss_output_name`,
`ss_network_module`, `modelspec.architecture`, `ss_training_comment`, ...) then the file name. Step
counts come from the name where it says them ("sdxl_lightning_4step", "Hyper-SD15-8steps", "2-step").
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from studio.core.model_catalog import safetensors_header

_MAX_HEADER = 16 * 1024 * 1024
# metadata keys that name what a file was trained as, then free-text ones that describe it
_NAME_KEYS = (
    "modelspec.title",
    "modelspec.architecture",
    "ss_output_name",
    "ss_network_module",
    "ss_sd_model_name",
    "name",
)
_TEXT_KEYS = ("modelspec.description", "modelspec.tags", "ss_training_comment", "description")
# in free text "lightning" and "turbo" are ordinary words (a LoRA of lightning bolts): names only
_NAME_ONLY_KINDS = frozenset({"Lightning", "Turbo"})
_SD3 = re.compile(r"sd3|sd[-_ ]?3\.5|stable[-_ ]diffusion[-_ ]3")


@dataclass(frozen=True)
class FewStepSuggestion:
    """Settings for a distilled model or LoRA: `kind` (LCM, TCD, Lightning, Hyper, Turbo) found in `source`."""

    kind: str
    scheduler: str
    steps: int
    guidance: float
    source: str = ""
    why: str = ""  # the reason in words when it is not "a few-step model" (DiT families' own settings)

    @property
    def label(self) -> str:
        return f"Use {self.steps} steps, {self.scheduler}, CFG {self.guidance:g}"

    @property
    def reason(self) -> str:
        if self.why:
            return f"{self.source or 'This model'}: {self.why}"
        where = f"{self.source} is" if self.source else "This is"
        low_cfg = " and a low CFG" if self.guidance <= 2 else ""  # not Hyper-SD's CFG-preserved LoRAs
        return f"{where} a {self.kind} few-step model: it wants few steps{low_cfg}."


# (kind, pattern on the lower-cased text): order matters ("hyper" before "lcm": Hyper-SD LCM variants)
_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Hyper", re.compile(r"hyper[-_ ]?sd|hypersd|\bhyper\b")),
    ("Lightning", re.compile(r"lightning")),
    ("TCD", re.compile(r"(?<![a-z])tcd(?![a-z])")),
    ("LCM", re.compile(r"(?<![a-z])lcm(?![a-z])|latent[-_ ]?consistency")),
    ("Turbo", re.compile(r"turbo")),
)
_STEPS = re.compile(r"(?<!\d)(\d{1,2})[-_ ]?steps?")  # "1000 steps" is no count
# defaults and the allowed step range per kind: (scheduler, default steps, (min, max), guidance)
_SETTINGS: dict[str, tuple[str, int, tuple[int, int], float]] = {
    "LCM": ("LCM", 4, (4, 8), 1.5),
    "TCD": ("TCD", 4, (4, 8), 1.0),
    "Lightning": ("Euler SGM Uniform", 4, (1, 8), 1.0),
    "Turbo": ("Euler a", 1, (1, 4), 1.0),
    "Hyper": ("DDIM", 8, (1, 16), 1.0),  # Hyper-SD: DDIM (trailing) for 2-16 steps, TCD for 1
}


def detect_kind(name: str, metadata: Mapping[str, str] | None = None) -> str | None:
    """The distillation `name` (a file or model name) and its `metadata` describe, or None."""
    metadata = metadata or {}
    named = [*_metadata_texts(metadata, _NAME_KEYS), name]
    described = _metadata_texts(metadata, _TEXT_KEYS)
    for text, free in [*((t, False) for t in named), *((t, True) for t in described)]:
        lowered = text.lower()
        for kind, pattern in _PATTERNS:
            if pattern.search(lowered) and not (free and kind in _NAME_ONLY_KINDS):
                return kind
    return None


# Flow-matching families run one sampler (flow-matching Euler): the Generate tab's SD defaults (DPM++
# 2M Karras, CFG 7) fall back with a warning and CFG 7 over-cooks them. Settings from the model cards.
_FAMILIES: tuple[tuple[re.Pattern[str], FewStepSuggestion], ...] = (
    (re.compile(r"flux.*schnell|schnell.*flux"),
     FewStepSuggestion("Flux schnell", "Euler", 4, 1.0, why="a 4-step distilled model; it uses no guidance.")),
    (re.compile(r"flux"),
     FewStepSuggestion("Flux dev", "Euler", 28, 3.5, why="Flux dev wants Euler and an embedded guidance near 3.5.")),
    (re.compile(r"sd3|sd[-_ ]?3\.5|stable[-_ ]diffusion[-_ ]3"),
     FewStepSuggestion("SD3", "Euler", 28, 4.5, why="SD3 models run Euler (flow matching) at a CFG near 4.5.")),
)  # fmt: skip


def family_suggestion(name: str) -> FewStepSuggestion | None:
    """A DiT family's own sampler / steps / guidance, from a model's file or folder name."""
    lowered = Path(name).name.lower()
    for pattern, suggestion in _FAMILIES:
        if pattern.search(lowered):
            return replace(suggestion, source=Path(name).stem or name)
    return None


def suggestion_for(name: str, metadata: Mapping[str, str] | None = None) -> FewStepSuggestion | None:
    """The settings for `name` / `metadata`'s distillation, else for its DiT family (None for an
    ordinary SD model or LoRA)."""
    kind = detect_kind(name, metadata)
    if kind is None:
        return family_suggestion(name)
    scheduler, steps, (low, high), guidance = _SETTINGS[kind]
    said = _steps_in((*_metadata_texts(metadata or {}, _NAME_KEYS + _TEXT_KEYS), name))
    if said is not None:
        steps = min(max(said, low), high)
    if kind == "Hyper" and steps == 1:
        scheduler = "TCD"
    elif kind == "Hyper" and "cfg" in name.lower():
        guidance = 5.0 if steps >= 8 else 3.0  # Hyper-SD's CFG-preserved LoRAs
    if kind == "Lightning" and steps == 1:
        guidance = 1.0
    if kind == "Turbo" and _SD3.search(name.lower()) and said is None:
        scheduler, steps = "Euler", 4  # SD3.5 Large Turbo: 4 flow-matching Euler steps
    return FewStepSuggestion(kind, scheduler, steps, guidance, Path(name).stem or name)


def suggestion_for_file(path: str | Path) -> FewStepSuggestion | None:
    """`suggestion_for` a model / LoRA file or folder: its name and, for `.safetensors`, its metadata."""
    path = Path(path)
    metadata = read_safetensors_metadata(path) if path.suffix.lower() == ".safetensors" else {}
    return suggestion_for(path.name, metadata)


def first_suggestion(names: list[str]) -> FewStepSuggestion | None:
    """The first suggestion among model / LoRA references (paths or names)."""
    for name in names:
        if not name:
            continue
        path = Path(name)
        found = suggestion_for_file(path) if path.is_file() else suggestion_for(name)
        if found is not None:
            return found
    return None


def read_safetensors_metadata(path: str | Path) -> dict[str, str]:
    """The `__metadata__` strings of a safetensors file's header ({} when it has none or is unreadable)."""
    header = safetensors_header(path, _MAX_HEADER)
    metadata = header.get("__metadata__") if header is not None else None
    if not isinstance(metadata, dict):
        return {}
    return {str(k): v for k, v in metadata.items() if isinstance(v, str)}


def _metadata_texts(metadata: Mapping[str, str], keys: tuple[str, ...]) -> list[str]:
    return [metadata[key] for key in keys if isinstance(metadata.get(key), str)]


def _steps_in(texts: tuple[str, ...]) -> int | None:
    for text in texts:
        found = _STEPS.search(text.lower())
        if found:
            return int(found.group(1))
    return None
