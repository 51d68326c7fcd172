"""Conversions at the library's boundary: whatever users hand us becomes PIL RGB, then tensors.

Convention: images at the boundary are PIL RGB (or paths); tensors inside are float in [-1, 1], NCHW.
Uploads are untrusted, so every reader here checks the pixel count before decoding and turns
unreadable or truncated files into a `LatentStudioError` that names the file. Masks and scribbles
come in several encodings (alpha, strokes on white or black, the course's 127/255 masks); they are
all normalised here so the engines only ever see float masks in [0, 1].
"""
from __future__ import annotations

import io
import math
import struct
import warnings
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .base import LatentStudioError, ProgressCallback, as_list, check_range

#: Images with more pixels than this are refused before they are decoded (uploads are untrusted).
MAX_PIXELS = 64_000_000

#: The file formats we decode. Uploads are untrusted, so the long tail of PIL plugins (EPS, which hands
#: the file to Ghostscript; PSD, FITS, …) is never tried: anything else reads as "not a supported image".
FORMATS = ("PNG", "JPEG", "WEBP", "GIF", "BMP", "TIFF", "PPM", "AVIF")

#: Largest mask dilation in pixels (a bigger one is surely a typo, and costs a huge pooling kernel).
MAX_DILATE = 256

_BACKGROUNDS = {"white": (255, 255, 255), "black": (0, 0, 0)}


def _check_pixels(size: tuple[int, int], name: str = "Image") -> None:
    w, h = size
    if w * h > MAX_PIXELS:
        raise LatentStudioError(f"{name} is {w}×{h} = {w * h} pixels; the limit is {MAX_PIXELS}.")
    if w < 1 or h < 1:
        raise LatentStudioError(f"{name} is {w}×{h}: it has no pixels.")


def _formats() -> list[str]:
    Image.init()
    return [f for f in FORMATS if f in Image.OPEN]


