"""The GAN engine behind the shared interface: describe, sample, synthesize, latents."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from engines.base import Engine, LatentStudioError
from engines.stylegan.engine import GanEngine


def test_default_engine_describes_itself_honestly():
    engine = GanEngine("default", device="cpu")
    assert isinstance(engine, Engine)
    d = engine.describe()
    assert d.resolution == 64 and d.device == "cpu" and d.spaces == ("z", "w", "w+")
    assert d.parameters > 0 and d.source == "default"


def test_sample_is_reproducible_by_seed(tiny_engine):
    a = tiny_engine.sample(3, seed=5)
    b = tiny_engine.sample(3, seed=5)
    c = tiny_engine.sample(3, seed=6)
    assert len(a) == 3 and a[0].size == (32, 32) and a[0].mode == "RGB"
    assert all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))
    assert not np.array_equal(np.asarray(a[0]), np.asarray(c[0]))


def test_sample_batches_give_the_same_images(tiny_engine):
    a = tiny_engine.sample(5, seed=1, batch_size=2)
    b = tiny_engine.sample(5, seed=1, batch_size=16)
    assert all(np.abs(np.asarray(x, int) - np.asarray(y, int)).max() <= 1 for x, y in zip(a, b))


def test_sample_rejects_bad_options(tiny_engine):
    with pytest.raises(LatentStudioError, match="Number of samples"):
        tiny_engine.sample(0, seed=1)
    with pytest.raises(LatentStudioError, match="Truncation"):
        tiny_engine.sample(1, seed=1, truncation=3.0)


def test_latent_record_round_trip_and_checks(tmp_path, tiny_engine, tiny_dcgan_engine):
    from engines.stylegan.latents import save_latents
    w = tiny_engine.G.mapping(torch.randn(2, 32))
    path = save_latents(tmp_path / "l.npz", tiny_engine.latent_record(w, "w+"))
    latent, space = tiny_engine.load_latent(path)
    assert space == "w+" and torch.allclose(latent, w)
    assert len(tiny_engine.synthesize(latent, space)) == 2
    with pytest.raises(LatentStudioError, match="another model"):
        tiny_dcgan_engine.load_latent(path)
    bad = tiny_engine.latent_record(w[:, :3], "w+")
    with pytest.raises(LatentStudioError, match="shape"):
        tiny_engine.load_latent(bad)
    nan = tiny_engine.latent_record(w * float("nan"), "w+")
    with pytest.raises(LatentStudioError, match="NaN"):
        tiny_engine.load_latent(nan)
    (tmp_path / "x.npz").write_bytes(b"garbage")
    with pytest.raises(LatentStudioError, match="not a latent"):
        tiny_engine.load_latent(tmp_path / "x.npz")
    with pytest.raises(LatentStudioError, match="no 'w'"):
        tiny_dcgan_engine.synthesize(np.zeros((1, 16)), "w")


def test_the_engine_is_the_view_its_operations_take(tiny_engine, tiny_dcgan_engine):
    """`editing`, `interpolation`, `dragging`, `inversion` and `direction_files` see the engine as `view.GanView`
    (they never import it): every member that protocol names is there, on class views too."""
    from engines.stylegan.view import GanModel, GanView
    for engine in (tiny_engine, tiny_dcgan_engine):
        assert isinstance(engine, GanView) and isinstance(engine, GanModel)


def test_engine_level_modules_take_a_protocol_not_any():
    import ast
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "engines" / "stylegan"
    for name in ("editing", "interpolation", "dragging", "inversion", "direction_files"):
        for node in ast.walk(ast.parse((folder / f"{name}.py").read_text())):
            if isinstance(node, ast.arg) and node.arg == "engine":
                assert node.annotation is not None and ast.unparse(node.annotation) in ("GanView", "GanModel"), \
                    f"{name}.py takes engine: {ast.unparse(node.annotation) if node.annotation else 'unannotated'}"


def test_caches_are_declared_up_front_not_made_on_first_use(tiny_engine):
    """The mean w, the yardsticks, the encoder lookup and a photo's inversion for Edit fill caches the engine
    declared when it was made: no attribute appears on the engine or on its bundle on first use."""
    from PIL import Image
    from engines.stylegan import editing
    engine_keys, bundle_keys = set(vars(tiny_engine)), set(vars(tiny_engine.bundle))
    tiny_engine.mean_w(), tiny_engine.typical_w_distance(), tiny_engine.encoder, tiny_engine.photo_distance()
    d = tiny_engine.directions("ganspace", k=1, n_samples=200)[0]
    photo = Image.new("RGB", (32, 32), (120, 90, 60))
    editing.edit(tiny_engine, photo, d, [0.0], invert_options={"steps": 2, "perceptual": "none"})
    assert set(vars(tiny_engine)) == engine_keys and set(vars(tiny_engine.bundle)) == bundle_keys
    assert len(tiny_engine.cache.photo_inversions) == 1
    view = tiny_engine.for_class(None)
    assert view.cache is tiny_engine.cache
