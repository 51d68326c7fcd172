"""Regenerate ``assets/examples/``: the example inputs the web app shows in ``gr.Examples``.

Everything here is made by Latent Studio itself, deterministically:

* ``examples/sketches/*.png`` — cat-face colour scribbles drawn by the code below with PIL's ImageDraw
  (256×256, like a user's canvas; the engines downscale to 64). Wobbly, brush-like strokes come from a
  seeded RNG, so every run draws the same pixels.
* ``examples/drawings/*.png`` — the simple drawings people make in the app's canvas: flat fills in the canvas
  palette (`demo.common.PALETTE`), a round head with two triangle ears, dot or almond eyes, a nose, a few with
  stripes; no outlines, no shading. The scribble study and the GAN vs SDEdit benchmark run on them too.
* ``examples/photos/*.png`` — samples of our own StyleGAN2 models in ``weights/`` (64×64, upscaled to
  256×256 with Lanczos), for hand-picked seeds that look clearly like cat faces.

Nothing is copied from ``../shared/data``.  Run from the repository root or anywhere::

    python assets/make_examples.py            # sketches and photos
    python assets/make_examples.py --sketches # sketches and drawings only (no model needed)
"""
from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "examples"
SIZE = 256

# Seeds picked by eye from grids of seeds 0-39 (cats) and 0-15 (grumpy) at truncation 0.7:
# varied coats (tabby, white-and-tabby, white, ginger, black-and-white, grey), all clearly cat faces.
CAT_SEEDS = (1, 3, 8, 17, 21, 32)
GRUMPY_SEEDS = (3, 7)
TRUNCATION = 0.7

Point = tuple[float, float]
Colour = tuple[int, ...]

# Geometry shared by all heads, in a 256 canvas. Like aligned cat-face photos: the face fills most of
# the canvas, eyes at ~40% height, nose at ~58%, ears reaching the top corners.
CX = 128.0
EYE_Y = 102.0
EYE_DX = 48.0
NOSE_Y = 150.0


