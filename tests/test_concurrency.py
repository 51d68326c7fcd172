"""Jobs that run at the same time on the same loaded models never share mutable state: each gives exactly
what it gives alone (noise buffers, scheduler timesteps and RNGs are per job)."""
from __future__ import annotations

import threading

import numpy as np
import pytest

from engines.diffusion.engine import DiffusionEngine
from engines.diffusion.tiny import tiny_pixel_pipeline
from engines.stylegan.engine import GanEngine


@pytest.fixture(scope="module")
def gan():
    return GanEngine("default", device="cpu")


@pytest.fixture(scope="module")
def diffusion():
    return DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu")


def run_in_threads(jobs):
    """Start every job at once (a barrier), return their results in order; re-raise any failure."""
    results, errors = [None] * len(jobs), []
    barrier = threading.Barrier(len(jobs))

    def target(i, job):
        try:
            barrier.wait()
            results[i] = job()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=target, args=(i, job)) for i, job in enumerate(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if errors:
        raise errors[0]
    return results


def pixels(result):
    return [np.asarray(im, dtype=np.int16) for im in result.images]


def same(a, b):
    return all(x.shape == y.shape and np.abs(x - y).max() <= 1 for x, y in zip(pixels(a), pixels(b)))


def test_inversion_scribble_and_sdedit_at_once_equal_their_solo_runs(gan, diffusion):
    photo = gan.sample(1, 5, truncation=0.7)[0]
    sketch = gan.sample(1, 9, truncation=0.7)[0]
    mask = np.zeros((64, 64), np.float32)
    mask[16:48, 16:48] = 1
    jobs = [
        lambda: gan.invert([photo], space="w+", steps=15, seed=1),
        lambda: gan.scribble(sketch, mask, space="w", steps=15, seed=2),
        lambda: diffusion.from_guide(sketch.resize((16, 16)), None, seed=3, steps=20, strength=0.7, scheduler="ddpm", n=2),
        lambda: diffusion.from_guide(photo.resize((16, 16)), None, seed=4, steps=10, strength=0.4, scheduler="ddim",
                                     guidance=5.0, class_name="grumpy cat"),
    ]
    solo = [job() for job in jobs]
    together = run_in_threads(jobs)
    for name, a, b in zip(("invert", "scribble", "sdedit ddpm", "sdedit ddim"), solo, together):
        assert same(a, b), f"{name} changed when run beside other jobs"
    assert together[2].options["denoise_steps"] == 14 and together[3].options["denoise_steps"] == 4


def test_two_inversions_in_different_spaces_on_one_model(gan):
    photos = gan.sample(2, 11, truncation=0.7)
    jobs = [lambda: gan.invert([photos[0]], space="z", steps=12, seed=0),
            lambda: gan.invert([photos[1]], space="w+", optimizer="lbfgs", steps=6, seed=0)]
    solo = [job() for job in jobs]
    together = run_in_threads(jobs)
    assert same(solo[0], together[0]) and same(solo[1], together[1])
    for a, b in zip(solo, together):
        np.testing.assert_allclose(a.latents["latent"], b.latents["latent"], atol=1e-5)