def _from_array(arr: np.ndarray) -> Image.Image:
    a = np.asarray(arr)
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[..., 0]
    if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[2] not in (3, 4)):
        raise LatentStudioError(f"An image array must be HxW, HxWx3 or HxWx4, got shape {a.shape}.")
    _check_pixels((a.shape[1], a.shape[0]))
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    elif np.issubdtype(a.dtype, np.floating):
        a = np.round(np.clip(np.nan_to_num(a), 0.0, 1.0) * 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise LatentStudioError(f"An image array must be uint8 or float in [0, 1], got {a.dtype}.")
    return Image.fromarray(np.ascontiguousarray(a))


def _open(src: Any) -> Image.Image:
    """Any supported input -> a decoded PIL image in its own mode (size checked before decoding)."""
    if isinstance(src, Image.Image):
        _check_pixels(src.size)
        try:  # a lazily opened image decodes here: a truncated file must fail like one read from disk
            src.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise LatentStudioError(f"The image could not be decoded ({type(exc).__name__}: {exc}).") from exc
        return src
    if isinstance(src, np.ndarray):
        return _from_array(src)
    if isinstance(src, (bytes, bytearray, memoryview)):
        name, fp = "The uploaded data", io.BytesIO(bytes(src))
    elif isinstance(src, (str, Path)):
        path = Path(src).expanduser()
        if not path.is_file():
            raise LatentStudioError(f"No such image file: {str(path)!r}.")
        name, fp = repr(str(path)), path
    elif hasattr(src, "read"):
        name, fp = "The uploaded file", src
    else:
        raise LatentStudioError(f"Cannot read an image from a {type(src).__name__}: pass a path, PIL image, array or bytes.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            opened = Image.open(fp, formats=_formats())  # reads the header only
        with opened as img:
            _check_pixels(img.size, name)  # before a single pixel is decoded
            img.load()
            return ImageOps.exif_transpose(img)  # a copy; phone photos: honour the orientation tag
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise LatentStudioError(f"{name} is too large to open safely ({exc}); the limit is {MAX_PIXELS} pixels.") from exc
    except LatentStudioError:
        raise
    except UnidentifiedImageError as exc:
        raise LatentStudioError(f"{name} is not an image PIL can read (not a {', '.join(FORMATS)} file, "
                                "or its header is damaged).") from exc
    except (OSError, ValueError, SyntaxError, EOFError, struct.error) as exc:
        raise LatentStudioError(f"{name} is not an image PIL can read ({type(exc).__name__}: {exc}).") from exc


def _high_bit_to_8(img: Image.Image) -> Image.Image:
    """16/32-bit integer and float grayscale -> 8-bit "L", scaled rather than clipped."""
    a = np.asarray(img).astype(np.float64)
    if img.mode == "F":
        a = a * 255.0 if a.size and a.max() <= 1.0 else a
    else:  # "I;16*" and "I" hold 16-bit data (that is how PIL opens 16-bit PNG/TIFF)
        a = a / 257.0
    return Image.fromarray(np.round(np.clip(a, 0, 255)).astype(np.uint8), "L")


def _has_alpha(img: Image.Image) -> bool:
    return img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info)


def _to_rgb(img: Image.Image, composite_on: str | tuple = "white") -> Image.Image:
    if img.mode.startswith("I") or img.mode == "F":
        img = _high_bit_to_8(img)
    if _has_alpha(img):
        colour = _BACKGROUNDS.get(composite_on, composite_on) if isinstance(composite_on, str) else composite_on
        if not isinstance(colour, tuple):
            raise LatentStudioError(f"composite_on must be 'white', 'black' or an (r, g, b) tuple, got {composite_on!r}.")
        bg = Image.new("RGBA", img.size, tuple(colour)[:3] + (255,))
        return Image.alpha_composite(bg, img.convert("RGBA")).convert("RGB")
    return img if img.mode == "RGB" else img.convert("RGB")


def load_image(src: Any, *, composite_on: str | tuple = "white") -> Image.Image:
    """A path, PIL image, array or bytes -> PIL RGB (alpha composited on ``composite_on``)."""
    return _to_rgb(_open(src), composite_on)


def load_rgba(src: Any) -> Image.Image:
    """Like `load_image` but keeps transparency (masks are often drawn as alpha)."""
    img = _open(src)
    if _has_alpha(img):
        return img.convert("RGBA")
    return _to_rgb(img).convert("RGBA")


def center_crop_resize(img: Any, size: int) -> Image.Image:
    """Centre square crop, then LANCZOS resize to ``size``×``size`` (models want square inputs)."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1:
        raise LatentStudioError(f"Size must be a positive whole number, got {size!r}.")
    img = img if isinstance(img, Image.Image) else load_image(img)
    w, h = img.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    return img.crop((left, top, left + s, top + s)).resize((int(size), int(size)), Image.LANCZOS)


def to_tensor(images: Any, device: str | torch.device = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """One image or a list (all the same size) -> float tensor [N, 3, H, W] in [-1, 1]."""
    pils = [load_image(im) for im in as_list(images)]
    if not pils:
        raise LatentStudioError("No images given.")
    sizes = {im.size for im in pils}
    if len(sizes) > 1:
        raise LatentStudioError(f"All images must have the same size, got {sorted(sizes)}; crop or resize them first.")
    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in pils])
    x = torch.from_numpy(arr).permute(0, 3, 1, 2).to(torch.float32) / 127.5 - 1.0
    return x.to(device=device, dtype=dtype)


def to_pil(tensor: torch.Tensor) -> list[Image.Image]:
    """[N, C, H, W] or [C, H, W] in [-1, 1] (C = 1 or 3) -> list of PIL RGB (clamped, rounded)."""
    x = torch.as_tensor(tensor).detach()
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[1] not in (1, 3):
        raise ValueError(f"Expected [N, 1|3, H, W] or [1|3, H, W], got shape {tuple(x.shape)}.")
    x = ((x.to("cpu", torch.float32).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if x.shape[1] == 1:
        x = x.expand(-1, 3, -1, -1)
    return [Image.fromarray(a) for a in x.permute(0, 2, 3, 1).contiguous().numpy()]


def pil_progress(progress: Optional[ProgressCallback]) -> Optional[Callable[[int, int, Optional[torch.Tensor]], None]]:
    """A callback for tensor previews ([1, C, R, R] in [-1, 1], or None) that hands ``progress`` PIL images; None
    stays None. The core algorithms report tensors, users' callbacks take images."""
    if progress is None:
        return None
    return lambda step, total, preview: progress(step, total, None if preview is None else to_pil(preview)[0])


def _dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return mask
    t = torch.from_numpy(mask)[None, None]
    return F.max_pool2d(t, 2 * int(pixels) + 1, stride=1, padding=int(pixels))[0, 0].numpy()


def mask_from_scribble(img: Any, *, background: str = "auto", threshold: float = 0.1, dilate: int = 0) -> np.ndarray:
    """Where a scribble was drawn, as float32 HxW in {0, 1}.

    Transparency wins when present (alpha > 0 is drawn). Otherwise a pixel is drawn when it differs
    from the background colour by more than ``threshold`` (max channel difference, [0, 1] units).
    ``background="auto"`` picks pure white or pure black, whichever is more common on the border:
    our sketch data is drawn on black, canvas drawings on white.
    """
    if background not in ("auto", "white", "black"):
        raise LatentStudioError(f"background must be 'auto', 'white' or 'black', got {background!r}.")
    check_range("Dilation (pixels)", dilate, 0, MAX_DILATE, integer=True)
    check_range("Threshold", threshold, 0.0, 1.0)
    rgba = np.asarray(load_rgba(img))
    alpha = rgba[..., 3]
    if (alpha < 255).any():
        mask = (alpha > 0).astype(np.float32)
    else:
        rgb = rgba[..., :3]
        if background == "auto":
            border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]])
            white, black = int((border == 255).all(1).sum()), int((border == 0).all(1).sum())
            background = ("white" if border.mean() >= 127.5 else "black") if white == black == 0 else \
                ("white" if white >= black else "black")
        bg = np.array(_BACKGROUNDS[background], dtype=np.float32)
        diff = np.abs(rgb.astype(np.float32) - bg).max(axis=-1) / 255.0
        mask = (diff > threshold).astype(np.float32)
    return _dilate(mask, dilate)