# ----------------------------------------------------------------------------------------------
# Brush helpers: a person's scribble is never a perfect polygon.
class Brush:
    """ImageDraw wrapper that draws jittered, round-capped, slightly varying-width strokes."""

    def __init__(self, img: Image.Image, seed: int) -> None:
        self.img = img
        self.draw = ImageDraw.Draw(img)
        self.rng = np.random.default_rng(seed)

    def _densify(self, pts: Sequence[Point], step: float = 10.0) -> list[Point]:
        """Insert points every ~``step`` px so that jitter bends a straight line like a hand would."""
        out: list[Point] = [pts[0]]
        for (x0, y0), (x1, y1) in zip(pts[:-1], pts[1:]):
            n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
            out += [(x0 + (x1 - x0) * k / n, y0 + (y1 - y0) * k / n) for k in range(1, n + 1)]
        return out

    def _smooth_noise(self, n: int, amount: float) -> np.ndarray:
        """Low-frequency wobble (a random walk, smoothed) for ``n`` points, shape [n, 2]."""
        walk = np.cumsum(self.rng.normal(0.0, amount, size=(n, 2)), axis=0)
        k = np.ones(5) / 5.0
        walk = np.stack([np.convolve(np.pad(walk[:, i], 2, mode="edge"), k, mode="valid") for i in range(2)], 1)
        return walk - walk.mean(0)

    def stroke(self, pts: Sequence[Point], colour: Colour, width: float, *, wobble: float = 1.2,
               closed: bool = False, vary: float = 0.15) -> None:
        """A hand-drawn polyline through ``pts`` (closed: back to the start)."""
        pts = list(pts) + ([pts[0]] if closed else [])
        dense = self._densify(pts)
        noise = self._smooth_noise(len(dense), wobble)
        dense = [(x + dx, y + dy) for (x, y), (dx, dy) in zip(dense, noise)]
        for (x0, y0), (x1, y1) in zip(dense[:-1], dense[1:]):
            w = max(1.0, width * float(self.rng.uniform(1.0 - vary, 1.0 + vary)))
            self.draw.line([(x0, y0), (x1, y1)], fill=colour, width=int(round(w)))
            r = w / 2.0
            self.draw.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=colour)
        x, y = dense[0]
        r = width / 2.0
        self.draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)

    def fill(self, pts: Sequence[Point], colour: Colour, *, wobble: float = 1.5) -> None:
        """A filled shape with a slightly irregular edge."""
        dense = self._densify(list(pts) + [pts[0]])[:-1]
        noise = self._smooth_noise(len(dense), wobble)
        self.draw.polygon([(x + dx, y + dy) for (x, y), (dx, dy) in zip(dense, noise)], fill=colour)

    def scribble_fill(self, pts: Sequence[Point], colour: Colour, width: float, spacing: float,
                      angle: float = 0.6) -> None:
        """Back-and-forth hatching clipped to the polygon ``pts``: colour laid in with a brush."""
        layer = Image.new("L", self.img.size, 0)
        ImageDraw.Draw(layer).polygon([tuple(p) for p in pts], fill=255)
        hatch = Image.new("L", self.img.size, 0)
        hd = ImageDraw.Draw(hatch)
        c, s = math.cos(angle), math.sin(angle)
        reach = SIZE * 1.5
        for k, off in enumerate(np.arange(-reach, reach, spacing)):
            off += float(self.rng.normal(0.0, spacing * 0.15))
            a = (CX + off * -s - reach * c, CX + off * c - reach * s)
            b = (CX + off * -s + reach * c, CX + off * c + reach * s)
            hd.line([a, b], fill=255, width=int(round(width * float(self.rng.uniform(0.8, 1.2)))))
        mask = Image.fromarray((np.asarray(layer) & np.asarray(hatch)).astype(np.uint8))
        self.img.paste(Image.new(self.img.mode, self.img.size, colour), (0, 0), mask)


def ellipse_pts(cx: float, cy: float, rx: float, ry: float, a0: float = 0.0, a1: float = 360.0,
                n: int = 48) -> list[Point]:
    """Points on an ellipse arc, angles in degrees (0 = right, 90 = down)."""
    ts = np.radians(np.linspace(a0, a1, n, endpoint=(a1 - a0) < 360.0))
    return [(cx + rx * math.cos(t), cy + ry * math.sin(t)) for t in ts]


def mirror(pts: Sequence[Point]) -> list[Point]:
    return [(2 * CX - x, y) for x, y in pts]


# Shapes of the standard head (left half where it matters; `mirror` makes the right).
HEAD = ellipse_pts(CX, 146, 116, 104)
CHEEKS = ellipse_pts(CX, 146, 116, 104, -25, 205, n=40)       # sides and chin, open at the top
CROWN = ellipse_pts(CX, 146, 116, 104, 238, 302, n=12)        # top of the head, between the ears
EAR_L = [(22, 96), (26, 8), (98, 52)]
EAR_L_INNER = [(38, 78), (40, 30), (82, 56)]
MUZZLE_GRUMPY = [(CX, 92), (CX + 22, 126), (CX + 52, 158), (CX + 56, 196), (CX + 30, 226), (CX, 232),
                 (CX - 30, 226), (CX - 56, 196), (CX - 52, 158), (CX - 22, 126)]
EYE_PATCH_L = ellipse_pts(CX - EYE_DX - 4, EYE_Y + 6, 46, 34)
NOSE = [(CX - 14, NOSE_Y - 6), (CX + 14, NOSE_Y - 6), (CX, NOSE_Y + 8)]
FROWN = [(CX - 34, NOSE_Y + 44), (CX - 18, NOSE_Y + 30), (CX, NOSE_Y + 26), (CX + 18, NOSE_Y + 30),
         (CX + 34, NOSE_Y + 44)]
