"""Train our StyleGAN2 (or the DCGAN baseline) on a folder of images; fine-tune with ``resume``.

StyleGAN2 recipe at small scale: non-saturating logistic loss, lazy R1 on real images, style mixing,
an exponential moving average of G (what gets shipped), DiffAugment on everything D sees, bf16
autocast on CUDA. On accelerate (`engines.training.make_accelerator`): one process as always, or one per device
under ``accelerate launch`` / ``torchrun``, where every process draws the same global batch and works on its
share (whole minibatch-std groups), gradients are averaged (`average_gradients`, the GAN's D-then-G step in one
flat all-reduce each) and ``accumulate`` micro-batches make one step: a step is the single-process step on the
same global batch (DiffAugment's randomness and a DCGAN's BatchNorm statistics stay per process). A wall-clock budget (``minutes``) and/or an image budget (``kimg``) ends the run;
every snapshot writes a sample grid, a loss log line, a resumable ``state.pt`` and a shipping folder
``latest/`` (fp16 G_ema + D in our checkpoint format).
"""
from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import torch
import torch.nn.functional as F

from .. import data as datasets
from .. import imaging
from ..base import LatentStudioError
from ..training import AcceleratedTrainer, average_buffers, average_gradients, load_optimizer, run_budgeted, save_atomic
from .augment import diff_augment, parse_policy
from .checkpoints import NEW_RUN_DEFAULTS, build_discriminator, build_generator, load_gan, save_gan
from .train_options import ARCH_DEFAULTS, TrainConfig

STATE_NAME = "state.pt"
G_ONLY_KEYS = ("z_dim", "w_dim", "mapping_layers", "mapping_lr_multiplier", "w_avg_beta")


