"""Load and save GAN checkpoints: our format, official StyleGAN2-ADA pickles, rosinality ``.pt``.

Our format is a folder holding ``config.json`` (architecture + constructor arguments) and
``model.safetensors`` (``G_ema.*`` and optionally ``D.*`` tensors, fp16 allowed) plus an optional
``README.md`` model card and ``directions/``. A single ``.safetensors`` file with the config in its
metadata also works. Nothing here executes code from a file: safetensors holds only tensors, pickles
go through `official_pkl.RestrictedUnpickler`, ``.pt`` through ``torch.load(weights_only=True)``.
"""
from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from ..base import LatentStudioError
from ..sources import default_path, resolve_source
from .dcgan import DCGANConfig, DCGANDiscriminator, DCGANGenerator
from .discriminator import DiscriminatorConfig, StyleGAN2Discriminator
from .networks import StyleGAN2Config, StyleGAN2Generator
from .official_pkl import read_official_pkl
from .rosinality import read_rosinality_pt

FORMAT = "latent-studio-gan"
CONFIG_NAME, WEIGHTS_NAME, CARD_NAME = "config.json", "model.safetensors", "README.md"

#: The architecture of a new training run (what our shipped 64 px models use; ``--model-json`` overrides).
NEW_RUN_DEFAULTS: dict[str, dict[str, Any]] = {
    "stylegan2": dict(img_resolution=64, z_dim=128, w_dim=128, channel_base=2048, channel_max=128, mapping_layers=4),
    "dcgan": dict(img_resolution=64, z_dim=100, base_channels=64),
}