MOUTH_LINE = [(CX, NOSE_Y + 8), (CX, NOSE_Y + 26)]


def eye(b: Brush, side: int, iris: Colour, pupil: Colour, outline: Colour, *, slit: bool = False,
        grumpy: bool = False, r: float = 17.0) -> None:
    """One eye; ``side`` -1 (left) or +1 (right). Grumpy eyes have a heavy upper lid."""
    x, y = CX + side * EYE_DX, EYE_Y
    b.fill(ellipse_pts(x, y, r * 1.25, r * 0.85), iris, wobble=0.6)
    if slit:
        b.stroke([(x, y - r * 0.7), (x, y + r * 0.7)], pupil, 5, wobble=0.3)
    else:
        b.fill(ellipse_pts(x + side * 2, y + 2, r * 0.45, r * 0.5), pupil, wobble=0.3)
    b.stroke(ellipse_pts(x, y, r * 1.25, r * 0.85), outline, 4, wobble=0.5, closed=True)
    if grumpy:  # the lid slopes down towards the nose
        lid = [(x - side * r * 1.4, y - r * 0.1), (x, y - r * 0.7), (x + side * r * 1.4, y - r * 0.95)]
        b.stroke(lid, outline, 6, wobble=0.4)
    b.draw.ellipse([x - side * 5 - 3, y - 7, x - side * 5 + 3, y - 1], fill=(255, 255, 255))


def whiskers(b: Brush, colour: Colour, width: float = 3, n: int = 3) -> None:
    for side in (-1, 1):
        for k in range(n):
            x0, y0 = CX + side * (38 + 3 * k), NOSE_Y + 10 + 7 * k
            x1 = CX + side * float(b.rng.uniform(98, 118))
            y1 = NOSE_Y - 8 + 18 * k + float(b.rng.normal(0, 4))
            xm, ym = (x0 + x1) / 2, (y0 + y1) / 2 - 3                # a slight upward bow
            b.stroke([(x0, y0), (xm, ym), (x1, y1)], colour, width, wobble=0.5, vary=0.05)


# ----------------------------------------------------------------------------------------------
# The sketches.
WHITE = (255, 255, 255)
PINK = (236, 132, 158)
INK = (48, 34, 30)
BLUE = (104, 170, 226)
# The "white" of a cat's fur is drawn a little off-white: pure white would read as background to
# `mask_from_scribble` (a pixel counts as drawn when it differs from white by > 10%).
FUR_WHITE = (222, 218, 210)


def grumpy_filled(b: Brush) -> None:
    """Grey-brown Grumpy Cat head, filled with colour, on white."""
    tan, dark, ear_in = (176, 156, 136), (104, 76, 58), (196, 150, 140)
    for ear, inner in ((EAR_L, EAR_L_INNER), (mirror(EAR_L), mirror(EAR_L_INNER))):
        b.fill(ear, dark)
        b.fill(inner, ear_in, wobble=1.0)
    b.fill(HEAD, tan)
    b.scribble_fill(HEAD, (150, 128, 108), 3, 14)                    # a few fur strokes over the base colour
    for patch in (EYE_PATCH_L, mirror(EYE_PATCH_L)):
        b.fill(patch, dark, wobble=2.0)
    b.fill(MUZZLE_GRUMPY, FUR_WHITE, wobble=1.5)
    b.stroke(HEAD, INK, 6, wobble=1.2, closed=True)
    for ear in (EAR_L, mirror(EAR_L)):
        b.stroke(ear, INK, 6, wobble=1.0)
    for side in (-1, 1):
        eye(b, side, BLUE, (30, 40, 60), INK, grumpy=True)
    b.fill(NOSE, PINK, wobble=0.8)
    b.stroke(NOSE, (170, 80, 100), 3, wobble=0.4, closed=True)
    b.stroke(MOUTH_LINE, INK, 5, wobble=0.4)
    b.stroke(FROWN, INK, 7, wobble=0.8)
    whiskers(b, (120, 110, 104), 3)