class GanTrainer(AcceleratedTrainer):
    """Holds G, D, G_ema, optimisers and counters; `step` is one D + one G update."""

    def __init__(self, config: TrainConfig, images: Optional[torch.Tensor] = None) -> None:
        super().__init__(config)
        cfg = config
        self.policy = parse_policy(cfg.augment)
        if images is None:
            images = datasets.load_split(cfg.data, cfg.resolution, cfg.val_fraction, "train")
        if images.dtype != torch.uint8 or images.ndim != 4 or images.shape[-1] != cfg.resolution:
            raise LatentStudioError(f"Training images must be uint8 [N, 3, {cfg.resolution}, {cfg.resolution}].")
        self.images = images
        self.G, self.D = self._build_networks()
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        betas = ARCH_DEFAULTS[cfg.arch]["betas"]
        ratio = cfg.r1_interval / (cfg.r1_interval + 1) if cfg.r1_gamma > 0 else 1.0
        self.opt_G = torch.optim.Adam(self.G.parameters(), lr=cfg.lr, betas=betas, eps=1e-8)
        self.opt_D = torch.optim.Adam(self.D.parameters(), lr=cfg.lr * ratio,
                                      betas=(betas[0] ** ratio, betas[1] ** ratio), eps=1e-8)
        self.grid_z = torch.randn([32, self.G.z_dim], generator=torch.Generator().manual_seed(cfg.seed + 123))
        if cfg.resume and (Path(cfg.resume) / STATE_NAME).is_file():
            self._load_state(Path(cfg.resume) / STATE_NAME)

    # ------------------------------------------------------------------ setup
    def _build_networks(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        cfg = self.cfg
        if cfg.resume and not (Path(cfg.resume) / STATE_NAME).is_file():
            bundle = load_gan(cfg.resume)  # fine-tune a shipped model: its G_ema becomes G
            if bundle.D is None:
                raise LatentStudioError(f"{cfg.resume} has no discriminator, so it cannot be fine-tuned.")
            if bundle.arch != cfg.arch:
                raise LatentStudioError(f"{cfg.resume} is a {bundle.arch} model but arch={cfg.arch!r}.")
            G, D = bundle.G.float(), bundle.D.float()
        else:
            kwargs = {**NEW_RUN_DEFAULTS[cfg.arch], "img_resolution": cfg.resolution, **cfg.model}
            G = build_generator(cfg.arch, kwargs)
            D = build_discriminator(cfg.arch, {k: v for k, v in kwargs.items() if k not in G_ONLY_KEYS})
        if G.img_resolution != cfg.resolution:
            raise LatentStudioError(f"The model makes {G.img_resolution}px images but resolution={cfg.resolution}.")
        return G.to(self.device).train().requires_grad_(True), D.to(self.device).train().requires_grad_(True)

    # ------------------------------------------------------------------ one step
    # Every process draws the whole global batch's randomness in the same order (as one process always did) and
    # takes its rows (`_rows`), so the split changes nothing but who computes what.
    def _draw_reals(self) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        idx = torch.randint(0, len(self.images), (self.cfg.batch,))
        flip = torch.rand(self.cfg.batch, 1, 1, 1, device=self.device) < 0.5 if self.cfg.xflip else None
        return idx, flip

    def _reals(self, draw: tuple[torch.Tensor, Optional[torch.Tensor]], rows: torch.Tensor) -> torch.Tensor:
        idx, flip = draw
        x = datasets.to_float(self.images[idx[rows]]).to(self.device)
        return torch.where(flip[rows.to(self.device)], x.flip(3), x) if flip is not None else x

    def _draw_latents(self) -> dict[str, Any]:
        """z, style mixing (cutoff, second z) and the noise maps of the whole batch, drawn in the order the
        generator itself would draw them."""
        n, G = self.cfg.batch, self.G
        draw: dict[str, Any] = {"z": torch.randn([n, G.z_dim], device=self.device)}
        if self.cfg.arch != "stylegan2":
            return draw
        if self.cfg.mixing > 0 and torch.rand([]) < self.cfg.mixing:
            draw["cutoff"] = int(torch.randint(1, G.num_ws, ()))
            draw["z2"] = torch.randn_like(draw["z"])
        draw["noise"] = {name: torch.randn([n, 1, layer.resolution, layer.resolution], device=self.device)
                         for name, layer in G.synthesis.noise_layers().items()}
        return draw

    def _generate(self, draw: dict[str, Any], rows: torch.Tensor) -> torch.Tensor:
        rows = rows.to(self.device)
        z = draw["z"][rows]
        if self.cfg.arch != "stylegan2":
            return self.G(z)
        ws = self.G.mapping(z, update_emas=True)
        if "cutoff" in draw:
            ws2 = self.G.mapping(draw["z2"][rows], update_emas=False)
            ws = torch.cat([ws[:, :draw["cutoff"]], ws2[:, draw["cutoff"]:]], dim=1)
        return self.G.synthesis(ws, noise_mode="random", noise={k: v[rows] for k, v in draw["noise"].items()})

    def _mbstd_group(self, n: int) -> int:
        """The discriminator's minibatch-std group size for a batch of ``n`` (0: it has no such layer)."""
        layer = getattr(getattr(self.D, "b4", None), "mbstd", None)
        if layer is None:
            return 0
        g = min(layer.group_size, n) if layer.group_size is not None else n
        while n % g:
            g -= 1
        return g

    def _rows(self, part: int) -> torch.Tensor:
        """Rows of the global batch that micro-batch ``part`` of this process works on (every row once over all
        processes and parts). The minibatch-std layer groups rows j, j + N/g, j + 2N/g, …; where whole groups fit
        in a part, each part gets whole groups, so no D output depends on the split."""
        parts, q, n, N = self.world * self.cfg.accumulate, self.rank * self.cfg.accumulate + part, self.micro, self.cfg.batch
        g = self._mbstd_group(N)
        if g and g == self._mbstd_group(n) and (N // g) % parts == 0:
            per = N // g // parts
            j = torch.arange(q * per, (q + 1) * per)
            return (j[None, :] + (N // g) * torch.arange(g)[:, None]).flatten()
        return torch.arange(q * n, (q + 1) * n)

    def _disc(self, img: torch.Tensor) -> torch.Tensor:
        return self.D(diff_augment(img, self.policy)).float()

    def _parts(self):
        """The micro-batch indices of one update. The tracked mean w is updated from each micro-batch starting
        from the same value and set to the mean of those updates: the update from the whole batch (it is affine
        in the batch mean), not one that moves ``accumulate`` times as fast."""
        w_avg = getattr(getattr(self.G, "mapping", None), "w_avg", None)
        if self.cfg.accumulate == 1 or not isinstance(w_avg, torch.Tensor):
            yield from range(self.cfg.accumulate)
            return
        start, updates = w_avg.clone(), []
        for part in range(self.cfg.accumulate):
            w_avg.copy_(start)
            yield part
            updates.append(w_avg.clone())
        w_avg.copy_(torch.stack(updates).mean(dim=0))

    def step(self) -> dict[str, float]:
        """One discriminator update (with lazy R1 every ``r1_interval`` steps) and one generator update, each over
        the global batch: ``accumulate`` micro-batches per process, gradients averaged over the processes."""
        cfg, acc = self.cfg, self.accelerator
        sums: dict[str, float] = {}

        def add(**values: torch.Tensor) -> None:
            for k, v in values.items():
                sums[k] = sums.get(k, 0.0) + float(v.detach()) / cfg.accumulate

        # D: push real logits up, fake logits down.
        self.D.requires_grad_(True)
        reals_draw, fakes_draw = self._draw_reals(), self._draw_latents()
        do_r1 = cfg.r1_gamma > 0 and self.steps % cfg.r1_interval == 0
        self.opt_D.zero_grad(set_to_none=True)
        for part in self._parts():
            rows = self._rows(part)
            reals = self._reals(reals_draw, rows).requires_grad_(do_r1)
            with acc.autocast():
                with torch.no_grad():
                    fakes = self._generate(fakes_draw, rows)
                logits_fake = self._disc(fakes)
                logits_real = self._disc(reals)
            loss_D = F.softplus(logits_fake).mean() + F.softplus(-logits_real).mean()
            if do_r1:
                grad, = torch.autograd.grad(logits_real.sum(), reals, create_graph=True)
                r1 = grad.square().sum(dim=[1, 2, 3]).mean()
                loss_D = loss_D + r1 * (cfg.r1_gamma / 2) * cfg.r1_interval
                add(r1=r1)
            acc.backward(loss_D / cfg.accumulate)
            add(loss_D=loss_D, real=logits_real.mean(), fake=logits_fake.mean())
        average_gradients(acc, [p for p in self.D.parameters() if p.requires_grad])
        self.opt_D.step()
        # G: non-saturating loss through a frozen D.
        self.D.requires_grad_(False)
        g_draw = self._draw_latents()
        self.opt_G.zero_grad(set_to_none=True)
        for part in self._parts():
            with acc.autocast():
                logits = self._disc(self._generate(g_draw, self._rows(part)))
            loss_G = F.softplus(-logits).mean()
            acc.backward(loss_G / cfg.accumulate)
            add(loss_G=loss_G)
        average_gradients(acc, [p for p in self.G.parameters() if p.requires_grad])
        self.opt_G.step()
        average_buffers(acc, self.G)  # the tracked mean w, from the whole batch
        self.nimg += cfg.batch
        self.steps += 1
        self._update_ema()
        stats = {k: sums[k] for k in ("r1", "loss_D", "loss_G", "real", "fake") if k in sums}
        if not all(math.isfinite(v) for v in stats.values()):
            raise LatentStudioError(f"Training diverged at step {self.steps}: {stats}. Lower lr or raise r1_gamma.")
        return stats

    @torch.no_grad()
    def _update_ema(self) -> None:
        ema_nimg = self.cfg.ema_kimg * 1000 * self.cfg.batch / 32
        if self.cfg.ema_rampup:
            ema_nimg = min(ema_nimg, self.nimg * self.cfg.ema_rampup)
        beta = 0.5 ** (self.cfg.batch / max(ema_nimg, 1e-8))
        for p_ema, p in zip(self.G_ema.parameters(), self.G.parameters()):
            p_ema.copy_(p.detach().lerp(p_ema, beta))
        for b_ema, b in zip(self.G_ema.buffers(), self.G.buffers()):
            b_ema.copy_(b)

    # ------------------------------------------------------------------ outputs
    @torch.no_grad()
    def sample_grid(self, psi: float = 1.0):
        z = self.grid_z.to(self.device)
        img = self.G_ema(z, truncation_psi=psi, noise_mode="const")
        return imaging.make_grid(imaging.to_pil(img.float().cpu()), nrow=8)

    def training_info(self) -> dict[str, Any]:
        return {"images_seen": self.nimg, "steps": self.steps, "train_seconds": round(self.elapsed, 1),
                "train_images": len(self.images), "device": str(self.device), "processes": self.world,
                "mixed_precision": self.accelerator.mixed_precision,
                "hardware": torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                else f"CPU ({torch.get_num_threads()} threads)",
                "config": {k: v for k, v in asdict(self.cfg).items() if k not in ("device",)}}

    def log(self, line: dict[str, Any]) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        with open(self.out / "log.jsonl", "a") as fh:
            fh.write(json.dumps(line) + "\n")

    def snapshot(self) -> Path:
        """Sample grid + resumable state + fp16 shipping folder; returns the shipping folder."""
        self.out.mkdir(parents=True, exist_ok=True)
        self.sample_grid().save(self.out / f"grid_{self.nimg / 1000:08.1f}kimg.png")
        state = {"G": self.G.state_dict(), "D": self.D.state_dict(), "G_ema": self.G_ema.state_dict(),
                 "opt_G": self.opt_G.state_dict(), "opt_D": self.opt_D.state_dict(),
                 "counters": torch.tensor([self.nimg, self.steps], dtype=torch.int64),
                 "elapsed": torch.tensor(self.elapsed, dtype=torch.float64)}
        save_atomic(state, self.out / STATE_NAME)
        return save_gan(self.out / "latest", self.G_ema, self.D, fp16=True, extra={"training": self.training_info()})

    def _load_state(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)  # tensors only, never code
        try:
            self.G.load_state_dict(state["G"])
            self.D.load_state_dict(state["D"])
            self.G_ema.load_state_dict(state["G_ema"])
        except RuntimeError as exc:
            raise LatentStudioError(f"{path} does not fit the configured architecture: {exc}") from exc
        load_optimizer(self.opt_G, state["opt_G"])
        load_optimizer(self.opt_D, state["opt_D"])
        self.nimg, self.steps = (int(v) for v in state["counters"])
        self.elapsed = float(state["elapsed"])

    # ------------------------------------------------------------------ the loop
    def run(self, log_every: int = 20) -> dict[str, Any]:
        """Train until the budget is spent (or Ctrl-C), snapshotting every ``snapshot_minutes``."""
        return run_budgeted(self, f"train {self.cfg.arch}", {"D": "loss_D", "G": "loss_G"}, log_every)


def train(config: TrainConfig) -> dict[str, Any]:
    """Build a trainer for ``config`` and run it; returns where the shippable weights are."""
    return GanTrainer(config).run()
