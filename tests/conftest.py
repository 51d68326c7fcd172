"""Shared fixtures: tiny networks with every parameter randomised (so no mapping can hide behind zeros), and
tiny diffusion models (a Stable Diffusion checkpoint and our pixel pipeline, saved once per session)."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

# One torch (OpenMP) thread per process, for this process and every app / CLI process the tests start (they
# inherit the environment). On the 2-core CI machine the suite often runs two busy processes at once (an app
# server beside the tests, two batch workers, four jobs in threads): with two threads each, OpenMP's threads wait
# on each other at every operation (28x slower in one measurement). Even alone, one thread was not slower here:
# 44.7 s against 47.3 s for test_projector, test_train_gan, test_drag, test_diffusion_sdedit and
# test_concurrency on an idle machine. A caller's own OMP_NUM_THREADS wins.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402

from engines.diffusion import DiffusionEngine  # noqa: E402
from engines.diffusion.tiny import build_tiny_sd, tiny_pixel_pipeline  # noqa: E402
from engines.stylegan.dcgan import DCGANDiscriminator, DCGANGenerator  # noqa: E402
from engines.stylegan.discriminator import StyleGAN2Discriminator  # noqa: E402
from engines.stylegan.networks import StyleGAN2Generator  # noqa: E402

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

_RUN_TMP: str | None = None
_SAVED_ENV: dict[str, str | None] = {}


def pytest_configure(config: pytest.Config) -> None:
    """Give the test run a temp folder of its own and remove it afterwards. Gradio caches every image it serves
    under GRADIO_TEMP_DIR (default: gradio/ in the system temp folder), and gradio_client downloads each result
    through a ``<40 hex>`` folder in the system temp folder that it never removes (one per file the tests fetch);
    both go here, the app and CLI subprocesses of the end-to-end tests included (TMPDIR is inherited)."""
    global _RUN_TMP
    if "GRADIO_TEMP_DIR" in os.environ:      # a caller chose where things go
        return
    _RUN_TMP = tempfile.mkdtemp(prefix="latent-studio-tests-")
    for key, value in {"GRADIO_TEMP_DIR": os.path.join(_RUN_TMP, "gradio"), "TMPDIR": _RUN_TMP}.items():
        _SAVED_ENV[key] = os.environ.get(key)
        os.environ[key] = value
    tempfile.tempdir = _RUN_TMP


def pytest_unconfigure(config: pytest.Config) -> None:
    if _RUN_TMP is None:
        return
    tempfile.tempdir = None
    for key, value in _SAVED_ENV.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    shutil.rmtree(_RUN_TMP, ignore_errors=True)


TINY_SG2 = dict(img_resolution=32, z_dim=32, w_dim=32, channel_base=512, channel_max=32, mapping_layers=2)
TINY_DC = dict(img_resolution=32, z_dim=16, base_channels=8)


def randomize(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in module.state_dict().items():
            if t.is_floating_point() and not name.endswith("resample_filter"):
                if "running_var" in name:
                    t.copy_(torch.rand(t.shape, generator=gen) + 0.5)
                else:
                    t.copy_(torch.randn(t.shape, generator=gen) * (0.2 if t.ndim <= 1 else 1.0))
    return module.eval().requires_grad_(False)


@pytest.fixture
def tiny_g() -> StyleGAN2Generator:
    return randomize(StyleGAN2Generator(**TINY_SG2), 1)


@pytest.fixture
def tiny_d() -> StyleGAN2Discriminator:
    return randomize(StyleGAN2Discriminator(img_resolution=32, channel_base=512, channel_max=32), 2)


@pytest.fixture
def tiny_dcgan() -> tuple[DCGANGenerator, DCGANDiscriminator]:
    return randomize(DCGANGenerator(**TINY_DC), 3), randomize(DCGANDiscriminator(**TINY_DC), 4)


def make_engine(G, D=None, arch="stylegan2"):
    """A GanEngine over in-memory networks (no files), on CPU."""
    from engines.stylegan.checkpoints import GanBundle
    from engines.stylegan.engine import GanEngine
    config = {"arch": arch, "generator": G.config.as_dict(), "discriminator": D.config.as_dict() if D else None}
    return GanEngine(device="cpu", bundle=GanBundle(G=G, D=D, arch=arch, source="test", config=config))


@pytest.fixture
def tiny_engine(tiny_g, tiny_d):
    return make_engine(tiny_g, tiny_d)


@pytest.fixture
def tiny_dcgan_engine(tiny_dcgan):
    return make_engine(*tiny_dcgan, arch="dcgan")


# --------------------------------------------------------------------------------------------
# Diffusion

def pixel_engine(seed: int = 0) -> DiffusionEngine:
    return DiffusionEngine.from_pipeline(tiny_pixel_pipeline(seed), device="cpu")


def guide_image(seed: int = 0, size: tuple[int, int] = (20, 16)) -> Image.Image:
    """A random RGB picture (not square, so the centre crop is exercised)."""
    rng = np.random.RandomState(seed)
    return Image.fromarray((rng.rand(size[1], size[0], 3) * 255).astype(np.uint8))


_CACHE: dict[str, Path] = {}


@pytest.fixture(scope="session")
def tiny_sd_dir(tmp_path_factory) -> Path:
    """A tiny SD checkpoint saved with save_pretrained (built once per session)."""
    if "sd" not in _CACHE:
        root = tmp_path_factory.mktemp("tiny-sd")
        build_tiny_sd(root / "tokenizer-src").save_pretrained(root / "model")
        _CACHE["sd"] = root / "model"
    return _CACHE["sd"]


@pytest.fixture(scope="session")
def tiny_pixel_dir(tmp_path_factory) -> Path:
    """Our tiny class-conditional pixel pipeline saved with save_pretrained."""
    if "pixel" not in _CACHE:
        root = tmp_path_factory.mktemp("tiny-pixel")
        tiny_pixel_pipeline().save_pretrained(root / "model")
        _CACHE["pixel"] = root / "model"
    return _CACHE["pixel"]


@pytest.fixture(scope="session")
def sd_engine(tiny_sd_dir) -> DiffusionEngine:
    return DiffusionEngine(str(tiny_sd_dir), device="cpu")


@pytest.fixture
def cli():
    """The CLI entry point, ``main(argv) -> exit status``."""
    from engines.cli.main import main
    return main
