"""Hostile and broken inputs, one deliberate failure (or conversion) each: images, latents, options, faults.

Every case here either converts the input to what the engines expect (odd image modes, masks of
another size) or stops with one `LatentStudioError` whose message says what is wrong and, for
numbers, the allowed range. Model files and pickles are in test_safe_loading.py.
"""
from __future__ import annotations

import io
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile

from engines import imaging
from engines.base import LatentStudioError, check_range
from engines.cli.main import main
from engines.diffusion.guide import prepare_guide, prepare_mask
from engines.diffusion.tiny import tiny_pixel_pipeline
from engines.stylegan import latents as latents_mod
from engines.stylegan import projector
from engines.stylegan.checkpoints import save_gan


def _png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


def _noise(h: int = 48, w: int = 48, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def _bomb_png(width: int, height: int) -> bytes:
    """A 1×1 PNG whose IHDR claims ``width``×``height`` (CRC fixed): a few dozen bytes, billions of pixels."""
    data = bytearray(_png(Image.new("L", (1, 1))))
    data[16:24] = struct.pack(">II", width, height)  # IHDR payload starts after signature + length + b"IHDR"
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])) & 0xFFFFFFFF)
    return bytes(data)


def _error(fn, *args, **kwargs) -> str:
    with pytest.raises(LatentStudioError) as exc:
        fn(*args, **kwargs)
    return str(exc.value)


LOADERS = [imaging.load_image, imaging.load_rgba, imaging.load_mask, imaging.mask_from_scribble]


# ------------------------------------------------------------------------------------- 1. images

@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_text_file_renamed_png_is_not_an_image(tmp_path, loader):
    path = tmp_path / "notes.png"
    path.write_text("shopping list: milk, eggs\n")
    msg = _error(loader, path)
    assert "notes.png" in msg and "not an image" in msg


def test_eps_is_refused_without_handing_it_to_ghostscript(tmp_path):
    path = tmp_path / "drawing.png"
    path.write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n")
    assert Image.open(path).format == "EPS"  # PIL alone would take it (and run gs to decode it)
    assert "not an image" in _error(imaging.load_image, path)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file_cut_in_half(tmp_path, fmt):
    buf = io.BytesIO()
    _noise().save(buf, format=fmt)
    half = buf.getvalue()[: len(buf.getvalue()) // 2]
    path = tmp_path / f"half.{fmt.lower()}"
    path.write_bytes(half)
    for loader in LOADERS:
        msg = _error(loader, path)
        assert "half." in msg and "not an image PIL can read" in msg and "truncated" in msg
    assert "truncated" in _error(imaging.load_image, half)  # raw bytes (an upload)
    # a lazily opened PIL image decodes only when used: that must fail the same clear way
    assert "could not be decoded" in _error(imaging.load_image, Image.open(path))


@pytest.mark.parametrize("loader", LOADERS, ids=lambda f: f.__name__)
def test_decompression_bomb_png_is_refused(tmp_path, loader):
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(50_000, 50_000))  # 2.5 gigapixels claimed by a 67-byte file
    msg = _error(loader, path)
    assert "bomb.png" in msg and "too large" in msg and str(imaging.MAX_PIXELS) in msg


def test_pixel_limit_is_checked_before_decoding(tmp_path, monkeypatch):
    """With PIL's own guard off (as some apps do), our limit still fires — from the header alone."""
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)

    def no_decoding(self):
        raise AssertionError("the pixels were decoded before the size was checked")
    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    path = tmp_path / "bomb.png"
    path.write_bytes(_bomb_png(50_000, 50_000))
    for src in (path, path.read_bytes()):
        for loader in LOADERS:
            msg = _error(loader, src)
            assert "50000×50000 = 2500000000 pixels; the limit is 64000000" in msg