@dataclass
class GanBundle:
    """A loaded GAN: generator (eval mode), optional discriminator, and where it came from."""
    G: nn.Module
    D: Optional[nn.Module]
    arch: str
    source: str
    card: str = ""
    folder: Optional[Path] = None
    config: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._fingerprint: Optional[str] = None  # `fingerprint`, computed once

    @property
    def fingerprint(self) -> str:
        """Short hash of the architecture, its config and the generator's weights, stored with latents and
        directions: a latent of one model is refused by another, even of the same shape (computed once)."""
        if self._fingerprint is None:
            digest = hashlib.sha256(json.dumps({"arch": self.arch, "G": self.config.get("generator")},
                                               sort_keys=True, default=str).encode())
            for name, tensor in sorted(self.G.state_dict().items()):
                if name.endswith("resample_filter"):  # fixed FIR taps, not learnt
                    continue
                digest.update(name.encode())
                digest.update(tensor.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
            self._fingerprint = digest.hexdigest()[:12]
        return self._fingerprint


def build_generator(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    try:
        if arch == "stylegan2":
            return StyleGAN2Generator(StyleGAN2Config(**kwargs))
        if arch == "dcgan":
            return DCGANGenerator(DCGANConfig(**kwargs))
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise LatentStudioError(f"Invalid {arch} generator config: {exc}") from exc
    raise LatentStudioError(f"Unknown GAN architecture {arch!r}: expected 'stylegan2' or 'dcgan'.")


def build_discriminator(arch: str, kwargs: dict[str, Any]) -> nn.Module:
    try:
        if arch == "stylegan2":
            return StyleGAN2Discriminator(DiscriminatorConfig(**kwargs))
        return DCGANDiscriminator(DCGANConfig(**kwargs))
    except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
        raise LatentStudioError(f"Invalid {arch} discriminator config: {exc}") from exc


def _check_fits(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Refuse ``state`` unless it has exactly ``module``'s tensors (fixed FIR filters may be absent) and shapes."""
    own = module.state_dict()
    missing = [k for k in own if k not in state and not k.endswith("resample_filter")]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        raise LatentStudioError(f"The {what} weights do not fit the architecture in the config: "
                                f"missing {missing[:4]}{'…' if len(missing) > 4 else ''}, "
                                f"unexpected {unexpected[:4]}{'…' if len(unexpected) > 4 else ''}.")
    for k, v in state.items():
        if tuple(v.shape) != tuple(own[k].shape):
            raise LatentStudioError(f"The {what} weight {k} has shape {list(v.shape)}, the config expects {list(own[k].shape)}.")


#: Configs whose weights are bounded by this many numbers (800 MB in float32; NVIDIA's 1024 px config-f generator
#: has 30 M) are built directly: the meta pass costs every load 1.1 s (its Python meta kernels import torch._dynamo).
DIRECT_BUILD_WEIGHTS = 2e8


def weights_bound(arch: str, what: str, kwargs: dict[str, Any]) -> float:
    """An upper bound on the number of weights the config ``kwargs`` asks for (inf when it cannot be read), from its
    size fields alone: channels never exceed ``channel_max`` (DCGAN: base × 2^(scales)), at most 9 resolutions."""
    try:
        get = lambda key, default: float(kwargs.get(key, default))  # noqa: E731
        res = get("img_resolution", 64)
        scales = max(1.0, math.log2(res)) if res > 0 else float("inf")
        if arch == "stylegan2":
            cm, c = get("channel_max", 512), get("c_dim", 0)
            if what == "generator":
                z, w, layers = get("z_dim", 512), get("w_dim", 512), get("mapping_layers", 8)
                return layers * (z + c + w) ** 2 + scales * (27 * cm ** 2 + 4 * w * cm + 4 * cm)
            return scales * 30 * cm ** 2 + (get("mbstd_num_channels", 1) + 16) * 9 * cm ** 2 + 8 * (c + cm) ** 2
        if arch == "dcgan":
            top = get("base_channels", 64) * 2 ** max(1.0, scales - 2)  # the coarsest scale's channels, rounded up
            return scales * 16 * top ** 2 + 16 * (get("z_dim", 100) + 4) * top
    except (TypeError, ValueError, OverflowError):
        pass
    return float("inf")


def _build_loaded(build: Any, arch: str, kwargs: Any, state: dict[str, torch.Tensor], what: str) -> nn.Module:
    """The network of ``kwargs`` holding ``state``, checked on the meta device first.

    Configs come from the checkpoint, so they are untrusted: a few bytes of JSON asking for
    ``channel_max: 10**6`` would otherwise allocate terabytes before the weights are even compared.
    A config whose size fields bound it under `DIRECT_BUILD_WEIGHTS` is built directly; any other is built on
    "meta" first (no memory), and only one whose every tensor is in the file (so no bigger than the file) is then
    built for real.
    """
    if not isinstance(kwargs, dict):
        raise LatentStudioError(f"Invalid {arch} {what} config: expected a JSON object, got {type(kwargs).__name__}.")
    if weights_bound(arch, what, kwargs) > DIRECT_BUILD_WEIGHTS:
        with torch.device("meta"):
            shapes = build(arch, kwargs)
        _check_fits(shapes, state, what)
    module = build(arch, kwargs)
    _load_into(module, state, what)
    return module


def _load_into(module: nn.Module, state: dict[str, torch.Tensor], what: str) -> None:
    """Strictly load ``state`` (any float dtype) into ``module``; fixed FIR filters may be absent."""
    _check_fits(module, state, what)
    own = module.state_dict()
    with torch.no_grad():
        for k, v in own.items():
            if k in state:
                v.copy_(state[k].to(v.dtype))


def assemble(arch: str, g: tuple[dict, dict], d: Optional[tuple[dict, dict]], source: str, *,
             optional_d: bool = False, **extra: Any) -> GanBundle:
    """Networks from (config, state dict) pairs, in eval mode with gradients off.

    ``optional_d``: a discriminator that does not fit is dropped (noted in the card) instead of failing
    the load; third-party files carry discriminators we only use for the offline perceptual loss.
    """
    G = _build_loaded(build_generator, arch, g[0], g[1], "generator")
    D = None
    if d is not None:
        try:
            D = _build_loaded(build_discriminator, arch, d[0], d[1], "discriminator")
        except LatentStudioError as exc:
            if not optional_d:
                raise
            extra["card"] = (extra.get("card") or "") + f"\n\nDiscriminator not loaded: {exc}"
            d = None
    for net in (G, D):
        if net is not None:
            net.eval().requires_grad_(False)
    config = {"arch": arch, "generator": g[0], "discriminator": d[0] if d else None}
    return GanBundle(G=G, D=D, arch=arch, source=source, config=config, **extra)


# ----------------------------------------------------------------------------------------------
# Our format

def save_gan(folder: str | Path, G: nn.Module, D: Optional[nn.Module] = None, *, fp16: bool = True,
             card: Optional[str] = None, extra: Optional[dict[str, Any]] = None) -> Path:
    """Write ``config.json`` + ``model.safetensors`` (+ model card) into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    arch = G.arch
    config = {"format": FORMAT, "version": 1, "arch": arch, "generator": G.config.as_dict(),
              "discriminator": D.config.as_dict() if D is not None else None, **(extra or {})}
    tensors = {}
    for prefix, net in (("G_ema.", G), ("D.", D)):
        if net is None:
            continue
        for k, v in net.state_dict().items():
            if k.endswith("resample_filter"):
                continue
            v = v.detach().cpu()
            if fp16 and v.is_floating_point() and not k.endswith("num_batches_tracked"):
                v = v.half()
            tensors[prefix + k] = v.contiguous()
    (folder / CONFIG_NAME).write_text(json.dumps(config, indent=2))
    save_file(tensors, str(folder / WEIGHTS_NAME), metadata={"config": json.dumps(config)})
    if card is not None:
        (folder / CARD_NAME).write_text(card)
    return folder


def _read_config(text: str, where: str) -> dict[str, Any]:
    try:
        config = json.loads(text)
    except json.JSONDecodeError as exc:
        raise LatentStudioError(f"{where} is not valid JSON: {exc}") from exc
    if not isinstance(config, dict) or config.get("format") != FORMAT or "generator" not in config:
        raise LatentStudioError(f"{where} is not a Latent Studio GAN config (format {FORMAT!r}).")
    return config


def read_ours(path: Path) -> tuple[dict[str, Any], dict[str, torch.Tensor], Optional[Path], str]:
    """Config, tensors, folder and model card of our format (a folder or one .safetensors file)."""
    folder = path if path.is_dir() else None
    weights = path / WEIGHTS_NAME if folder else path
    if folder is not None and not weights.is_file():
        raise LatentStudioError(f"{path} has no {WEIGHTS_NAME} (expected {CONFIG_NAME} + {WEIGHTS_NAME}).")
    try:
        tensors = load_file(str(weights))
        with safe_open(str(weights), framework="pt") as f:
            meta = f.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise LatentStudioError(f"{weights.name} is not a readable safetensors file ({exc}).") from exc
    if folder is not None and (folder / CONFIG_NAME).is_file():
        config = _read_config(_read_text(folder / CONFIG_NAME), str(folder / CONFIG_NAME))
    elif "config" in meta:
        config = _read_config(meta["config"], f"the metadata of {weights.name}")
    else:
        raise LatentStudioError(f"{path} has no {CONFIG_NAME} and no config in its safetensors metadata.")
    card = ""
    if folder is not None and (folder / CARD_NAME).is_file():
        try:  # the card is only shown to the user: a broken one must not stop the model from loading
            card = (folder / CARD_NAME).read_text(encoding="utf-8", errors="replace")
        except OSError:
            card = ""
    return config, tensors, folder, card


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LatentStudioError(f"{str(path)!r} is not a readable UTF-8 text file ({type(exc).__name__}).") from exc


def load_gan(source: str = "default", *, arch: str = "stylegan2", device: torch.device | str = "cpu") -> GanBundle:
    """Load a GAN from any source (see `engines.sources`); ``arch`` only picks what "default" means."""
    if source == "default" and not (default_path(arch) / WEIGHTS_NAME).is_file():
        raise LatentStudioError(f"The default {arch} weights are missing from {default_path(arch)} (a checkout without "
                                "weights/?): restore them with git, or pass another --model.")
    resolved = resolve_source(source, kind=arch)
    path = resolved.path
    if path is None:
        raise LatentStudioError(f"Model source {source!r} could not be resolved to a file.")
    if path.is_dir() or path.suffix == ".safetensors":
        config, tensors, folder, card = read_ours(path)
        g_state = {k[len("G_ema."):]: v for k, v in tensors.items() if k.startswith("G_ema.")}
        d_state = {k[len("D."):]: v for k, v in tensors.items() if k.startswith("D.")}
        d = (config["discriminator"], d_state) if config.get("discriminator") and d_state else None
        bundle = assemble(config.get("arch", "stylegan2"), (config["generator"], g_state), d, source,
                          card=card, folder=folder)
    elif path.suffix == ".pkl":
        nets = read_official_pkl(path)
        bundle = assemble("stylegan2", nets["G"], nets["D"], source, optional_d=True)
    elif path.suffix in (".pt", ".pth"):
        nets = read_rosinality_pt(path)
        bundle = assemble("stylegan2", nets["G"], None, source)
    else:
        raise LatentStudioError(f"Don't know how to read {path.name}: expected a folder in our format, "
                                ".safetensors, an official StyleGAN2-ADA .pkl or a rosinality .pt.")
    return _to(bundle, device)


def _to(bundle: GanBundle, device: torch.device | str) -> GanBundle:
    bundle.G.to(device)
    if bundle.D is not None:
        bundle.D.to(device)
    return bundle