def grumpy_strokes(b: Brush) -> None:
    """The same Grumpy Cat as sparse coloured strokes only, no fills, on white."""
    brown, tan = (110, 80, 60), (170, 146, 120)
    b.stroke(CHEEKS, brown, 8, wobble=1.6)
    b.stroke(CROWN, brown, 8, wobble=1.0)
    for ear in (EAR_L, mirror(EAR_L)):
        b.stroke(ear, (80, 58, 44), 8, wobble=1.4)
    for scale in (1.0, 0.78):                                       # dark patches: two sweeps under and
        arc = ellipse_pts(CX - EYE_DX - 4, EYE_Y + 6, 46 * scale, 34 * scale, 35, 235, n=16)  # beside each eye
        for patch in (arc, mirror(arc)):
            b.stroke(patch, brown, 9, wobble=1.2)
    b.stroke(MUZZLE_GRUMPY[1:4] + [MUZZLE_GRUMPY[4]], tan, 7, wobble=1.2)
    b.stroke(mirror(MUZZLE_GRUMPY[1:5]), tan, 7, wobble=1.2)
    for side in (-1, 1):
        x = CX + side * EYE_DX
        b.stroke(ellipse_pts(x, EYE_Y, 20, 14), BLUE, 7, wobble=0.8, closed=True)
        b.stroke([(x - side * 24, EYE_Y - 4), (x, EYE_Y - 13), (x + side * 26, EYE_Y - 18)], INK, 6, wobble=0.5)
    b.stroke(NOSE, PINK, 8, wobble=0.6, closed=True)
    b.stroke(FROWN, (60, 44, 40), 8, wobble=1.0)
    whiskers(b, (150, 150, 150), 4)


def ginger_filled(b: Brush) -> None:
    """Orange tabby, filled, on white: darker forehead stripes, cream muzzle, green eyes."""
    orange, stripe, cream = (228, 142, 62), (186, 96, 36), (246, 214, 168)
    for ear, inner in ((EAR_L, EAR_L_INNER), (mirror(EAR_L), mirror(EAR_L_INNER))):
        b.fill(ear, orange)
        b.fill(inner, (240, 170, 150), wobble=1.0)
    b.fill(HEAD, orange)
    for dx in (-20, 0, 20):                                          # the "M" stripes on the forehead
        b.stroke([(CX + dx * 1.3, 48), (CX + dx, 70), (CX + dx * 0.8, 84)], stripe, 8, wobble=0.8)
    for side in (-1, 1):                                             # cheek stripes
        for dy in (0, 18):
            b.stroke([(CX + side * 112, EYE_Y + 30 + dy), (CX + side * 84, EYE_Y + 24 + dy)], stripe, 7)
    b.fill(ellipse_pts(CX - 26, NOSE_Y + 26, 34, 30), cream)
    b.fill(ellipse_pts(CX + 26, NOSE_Y + 26, 34, 30), cream)
    b.fill(ellipse_pts(CX, NOSE_Y + 58, 30, 20), cream)
    b.stroke(HEAD, (150, 80, 30), 6, wobble=1.2, closed=True)
    for ear in (EAR_L, mirror(EAR_L)):
        b.stroke(ear, (150, 80, 30), 6, wobble=1.0)
    for side in (-1, 1):
        eye(b, side, (132, 182, 64), (24, 30, 20), (70, 50, 30), r=18)
    b.fill(NOSE, PINK, wobble=0.8)
    b.stroke(MOUTH_LINE, (120, 70, 40), 4, wobble=0.4)
    b.stroke([(CX - 22, NOSE_Y + 34), (CX - 10, NOSE_Y + 38), (CX, NOSE_Y + 26)], (120, 70, 40), 4, wobble=0.4)
    b.stroke([(CX + 22, NOSE_Y + 34), (CX + 10, NOSE_Y + 38), (CX, NOSE_Y + 26)], (120, 70, 40), 4, wobble=0.4)
    whiskers(b, (250, 246, 236), 3)


