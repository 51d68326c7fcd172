"""The GAN engine's options with their limits: `ProjectionConfig` (inversion and scribbles), `DragConfig` (drag to
edit) and the scribble defaults, in plain Python (no torch), so the CLI's flags, their --help and argument errors
and the app's controls take their ranges from here before torch is loaded (`engines.options`; `bench.startup`).
The algorithms import them from here (`projector`, `drag`), and their old names there keep working."""
from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Optional

from ..base import LatentStudioError
from ..options import Options, option

OPTIMIZERS = ("adam", "lbfgs")
INITS = ("mean", "random", "encoder")
#: The perceptual networks a projection may use (`losses.make_perceptual`).
PERCEPTUAL_CHOICES = ("disc", "vgg16", "lpips", "none")


@dataclass
class ProjectionConfig(Options):
    """Every knob of a projection, each with its limits (checked once, by `validate`; the CLI's flags and the
    app's controls take their ranges and defaults from here); stored in `Result.options` to repeat a run."""
    space: str = option("w+", "Latent space", "z (through the mapping), w (one code) or w+ (one code per layer; "
                        "DCGAN: z only)", choices=("z", "w", "w+"))
    optimizer: str = option("adam", "Optimizer", "Adam with the StyleGAN2 lr ramp, or L-BFGS with a strong-Wolfe "
                            "line search", choices=OPTIMIZERS)
    steps: int = option(300, "Steps", "optimisation steps per restart", min=1, max=5000, integer=True)
    lr: Optional[float] = option(None, "Learning rate", "step size", min=1e-6, max=100.0,
                                 default_text="0.1 for Adam, 1.0 for L-BFGS")
    init: str = option("mean", "Start", "start from the mean latent, a random one (z has no mean start for "
                       "StyleGAN2: it starts random) or the model's encoder (w / w+; one forward pass)",
                       choices=INITS)
    l1: float = option(0.0, "Pixel L1 weight", "weight of the L1 pixel term", min=0.0, max=1e4)
    l2: float = option(1.0, "Pixel L2 weight", "weight of the L2 pixel term", min=0.0, max=1e4)
    perceptual: str = option("disc", "Perceptual network", "disc (our discriminator's features, offline), vgg16 "
                             "(torchvision weights), lpips, none", choices=PERCEPTUAL_CHOICES)
    perceptual_weight: float = option(0.1, "Perceptual weight", "weight of the perceptual term", min=0.0, max=1e4)
    reg: float = option(0.0, "Latent regulariser", "weight of mean((latent − anchor)²)", min=0.0, max=1e4)
    reg_to: str = option("init", "Regulariser anchor", "the start point or the mean latent", choices=("init", "mean"))
    follow_lines: float = option(1.0, "Follow the lines", "how closely the pixels are followed: 0 compares only the "
                                 "16×16 colour layout under the mask (a drawing becomes a photo-like cat with its "
                                 "colours and eyes where they were drawn), 1 every pixel (inversion; a scribble's "
                                 "lines and flat fills are painted as drawn); between, 32×32 at 0.5 on a 64 px model",
                                 min=0.0, max=1.0)
    coarse_to_fine: float = option(0.0, "Coarse-to-fine", "share of the steps over which the comparison sharpens "
                                   "from 8×8 to the resolution `follow_lines` sets (0: that resolution from the start)",
                                   min=0.0, max=0.9)
    optimize_noise: bool = False  # also fit the per-image noise maps (StyleGAN2); `GanEngine.invert` turns it on
    noise_reg: float = option(5.0, "Noise regulariser", "weight of StyleGAN2's noise autocorrelation penalty: "
                              "lower fits more detail into the noise maps (bench.encoder: 5 gives 28.7 dB in 100 steps "
                              "on held-out photos, 10 gives 26.4; NVIDIA's 1e5 leaves them unchanged at 64 px)",
                              min=0.0, max=1e9)
    restarts: int = option(1, "Restarts", "independent runs, each with its own seed (`restart_seed`); each image keeps "
                           "its best",
                           min=1, max=20, integer=True)
    frames: int = option(12, "Preview frames", "intermediate previews kept for progress and GIFs", min=0, max=500,
                         integer=True)

    def validate(self, spaces: tuple[str, ...]) -> "ProjectionConfig":
        """A checked copy: every limit, plus the rules across fields and the model's own spaces."""
        cfg = self.check()
        if cfg.space not in spaces:
            raise LatentStudioError(f"This model has no {cfg.space!r} space; it supports {', '.join(spaces)}.")
        if cfg.init == "encoder" and cfg.space == "z":
            raise LatentStudioError("The encoder start gives w or w+ latents: use space w or w+ with init 'encoder'.")
        if cfg.l1 == cfg.l2 == cfg.reg == 0 and (cfg.perceptual == "none" or cfg.perceptual_weight == 0):
            raise LatentStudioError("Every loss weight is 0: set at least one of l1, l2, perceptual_weight.")
        return cfg

    @classmethod
    def from_options(cls, **options: Any) -> "ProjectionConfig":
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - names)
        if unknown:
            raise LatentStudioError(f"Unknown projection option(s) {unknown}; known: {sorted(names)}.")
        return cls(**options)


