"""The recipe of a v2 run, saved as config.json in its work folder (a resumed run reads it back)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from studio_train.v2.models import Dims


@dataclass
class Config:
    seed: int = 0
    tiny: bool = False  # tiny model dims and image size (tests)
    limit: int | None = None  # only the first N concepts (tests)
    # Autoencoder: the first (1 - ae_full_share) of its steps alternate 64 px random crops and
    # 64 px downsampled images (4x cheaper than 128 px), the rest are whole 128 px images.
    ae_steps: int = 2500
    ae_batch: int = 16
    ae_lr: float = 5e-4
    ae_full_share: float = 0.2
    # UNet stages: [image size, steps]. Progressive: 64 px (8x8 latents) first, then 128 px.
    stages: list[list[int]] = field(default_factory=lambda: [[64, 3000], [128, 4500]])
    batch: int = 32
    lr: float = 5e-4
    warmup: int = 200
    cooldown: int = 1500  # cosine decay to lr_final over the last `cooldown` UNet steps
    lr_final: float = 0.05  # fraction of lr at the very end
    ema_decay: float = 0.999
    drop: float = 0.1  # caption dropout (classifier-free guidance)
    plain_share: float = 0.5  # share of draws with the plain name (the other phrasings share the rest)

    @property
    def dims(self) -> Dims:
        return Dims.tiny() if self.tiny else Dims()

    @property
    def unet_steps(self) -> int:
        return sum(s for _, s in self.stages)

    @property
    def image_size(self) -> int:
        return self.dims.image_size

    def stage_at(self, step: int) -> tuple[int, int]:
        """(stage index, image size) of UNet step `step` (0-based)."""
        end = 0
        for i, (size, steps) in enumerate(self.stages):
            end += steps
            if step < end:
                return i, size
        return len(self.stages) - 1, self.stages[-1][0]

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Config:
        raw = json.loads(path.read_text(encoding="utf-8"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})

    @classmethod
    def tiny_test(cls) -> Config:
        """Seconds-long config for tests."""
        return cls(
            tiny=True,
            limit=6,
            ae_steps=4,
            ae_batch=4,
            stages=[[32, 3], [64, 3]],
            batch=4,
            warmup=2,
            cooldown=2,
        )
