"""Boundary conversions: what users upload becomes the right RGB pixels, masks and animations."""
from __future__ import annotations

import io
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run without installing the package

from engines import imaging  # noqa: E402
from engines.base import LatentStudioError  # noqa: E402
from engines.imaging import (center_crop_resize, check_mask, frame_strip, load_image, load_mask,  # noqa: E402
                             load_rgba, make_grid, mask_from_scribble, save_animation, to_pil, to_tensor)

SKETCHES = Path(__file__).resolve().parents[2] / "shared" / "data" / "sketches"


def rand_rgb(h=16, w=24, seed=0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8))


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", **kw)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------- tensors

def test_round_trip_is_exact_for_all_uint8_values():
    arr = np.arange(256 * 3, dtype=np.uint16).reshape(16, 16, 3).astype(np.uint8)
    imgs = [Image.fromarray(arr), rand_rgb(16, 16, seed=1)]
    x = to_tensor(imgs)
    assert x.shape == (2, 3, 16, 16) and x.dtype == torch.float32
    assert x.min() >= -1 and x.max() <= 1 and x.min() == -1 and x.max() == 1
    back = to_pil(x)
    for a, b in zip(imgs, back):
        assert b.mode == "RGB" and np.array_equal(np.asarray(a), np.asarray(b))


def test_to_tensor_single_and_dtype():
    x = to_tensor(rand_rgb(), dtype=torch.float16)
    assert x.shape == (1, 3, 16, 24) and x.dtype == torch.float16


def test_to_tensor_refuses_mixed_sizes():
    with pytest.raises(LatentStudioError, match="same size"):
        to_tensor([rand_rgb(16, 16), rand_rgb(8, 8)])


def test_to_pil_clamps_3d_and_gray():
    x = torch.tensor([-3.0, 0.0, 5.0]).view(1, 1, 3).expand(3, 1, 3)
    (img,) = to_pil(x)
    assert np.asarray(img)[0].tolist() == [[0, 0, 0], [128, 128, 128], [255, 255, 255]]
    (gray,) = to_pil(torch.zeros(1, 1, 4, 4))
    assert gray.mode == "RGB" and gray.size == (4, 4)


# ---------------------------------------------------------------------------------------- loading

def test_load_image_inputs(tmp_path):
    img = rand_rgb()
    path = tmp_path / "a.png"
    img.save(path)
    arr = np.asarray(img)
    for src in (path, str(path), img, arr, arr / 255.0, png_bytes(img)):
        out = load_image(src)
        assert out.mode == "RGB" and np.array_equal(np.asarray(out), arr)


def test_rgba_composited_on_white():
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 0] = (255, 0, 0, 255)  # opaque red stays red; the rest is transparent black
    out = np.asarray(load_image(Image.fromarray(rgba, "RGBA")))
    assert out[0, 0].tolist() == [255, 0, 0] and out[1, 1].tolist() == [255, 255, 255]
    assert np.asarray(load_image(rgba, composite_on="black"))[1, 1].tolist() == [0, 0, 0]


def test_la_and_palette_transparency_composited():
    la = Image.fromarray(np.stack([np.zeros((4, 4), np.uint8)] * 2, -1), "LA")
    assert np.asarray(load_image(la))[0, 0].tolist() == [255, 255, 255]
    p = Image.new("P", (4, 4), 0)
    p.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    p.putpixel((0, 0), 1)
    p = Image.open(io.BytesIO(png_bytes(p, transparency=0)))
    out = np.asarray(load_image(p))
    assert out[0, 0].tolist() == [255, 0, 0] and out[1, 1].tolist() == [255, 255, 255]


def test_gray_palette_cmyk_converted():
    gray = Image.fromarray(np.full((4, 4), 100, np.uint8), "L")
    assert np.asarray(load_image(gray))[0, 0].tolist() == [100, 100, 100]
    pal = rand_rgb().convert("P")
    assert load_image(pal).mode == "RGB"
    cmyk = Image.new("CMYK", (4, 4), (0, 0, 0, 0))  # no ink = white
    assert np.asarray(load_image(cmyk))[0, 0].tolist() == [255, 255, 255]


