"""Inversion and scribble projection on tiny models, with targets the model made itself (known latent)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from engines import imaging
from engines.base import Cancelled, LatentStudioError
from engines.evaluation.faithfulness import masked_pixel_losses
from engines.stylegan.projector import adam_lr


@pytest.fixture
def target(tiny_engine):
    """An image the tiny generator can make exactly (a sample at a known z)."""
    return tiny_engine.sample(1, seed=11)[0]


def _run(engine, target, **kw):
    kw = {"steps": 25, "perceptual": "none", **kw}
    return engine.invert([target], **kw)


@pytest.mark.parametrize("terms", [dict(l2=1.0), dict(l1=1.0, l2=0.0), dict(l2=0.0, perceptual="disc", perceptual_weight=1.0),
                                   dict(l2=1.0, reg=0.1), dict(l2=1.0, optimize_noise=True)])
def test_every_loss_term_lowers_the_loss(tiny_engine, target, terms):
    r = _run(tiny_engine, target, **terms)
    curve = r.metrics["loss_curve"]
    assert curve[-1] < 0.7 * curve[0], curve[:: max(1, len(curve) // 5)]
    assert r.metrics["perceptual_net"] == ("disc" if terms.get("perceptual") == "disc" else "none")


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_both_optimisers_converge(tiny_engine, target, optimizer):
    r = _run(tiny_engine, target, optimizer=optimizer, steps=30 if optimizer == "adam" else 12)
    assert r.metrics["loss_curve"][-1] < 0.5 * r.metrics["loss_curve"][0]
    assert r.metrics["psnr"][0] > 15


def test_w_plus_reconstructs_at_least_as_well_as_w(tiny_engine, target):
    w = _run(tiny_engine, target, space="w", steps=40)
    wp = _run(tiny_engine, target, space="w+", steps=40)
    assert wp.metrics["psnr"][0] >= w.metrics["psnr"][0] - 0.5
    assert wp.latents["latent"].shape == (1, tiny_engine.G.num_ws, 32)
    assert w.latents["latent"].shape == (1, 32)


def test_all_spaces_and_dcgan(tiny_engine, tiny_dcgan_engine, target):
    z = _run(tiny_engine, target, space="z", steps=10)
    assert z.latents["latent"].shape == (1, 32) and str(z.latents["space"]) == "z"
    dc_target = tiny_dcgan_engine.sample(1, seed=2)[0]
    r = tiny_dcgan_engine.invert([dc_target], space="z", steps=30, perceptual="none")
    assert r.metrics["loss_curve"][-1] < r.metrics["loss_curve"][0]
    with pytest.raises(LatentStudioError, match="no 'w\\+' space"):
        tiny_dcgan_engine.invert([dc_target], space="w+", steps=2)


def test_restarts_keep_the_best(tiny_engine, target):
    one = _run(tiny_engine, target, restarts=1, steps=15)
    three = _run(tiny_engine, target, restarts=3, steps=15)
    assert len(three.metrics["loss_curves"]) == 3
    assert three.metrics["loss"][0] <= one.metrics["loss"][0] + 1e-7  # restart 0 is the same run
    best_final = min(min(c) for c in three.metrics["loss_curves"])
    assert three.metrics["loss"][0] <= best_final + 1e-6


def test_batch_inversion_equals_single_runs(tiny_engine):
    targets = tiny_engine.sample(2, seed=21)
    batch = tiny_engine.invert(targets, steps=10, perceptual="disc")
    singles = [tiny_engine.invert([t], steps=10, perceptual="disc") for t in targets]
    for i, single in enumerate(singles):
        assert np.allclose(batch.latents["latent"][i], single.latents["latent"][0], atol=1e-4)
        assert abs(batch.metrics["psnr"][i] - single.metrics["psnr"][0]) < 0.05
    assert len(batch.images) == 2


def test_same_seed_same_result_and_options_recorded(tiny_engine, target):
    a = _run(tiny_engine, target, init="random", seed=4, steps=5)
    b = _run(tiny_engine, target, init="random", seed=4, steps=5)
    assert np.array_equal(a.latents["latent"], b.latents["latent"])
    assert a.options["seed"] == 4 and a.options["init"] == "random" and a.options["space"] == "w+"
    assert a.timings["total"] > 0 and len(a.frames) > 0


def test_masked_losses_only_count_masked_pixels():
    x, y = torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 8)
    mask = torch.zeros(1, 1, 8, 8)
    mask[..., :4, :] = 1
    y[..., 4:, :] = 5.0  # differs only outside the mask
    l1, l2 = masked_pixel_losses(x, y, mask)
    assert l1.item() == 0 and l2.item() == 0
    y[..., :4, :] = 1.0
    assert masked_pixel_losses(x, y, mask)[1].item() == pytest.approx(1.0)


def test_scribble_matches_strokes_and_ignores_the_rest(tiny_engine):
    sketch = Image.new("RGB", (32, 32), "white")
    arr = np.asarray(sketch).copy()
    arr[8:24, 10:14] = (200, 30, 30)  # one red stroke on white
    sketch = Image.fromarray(arr)
    r = tiny_engine.scribble(sketch, steps=40, seed=0)
    assert r.options["masked"] and r.metrics["masked_l2"][0] < 0.25
    assert "latent_distance" in r.metrics and np.isfinite(r.metrics["latent_distance"][0])
    assert r.metrics["loss_curve"][-1] < r.metrics["loss_curve"][0]
    out = np.asarray(r.images[0], dtype=float)
    assert out[8:24, 10:14, 0].mean() > out[8:24, 10:14, 2].mean()  # strokes came out red-ish
    via_interface = tiny_engine.from_guide(sketch, mask="auto", seed=0, steps=40)
    assert np.allclose(via_interface.latents["latent"], r.latents["latent"], atol=1e-5)


def test_scribble_with_a_mask_file_and_bad_inputs(tiny_engine, tmp_path):
    sketch = Image.new("RGB", (32, 32), (0, 0, 0))
    mask = Image.new("L", (64, 64), 127)  # the course encoding: 127 = keep, 255 = stroke; other size
    mask.paste(255, (0, 0, 32, 64))
    r = tiny_engine.scribble(sketch, mask, steps=5)
    assert r.options["masked"]
    with pytest.raises(LatentStudioError, match="empty"):
        tiny_engine.scribble(Image.new("RGB", (32, 32), "white"), steps=2)
    (tmp_path / "x.png").write_bytes(b"not an image")
    with pytest.raises(LatentStudioError, match="not an image"):
        tiny_engine.invert([tmp_path / "x.png"], steps=2)
    with pytest.raises(LatentStudioError, match="Unknown projection option"):
        tiny_engine.invert([sketch], steps=2, bogus=1)
    with pytest.raises(LatentStudioError, match="Steps"):
        tiny_engine.invert([sketch], steps=0)
    with pytest.raises(LatentStudioError, match="optimizer"):
        tiny_engine.invert([sketch], optimizer="sgd", steps=2)


def test_progress_previews_and_cancel(tiny_engine, target):
    seen = []
    _run(tiny_engine, target, steps=10, frames=5, progress=lambda s, t, p: seen.append((s, t, p is not None)))
    assert seen[-1][:2] == (10, 10) and sum(p for *_, p in seen) == 5

    def cancel(step, total, preview):
        if step == 3:
            raise Cancelled("cancelled")
    with pytest.raises(Cancelled):
        _run(tiny_engine, target, steps=10, progress=cancel)


def test_nonfinite_loss_stops_cleanly_and_keeps_the_best(tiny_engine, target, monkeypatch):
    from engines.stylegan import projector
    calls = {"n": 0}
    real = projector.Projector.loss

    def flaky(self, *a, **k):
        calls["n"] += 1
        loss = real(self, *a, **k)
        return loss * float("nan") if calls["n"] > 5 else loss
    monkeypatch.setattr(projector.Projector, "loss", flaky)
    r = _run(tiny_engine, target, steps=20)
    assert r.metrics["stopped_nonfinite"] and np.isfinite(r.latents["latent"]).all()


def test_adam_schedule_ramps_up_and_down():
    lrs = [adam_lr(s, 100, 0.1) for s in range(100)]
    assert lrs[0] == 0 and max(lrs) == pytest.approx(0.1) and lrs[-1] < 0.01


SHARED_CATS = __import__("pathlib").Path(__file__).resolve().parents[2] / "shared" / "data" / "cats"


@pytest.mark.skipif(not SHARED_CATS.is_dir(), reason="../shared/data/cats is not beside the repository")
def test_lbfgs_keeps_improving_on_a_batch_of_real_photos():
    """Regression: with torch's default max_eval (1 when max_iter=1) the line search had no evaluation
    to spend; on these 8 held-out photos the first trial step raised the loss, was dropped, and L-BFGS
    then repeated it forever (loss flat at its first value, 12.2 dB)."""
    from engines import data as datasets
    from engines.evaluation.swd import subset
    from engines.stylegan.engine import GanEngine
    from engines.stylegan.projector import ProjectionConfig
    engine = GanEngine("default", device="cpu")
    photos = subset(datasets.to_float(datasets.load_split(SHARED_CATS, 64, 0.05, "val")), 8, seed=0)
    r = engine.project(photos, None, ProjectionConfig(space="w+", optimizer="lbfgs", steps=5, frames=0), seed=0)
    curve = r.metrics["loss_curve"]
    assert curve[-1] < 0.8 * curve[0], curve
    assert all(b <= a for a, b in zip(curve, curve[1:])), curve


def test_in_a_batch_a_nonfinite_image_stops_alone_and_the_others_match_separate_runs(tiny_engine, monkeypatch):
    """Issue 32, item 3: under Adam one image's NaN stops that image only; the other ends as it would alone."""
    from engines.stylegan import projector
    photos = [tiny_engine.sample(1, seed=s)[0] for s in (11, 12)]
    alone = tiny_engine.invert([photos[0]], steps=15, perceptual="none", optimize_noise=True)
    real = projector.Projector.loss
    calls = {"n": 0}

    def second_turns_nan(self, *a, **k):
        calls["n"] += 1
        loss = real(self, *a, **k)
        if calls["n"] > 5 and len(loss) == 2:
            loss = loss * torch.tensor([1.0, float("nan")])
        return loss
    monkeypatch.setattr(projector.Projector, "loss", second_turns_nan)
    both = tiny_engine.invert(photos, steps=15, perceptual="none", optimize_noise=True)
    assert both.metrics["stopped_nonfinite"] == [{"restart": 0, "step": 5, "images": [1]}]
    np.testing.assert_allclose(both.latents["latent"][0], alone.latents["latent"][0], rtol=1e-4, atol=1e-5)
    assert np.isfinite(both.latents["latent"]).all() and len(both.metrics["loss_curve"]) == 15