def test_16_bit_png_is_scaled_to_8_bit(tmp_path):
    a = np.array([[0, 257 * 128, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)
    assert Image.open(path).mode == "I;16"
    out = imaging.load_image(path)
    assert out.mode == "RGB" and np.asarray(out)[0, :, 0].tolist() == [0, 128, 255]
    assert imaging.load_mask(path)[0].tolist() == [0.0, pytest.approx(1 / 255, abs=1e-6), 1.0]


def _mode_files(tmp_path: Path) -> dict[str, tuple[Path, tuple[int, int, int]]]:
    """One file per input mode, each a solid colour, with the RGB it must come out as."""
    files = {}
    pal = Image.new("P", (8, 8), 1)
    pal.putpalette([0, 0, 0, 200, 30, 40] + [0] * 762)
    pal.save(tmp_path / "palette.png")
    files["P"] = (tmp_path / "palette.png", (200, 30, 40))
    Image.new("L", (8, 8), 77).save(tmp_path / "gray.png")
    files["L"] = (tmp_path / "gray.png", (77, 77, 77))
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "cmyk.jpg", quality=100)  # full magenta + yellow
    files["CMYK"] = (tmp_path / "cmyk.jpg", (255, 0, 0))
    Image.new("RGBA", (8, 8), (10, 120, 250, 255)).save(tmp_path / "rgba.png")
    files["RGBA"] = (tmp_path / "rgba.png", (10, 120, 250))
    Image.new("RGBA", (8, 8), (10, 120, 250, 0)).save(tmp_path / "clear.png")
    files["RGBA transparent"] = (tmp_path / "clear.png", (255, 255, 255))  # composited on white
    return files


def test_palette_gray_cmyk_rgba_files_become_the_right_rgb(tmp_path, tiny_engine):
    for mode, (path, rgb) in _mode_files(tmp_path).items():
        assert Image.open(path).mode == mode.split()[0]
        out = imaging.load_image(path)
        assert out.mode == "RGB", mode
        assert np.abs(np.asarray(out, dtype=int)[4, 4] - rgb).max() <= 2, (mode, np.asarray(out)[4, 4])
        # and what the engines call: the GAN's inversion targets and the diffusion guide
        target = tiny_engine.targets([path])
        assert target.shape == (1, 3, 32, 32)
        expected = torch.tensor(rgb, dtype=torch.float32) / 127.5 - 1
        assert (target[0, :, 16, 16] - expected).abs().max() < 0.03, mode
        guide, size = prepare_guide(path, 16)
        assert guide.mode == "RGB" and guide.size == (16, 16) and size == (8, 8)


def _blank_and_stroke(size=(32, 32)):
    blank = Image.new("RGB", size, "white")
    stroke = blank.copy()
    stroke.paste((200, 20, 20), (4, 4, 20, 12))
    return blank, stroke


def test_empty_sketch_is_a_clear_error(tiny_engine):
    blank, _ = _blank_and_stroke()
    assert "The mask is empty: draw some strokes" in _error(tiny_engine.scribble, blank, steps=2)
    assert "The mask is empty" in _error(tiny_engine.from_guide, blank, "auto", steps=2)
    assert "The mask is empty" in _error(prepare_mask, "auto", blank, blank.size, 16)


def test_all_zero_mask_is_refused_and_all_ones_works(tiny_engine):
    _, sketch = _blank_and_stroke()
    black, white = Image.new("L", (32, 32), 0), Image.new("L", (32, 32), 255)
    assert "The mask is empty" in _error(tiny_engine.scribble, sketch, black, steps=2)
    assert "The mask is empty" in _error(prepare_mask, black, sketch, sketch.size, 16)
    assert "The mask is empty" in _error(prepare_mask, np.zeros((32, 32), np.float32), sketch, sketch.size, 16)
    result = tiny_engine.scribble(sketch, white, steps=2)
    assert result.options["masked"] and np.isfinite(result.metrics["masked_l2"]).all()
    assert prepare_mask(white, sketch, sketch.size, 16).min() == 1.0


def test_gan_scribble_resizes_a_mask_of_another_size(tiny_engine, monkeypatch):
    _, sketch = _blank_and_stroke()
    mask = Image.new("L", (96, 96), 0)
    mask.paste(255, (0, 0, 48, 96))  # left half, at 3× the sketch size
    seen = {}
    real_run = projector.Projector.run

    def spy(self, target, mask_t, *a, **k):
        seen["mask"] = mask_t.detach().cpu().numpy()[0, 0]
        return real_run(self, target, mask_t, *a, **k)
    monkeypatch.setattr(projector.Projector, "run", spy)
    result = tiny_engine.scribble(sketch, mask, steps=2)
    m = seen["mask"]
    assert m.shape == (32, 32) and m[:, :15].min() == 1.0 and m[:, 17:].max() == 0.0
    assert result.images[0].size == (32, 32)


def test_diffusion_mask_same_aspect_other_size_is_resized_other_aspect_refused():
    guide = Image.new("RGB", (40, 20), "white")
    mask = Image.new("L", (80, 40), 0)
    mask.paste(255, (0, 0, 40, 40))  # left half at twice the guide's size
    m = prepare_mask(mask, guide, guide.size, 16)
    assert m.shape == (16, 16) and m[:, :7].min() == 1.0 and m[:, 9:].max() == 0.0  # centre crop, then resize
    msg = _error(prepare_mask, Image.new("L", (80, 80), 255), guide, guide.size, 16)
    assert "80×80" in msg and "40×20" in msg and "aspect ratio" in msg
    # end to end through the engine
    from engines.diffusion import DiffusionEngine
    engine = DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu")
    result = engine.from_guide(guide, mask, steps=2, strength=0.5, frames=0)
    assert result.options["masked"] and result.images[0].size == (16, 16)


def test_zero_size_and_odd_arrays():
    assert "no pixels" in _error(imaging.load_image, np.zeros((0, 5, 3), np.uint8))
    assert "uint8 or float" in _error(imaging.load_image, np.zeros((4, 4), np.int64))
    assert "Dilation (pixels) must be between 0 and 256" in _error(imaging.mask_from_scribble, _noise(), dilate=10_000)
    assert "mask size" in _error(imaging.load_mask, Image.new("L", (4, 4)), size=100_000).lower()


# ------------------------------------------------------------------------------------- 2. latents

@pytest.fixture
def record(tiny_engine):
    return tiny_engine.latent_record(torch.zeros(1, 32), "w")


def _save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def test_latent_non_finite_values(tiny_engine, record, tmp_path):
    for bad in (np.nan, np.inf, -np.inf, 1e300):
        latent = np.zeros((1, 32))
        latent[0, 3] = bad
        path = _save(tmp_path / "bad.npz", **{**record, "latent": latent})
        assert "NaN or infinite" in _error(tiny_engine.load_latent, path)


def test_latent_wrong_shape_and_empty(tiny_engine, record, tmp_path):
    for shape in [(1, 31), (2, 3, 32), (0, 32), ()]:
        path = _save(tmp_path / "s.npz", **{**record, "latent": np.zeros(shape, np.float32)})
        msg = _error(tiny_engine.load_latent, path)
        assert "has shape [N, 32]" in msg and str(list(shape)) in msg


def test_latent_from_another_model(tiny_engine, tiny_dcgan_engine, record, tmp_path):
    path = _save(tmp_path / "l.npz", **record)
    msg = _error(tiny_dcgan_engine.load_latent, path)
    assert "another model" in msg and tiny_engine.fingerprint in msg and tiny_dcgan_engine.fingerprint in msg


def test_latent_from_a_model_of_the_same_shape_is_refused(tiny_g, tmp_path):
    """The fingerprint identifies the weights: same architecture and config, other weights → refused."""
    from conftest import make_engine, randomize
    from engines.stylegan.networks import StyleGAN2Generator
    other = make_engine(randomize(StyleGAN2Generator(**tiny_g.config.as_dict()), 99))
    mine = make_engine(tiny_g)
    assert other.bundle.config == mine.bundle.config and other.fingerprint != mine.fingerprint
    path = _save(tmp_path / "l.npz", **mine.latent_record(torch.zeros(1, 32), "w"))
    assert "another model" in _error(other.load_latent, path)
    assert mine.load_latent(path)[0].shape == (1, 32)


def test_latent_with_pickled_object_array_is_not_unpickled(tiny_engine, tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))
    path = _save(tmp_path / "obj.npz", latent=np.array([Payload()], dtype=object), space=np.array("w"))
    msg = _error(tiny_engine.load_latent, path)
    assert "obj.npz holds Python objects (pickled data), which Latent Studio never loads" in msg
    assert not marker.exists()
    np.load(path, allow_pickle=True)["latent"]  # proof that the payload is live with pickling allowed
    assert marker.exists()


