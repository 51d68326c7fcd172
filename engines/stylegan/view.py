"""What the engine-level GAN modules need of an engine, as `typing.Protocol`s, and the caches a model shares.

`direction_files`, `editing`, `interpolation`, `dragging` and `inversion` work on a loaded GAN that
`engine.GanEngine` is; they take it as one of these protocols rather than as ``Any`` and never import the engine
module, so the engine calls them and they call back only into what is written here (no hidden cycle):

* `GanModel`: a generator with its model files, as direction files see it (network, arch, fingerprint, folder);
* `GanView`: that plus the engine's tensors-in / tensors-out services (latent records, rendering, inversion, pivotal
  tuning, the mean w, the realism yardsticks). A class view (`GanEngine.for_class`) and a tuned copy
  (`GanEngine.tuned_for`) satisfy `GanView` too.

`ModelCache` holds what a loaded model computes once and shares with every view of it.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Optional, Protocol, runtime_checkable

import numpy as np
import torch

from ..base import ProgressCallback, Result
from ..evaluation.photo_distance import PhotoDistance
from .checkpoints import GanBundle
from .encoder import Encoder

#: A latent record's tensors: (latent [N, …] on the engine's device, its space, noise maps [N, 1, r, r] per layer
#: or None for the model's constant noise).
LatentTensors = tuple[torch.Tensor, str, Optional[dict[str, torch.Tensor]]]


@dataclass
class ModelCache:
    """Computed once per loaded model and shared by its class views and tuned copies (created in
    `GanEngine.__init__`). ``*_loaded`` says whether the lookup ran, since its answer may be None."""
    class_means: dict[int, torch.Tensor] = field(default_factory=dict)   # class index → its mean w
    encoder: Optional[Encoder] = None
    encoder_loaded: bool = False
    photo_distance: Optional[PhotoDistance] = None
    photo_distance_loaded: bool = False
    #: photos made ready to edit (`editing.prepare_photo`), most recently used last; ``photo_lock`` guards it (the app
    #: may run several jobs at once, `--concurrency`)
    photo_inversions: OrderedDict = field(default_factory=OrderedDict)
    photo_lock: threading.Lock = field(default_factory=threading.Lock)


@runtime_checkable
class GanModel(Protocol):
    """A loaded generator as its files see it: ``G`` (`networks.Generator` or `dcgan.DCGANGenerator`), the
    architecture name, the bundle (its folder holds ``directions/``) and the weights' fingerprint."""
    G: Any
    arch: str
    bundle: GanBundle

    @property
    def fingerprint(self) -> str: ...


@runtime_checkable
class GanView(GanModel, Protocol):
    """What `editing`, `interpolation`, `dragging` and `inversion` call back into (see `engine.GanEngine`)."""
    device: torch.device
    class_index: Optional[int]
    cache: ModelCache

    @property
    def resolution(self) -> int: ...

    @property
    def spaces(self) -> tuple[str, ...]: ...

    @property
    def encoder(self) -> Optional[Encoder]: ...

    def targets(self, images: Any) -> torch.Tensor: ...

    def read_latent(self, src: Any, *, with_noise: bool = True) -> LatentTensors: ...

    def latent_record(self, latent: torch.Tensor, space: str,
                      noise: Optional[dict[str, torch.Tensor]] = None) -> dict[str, np.ndarray]: ...

    def random_latent(self, seed: int, truncation: float = 0.7) -> dict[str, np.ndarray]: ...

    def synthesize(self, latent: torch.Tensor | np.ndarray, space: str,
                   noise: Optional[dict[str, torch.Tensor]] = None) -> list: ...

    def invert(self, images: Any, **options: Any) -> Result: ...

    def tuned_for(self, image: Any, pivot: torch.Tensor, space: str, *, steps: int = 200,
                  progress: Optional[ProgressCallback] = None,
                  noise: Optional[dict[str, torch.Tensor]] = None) -> "GanView": ...

    def mean_w(self) -> torch.Tensor: ...

    def typical_w_distance(self) -> float: ...

    def photo_distance(self) -> Optional[PhotoDistance]: ...
