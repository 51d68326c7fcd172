"""``python -m engines sdedit`` and ``compare``: files written, metrics, flags, one-line errors."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
from PIL import Image

from engines.cli.main import main
from conftest import guide_image


def test_help_explains_every_flag():
    out = subprocess.run([sys.executable, "-m", "engines", "sdedit", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--model", "--strength", "--t0", "--scheduler", "--steps", "--eta", "--guidance", "--prompt",
                 "--negative", "--class-name", "--mask", "--n", "--seed", "--device", "--out", "dpmsolver++"):
        assert flag in out.stdout
    out = subprocess.run([sys.executable, "-m", "engines", "compare", "--help"], capture_output=True, text=True)
    assert out.returncode == 0
    for flag in ("--gan", "--gan-arch", "--diffusion", "--mask", "--steps", "--seed", "--out", "--sdedit-mask"):
        assert flag in out.stdout


def test_sdedit_writes_images_gif_and_metrics(tmp_path, tiny_pixel_dir):
    guide = tmp_path / "cat.png"
    guide_image(size=(24, 24)).save(guide)
    out = tmp_path / "out"
    assert main(["sdedit", str(guide), "--model", str(tiny_pixel_dir), "--t0", "600", "--scheduler", "ddpm",
                 "--steps", "10", "--guidance", "2", "--class-name", "grumpy cat", "--n", "2", "--seed", "3",
                 "--frames", "3", "--device", "cpu", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["cat_denoising.gif", "cat_guide.png", "cat_sdedit_00.png", "cat_sdedit_01.png", "metrics.json"]
    data = json.loads((out / "metrics.json").read_text())
    assert data["options"]["t0"] == 600 and data["options"]["denoise_steps"] == 6
    assert data["options"]["class_name"] == "grumpy cat" and data["options"]["seeds"] == [3, 4]
    assert len(data["metrics"]["l2"]) == 2 and data["timings"]["total"] > 0
    assert Image.open(out / "cat_denoising.gif").n_frames >= 4  # guide, 3 previews, final (GIF merges repeats)
    # the same command again gives the same pixels
    out2 = tmp_path / "again"
    main(["sdedit", str(guide), "--model", str(tiny_pixel_dir), "--t0", "600", "--scheduler", "ddpm", "--steps", "10",
          "--guidance", "2", "--class-name", "grumpy cat", "--n", "2", "--seed", "3", "--frames", "0",
          "--out", str(out2)])
    assert (out / "cat_sdedit_01.png").read_bytes() == (out2 / "cat_sdedit_01.png").read_bytes()
    assert not (out2 / "cat_denoising.gif").exists()


def test_sdedit_with_mask_on_stable_diffusion(tmp_path, tiny_sd_dir):
    guide = tmp_path / "g.png"
    guide_image(size=(32, 32)).save(guide)
    mask = np.zeros((32, 32), np.uint8)
    mask[8:24, 8:24] = 255
    Image.fromarray(mask).save(tmp_path / "m.png")
    out = tmp_path / "out"
    assert main(["sdedit", str(guide), "--model", str(tiny_sd_dir), "--mask", str(tmp_path / "m.png"),
                 "--prompt", "a cat", "--negative", "a dog", "--steps", "4", "--strength", "0.5", "--out", str(out)]) == 0
    data = json.loads((out / "metrics.json").read_text())
    assert data["options"]["pipeline"] == "StableDiffusionInpaintPipeline" and "masked_l2" in data["metrics"]
    result = np.asarray(Image.open(out / "g_sdedit_00.png"))
    assert np.array_equal(result[mask == 0], np.asarray(Image.open(guide))[mask == 0])


def test_sdedit_errors_are_one_line(tmp_path, tiny_pixel_dir, capsys):
    guide = tmp_path / "g.png"
    guide_image().save(guide)
    assert main(["sdedit", str(guide), "--model", str(tiny_pixel_dir), "--class-name", "dog",
                 "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]  # after the (cleared) progress bar
    assert err == "error: Unknown class 'dog': this model knows 'cat', 'grumpy cat'."
    assert main(["sdedit", str(guide), "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["sdedit", str(guide), "--model", str(tiny_pixel_dir), "--strength", "1.5",
                 "--out", str(tmp_path / "o")]) == 2
    assert "Strength must be between" in capsys.readouterr().err


def test_compare_gan_and_diffusion(tmp_path, tiny_pixel_dir):
    sketch = np.full((20, 24, 3), 255, np.uint8)
    sketch[6:14, 8:16] = (40, 120, 200)
    Image.fromarray(sketch).save(tmp_path / "sketch.png")
    out = tmp_path / "cmp"
    assert main(["compare", str(tmp_path / "sketch.png"), "--gan", "default", "--gan-steps", "3",
                 "--diffusion", str(tiny_pixel_dir), "--steps", "6", "--strength", "0.7", "--seed", "1",
                 "--device", "cpu", "--out", str(out)]) == 0
    names = sorted(p.name for p in out.iterdir())
    assert names == ["compare.png", "diffusion.png", "gan.png", "mask.png", "metrics.json"]
    data = json.loads((out / "metrics.json").read_text())
    for engine in ("gan", "diffusion"):
        assert 0 <= data[engine]["masked_l2"] <= 1 and data[engine]["seconds"] > 0
    assert data["sheet"] == ["sketch", "gan", "diffusion"] and data["gan"]["model"]["source"] == "default"
    sheet = Image.open(out / "compare.png")
    assert sheet.size[0] > 3 * 64  # three 64 px panels side by side (GAN size)
    # "edit": SDEdit keeps the sketch's background outside the strokes
    diffusion = np.asarray(Image.open(out / "diffusion.png"))
    assert (diffusion[:2] == 255).all()
    # "metric": SDEdit re-imagines the whole sketch; the mask only scores it
    out2 = tmp_path / "cmp2"
    assert main(["compare", str(tmp_path / "sketch.png"), "--gan-steps", "1", "--diffusion", str(tiny_pixel_dir),
                 "--steps", "6", "--strength", "0.7", "--sdedit-mask", "metric", "--out", str(out2)]) == 0
    assert not (np.asarray(Image.open(out2 / "diffusion.png"))[:2] == 255).all()
    assert json.loads((out2 / "metrics.json").read_text())["diffusion"]["options"]["masked"] is False


def test_compare_edit_puts_the_gans_direction_beside_diffusions_translation(tmp_path, tiny_pixel_dir):
    out = tmp_path / "edits"
    assert main(["compare", "assets/examples/photos/stylegan2_seed8.png", "--edit", "grumpy", "--diffusion",
                 str(tiny_pixel_dir), "--strength", "0.5", "--steps", "6", "--device", "cpu", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["compare.png", "diffusion.png", "gan.png", "metrics.json"]
    data = json.loads((out / "metrics.json").read_text())
    assert data["gan"]["options"] == {"direction": "grumpy", "strength": 4.0, "invert_steps": 75}
    assert data["diffusion"]["options"]["class_name"] == "grumpy cat" and data["diffusion"]["options"]["strength"] == 0.5
    for engine in ("gan", "diffusion"):
        assert {"psnr", "ssim", "layout_ssim", "holds_cat_face", "seconds"} <= set(data[engine])
    assert main(["compare", "assets/examples/photos/stylegan2_seed8.png", "--edit", "no-such-direction",
                 "--diffusion", str(tiny_pixel_dir), "--out", str(out)]) == 2