@pytest.mark.parametrize("content", ["text", "npy", "missing", "text-array", "complex"])
def test_latent_files_that_are_not_latents(tiny_engine, record, tmp_path, content):
    path = tmp_path / "x.npz"
    if content == "text":
        path.write_text("not a latent\n")
    elif content == "npy":
        np.save(tmp_path / "x.npy", np.zeros((1, 32)))
        path = tmp_path / "x.npy"
    elif content == "text-array":
        _save(path, **{**record, "latent": np.array(["a"] * 32)})
    elif content == "complex":
        _save(path, **{**record, "latent": np.zeros((1, 32), complex)})
    msg = _error(tiny_engine.load_latent, path)
    expected = {"text": "not a NumPy .npz archive", "npy": "not a NumPy .npz archive",
                "missing": "No such latent file", "text-array": "real numbers", "complex": "real numbers"}[content]
    assert expected in msg


def test_latent_entry_too_large_is_refused_before_reading(tiny_engine, record, tmp_path, monkeypatch):
    monkeypatch.setattr(latents_mod, "MAX_LATENT_BYTES", 64)
    path = _save(tmp_path / "big.npz", **record)
    assert "at most 64 bytes per entry" in _error(tiny_engine.load_latent, path)


# ----------------------------------------------------------------------------- 3. numeric options

