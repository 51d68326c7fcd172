"""What every study shares: the engines, the held-out targets, the sketches, the metrics, the run scale.

Engines load lazily (a run of only the diffusion studies never loads a GAN). Targets are real photos
from the validation split of ``--cats`` — the same file-name-hash split every training script here
holds out — so no target was ever trained on. Sketches are the drawings in ``--sketches``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, Optional

import numpy as np
import torch
from PIL import Image

from engines import data as datasets
from engines.base import LatentStudioError
from engines.evaluation.features import FeatureDistance
from engines.evaluation.swd import sliced_wasserstein, subset
from engines.stylegan.engine import GanEngine

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CAT_VAL_FRACTION = 0.05        # the split engines/stylegan/train.py and engines/diffusion/train.py hold out
GRUMPY_VAL_FRACTION = 0.10
FLOOR_DRAWS = 5
DENSE_COVERAGE = 0.5           # a sketch whose strokes cover at least half the image counts as dense


@dataclass(frozen=True)
class Scale:
    """How much of each study to run: the full run the README links, or ``--quick`` (a smoke run)."""
    name: str
    targets: int                   # held-out photos inverted in studies 1-4
    steps: int                     # Adam steps per inversion (studies 1-3)
    adam_budgets: tuple[int, ...]  # study 4: Adam step budgets (each a separate run: the lr schedule depends on it)
    lbfgs_budgets: tuple[int, ...]
    pairs: int                     # study 5: photo pairs
    frames: int
    scribble_steps: int
    sketches: Optional[int]        # None = every sketch
    seeds: int                     # outputs per sketch and setting (studies 6-8)
    strengths: tuple[float, ...]
    guidances: tuple[float, ...]
    sdedit_steps: tuple[int, ...]
    patches: int                   # SWD patches per pyramid level and set
    real_pool: int                 # real photos realism is measured against


FULL = Scale("full", targets=8, steps=150, adam_budgets=(25, 50, 100, 200, 400), lbfgs_budgets=(5, 10, 20, 40, 80),
             pairs=4, frames=9, scribble_steps=200, sketches=None, seeds=2, strengths=(0.5, 0.6, 0.7),
             guidances=(1.0, 5.0, 15.0, 50.0), sdedit_steps=(5, 10, 25, 50), patches=8192, real_pool=400)
QUICK = Scale("quick", targets=2, steps=12, adam_budgets=(10, 20), lbfgs_budgets=(3, 6), pairs=1, frames=5,
              scribble_steps=20, sketches=2, seeds=1, strengths=(0.5, 0.7), guidances=(1.0, 15.0),
              sdedit_steps=(5, 10), patches=256, real_pool=48)


@dataclass
class Sketch:
    name: str
    image: Image.Image        # RGB at the model resolution
    mask: np.ndarray          # [R, R] float, 1 = stroke
    coverage: float

    @property
    def kind(self) -> str:
        return "dense" if self.coverage >= DENSE_COVERAGE else "sparse"


@dataclass
class Context:
    scale: Scale
    out: Path
    gan_source: str = "default"
    dcgan_source: str = "default"
    diffusion_source: str = "default"
    features_source: str = "default"
    cats: Path = SHARED_DATA / "cats"
    grumpy: Path = SHARED_DATA / "grumpy"
    sketches_dir: Path = SHARED_DATA / "sketches"
    device: str = "auto"
    resolution: int = 64
    cache: dict[str, Any] = field(default_factory=dict)   # results one study hands to another (e.g. inversions)
    _floors: dict[int, float] = field(default_factory=dict)

    # -- engines ----------------------------------------------------------------------------------
    @cached_property
    def gan(self):
        engine = GanEngine(self.gan_source, device=self.device)
        self._check_resolution(engine.resolution, f"GAN {self.gan_source}")
        return engine

    @cached_property
    def dcgan(self):
        engine = GanEngine(self.dcgan_source, arch="dcgan", device=self.device)
        self._check_resolution(engine.resolution, f"DCGAN {self.dcgan_source}")
        return engine

    @cached_property
    def diffusion(self):
        from engines.diffusion.engine import DiffusionEngine
        engine = DiffusionEngine(self.diffusion_source, device=None if self.device == "auto" else self.device)
        self._check_resolution(engine.resolution, f"diffusion model {self.diffusion_source}")
        return engine

    def _check_resolution(self, resolution: int, what: str) -> None:
        if resolution != self.resolution:
            raise LatentStudioError(f"The {what} works at {resolution} px but the studies compare models at "
                                    f"{self.resolution} px (pass --resolution {resolution} and models that match).")

    @cached_property
    def dist(self) -> FeatureDistance:
        """The one perceptual yardstick every study reports (independent of the loss a run optimised)."""
        if not self.features_source:
            return FeatureDistance(None)
        return GanEngine(self.features_source, device="cpu").feature_distance(self.resolution)

    # -- data -------------------------------------------------------------------------------------
    @cached_property
    def cat_val(self) -> torch.Tensor:
        return datasets.to_float(datasets.load_split(self.cats, self.resolution, CAT_VAL_FRACTION, "val"))

    @cached_property
    def targets(self) -> torch.Tensor:
        """Held-out photos to invert: the first ``scale.targets`` of a fixed shuffle of the validation split."""
        return subset(self.cat_val, self.scale.targets, seed=0)

    @cached_property
    def real_pool(self) -> torch.Tensor:
        """Held-out cat and Grumpy-Cat photos that realism (SWD, nearest-real distance) is measured against."""
        pool = [subset(self.cat_val, self.scale.real_pool, seed=1)]
        if self.grumpy.is_dir():
            pool.append(datasets.to_float(datasets.load_split(self.grumpy, self.resolution, GRUMPY_VAL_FRACTION, "val")))
        return torch.cat(pool)

    @cached_property
    def real_pool_features(self) -> list[torch.Tensor]:
        return self.dist.features(self.real_pool)

    @cached_property
    def train_photos(self) -> torch.Tensor:
        """Training-split photos (a fixed random few hundred) for the real-vs-real SWD floor."""
        train, _ = datasets.split(datasets.list_images(self.cats), CAT_VAL_FRACTION)
        rng = np.random.default_rng(2)
        chosen = [train[i] for i in sorted(rng.choice(len(train), min(len(train), 256), replace=False))]
        return datasets.to_float(datasets.load_images(chosen, self.resolution))

    @cached_property
    def sketches(self) -> list[Sketch]:
        from bench.diffusion_quality import load_sketches
        items = [Sketch(name, img, mask, float(mask.mean()))
                 for name, img, mask in load_sketches(self.sketches_dir, self.resolution)]
        if not items:
            raise LatentStudioError(f"No sketches in {self.sketches_dir} (expected rgba_64/*.png or *sketch*.png).")
        if self.scale.sketches is not None:   # keep both kinds in a small run: alternate sparse and dense
            sparse = [s for s in items if s.kind == "sparse"]
            dense = [s for s in items if s.kind == "dense"]
            mixed = [s for pair in zip(sparse, dense) for s in pair] + sparse[len(dense):] + dense[len(sparse):]
            items = mixed[: self.scale.sketches]
        return items

    def describe_data(self) -> str:
        return (f"{len(self.targets)} held-out photos from `{self.cats}` (validation split: file-name hash, "
                f"{CAT_VAL_FRACTION:.0%}, never trained on by our models); {len(self.sketches)} sketches from "
                f"`{self.sketches_dir}`; realism against {len(self.real_pool)} held-out cat and Grumpy-Cat photos")

    # -- metrics ----------------------------------------------------------------------------------
    def realism(self, images: torch.Tensor) -> dict[str, float]:
        """Nearest-real feature distance (per image, then mean) and patch SWD to the real pool, with the
        real-vs-real SWD floor for the same number of images (SWD of few images is biased upward)."""
        nearest = self.dist.nearest(images, self.real_pool_features)
        swd = sliced_wasserstein(images.cpu(), self.real_pool, patches=self.scale.patches)["avg"]
        n = len(images)
        if n not in self._floors:   # real-vs-real at the same count, averaged over a few draws (it is noisy)
            self._floors[n] = float(np.mean([
                sliced_wasserstein(subset(self.train_photos, n, seed=3 + k), self.real_pool, patches=self.scale.patches,
                                   seed=k)["avg"] for k in range(FLOOR_DRAWS)]))
        return {"nearest real": float(nearest.mean()), "SWD": swd, "SWD × floor": swd / self._floors[n]}

    # -- output -----------------------------------------------------------------------------------
    @property
    def figures(self) -> Path:
        path = self.out / "figures"
        path.mkdir(parents=True, exist_ok=True)
        return path
