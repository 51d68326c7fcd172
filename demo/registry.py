"""Which models the app has loaded: GANs by label (loaded on first use) and the diffusion engine.

Plain Python, no Gradio: tabs ask it for an engine by the label a dropdown shows, and the Models tab
adds sources to it. Loading is serialised by a lock so two sessions asking for the same model load
it once. Models are shared by all sessions of the app (one copy in memory).
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable, Optional

from engines.base import LatentStudioError
from engines.diffusion.engine import DiffusionEngine
from engines.sources import default_path
from engines.stylegan.engine import GanEngine

DEFAULT_GAN = "StyleGAN2 · cats (default)"


def default_gan_loaders(device: str) -> dict[str, Callable[[], GanEngine]]:
    """The GANs shipped in weights/, each loaded only when first chosen."""
    loaders: dict[str, Callable[[], GanEngine]] = {
        DEFAULT_GAN: lambda: GanEngine("default", device=device),
        "DCGAN · cats": lambda: GanEngine("default", arch="dcgan", device=device),
    }
    grumpy = default_path("stylegan2").parent / "stylegan2-grumpy64"
    if (grumpy / "config.json").is_file():
        loaders["StyleGAN2 · grumpy cat"] = lambda: GanEngine(str(grumpy), device=device)
    return loaders


def default_gan_folders() -> dict[str, Path]:
    """Where the shipped GANs live (so loading one of those folders by path picks the entry that is there)."""
    folders = {DEFAULT_GAN: default_path("stylegan2"), "DCGAN · cats": default_path("dcgan"),
               "StyleGAN2 · grumpy cat": default_path("stylegan2").parent / "stylegan2-grumpy64"}
    return {label: Path(p).resolve() for label, p in folders.items()}


class Registry:
    """GAN engines by label and one diffusion engine; ``device`` is what new loads use."""

    def __init__(self, gan: Optional[GanEngine] = None, diffusion: Optional[DiffusionEngine] = None, *,
                 device: str = "auto", gan_label: str = DEFAULT_GAN, diffusion_source: str = "default") -> None:
        self.device = device
        self._loaders = default_gan_loaders(device)
        self._gans: dict[str, GanEngine] = {}
        if gan is not None:
            if gan_label not in self._loaders:
                self._loaders = {gan_label: lambda: gan, **self._loaders}
            self._gans[gan_label] = gan
        self._diffusion = diffusion
        self._diffusion_source = diffusion_source
        self._lock = threading.Lock()
        self.first_gan = gan_label if gan is not None else DEFAULT_GAN

    # ------------------------------------------------------------------ GANs
    def gan_labels(self) -> list[str]:
        return list(self._loaders)

    def gan(self, label: Optional[str] = None, class_label: Optional[str] = None) -> GanEngine:
        """The engine behind ``label`` ready to run: for a class-conditional model, fixed to ``class_label``
        (a clear error when there is none; see `GanEngine.for_class`)."""
        engine = self.model(label)
        return engine.for_class(class_label) if engine.num_classes else engine

    def model(self, label: Optional[str] = None) -> GanEngine:
        """The engine behind ``label`` (the first GAN when None) as loaded, loading it on first use."""
        label = label or self.first_gan
        if label not in self._loaders:
            raise LatentStudioError(f"Unknown model {label!r}: choose one of {', '.join(self._loaders)} "
                                    "(or load another in the Models tab).")
        with self._lock:
            if label not in self._gans:
                self._gans[label] = self._loaders[label]()
            return self._gans[label]

    def loaded_gans(self) -> dict[str, GanEngine]:
        with self._lock:
            return dict(self._gans)

    def add_gan(self, source: str, arch: str = "stylegan2") -> str:
        """Load a GAN from ``source`` now (errors surface here) and return its label."""
        source = (source or "").strip()
        if not source:
            raise LatentStudioError("Give a model source: a local path, hf:org/repo[:file] or an URL.")
        local = Path(source).expanduser()
        if local.exists():  # one of the shipped models, by its folder: the entry that is already there
            shipped = {path: label for label, path in default_gan_folders().items() if label in self._loaders}
            for candidate in (local.resolve(), local.resolve().parent):
                if candidate in shipped and (candidate == local.resolve() or local.suffix == ".safetensors"):
                    label = shipped[candidate]
                    self.model(label)
                    return label
        engine = GanEngine(source, arch=arch, device=self.device)
        with self._lock:
            for label, loaded in self._gans.items():  # the same weights loaded twice: one entry
                if loaded.fingerprint == engine.fingerprint and loaded.arch == engine.arch:
                    return label
            label = f"{engine.describe().name} · {Path(source).name or source}"
            if label in self._loaders:  # another model with the same name (two runs' `latest/`): never replace it
                parent = Path(source).expanduser().resolve().parent.name
                label = f"{engine.describe().name} · {parent}/{Path(source).name}" if parent else label
                k = 2
                while label in self._loaders:
                    label, k = f"{label.rsplit(' #', 1)[0]} #{k}", k + 1
            self._loaders[label] = lambda: engine
            self._gans[label] = engine
        return label

    # ------------------------------------------------------------------ diffusion
    @property
    def diffusion_source(self) -> str:
        return self._diffusion_source

    def diffusion(self) -> DiffusionEngine:
        with self._lock:
            if self._diffusion is None:
                self._diffusion = DiffusionEngine(self._diffusion_source, device=self.device)
            return self._diffusion

    def set_diffusion(self, source: str) -> DiffusionEngine:
        """Replace the diffusion engine by one loaded from ``source`` (the old one stays on failure)."""
        source = (source or "").strip()
        if not source:
            raise LatentStudioError("Give a diffusion source: default, a local diffusers folder or hf:org/repo.")
        engine = DiffusionEngine(source, device=self.device)
        with self._lock:
            self._diffusion, self._diffusion_source = engine, source
        return engine
