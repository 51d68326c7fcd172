"""The image → w+ encoder: shapes, its start at the mean w, saving that refuses another generator, training
that lowers the loss, and inversion that starts from it (and says so when a model has none)."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engines.base import LatentStudioError
from engines.stylegan.checkpoints import save_gan
from engines.stylegan.encoder import Encoder, load_encoder, save_encoder
from engines.stylegan.encoder_train import EncoderTrainConfig, EncoderTrainer
from engines.stylegan.engine import GanEngine
from engines.stylegan.projector import ProjectionConfig, project

from conftest import make_engine, randomize


def photos(n: int, res: int = 32, seed: int = 0) -> torch.Tensor:
    """Smooth random colour fields (uint8), like blurry photos."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 3, 4, 4, generator=gen)
    return (torch.nn.functional.interpolate(x, size=res, mode="bilinear") * 255).to(torch.uint8)


def test_encoder_maps_images_to_wplus_and_starts_at_the_mean(tiny_g, tiny_d):
    enc = Encoder.for_generator(tiny_g, tiny_d)
    img = torch.rand(3, 3, 32, 32) * 2 - 1
    wp = enc(img)
    assert wp.shape == (3, tiny_g.num_ws, tiny_g.w_dim)
    assert torch.allclose(wp, tiny_g.w_avg.expand_as(wp))          # zero heads: the mean-w start
    assert enc.encode(img, "w").shape == (3, tiny_g.w_dim)
    with pytest.raises(LatentStudioError, match="w or w\\+"):
        enc.encode(img, "z")
    with pytest.raises(LatentStudioError, match="\\[N, 3, 32, 32\\]"):
        enc(torch.rand(1, 3, 16, 16))
    # the backbone starts from the discriminator's trained blocks
    assert torch.equal(enc.b32.conv0.weight, tiny_d.b32.conv0.weight)


def test_saved_encoder_loads_and_refuses_another_generator(tmp_path, tiny_g, tiny_d):
    enc = randomize(Encoder.for_generator(tiny_g, tiny_d), 5)
    save_encoder(tmp_path / "enc", enc, fingerprint="abc", fp16=False)
    back = load_encoder(tmp_path / "enc", fingerprint="abc")
    img = torch.rand(2, 3, 32, 32) * 2 - 1
    assert torch.allclose(back(img), enc(img), atol=1e-5)
    with pytest.raises(LatentStudioError, match="another generator"):
        load_encoder(tmp_path / "enc", fingerprint="xyz")
    (tmp_path / "enc" / "model.safetensors").write_bytes(b"not tensors")
    with pytest.raises(LatentStudioError, match="Could not load the encoder"):
        load_encoder(tmp_path / "enc")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text(json.dumps({"format": "something else"}))
    with pytest.raises(LatentStudioError, match="not a Latent Studio encoder"):
        load_encoder(tmp_path / "bad")


@pytest.fixture
def tiny_model_dir(tmp_path, tiny_g, tiny_d):
    return save_gan(tmp_path / "gan", tiny_g, tiny_d, fp16=False)


def test_training_lowers_the_reconstruction_loss(tmp_path, tiny_model_dir):
    cfg = EncoderTrainConfig(model=str(tiny_model_dir), data="unused", out=str(tmp_path / "run"), batch=8, kimg=0.4,
                             lr=1e-3, device="cpu", snapshot_minutes=1e9)
    torch.manual_seed(0)
    trainer = EncoderTrainer(cfg, images=photos(32), val_images=photos(8, seed=1))
    before = trainer.held_out()[0]
    losses = [trainer.step()["loss"] for _ in range(40)]
    after = trainer.held_out()[0]
    assert np.mean(losses[-8:]) < 0.8 * np.mean(losses[:8])
    assert after > before                                           # held-out photos: higher PSNR
    folder = trainer.snapshot()
    assert (folder / "model.safetensors").is_file() and (tmp_path / "run" / "state.pt").is_file()
    assert json.loads((folder / "config.json").read_text())["training"]["images_seen"] == 320
    # an exact resume continues the counters; the shipped folder loads for this generator only
    resumed = EncoderTrainer(EncoderTrainConfig(**{**cfg.__dict__, "resume": str(tmp_path / "run"), "lr": 2e-4}),
                             images=photos(32), val_images=photos(8, seed=1))
    assert resumed.nimg == 320 and resumed.steps == 40
    assert resumed.opt.param_groups[0]["lr"] == pytest.approx(2e-4)   # the lr it was given, not the saved one
    load_encoder(folder, fingerprint=trainer.bundle.fingerprint)


def test_training_config_is_checked():
    with pytest.raises(LatentStudioError, match="budget"):
        EncoderTrainConfig(model="default", data="d", out="o")
    with pytest.raises(LatentStudioError, match="even"):
        EncoderTrainConfig(model="default", data="d", out="o", kimg=1, batch=3)