def black_cat(b: Brush) -> None:
    """A black cat with big yellow eyes and slit pupils, on white."""
    black, grey = (34, 33, 38), (72, 70, 78)
    for ear, inner in ((EAR_L, EAR_L_INNER), (mirror(EAR_L), mirror(EAR_L_INNER))):
        b.fill(ear, black)
        b.fill(inner, (120, 84, 96), wobble=1.0)
    b.fill(HEAD, black)
    b.scribble_fill(HEAD, (52, 50, 58), 4, 16, angle=-0.5)
    b.stroke(HEAD[2:22], grey, 5, wobble=1.0)                        # a highlight along the chin
    for side in (-1, 1):
        eye(b, side, (240, 206, 40), (10, 10, 10), (20, 20, 20), slit=True, r=20)
    b.fill(NOSE, (90, 70, 80), wobble=0.6)
    b.stroke(MOUTH_LINE, grey, 4, wobble=0.4)
    b.stroke([(CX - 20, NOSE_Y + 34), (CX, NOSE_Y + 26), (CX + 20, NOSE_Y + 34)], grey, 4, wobble=0.4)
    whiskers(b, (200, 200, 200), 3)


def grumpy_on_black(b: Brush) -> None:
    """A flat cartoon Grumpy Cat head on black, like sketches drawn on a black canvas."""
    b.draw.rectangle([0, 0, SIZE, SIZE], fill=(0, 0, 0))
    tan, dark = (196, 172, 146), (118, 84, 62)
    for ear in (EAR_L, mirror(EAR_L)):
        b.fill(ear, dark)
    b.fill(HEAD, tan)
    for patch in (EYE_PATCH_L, mirror(EYE_PATCH_L)):
        b.fill(patch, dark, wobble=2.0)
    b.fill(MUZZLE_GRUMPY, (236, 232, 226))
    for side in (-1, 1):
        eye(b, side, (120, 200, 240), (40, 60, 80), (60, 40, 30), grumpy=True, r=16)
    b.fill([(CX - 16, NOSE_Y - 6), (CX + 16, NOSE_Y - 6), (CX, NOSE_Y + 10)], PINK, wobble=0.8)
    b.stroke(FROWN, PINK, 9, wobble=0.8)


def grumpy_rgba(b: Brush) -> None:
    """Scribble + mask: opaque strokes on a transparent background (alpha = where it was drawn).

    Only the features are drawn (dark ears and eye patches, blue eyes, pink nose, frown, white muzzle
    strokes); the engine fills in the rest of the face.
    """
    dark, tan = (100, 72, 54, 255), (180, 160, 140, 255)
    for ear in (EAR_L, mirror(EAR_L)):
        b.stroke(ear, dark, 14, wobble=1.2)
    for patch in (EYE_PATCH_L, mirror(EYE_PATCH_L)):
        b.scribble_fill(patch, dark[:3] + (255,), 9, 12, angle=0.3)
    b.stroke(CHEEKS, tan, 12, wobble=1.6)
    b.scribble_fill(MUZZLE_GRUMPY, FUR_WHITE + (255,), 10, 13, angle=-0.4)
    for side in (-1, 1):
        eye(b, side, BLUE + (255,), (30, 40, 60, 255), INK + (255,), grumpy=True)
    b.fill(NOSE, PINK + (255,), wobble=0.8)
    b.stroke(FROWN, INK + (255,), 8, wobble=0.8)


