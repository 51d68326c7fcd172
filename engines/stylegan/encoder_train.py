"""Train an `encoder.Encoder` for a trained StyleGAN2 (e4e-style): ``python -m engines train-encoder``.

Each step shows the encoder half a batch of the generator's own samples (whose w+ is known: style
mixing makes the layers differ, random noise makes the encoder ignore it) and half a batch of real
training photos (x-flipped at random). Loss per image:

    pixel L2(G(E(x)), x) + perceptual · D-feature distance + latent · MSE(E(x), w+)  [samples only]
    + offset_reg · mean(offsets²)                                       [keeps w+ near W, editable]

The generator and discriminator are frozen; gradients flow through G into the encoder. The backbone
starts from the model's discriminator blocks. Every snapshot writes ``latest/`` (the shippable encoder
folder, fp16), a resumable ``state.pt``, a figure of held-out photos beside their encodings and a
``log.jsonl`` line with their PSNR. Ship it by copying ``latest/`` to ``<model>/encoder/``.
"""
from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional

import torch

from .. import data as datasets
from .. import imaging
from ..base import LatentStudioError, pick_device
from ..evaluation.faithfulness import masked_pixel_losses, reconstruction
from ..training import load_optimizer, run_budgeted, save_atomic
from .checkpoints import load_gan
from .encoder import Encoder, load_encoder, save_encoder
from .losses import DiscriminatorFeatures
from .train_options import EncoderTrainConfig  # noqa: F401 (its old home)

STATE_NAME = "state.pt"