def load_mask(src: Any, size: int | tuple[int, int] | None = None) -> np.ndarray:
    """A mask image -> float32 HxW in [0, 1], as clip(2·m/255 − 1, 0, 1) of its grayscale m.

    That maps 0/255 masks to 0/1 and the course's "127 = background, 255 = stroke" masks to 0/1 too,
    keeping soft edges soft. Float or bool arrays are taken as mask values already (clipped), so the
    output of `mask_from_scribble` passes through unchanged. ``size``: int or (w, h), bilinear.
    """
    a = np.asarray(src) if isinstance(src, np.ndarray) else None
    if a is not None and (a.dtype == bool or np.issubdtype(a.dtype, np.floating)):
        a = a[..., 0] if a.ndim == 3 else a
        if a.ndim != 2:
            raise LatentStudioError(f"A mask array must be HxW, got shape {np.asarray(src).shape}.")
        m = np.clip(np.nan_to_num(a.astype(np.float32)), 0.0, 1.0)
    else:
        gray = np.asarray(_to_rgb(_open(src), composite_on="black").convert("L"), dtype=np.float32)
        m = np.clip(2.0 * gray / 255.0 - 1.0, 0.0, 1.0)
    if size is not None:
        try:
            wh = (int(size), int(size)) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))
        except (TypeError, ValueError, IndexError, OverflowError):
            raise LatentStudioError(f"Mask size must be an int or (width, height), got {size!r}.") from None
        if min(wh) < 1:
            raise LatentStudioError(f"Mask size must be positive, got {size!r}.")
        _check_pixels(wh, "The mask size")
        m = np.clip(np.asarray(Image.fromarray(m, mode="F").resize(wh, Image.BILINEAR)), 0.0, 1.0)
    return m.astype(np.float32)


def check_mask(mask: Any) -> None:
    """Refuse an all-zero mask: a masked edit with nothing masked would silently do nothing."""
    total = float(mask.sum()) if hasattr(mask, "sum") else float(np.sum(mask))
    if total == 0:
        raise LatentStudioError("The mask is empty: draw some strokes (or upload a mask that is white where "
                                "the result should follow the guide).")


def make_grid(images: Sequence[Any], nrow: int | None = None) -> Image.Image:
    """Tile same-size images into one PIL image (2 px white padding, ``nrow`` images per row)."""
    from torchvision.utils import make_grid as tv_make_grid

    x = to_tensor(list(images))
    n = x.shape[0]
    nrow = int(nrow) if nrow else math.ceil(math.sqrt(n))
    grid = tv_make_grid((x + 1) / 2, nrow=max(1, nrow), padding=2, pad_value=1.0)
    return to_pil(grid * 2 - 1)[0]


def frame_strip(frames: Sequence[Any], n: int | None = None) -> Image.Image:
    """One row of ``n`` evenly spaced frames (all when None): a still summary of an animation."""
    frames = list(frames)
    if n is not None and 0 < n < len(frames):
        idx = np.linspace(0, len(frames) - 1, int(n)).round().astype(int)
        frames = [frames[i] for i in idx]
    return make_grid(frames, nrow=len(frames))


def save_animation(frames: Sequence[Any], path: str | Path, fps: float = 12, loop: int = 0) -> Path:
    """Write frames as a GIF or an MP4 (H.264) with imageio; frames take the first frame's size."""
    import imageio.v3 as iio

    pils = [load_image(f) for f in frames]
    if not pils:
        raise LatentStudioError("No frames to save.")
    if not fps or fps <= 0:
        raise LatentStudioError(f"fps must be positive, got {fps!r}.")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise LatentStudioError(f"Cannot write an animation as {suffix or 'a file without suffix'!r}: use .gif or .mp4.")
    size = pils[0].size
    if suffix == ".mp4":  # libx264 with yuv420p wants sizes that are multiples of 16
        size = (math.ceil(size[0] / 16) * 16, math.ceil(size[1] / 16) * 16)
    arrs = np.stack([np.asarray(p if p.size == size else p.resize(size, Image.NEAREST)) for p in pils])
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if suffix == ".gif":
            iio.imwrite(path, arrs, duration=1000 / fps, loop=loop)
        else:
            iio.imwrite(path, arrs, plugin="FFMPEG", fps=fps, codec="libx264", macro_block_size=16)
    except OSError as exc:
        raise LatentStudioError(f"Could not write {str(path)!r}: {exc}") from exc
    return path