SKETCHES: dict[str, tuple[Callable[[Brush], None], str]] = {
    "grumpy_filled": (grumpy_filled, "RGB"),
    "grumpy_strokes": (grumpy_strokes, "RGB"),
    "ginger_filled": (ginger_filled, "RGB"),
    "black_cat": (black_cat, "RGB"),
    "grumpy_on_black": (grumpy_on_black, "RGB"),
    "grumpy_rgba": (grumpy_rgba, "RGBA"),
}


# ----------------------------------------------------------------------------------------------
# Simple drawings: what a person makes in the canvas in a minute, only palette colours (demo.common.PALETTE).
P_BLACK, P_GREY, P_SILVER, P_BROWN, P_SIENNA, P_ORANGE, P_CREAM, P_PINK, P_BLUE, P_GREEN, P_YELLOW = (
    (0, 0, 0), (128, 128, 128), (192, 192, 192), (90, 58, 34), (160, 82, 45), (232, 145, 74), (243, 215, 166),
    (255, 192, 203), (59, 111, 209), (111, 191, 79), (245, 225, 66))
SIMPLE_HEAD = ellipse_pts(CX, 150, 84, 92)
SIMPLE_EAR_L = [(58, 118), (62, 26), (118, 72)]


def _simple_head(b: Brush, fur: Colour, ears: Colour | None = None) -> None:
    for ear in (SIMPLE_EAR_L, mirror(SIMPLE_EAR_L)):
        b.fill(ear, ears or fur, wobble=0.5)
    b.fill(SIMPLE_HEAD, fur, wobble=0.5)


def _dot_eyes(b: Brush, colour: Colour, r: float = 13, dx: float = 34, y: float = 128) -> None:
    for side in (-1, 1):
        b.fill(ellipse_pts(CX + side * dx, y, r, r, n=24), colour, wobble=0.2)


def _almond_eyes(b: Brush, iris: Colour, pupil: Colour, *, slit: bool = False, dx: float = 36, y: float = 128) -> None:
    for side in (-1, 1):
        x = CX + side * dx
        b.fill(ellipse_pts(x, y, 19, 13, n=24), iris, wobble=0.2)
        if slit:
            b.stroke([(x, y - 10), (x, y + 10)], pupil, 6, wobble=0.1)
        else:
            b.fill(ellipse_pts(x, y, 7, 8, n=16), pupil, wobble=0.1)


def _nose(b: Brush, colour: Colour = P_PINK, y: float = 168) -> None:
    b.fill([(CX - 11, y - 6), (CX + 11, y - 6), (CX, y + 6)], colour, wobble=0.2)


def simple_orange(b: Brush) -> None:
    """An orange head and ears, two black dot eyes, a pink nose (the drawing of issue 26)."""
    _simple_head(b, P_ORANGE)
    _dot_eyes(b, P_BLACK)
    _nose(b)


def simple_grey(b: Brush) -> None:
    """A grey head with silver ears, green eyes with black pupils, a pink nose."""
    _simple_head(b, P_GREY)
    for ear in (SIMPLE_EAR_L, mirror(SIMPLE_EAR_L)):
        b.fill([(70, 104), (72, 50), (106, 78)] if ear is SIMPLE_EAR_L else mirror([(70, 104), (72, 50), (106, 78)]),
               P_PINK, wobble=0.3)
    _almond_eyes(b, P_GREEN, P_BLACK)
    _nose(b)


def simple_tabby(b: Brush) -> None:
    """A brown tabby: sienna head, dark brown stripes on the forehead and cheeks, yellow eyes."""
    _simple_head(b, P_SIENNA)
    for dx in (-22, 0, 22):
        b.stroke([(CX + dx, 66), (CX + dx * 0.9, 100)], P_BROWN, 9, wobble=0.4)
    for side in (-1, 1):
        for dy in (0, 20):
            b.stroke([(CX + side * 82, 160 + dy), (CX + side * 56, 156 + dy)], P_BROWN, 8, wobble=0.4)
    _almond_eyes(b, P_YELLOW, P_BLACK)
    _nose(b, P_PINK)