class EncoderTrainer:
    """Frozen G and D, a trainable encoder, Adam and counters; `step` is one update on one batch."""

    def __init__(self, config: EncoderTrainConfig, images: Optional[torch.Tensor] = None,
                 val_images: Optional[torch.Tensor] = None) -> None:
        self.cfg = cfg = config
        self.device = pick_device(cfg.device)
        self.out = Path(cfg.out)
        torch.manual_seed(cfg.seed)
        bundle = load_gan(cfg.model, device=self.device)
        if bundle.arch != "stylegan2" or bundle.D is None:
            raise LatentStudioError(f"{cfg.model}: an encoder needs a StyleGAN2 model with its discriminator.")
        self.bundle = bundle
        self.G = bundle.G.float().eval().requires_grad_(False)
        D = bundle.D.float().eval().requires_grad_(False)
        self.perceptual = DiscriminatorFeatures(D)
        res = self.G.img_resolution
        if images is None:
            images = datasets.load_split(cfg.data, res, cfg.val_fraction, "train")
        if val_images is None:
            val_images = datasets.load_split(cfg.data, res, cfg.val_fraction, "val")[:16]
        for x in (images, val_images):
            if x.dtype != torch.uint8 or tuple(x.shape[1:]) != (self.G.img_channels, res, res):
                raise LatentStudioError(f"Photos must be uint8 [N, {self.G.img_channels}, {res}, {res}].")
        self.images, self.val = images, datasets.to_float(val_images).to(self.device)
        resume = Path(cfg.resume) if cfg.resume else None
        if resume is not None and not (resume / STATE_NAME).is_file():
            # fine-tune an encoder folder, also one made for an earlier version of this generator: the
            # fingerprint is not checked, and the origin becomes this generator's mean w
            self.encoder = load_encoder(resume).train().requires_grad_(True)
            if getattr(self.G, "w_avg", None) is not None:
                self.encoder.w_avg.copy_(self.G.w_avg.detach().to(self.encoder.w_avg))
        else:
            self.encoder = Encoder.for_generator(self.G, D)
        self.encoder.to(self.device).train().requires_grad_(True)
        self.opt = torch.optim.Adam(self.encoder.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
        self.nimg, self.steps, self.elapsed = 0, 0, 0.0
        if resume is not None and (resume / STATE_NAME).is_file():
            self._load_state(resume / STATE_NAME)

    def _samples(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Generated images [n, C, R, R] with their w+ [n, num_ws, w_dim]."""
        with torch.no_grad():
            z = torch.randn([n, self.G.z_dim], device=self.device)
            ws = self.G.mapping(z)
            if torch.rand([]) < self.cfg.mixing:
                cutoff = int(torch.randint(1, ws.shape[1], ()))
                ws = torch.cat([ws[:, :cutoff], self.G.mapping(torch.randn_like(z))[:, cutoff:]], dim=1)
            return self.G.synthesis(ws, noise_mode="random"), ws

    def _photos(self, n: int) -> torch.Tensor:
        x = datasets.to_float(self.images[torch.randint(0, len(self.images), (n,))]).to(self.device)
        flip = torch.rand(n, 1, 1, 1, device=self.device) < 0.5
        return torch.where(flip, x.flip(3), x)

    def step(self) -> dict[str, float]:
        cfg, half = self.cfg, self.cfg.batch // 2
        fakes, ws = self._samples(half)
        x = torch.cat([fakes, self._photos(half)])
        base, offsets = self.encoder.parts(x)
        pred = self.encoder.w_avg + base.unsqueeze(1) + offsets
        img = self.G.synthesis(pred, noise_mode="const")
        l2 = masked_pixel_losses(img, x)[1]
        with torch.no_grad():
            x_feats = self.perceptual.features(x)
        perc = self.perceptual(img, x, None, x_feats)
        latent = (pred[:half] - ws).square().mean(dim=[1, 2])
        offset = offsets.square().mean(dim=[1, 2])
        loss = (l2 + cfg.perceptual * perc + cfg.offset_reg * offset).mean() + cfg.latent * latent.mean() / 2
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.nimg += cfg.batch
        self.steps += 1
        stats = {"loss": float(loss.detach()), "l2_fake": float(l2[:half].detach().mean()),
                 "l2_real": float(l2[half:].detach().mean()), "perceptual": float(perc.detach().mean()),
                 "latent": float(latent.detach().mean()), "offset": float(offset.detach().mean())}
        if not torch.isfinite(loss):
            raise LatentStudioError(f"Encoder training diverged at step {self.steps}: {stats}. Lower lr.")
        return stats

    @torch.no_grad()
    def held_out(self) -> tuple[float, Any]:
        """Mean PSNR of the held-out photos' encodings, and a figure: photos (top) over encodings (bottom)."""
        self.encoder.eval()
        img = self.G.synthesis(self.encoder(self.val), noise_mode="const")
        self.encoder.train()
        psnr = float(sum(reconstruction(img, self.val)["psnr"]) / len(self.val))
        grid = imaging.make_grid(imaging.to_pil(torch.cat([self.val[:8], img[:8]]).cpu()), nrow=8)
        return psnr, grid

    def training_info(self) -> dict[str, Any]:
        return {"images_seen": self.nimg, "steps": self.steps, "train_seconds": round(self.elapsed, 1),
                "train_images": len(self.images), "device": str(self.device),
                "hardware": torch.cuda.get_device_name(self.device) if self.device.type == "cuda"
                else f"CPU ({torch.get_num_threads()} threads)", "config": asdict(self.cfg)}

    def snapshot(self) -> Path:
        self.out.mkdir(parents=True, exist_ok=True)
        psnr, grid = self.held_out()
        grid.save(self.out / f"encoded_{self.nimg / 1000:08.1f}kimg.png")
        with open(self.out / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"kimg": round(self.nimg / 1000, 2), "held_out_psnr": round(psnr, 3)}) + "\n")
        save_atomic({"encoder": self.encoder.state_dict(), "opt": self.opt.state_dict(),
                     "counters": torch.tensor([self.nimg, self.steps], dtype=torch.int64),
                     "elapsed": torch.tensor(self.elapsed, dtype=torch.float64),
                     # the batches drawn next (samples, mixing, photos, flips): an exact resume draws the same ones
                     "rng": torch.get_rng_state(),
                     **({"cuda_rng": torch.cuda.get_rng_state(self.device)} if self.device.type == "cuda" else {})},
                    self.out / STATE_NAME)
        info = {**self.training_info(), "held_out_psnr_encoder_only": round(psnr, 3),
                "held_out_photos": len(self.val)}
        return save_encoder(self.out / "latest", self.encoder, fingerprint=self.bundle.fingerprint,
                            extra={"training": info})

    def _load_state(self, path: Path) -> None:
        state = torch.load(path, map_location=self.device, weights_only=True)  # tensors only, never code
        try:
            self.encoder.load_state_dict(state["encoder"])
        except RuntimeError as exc:
            raise LatentStudioError(f"{path} does not fit this model's encoder: {exc}") from exc
        load_optimizer(self.opt, state["opt"])
        self.nimg, self.steps = (int(v) for v in state["counters"])
        self.elapsed = float(state["elapsed"])
        if "rng" in state:  # states written before the RNG was saved resume with the current one
            torch.set_rng_state(state["rng"].cpu())
        if "cuda_rng" in state and self.device.type == "cuda":
            torch.cuda.set_rng_state(state["cuda_rng"].cpu(), self.device)

    def run(self, log_every: int = 20) -> dict[str, Any]:
        return run_budgeted(self, "train encoder", {"l2": "l2_real", "lat": "latent"}, log_every)


def train_encoder(config: EncoderTrainConfig, **kwargs: Any) -> dict[str, Any]:
    """Build an `EncoderTrainer` for ``config`` and run it; returns where the shippable encoder is."""
    return EncoderTrainer(config, **kwargs).run()