def test_the_cli_inverts_one_photo_at_a_time_with_lbfgs(tmp_path, tiny_g, tiny_d, capsys):
    from engines.cli.main import main
    from engines.stylegan.checkpoints import save_gan
    import json
    save_gan(tmp_path / "m", tiny_g, tiny_d)
    from PIL import Image
    for i in range(2):
        Image.fromarray((np.random.default_rng(i).random((32, 32, 3)) * 255).astype(np.uint8)).save(tmp_path / f"{i}.png")
    out = tmp_path / "out"
    assert main(["invert", str(tmp_path / "0.png"), str(tmp_path / "1.png"), "--model", str(tmp_path / "m"),
                 "--optimizer", "lbfgs", "--steps", "3", "--perceptual", "none", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "invert 1-1/2" in err and "invert 2-2/2" in err        # two chunks of one photo (Adam: one chunk of two)
    assert len(json.loads((out / "metrics.json").read_text())["images"]) == 2


def test_our_adam_takes_the_same_steps_as_torch_optim_adam():
    """engines.stylegan.adam.Adam (torch's functional adam, state kept by us) = torch.optim.Adam, lr changing."""
    from engines.stylegan.adam import Adam
    gen = torch.Generator().manual_seed(0)
    start = [torch.randn(3, 4, generator=gen), torch.randn(2, 1, 5, generator=gen)]
    ours = [t.clone().requires_grad_(True) for t in start]
    theirs = [t.clone().requires_grad_(True) for t in start]
    a, b = Adam(ours, lr=0.1), torch.optim.Adam(theirs, lr=0.1, betas=(0.9, 0.999))
    for step in range(12):
        lr = adam_lr(step, 12, 0.1)
        a.lr = lr
        for group in b.param_groups:
            group["lr"] = lr
        for params, opt in ((ours, a), (theirs, b)):
            opt.zero_grad()
            loss = sum((p.sin() * (k + 1)).pow(2).sum() for k, p in enumerate(params)) + params[0].sum() * step
            loss.backward()
            if step == 5:            # a parameter without a gradient this step is left alone by both
                params[1].grad = None
            opt.step()
    for x, y in zip(ours, theirs):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_an_inversion_does_not_import_torch_dynamo():
    """Constructing a torch.optim.Optimizer imports torch._dynamo (1.1 s of a one-photo CLI run): a photo's
    inversion (the default model, Adam) runs without it."""
    import subprocess
    import sys
    from pathlib import Path
    code = ("import sys\n"
            "from engines.stylegan.engine import GanEngine\n"
            "GanEngine('default', device='cpu').invert(['assets/examples/photos/stylegan2_seed1.png'], steps=3)\n"
            "print('torch._dynamo' in sys.modules)\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "False"
