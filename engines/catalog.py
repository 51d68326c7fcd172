"""Known models by name: public checkpoints users can ask for as ``ffhq`` or ``sd-turbo``.

Each name maps to the file or repository it is downloaded from (the official URL for NVIDIA's
StyleGAN2-ADA pickles, a Hugging Face Hub repo for diffusion models), with what a user wants to know
before a download of hundreds of megabytes or several gigabytes: resolution, approximate size,
licence, and for diffusion models the settings they are meant to run with (turbo models: no
classifier-free guidance and a handful of steps).

`engines.sources.resolve_source` turns a name into local files through the same caches as any URL or
hub id (torch.hub's checkpoint folder, huggingface_hub's cache). A local file or folder with the same
name as a known model wins: ``./ffhq`` on disk is used as it is, never replaced by a download.

Sizes are approximate (they are what the download shows, give or take a few percent).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

#: Where NVIDIA's StyleGAN2-ADA (PyTorch) pretrained pickles live.
NVIDIA_ADA = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/"
NVIDIA_LICENCE = "NVIDIA Source Code License-NC (non-commercial research use)"

#: Only the diffusers layout in fp32 safetensors: no single-file .ckpt/.safetensors copies, no fp16
#: or EMA variants (which would more than double the download).
DIFFUSERS_FILES = ("model_index.json", "*/*.json", "*/*.txt", "*/diffusion_pytorch_model.safetensors",
                   "*/model.safetensors")

#: What a turbo (adversarially distilled) model runs with when the user gives nothing.
TURBO_STEPS = 4
TURBO_GUIDANCE = 0.0

#: How catalogue kinds relate to the kinds `resolve_source` is asked for.
GAN_KINDS = ("stylegan2", "dcgan")


@dataclass(frozen=True)
class KnownModel:
    """One known model: ``source`` is an http(s) URL (GANs) or a Hub repo id (diffusion)."""
    name: str
    kind: str  # "gan" | "diffusion"
    source: str
    resolution: int
    size_mb: int
    title: str
    licence: str
    turbo: bool = False
    steps: Optional[int] = None  # recommended defaults (diffusion)
    guidance: Optional[float] = None
    files: tuple[str, ...] = ()  # Hub download patterns (diffusion)

    @property
    def size(self) -> str:
        """"about 364 MB" / "about 5.2 GB"."""
        return f"about {self.size_mb / 1000:.1f} GB" if self.size_mb >= 1000 else f"about {self.size_mb} MB"

    @property
    def is_url(self) -> bool:
        return self.source.startswith(("http://", "https://"))

    @property
    def filename(self) -> str:
        """The file a URL entry downloads (what to name a local copy)."""
        return self.source.rstrip("/").rsplit("/", 1)[-1] if self.is_url else ""

    def defaults(self) -> str:
        """"4 steps, guidance 0 (turbo)" — the settings used when the user gives none; "" for GANs."""
        if self.kind != "diffusion" or self.steps is None:
            return ""
        text = f"{self.steps} steps, guidance {self.guidance:g}"
        return text + " (turbo)" if self.turbo else text

    def summary(self) -> str:
        """One line: name, what it is, resolution, size (and defaults) — for --help and listings."""
        extra = f", defaults {self.defaults()}" if self.defaults() else ""
        return f"{self.name} ({self.title}, {self.resolution} px, {self.size}{extra})"

    def hub_download_command(self) -> str:
        """The `hf download` line that fetches the same files into DIR (diffusion entries)."""
        include = " ".join(f"--include '{p}'" for p in self.files)
        return f"hf download {self.source} {include} --local-dir DIR".replace("  ", " ")


def _gan(name: str, resolution: int, title: str) -> KnownModel:
    return KnownModel(name=name, kind="gan", source=f"{NVIDIA_ADA}{name}.pkl", resolution=resolution, size_mb=364,
                      title=title, licence=NVIDIA_LICENCE)


CATALOG: dict[str, KnownModel] = {m.name: m for m in (
    _gan("ffhq", 1024, "StyleGAN2-ADA, FFHQ faces"),
    _gan("afhqcat", 512, "StyleGAN2-ADA, AFHQ cats"),
    _gan("afhqdog", 512, "StyleGAN2-ADA, AFHQ dogs"),
    _gan("afhqwild", 512, "StyleGAN2-ADA, AFHQ wild animals"),
    _gan("metfaces", 1024, "StyleGAN2-ADA, MetFaces portraits (FFHQ fine-tuned)"),
    KnownModel(name="stable-diffusion-v1-5", kind="diffusion", source="stable-diffusion-v1-5/stable-diffusion-v1-5",
               resolution=512, size_mb=5500, title="Stable Diffusion v1.5, with its safety checker",
               licence="CreativeML OpenRAIL-M (see the model card)", steps=50, guidance=7.5,
               files=DIFFUSERS_FILES),
    KnownModel(name="sd-turbo", kind="diffusion", source="stabilityai/sd-turbo", resolution=512, size_mb=5200,
               title="SD-Turbo, distilled SD 2.1 for 1-4 steps",
               licence="Stability AI licence, non-commercial unless licensed (see the model card)", turbo=True,
               steps=TURBO_STEPS, guidance=TURBO_GUIDANCE, files=DIFFUSERS_FILES),
)}
# sdxl-turbo is not listed: it is an SDXL pipeline (two text encoders, size conditioning), which the
# Stable Diffusion backend (StableDiffusionImg2ImgPipeline, one CLIP text encoder) cannot run.


def lookup(name: object) -> Optional[KnownModel]:
    """The entry for ``name`` (case-insensitive, surrounding spaces ignored), or None."""
    return CATALOG.get(name.strip().lower()) if isinstance(name, str) else None


def known(kind: Optional[str] = None) -> list[KnownModel]:
    """Entries of one catalogue kind ("gan" / "diffusion", or a resolve kind such as "stylegan2"), or all."""
    wanted = catalog_kind(kind) if kind else None
    return [m for m in CATALOG.values() if wanted is None or m.kind == wanted]


def names(kind: Optional[str] = None) -> list[str]:
    return [m.name for m in known(kind)]


def catalog_kind(kind: str) -> str:
    """"gan" for the GAN kinds `resolve_source` knows ("stylegan2", "dcgan"), else the kind itself."""
    return "gan" if kind in GAN_KINDS or kind == "gan" else kind


_TURBO = re.compile(r"turbo", re.IGNORECASE)


def looks_turbo(*names: Optional[str]) -> bool:
    """True when a repo id or folder name says "turbo" (sd-turbo, a local copy named after it, …)."""
    for name in names:
        if name and _TURBO.search(Path(str(name).rstrip("/\\")).name or str(name)):
            return True
    return False


def table(kind: Optional[str] = None, *, cached: Optional[Callable[[KnownModel], bool]] = None) -> list[dict[str, str]]:
    """Rows (name, kind, resolution, size, defaults, source, licence) for listings, plus "cached" (yes / no)
    when a ``cached`` predicate is given (`sources.is_cached`: catalog is only the table)."""
    rows = []
    for m in known(kind):
        row = {"name": m.name, "kind": m.kind, "resolution": f"{m.resolution} px", "size": m.size,
               "defaults": m.defaults() or "-", "source": m.source, "licence": m.licence}
        if cached is not None:
            row["cached"] = "yes" if cached(m) else "no"
        rows.append(row)
    return rows