def test_projection_starts_from_the_given_latent(tiny_g):
    target = torch.rand(2, 3, 32, 32) * 2 - 1
    start = tiny_g.w_avg.view(1, 1, -1).repeat(2, tiny_g.num_ws, 1) + torch.randn(2, tiny_g.num_ws, tiny_g.w_dim)
    cfg = ProjectionConfig(steps=1, lr=1e-6, perceptual="none", frames=0, init="encoder")
    proj = project(tiny_g, target, config=cfg, w_avg=tiny_g.w_avg, start=start)
    assert torch.allclose(proj.latent, start, atol=1e-4)
    with pytest.raises(LatentStudioError, match="needs a start latent"):
        project(tiny_g, target, config=cfg, w_avg=tiny_g.w_avg)
    with pytest.raises(LatentStudioError, match="must be \\[2, "):
        project(tiny_g, target, config=cfg, w_avg=tiny_g.w_avg, start=start[:, 0])
    with pytest.raises(LatentStudioError, match="space w or w\\+"):
        ProjectionConfig(space="z", init="encoder").validate(("z", "w", "w+"))


def test_inversion_starts_from_the_models_encoder(tmp_path, tiny_model_dir):
    engine = GanEngine(str(tiny_model_dir), device="cpu")
    photo = np.asarray(photos(1)[0].permute(1, 2, 0))
    assert engine.encoder is None and engine.default_init("w+") == "mean"
    with pytest.raises(LatentStudioError, match="no encoder"):
        engine.invert([photo], steps=2, init="encoder")
    enc = randomize(Encoder.for_generator(engine.G, engine.bundle.D), 6)
    save_encoder(tiny_model_dir / "encoder", enc, fingerprint=engine.fingerprint)
    engine = GanEngine(str(tiny_model_dir), device="cpu")
    result = engine.invert([photo], steps=1, lr=1e-6, perceptual="none", frames=0)
    assert result.options["init"] == "encoder" and result.timings["encoder"] >= 0
    expected = engine.encoder(engine.targets([photo]))
    assert np.allclose(np.asarray(result.latents["latent"]), expected.numpy(), atol=1e-3)
    assert engine.invert([photo], steps=1, space="z", perceptual="none").options["init"] == "mean"


def test_an_encoder_for_another_generator_is_refused(tmp_path, tiny_model_dir, tiny_g, tiny_d):
    other = make_engine(randomize(type(tiny_g)(**tiny_g.config.as_dict()), 9), tiny_d)
    save_encoder(tiny_model_dir / "encoder", Encoder.for_generator(tiny_g, tiny_d), fingerprint=other.fingerprint)
    engine = GanEngine(str(tiny_model_dir), device="cpu")
    with pytest.raises(LatentStudioError, match="another generator.*train-encoder"):
        engine.invert([np.zeros((32, 32, 3), np.uint8)], steps=1)


def test_cli_trains_an_encoder(tmp_path, tiny_model_dir, cli, monkeypatch):
    import engines.stylegan.encoder_train as et
    monkeypatch.setattr(et.datasets, "load_split", lambda folder, res, frac, part: photos(16 if part == "train" else 4))
    code = cli(["train-encoder", "--model", str(tiny_model_dir), "--data", "x", "--out", str(tmp_path / "run"),
                     "--kimg", "0.03", "--batch", "8", "--device", "cpu"])
    assert code == 0
    assert (tmp_path / "run" / "latest" / "config.json").is_file()
    assert "held_out_psnr" in (tmp_path / "run" / "log.jsonl").read_text()


def test_an_encoder_fine_tunes_for_a_generator_that_changed(tmp_path, tiny_model_dir, tiny_g, tiny_d):
    old = randomize(Encoder.for_generator(tiny_g, tiny_d), 7)
    save_encoder(tmp_path / "old", old, fingerprint="an earlier generator", fp16=False)
    cfg = EncoderTrainConfig(model=str(tiny_model_dir), data="unused", out=str(tmp_path / "run"), batch=4, kimg=0.01,
                             device="cpu", resume=str(tmp_path / "old"))
    trainer = EncoderTrainer(cfg, images=photos(8), val_images=photos(4, seed=1))
    assert torch.equal(trainer.encoder.offsets.weight, old.offsets.weight)       # starts from the old weights
    assert torch.allclose(trainer.encoder.w_avg, trainer.G.w_avg)                # around this generator's mean w
    load_encoder(trainer.snapshot(), fingerprint=trainer.bundle.fingerprint)     # and ships bound to it


def test_an_exact_resume_draws_the_batches_an_unbroken_run_would(tmp_path, tiny_model_dir):
    """Issue 32, item 6: the RNG state is saved, so resuming does not replay the first batches."""
    cfg = EncoderTrainConfig(model=str(tiny_model_dir), data="unused", out=str(tmp_path / "run"), batch=4, kimg=1,
                             lr=1e-3, device="cpu", snapshot_minutes=1e9)
    torch.manual_seed(0)
    unbroken = EncoderTrainer(cfg, images=photos(16), val_images=photos(4, seed=1))
    first = [unbroken.step()["loss"] for _ in range(3)]
    unbroken.snapshot()
    later = [unbroken.step()["loss"] for _ in range(3)]
    torch.manual_seed(0)   # the state decides, not whatever the RNG holds when resuming
    resumed = EncoderTrainer(EncoderTrainConfig(**{**cfg.__dict__, "resume": str(tmp_path / "run")}),
                             images=photos(16), val_images=photos(4, seed=1))
    again = [resumed.step()["loss"] for _ in range(3)]
    assert again == pytest.approx(later, rel=1e-5) and again != pytest.approx(first, rel=1e-3)
