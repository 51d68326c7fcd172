"""Class-conditional generators (c_dim > 0): a class by index or name everywhere, clear errors without one."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines.base import LatentStudioError
from engines.cli.main import main
from engines.stylegan.checkpoints import save_gan
from engines.stylegan.discriminator import StyleGAN2Discriminator
from engines.stylegan.engine import GanEngine
from engines.stylegan.networks import StyleGAN2Generator

from conftest import randomize
from official_format import write_official_pkl

COND = dict(img_resolution=32, z_dim=32, w_dim=32, c_dim=3, channel_base=512, channel_max=32, mapping_layers=2,
            mapping_lr_multiplier=1.0)  # randomised weights at lr multiplier 0.01 would make w ignore z and c


@pytest.fixture
def cond_nets():
    G = randomize(StyleGAN2Generator(**COND, class_names=["tabby", "ginger", "black"]), 5)
    D = randomize(StyleGAN2Discriminator(img_resolution=32, c_dim=3, channel_base=512, channel_max=32), 6)
    return G, D


@pytest.fixture
def cond_folder(tmp_path, cond_nets):
    return save_gan(tmp_path / "cond", *cond_nets, fp16=False)


def _pixels(images):
    return np.stack([np.asarray(im, dtype=np.float32) for im in images])


def test_class_by_index_or_name_picks_the_same_class_and_classes_differ(cond_folder):
    engine = GanEngine(str(cond_folder), device="cpu")
    assert engine.class_names() == ["tabby", "ginger", "black"]
    by_name = _pixels(engine.for_class("ginger").sample(2, seed=4))
    by_index = _pixels(engine.for_class(1).sample(2, seed=4))
    other = _pixels(engine.for_class("black").sample(2, seed=4))
    assert np.array_equal(by_name, by_index)
    assert np.abs(by_name - other).mean() > 1.0
    assert "3 classes (tabby, ginger, black)" in engine.describe().conditioning


def test_class_view_shares_weights_and_matches_explicit_c(cond_folder):
    engine = GanEngine(str(cond_folder), device="cpu")
    view = engine.for_class(2)
    assert view.G.synthesis is engine.G.synthesis and view.bundle is engine.bundle
    z = torch.randn(3, 32)
    with torch.no_grad():
        assert torch.equal(view.G(z), engine.G(z, torch.eye(3)[[2, 2, 2]]))
    assert not engine.G.class_bound and view.G.class_bound


@pytest.mark.parametrize("label, message", [
    (None, r"class-conditional \(3 classes\).*tabby, ginger, black"),
    (3, "Class must be between 0 and 2"),
    ("-1", "Class must be between 0 and 2"),
    ("lion", "Unknown class 'lion'.*tabby, ginger, black"),
    (1.5, "Unknown class"),
])
def test_missing_or_bad_class_is_a_clear_error(cond_folder, label, message):
    engine = GanEngine(str(cond_folder), device="cpu")
    with pytest.raises(LatentStudioError, match=message):
        engine.for_class(label).sample(1, seed=0)


def test_every_operation_asks_for_the_class_before_doing_any_work(cond_folder):
    engine = GanEngine(str(cond_folder), device="cpu")
    photo = Image.new("RGB", (32, 32), (120, 80, 40))
    for call in (lambda: engine.sample(1, 0), lambda: engine.invert([photo], steps=2),
                 lambda: engine.scribble(photo, steps=2), lambda: engine.interpolate(photo, photo, frames=2),
                 lambda: engine.directions("ganspace", k=2, n_samples=64),
                 lambda: engine.synthesize(torch.zeros(1, 32), "z")):
        with pytest.raises(LatentStudioError, match="class-conditional"):
            call()


def test_unconditional_model_refuses_a_class(tiny_engine):
    assert tiny_engine.for_class(None) is tiny_engine
    with pytest.raises(LatentStudioError, match="unconditional"):
        tiny_engine.for_class(0)


def test_inversion_of_a_class_starts_from_that_class_mean(cond_folder):
    engine = GanEngine(str(cond_folder), device="cpu")
    means = [engine.for_class(i).mean_w() for i in range(3)]
    assert (means[0] - means[1]).norm() > 1e-3
    target = engine.for_class(1).sample(1, seed=8)
    result = engine.for_class(1).invert(target, steps=15, perceptual="none")
    assert result.metrics["psnr"][0] > 12


def test_cli_commands_take_class(tmp_path, cond_folder, capsys):
    model = ["--model", str(cond_folder)]
    assert main(["sample", *model, "--class", "ginger", "--n", "2", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("*.png"))) == 2
    photo = sorted((tmp_path / "s").glob("*.png"))[0]
    assert main(["invert", str(photo), *model, "--class", "1", "--steps", "3", "--perceptual", "none",
                 "--out", str(tmp_path / "inv")]) == 0
    latent = next((tmp_path / "inv").glob("*.npz"))
    assert main(["scribble", str(photo), *model, "--class", "1", "--steps", "2", "--out", str(tmp_path / "scr")]) == 0
    assert main(["interpolate", str(latent), str(latent), *model, "--class", "1", "--frames", "2", "--no-crossfade",
                 "--out", str(tmp_path / "i.gif")]) == 0
    assert main(["directions", *model, "--class", "1", "--method", "sefa", "--k", "2",
                 "--out", str(tmp_path / "dirs")]) == 0
    direction = next((tmp_path / "dirs").glob("*.npz"))
    assert main(["edit", str(latent), *model, "--class", "1", "--direction", str(direction),
                 "--out", str(tmp_path / "ed")]) == 0
    capsys.readouterr()
    assert main(["sample", *model, "--n", "1", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "--class" in err and len(err.splitlines()) == 1
    assert main(["sample", *model, "--class", "7", "--n", "1", "--out", str(tmp_path / "x")]) == 2
    assert "Class must be between 0 and 2" in capsys.readouterr().err


def test_conditional_official_pickle_samples_and_inverts(tmp_path, cond_nets):
    G = randomize(StyleGAN2Generator(**COND), 5)
    write_official_pkl(tmp_path / "c.pkl", G, cond_nets[1])
    engine = GanEngine(str(tmp_path / "c.pkl"), device="cpu")
    assert engine.class_names() == ["0", "1", "2"]
    images = engine.for_class(0).sample(2, seed=1)
    result = engine.for_class(0).invert(images[:1], steps=3)
    assert len(result.images) == 1
    with pytest.raises(LatentStudioError, match="class-conditional"):
        engine.invert(images[:1], steps=3)


def test_compare_takes_the_gan_class(tmp_path, cond_folder, capsys):
    sketch = tmp_path / "s.png"
    Image.new("RGB", (32, 32), (200, 120, 40)).save(sketch)
    assert main(["compare", str(sketch), "--gan", str(cond_folder), "--out", str(tmp_path / "c")]) == 2
    assert "--gan-class" in capsys.readouterr().err
    assert main(["compare", str(sketch), "--gan", str(cond_folder), "--gan-class", "ginger", "--gan-steps", "2",
                 "--steps", "4", "--out", str(tmp_path / "c")]) == 0