@pytest.mark.parametrize("value", [float("nan"), float("inf"), None, "ten", True, [3]])
def test_check_range_refuses_what_is_not_a_finite_number(value):
    for integer in (False, True):
        msg = _error(check_range, "Steps", value, 1, 100, integer=integer)
        assert "Steps must be" in msg and "between 1 and 100" in msg


GAN_CASES = [
    ("sample", dict(n=0), "Number of samples must be between 1 and 1024"),
    ("sample", dict(n=5000), "Number of samples must be between 1 and 1024"),
    ("sample", dict(n=2, batch_size=0), "Batch size must be between 1 and 1024"),
    ("sample", dict(n=2, truncation=float("nan")), "Truncation must be between 0.0 and 2.0"),
    ("sample", dict(n=2, truncation=-1), "Truncation must be between 0.0 and 2.0"),
    ("invert", dict(steps=0), "Steps must be between 1 and 5000"),
    ("invert", dict(steps=float("nan")), "Steps must be between 1 and 5000"),
    ("invert", dict(steps=None), "Steps must be a whole number between 1 and 5000"),
    ("invert", dict(steps=2, restarts=21), "Restarts must be between 1 and 20"),
    ("invert", dict(steps=2, frames=-1), "Preview frames must be between 0 and 500"),
    ("invert", dict(steps=2, lr=1e9), "Learning rate must be between"),
    ("scribble", dict(steps=20_000), "Steps must be between 1 and 5000"),
    ("scribble", dict(steps=2, restarts=0), "Restarts must be between 1 and 20"),
    ("interpolate", dict(frames=1), "Frames must be between 2 and 240"),
    ("interpolate", dict(frames=1000), "Frames must be between 2 and 240"),
]


@pytest.mark.parametrize("method, kwargs, message", GAN_CASES)
def test_gan_engine_option_limits(tiny_engine, record, method, kwargs, message):
    _, sketch = _blank_and_stroke()
    call = {"sample": lambda: tiny_engine.sample(seed=0, **kwargs),
            "invert": lambda: tiny_engine.invert([sketch], **kwargs),
            "scribble": lambda: tiny_engine.scribble(sketch, **kwargs),
            "interpolate": lambda: tiny_engine.interpolate(record, record, space="w", **kwargs)}[method]
    assert message in _error(call)