def simple_ginger_stripes(b: Brush) -> None:
    """An orange head with sienna stripes, a cream muzzle, green dot eyes."""
    _simple_head(b, P_ORANGE)
    for dx in (-24, 0, 24):
        b.stroke([(CX + dx, 70), (CX + dx * 0.8, 104)], P_SIENNA, 10, wobble=0.4)
    b.fill(ellipse_pts(CX, 186, 44, 32), P_CREAM, wobble=0.4)
    _dot_eyes(b, P_GREEN, r=12)
    _nose(b)


def simple_grumpy(b: Brush) -> None:
    """A Grumpy Cat: cream face, brown ears and eye patches, blue eyes, a frown."""
    _simple_head(b, P_CREAM, ears=P_BROWN)
    for side in (-1, 1):
        b.fill(ellipse_pts(CX + side * 38, 130, 30, 24), P_BROWN, wobble=0.5)
    _almond_eyes(b, P_BLUE, P_BLACK)
    _nose(b, P_BROWN)
    b.stroke([(CX - 30, 204), (CX - 14, 192), (CX + 14, 192), (CX + 30, 204)], P_BLACK, 7, wobble=0.2)


def simple_black(b: Brush) -> None:
    """A black cat: black head and ears, yellow eyes with slit pupils, a grey nose."""
    _simple_head(b, P_BLACK)
    _almond_eyes(b, P_YELLOW, P_BLACK, slit=True)
    _nose(b, P_GREY)


DRAWINGS: dict[str, Callable[[Brush], None]] = {
    "orange_dots": simple_orange, "grey_green_eyes": simple_grey, "brown_tabby": simple_tabby,
    "ginger_stripes": simple_ginger_stripes, "grumpy_simple": simple_grumpy, "black_simple": simple_black,
}


def make_drawings(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, draw_fn) in enumerate(DRAWINGS.items()):
        img = Image.new("RGB", (SIZE, SIZE), WHITE)
        draw_fn(Brush(img, seed=2000 + i))
        path = out / f"{name}.png"
        img.save(path, optimize=True)
        paths.append(path)
    return paths


def make_sketches(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (name, (draw_fn, mode)) in enumerate(SKETCHES.items()):
        img = Image.new(mode, (SIZE, SIZE), (0, 0, 0, 0) if mode == "RGBA" else WHITE)
        draw_fn(Brush(img, seed=1000 + i))
        path = out / f"{name}.png"
        img.save(path, optimize=True)
        paths.append(path)
    return paths


# ----------------------------------------------------------------------------------------------
# The "photos": samples of our own models.
def make_photos(out: Path) -> list[Path]:
    import torch

    sys.path.insert(0, str(ROOT))
    from engines.stylegan.engine import GanEngine

    torch.set_num_threads(1)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for source, prefix, seeds in (("default", "stylegan2", CAT_SEEDS),
                                  (str(ROOT / "weights" / "stylegan2-grumpy64"), "grumpy", GRUMPY_SEEDS)):
        gan = GanEngine(source, device="cpu")
        for seed in seeds:
            img = gan.sample(1, seed, truncation=TRUNCATION)[0]
            path = out / f"{prefix}_seed{seed}.png"
            img.resize((SIZE, SIZE), Image.LANCZOS).save(path, optimize=True)
            paths.append(path)
    return paths


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sketches", action="store_true", help="only the sketches and drawings (no model needed)")
    ap.add_argument("--photos", action="store_true", help="only the model samples")
    args = ap.parse_args(argv)
    paths = []
    if not args.photos:
        paths += make_sketches(OUT / "sketches") + make_drawings(OUT / "drawings")
    if not args.sketches:
        paths += make_photos(OUT / "photos")
    for p in paths:
        print(f"{p.relative_to(ROOT)}  {p.stat().st_size / 1024:.1f} KiB")


if __name__ == "__main__":
    main()