@dataclass
class DragConfig(Options):
    """Every knob of a drag, each with its limits (checked once; the CLI's flags and the app's controls take their
    ranges from here)."""
    steps: int = option(100, "Steps", "most optimisation steps (it stops earlier once every handle has arrived)",
                        min=1, max=2000, integer=True)
    lr: float = option(0.01, "Learning rate", "Adam's step size on the optimised w+ rows", min=1e-5, max=1.0)
    rows: Optional[int] = option(None, "Optimised rows", "how many of the first w+ rows move (more rows change finer "
                                 "detail too)", min=0, max=64, integer=True,
                                 default_text="a third of them, as DragGAN's 6 of 18: 4 of 10 at 64 px")
    r1: Optional[float] = option(None, "Supervision radius", "pixels around each handle pushed toward its target",
                                 min=0.5, max=64.0, default_text="3 at 512 px, at least 3")
    r2: Optional[int] = option(None, "Tracking radius", "pixels around each handle searched for it after a step",
                               min=1, max=128, integer=True, default_text="12 at 512 px, at least 6")
    mask_weight: float = option(10.0, "Mask weight", "how firmly the region outside the mask keeps its features",
                                min=0.0, max=1e4)
    stop_distance: float = option(1.0, "Stop distance", "stop once every handle is this close to its target (pixels)",
                                  min=0.0, max=64.0)
    frames: int = option(12, "Preview frames", "intermediate images kept for progress and the GIF", min=0, max=500,
                         integer=True)
    feature_edit: str = option("local", "Feature edit", "also optimise an edit of one synthesis block's output: a "
                               "smooth displacement field (warp), one displacement bump per handle (local) or an "
                               "additive offset, so later blocks re-render the moved content (`drag_features`)",
                               choices=("none", "warp", "offset", "local"))
    feature_res: int = option(32, "Feature edit block", "the block (resolution) whose output is edited", min=4,
                              max=1024, integer=True)
    feature_lr: float = option(0.1, "Feature edit learning rate", "Adam's step size on the edit (image pixels for a "
                               "warp)", min=1e-5, max=100.0)
    feature_sigma: float = option(10.0, "Feature edit smoothness", "Gaussian blur of the edit (for local: the "
                                  "bumps' σ), in image pixels", min=0.0, max=256.0)
    feature_reg: float = option(0.0, "Feature edit regulariser", "weight of the edit's mean square", min=0.0, max=1e4)

    @classmethod
    def from_options(cls, **options: Any) -> "DragConfig":
        """From keyword options, naming any unknown one (values are checked by `check`)."""
        known = set(cls.limits())
        unknown = sorted(set(options) - known)
        if unknown:
            raise LatentStudioError(f"Unknown drag option(s) {unknown}; known: {sorted(known)}.")
        return cls(**options)

    def radii(self, resolution: int) -> tuple[float, int]:
        """(r1, r2) in pixels at ``resolution``: the given ones, else DragGAN's 3 and 12 at 512 px, scaled, at least 3
        and 6 (at 64 px: a 3 px disc moved the content further and kept the face more often than 2 px, `bench.drag`)."""
        r1 = self.r1 if self.r1 is not None else max(3.0, 3.0 * resolution / 512)
        r2 = self.r2 if self.r2 is not None else max(6, round(12 * resolution / 512))
        return float(r1), int(r2)


#: Scribble projection's defaults (over `ProjectionConfig`'s), from `bench.scribble_study` on 13 sketches and 6 simple
#: canvas drawings × 2 seeds: the strokes are compared as a 16×16 colour layout (``follow_lines`` 0: a person means
#: "a cat with this layout", not their flat fills and outlines pixel for pixel), w+ with a firm pull toward the mean w
#: (reg 1.0: the detector finds a cat face in 95 % of results against 74 % at 0.1 and 55 % at 0.03, where the w+ code
#: paints the drawing's dots and fills; the layout L2 stays 0.009, goal ≤ 0.02), 3 restarts of 150 steps from random
#: starts (different seeds give different cats), the one most like a cat face kept (`inversion.restart_score`); no
#: perceptual term (a sketch is not a photo). The noise maps are fitted only when the lines are followed closely
#: (`SCRIBBLE_NOISE_FROM`), with a noise regulariser 40× the inversion's.
SCRIBBLE_DEFAULTS = {"perceptual": "none", "perceptual_weight": 0.0, "reg": 1.0, "reg_to": "mean", "restarts": 3,
                     "steps": 100, "init": "random", "noise_reg": 200.0, "follow_lines": 0.0}
#: A scribble fits StyleGAN2's noise maps (fine detail) by default only from this ``follow_lines`` on.
SCRIBBLE_NOISE_FROM = 0.75


@dataclass
class PhotoOptions(Options):
    """How a photo is made ready for the GAN beyond its inversion: one limit for pivotal tuning wherever it is offered
    (Invert and Edit tabs, ``--pti`` of invert / edit / drag / interpolate, the engine's ``pti_steps``)."""
    pti_steps: int = option(0, "PTI steps", "pivotal tuning: then tune a copy of the generator to the photo for this "
                            "many steps (about 200 for fine detail, ~10 s on a CPU; 0 = off)", min=0, max=2000,
                            integer=True, step=10)


@dataclass
class EditOptions(Options):
    """How far an edit goes: one range for the engine's strengths (each of them, ±), the CLI's ``--strength`` and the
    Edit tab's slider."""
    strength: float = option(3.0, "Strength", "largest strength s: the strip spans −s..s, in multiples of the "
                             "direction's unit step (GANSpace: standard deviations; named directions have their own "
                             "default)", min=0.0, max=50.0, step=0.5)