DIFFUSION_CASES = [
    (dict(steps=0), "Steps must be between 1 and 1000"),
    (dict(steps=5000), "Steps must be between 1 and 1000"),
    (dict(strength=1.5), "Strength must be between 0.0 and 1.0"),
    (dict(strength=float("nan")), "Strength must be between 0.0 and 1.0"),
    (dict(guidance=-1), "Guidance scale must be between 0.0 and 50.0"),
    (dict(guidance=1e6), "Guidance scale must be between 0.0 and 50.0"),
    (dict(frames=101), "Frames must be between 0 and 100"),
    (dict(n=17), "Number of samples (n) must be between 1 and 16"),
    (dict(t0=5000), "t0 (timesteps of 1000) must be between 0 and 1000"),
    (dict(eta=2.0), "eta must be between 0.0 and 1.0"),
]


@pytest.fixture(scope="module")
def pixel_engine():
    from engines.diffusion import DiffusionEngine
    return DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu")


@pytest.mark.parametrize("kwargs, message", DIFFUSION_CASES)
def test_diffusion_engine_option_limits(pixel_engine, kwargs, message):
    assert message in _error(pixel_engine.from_guide, Image.new("RGB", (16, 16)), **kwargs)


def test_diffusion_sample_limits(pixel_engine):
    assert "Number of samples (n) must be between 1 and 16" in _error(pixel_engine.sample, 17, 0)
    assert "Steps must be between 1 and 1000" in _error(pixel_engine.sample, 1, 0, steps=0)


@pytest.fixture
def gan_dir(tmp_path, tiny_g):
    return save_gan(tmp_path / "gan", tiny_g, fp16=False)


def _cli_error(capsys, argv) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err and err[-1].startswith("error: ")
    return err[-1]


@pytest.mark.parametrize("argv, message", [
    (["sample", "--n", "5000"], "Number of samples must be between 1 and 1024"),
    (["sample", "--truncation", "nan"], "Truncation must be between 0.0 and 2.0"),
    (["invert", "IMG", "--steps", "20000"], "Steps must be between 1 and 5000"),
    (["invert", "IMG", "--restarts", "99"], "Restarts must be between 1 and 20"),
    (["scribble", "IMG", "--dilate", "100000"], "Dilation (pixels) must be between 0 and 256"),
    (["interpolate", "A.npz", "A.npz", "--frames", "1"], "Frames must be between 2 and 240"),
    (["edit", "A.npz", "--direction", "x.npz", "--steps", "1000"], "must be between 2 and 64"),
])
def test_cli_gan_option_limits(tmp_path, gan_dir, capsys, argv, message):
    _, sketch = _blank_and_stroke()
    sketch.save(tmp_path / "img.png")
    argv = [a.replace("IMG", str(tmp_path / "img.png")).replace("A.npz", str(tmp_path / "a.npz")) for a in argv]
    out = tmp_path / ("o.gif" if argv[0] == "interpolate" else "o")
    assert message in _cli_error(capsys, [*argv, "--model", gan_dir, "--out", out])


@pytest.mark.parametrize("flags, message", [
    (["--strength", "2"], "Strength must be between 0.0 and 1.0"),
    (["--guidance", "99"], "Guidance scale must be between 0.0 and 50.0"),
    (["--frames", "500"], "Frames must be between 0 and 100"),
    (["--n", "50"], "Number of samples (n) must be between 1 and 16"),
    (["--steps", "5000"], "Steps must be between 1 and 1000"),
    (["--t0", "-5"], "must be between 0 and 1000"),
])
def test_cli_sdedit_option_limits(tmp_path, capsys, monkeypatch, pixel_engine, flags, message):
    import engines.cli.diffusion as cli_diffusion
    monkeypatch.setattr(cli_diffusion, "_engine", lambda args, source: pixel_engine)
    Image.new("RGB", (16, 16)).save(tmp_path / "g.png")
    assert message in _cli_error(capsys, ["sdedit", tmp_path / "g.png", *flags, "--out", tmp_path / "o"])


# ----------------------------------------------------------------------------- 5. numerical faults