def test_16_bit_scaled_not_clipped(tmp_path):
    a = np.array([[0, 257 * 100, 65535]], np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(a).save(path)  # 16-bit grayscale PNG; PIL opens it as I;16 or I
    for src in (path, Image.fromarray(a), Image.fromarray(a.astype(np.int32), "I")):
        out = np.asarray(load_image(src))
        assert out[0, :, 0].tolist() == [0, 100, 255]


@pytest.mark.parametrize("data", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n garbage"])
def test_non_image_bytes(data):
    with pytest.raises(LatentStudioError, match="not an image PIL can read"):
        load_image(data)


def test_truncated_png_names_the_file(tmp_path):
    path = tmp_path / "cut.png"
    path.write_bytes(png_bytes(rand_rgb(64, 64))[:300])
    with pytest.raises(LatentStudioError) as err:
        load_image(path)
    assert "cut.png" in str(err.value) and "not an image PIL can read" in str(err.value)
    with pytest.raises(LatentStudioError, match="No such image file"):
        load_image(tmp_path / "missing.png")
    with pytest.raises(LatentStudioError):
        load_image(12)


def test_huge_image_refused_before_decoding(monkeypatch, tmp_path):
    monkeypatch.setattr(imaging, "MAX_PIXELS", 100)
    path = tmp_path / "big.png"
    rand_rgb(11, 10).save(path)
    for src in (path, Image.open(path), np.zeros((11, 10, 3), np.uint8)):
        with pytest.raises(LatentStudioError, match="11 = 110 pixels; the limit is 100"):
            load_image(src)
    load_image(rand_rgb(10, 10))  # exactly at the limit is fine


def test_decompression_bomb_is_a_user_error(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)  # PIL's own guard fires first
    with pytest.raises(LatentStudioError, match="too large"):
        load_image(png_bytes(rand_rgb(5, 5)))


def test_load_rgba_keeps_alpha():
    rgba = np.zeros((2, 2, 4), np.uint8)
    rgba[0, 0, 3] = 255
    assert np.asarray(load_rgba(rgba))[..., 3].tolist() == [[255, 0], [0, 0]]
    assert np.asarray(load_rgba(rand_rgb()))[..., 3].min() == 255


def test_center_crop_resize():
    img = Image.fromarray(np.zeros((40, 100, 3), np.uint8))
    out = center_crop_resize(img, 32)
    assert out.size == (32, 32) and out.mode == "RGB"
    wide = np.zeros((10, 30, 3), np.uint8)
    wide[:, 10:20] = 255  # the centre square is white, the sides black
    assert np.asarray(center_crop_resize(wide, 10)).min() == 255
    with pytest.raises(LatentStudioError):
        center_crop_resize(img, 0)


# ---------------------------------------------------------------------------------------- masks

def strokes(bg: int) -> np.ndarray:
    a = np.full((16, 16, 3), bg, np.uint8)
    a[5:8, 4:12] = (200, 30, 30) if bg == 0 else (20, 20, 200)
    return a


def test_mask_from_alpha():
    rgba = np.zeros((16, 16, 4), np.uint8)
    rgba[2:4, 2:6] = (255, 255, 255, 255)  # white strokes on transparent: only alpha can tell
    rgba[8, 8, 3] = 10
    m = mask_from_scribble(Image.fromarray(rgba, "RGBA"))
    assert m.dtype == np.float32 and m.shape == (16, 16)
    assert m.sum() == 9 and m[2, 2] == 1 and m[8, 8] == 1 and m[0, 0] == 0


@pytest.mark.parametrize("bg,name", [(255, "white"), (0, "black")])
def test_mask_from_strokes(bg, name):
    a = strokes(bg)
    for background in (name, "auto"):
        m = mask_from_scribble(a, background=background)
        assert m.sum() == 24 and m[6, 5] == 1 and m[0, 0] == 0
    other = "black" if name == "white" else "white"
    assert mask_from_scribble(a, background=other).sum() == 256  # wrong background: everything differs


def test_mask_threshold_and_dilation():
    a = np.full((16, 16, 3), 255, np.uint8)
    a[8, 8] = 0
    a[2, 2] = 250  # within threshold of white: not a stroke
    m = mask_from_scribble(a)
    assert m.sum() == 1
    d = mask_from_scribble(a, dilate=2)
    assert d.sum() == 25 and set(np.unique(d)) == {0.0, 1.0} and d[6:11, 6:11].all()
    assert mask_from_scribble(a, threshold=0.001).sum() == 2
    with pytest.raises(LatentStudioError):
        mask_from_scribble(a, background="grey")


def test_load_mask_encodings():
    course = np.full((4, 4), 127, np.uint8)
    course[0] = 255
    m = load_mask(Image.fromarray(course))
    assert m.dtype == np.float32 and m[0].tolist() == [1.0] * 4 and m[1:].sum() == 0
    binary = np.where(course == 255, 255, 0).astype(np.uint8)
    assert np.array_equal(load_mask(Image.fromarray(binary)), m)
    soft = load_mask(np.full((4, 4, 3), 191, np.uint8))
    assert 0.4 < soft[0, 0] < 0.6  # soft edges stay soft
    floats = np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    assert np.allclose(load_mask(floats), floats)  # already a mask: passed through


def test_load_mask_resize():
    a = np.zeros((8, 8), np.uint8)
    a[:, 4:] = 255
    m = load_mask(Image.fromarray(a), size=16)
    assert m.shape == (16, 16) and m[:, :6].max() == 0 and m[:, 10:].min() == 1 and 0 < m[0, 8] < 1
    assert load_mask(Image.fromarray(a), size=(12, 4)).shape == (4, 12)


def test_check_mask():
    with pytest.raises(LatentStudioError, match="empty"):
        check_mask(np.zeros((4, 4), np.float32))
    with pytest.raises(LatentStudioError, match="empty"):
        check_mask(torch.zeros(1, 1, 4, 4))
    check_mask(np.eye(4, dtype=np.float32))


def test_real_sketches():
    if not (SKETCHES / "rgba_64").is_dir():
        pytest.skip("shared sketch data not present")
    for path in sorted((SKETCHES / "rgba_64").glob("*.png")):
        m = mask_from_scribble(path)
        assert m.shape == (64, 64) and 0 < m.mean() < 1
    data, mask = SKETCHES / "joel99_draw0_data.png", SKETCHES / "joel99_draw0_mask.png"
    if data.exists() and mask.exists():
        drawn = mask_from_scribble(data)  # strokes on black
        given = load_mask(mask) > 0
        assert 0 < drawn.mean() < 0.5 and given.any()
        assert (drawn.astype(bool) & given).sum() > 0.5 * given.sum()


# ---------------------------------------------------------------------------------------- grids and animations

def frames(n=5, h=24, w=40):
    return [Image.fromarray(np.full((h, w, 3), (i * 50, 255 - i * 50, 0), np.uint8)) for i in range(n)]


def test_make_grid_and_strip():
    g = make_grid(frames(5, 8, 10))  # nrow = ceil(sqrt(5)) = 3 -> 3 columns, 2 rows
    assert g.size == (3 * 12 + 2, 2 * 10 + 2) and g.mode == "RGB"
    assert np.asarray(g)[0, 0].tolist() == [255, 255, 255]  # white padding
    assert make_grid(frames(4, 8, 10), nrow=4).size == (4 * 12 + 2, 12)
    assert frame_strip(frames(9, 8, 10), n=3).size == (3 * 12 + 2, 12)


@pytest.mark.parametrize("suffix", [".gif", ".mp4"])
def test_save_animation(tmp_path, suffix):
    import imageio.v3 as iio

    path = save_animation(frames(5, 24, 40), tmp_path / "out" / f"anim{suffix}", fps=10)
    assert path.exists() and path.suffix == suffix
    back = iio.imread(path, index=None)
    assert back.shape[0] == 5
    if suffix == ".gif":
        assert back.shape[1:3] == (24, 40)
        assert iio.immeta(path, index=0)["duration"] == 100
    else:
        assert back.shape[1:3] == (32, 48)  # padded up to multiples of 16 for libx264


def test_save_animation_errors(tmp_path):
    with pytest.raises(LatentStudioError, match=".avi"):
        save_animation(frames(2), tmp_path / "a.avi")
    with pytest.raises(LatentStudioError):
        save_animation([], tmp_path / "a.gif")