def _diverge_after(monkeypatch, G, calls: int, restart_calls: list | None = None):
    """Make G's renders NaN from the ``calls``-th optimisation step on (renders without grad stay finite)."""
    real = G.synthesize
    count = {"n": 0}

    def synthesize(*args, **kwargs):
        img = real(*args, **kwargs)
        if torch.is_grad_enabled():
            count["n"] += 1
            if count["n"] >= calls and (restart_calls is None or count["n"] in restart_calls):
                return img * float("nan")
        return img
    monkeypatch.setattr(G, "synthesize", synthesize)
    return count


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_nan_mid_run_stops_that_run_and_keeps_the_best(tiny_engine, monkeypatch, optimizer):
    target = tiny_engine.sample(1, seed=3)[0]
    _diverge_after(monkeypatch, tiny_engine.G, calls=5 if optimizer == "adam" else 8)
    r = tiny_engine.invert([target], steps=20, perceptual="none", optimizer=optimizer)
    stopped = r.metrics["stopped_nonfinite"]
    assert len(stopped) == 1 and stopped[0]["restart"] == 0 and 0 < stopped[0]["step"] < 19
    assert np.isfinite(r.latents["latent"]).all() and np.isfinite(r.metrics["loss"]).all()
    assert np.isfinite(r.metrics["psnr"]).all()
    assert np.asarray(r.images[0]).std() > 0  # a real render of the best finite latent


def test_nan_in_one_restart_leaves_the_others_running(tiny_engine, monkeypatch):
    target = tiny_engine.sample(1, seed=3)[0]
    _diverge_after(monkeypatch, tiny_engine.G, calls=4, restart_calls=[4])  # only step 3 of restart 0
    r = tiny_engine.invert([target], steps=10, restarts=2, perceptual="none")
    assert r.metrics["stopped_nonfinite"] == [{"restart": 0, "step": 3, "images": [0]}]
    assert [len(c) for c in r.metrics["loss_curves"]] == [3, 10]
    assert np.isfinite(r.latents["latent"]).all()
    # per-step time counts the 13 steps that ran, not the 20 planned (issue 32, item 5)
    assert r.timings["per_step_ms"] == pytest.approx(1000 * r.timings["total"] / 13, rel=0.05)


def test_nan_from_the_first_step_is_a_clear_error(tiny_engine, monkeypatch):
    _diverge_after(monkeypatch, tiny_engine.G, calls=1)
    msg = _error(tiny_engine.invert, [tiny_engine.sample(1, seed=3)[0]], steps=5, perceptual="none")
    assert "no finite loss" in msg and "lower the learning rate" in msg


@pytest.mark.parametrize("exc", [
    torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB (GPU 0; 15.78 GiB total capacity)"),
    RuntimeError("CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported"),
    MemoryError(),
], ids=["OutOfMemoryError", "RuntimeError", "MemoryError"])
def test_cli_out_of_memory_is_one_line_with_a_hint(gan_dir, tmp_path, capsys, monkeypatch, exc):
    from engines.stylegan.engine import GanEngine

    def oom(self, *a, **k):
        raise exc
    monkeypatch.setattr(GanEngine, "sample", oom)
    err = _cli_error(capsys, ["sample", "--model", gan_dir, "--out", tmp_path / "o"])
    assert "out of" in err and "memory" in err and "--device cpu" in err and "fewer samples" in err
    if not isinstance(exc, MemoryError):
        assert "out of GPU memory" in err


def test_cli_other_runtime_errors_keep_their_traceback(gan_dir, tmp_path, monkeypatch):
    from engines.stylegan.engine import GanEngine

    def bug(self, *a, **k):
        raise RuntimeError("mat1 and mat2 shapes cannot be multiplied")
    monkeypatch.setattr(GanEngine, "sample", bug)
    with pytest.raises(RuntimeError, match="mat1"):
        main(["sample", "--model", str(gan_dir), "--out", str(tmp_path / "o")])


def test_cli_unwritable_output_is_one_line(gan_dir, tmp_path, capsys):
    (tmp_path / "file.txt").write_text("in the way")
    err = _cli_error(capsys, ["sample", "--n", "1", "--model", gan_dir, "--out", tmp_path / "file.txt" / "sub"])
    assert err.startswith("error: could not read or write") and "file.txt" in err
