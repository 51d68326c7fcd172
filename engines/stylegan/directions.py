"""Latent directions: find them (SeFa, GANSpace, labelled examples) and move latents along them.

A `Direction` is a unit vector in the space edits happen in: "w" for StyleGAN2 (added to w and to any
subset of w+ rows, so layer-restricted edits need no extra data) and "z" for DCGAN (its only space).
A StyleGAN2 direction may also be *per-layer*: a ``[num_ws, w_dim]`` array (STIT-style), one row per w+
row; `apply` adds ``strength * row i`` to w+ row ``i``. Per-layer directions are scaled so that their
rows' root-mean-square norm is 1 (Frobenius norm / sqrt(num_ws)): the relative sizes of the rows are kept,
and a unit vector repeated on every row is left as it is, so a strength means the same for both kinds.

Two optional ``meta`` keys change how a direction is applied (GANSpace named edits set them, see
`editing.ganspace_edit`): ``meta["scale"]`` is the step for strength 1 (default 1; GANSpace: the
component's standard deviation, so strengths are in standard deviations), and ``meta["rows"]`` =
``[start, stop]`` (stop exclusive, ``None`` = the last row) is the w+ row range edited when the caller
gives none. Saving and reading files (``.npz``, ``.npy``, ``.pt``, GANSpace ``.npz``) lives in `editing`.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Optional, Sequence

import numpy as np
import torch

from ..base import LatentStudioError, as_list, check_range, make_generator

DIRECTION_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,99}$")
_INCLUSIVE = re.compile(r"^(\d+)\s*-\s*(\d+)$")  # "first-last" layer ranges, both ends included


@dataclass
class Direction:
    """A unit vector in ``space`` ("w" or "z"), how it was found, and the model it belongs to ("" = unknown).

    ``vector`` is ``[dim]``, or ``[num_ws, w_dim]`` for a per-layer StyleGAN2 direction (see the module notes).
    """
    name: str
    vector: np.ndarray
    space: str
    method: str
    fingerprint: str = ""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def per_layer(self) -> bool:
        """True for a ``[num_ws, dim]`` direction (one row per w+ row)."""
        return np.ndim(self.vector) == 2 and np.shape(self.vector)[0] > 1


def unit_vector(vec: Any, what: str) -> np.ndarray:
    """Float32 unit vector; zero or non-finite vectors are user errors (they would edit nothing or NaN)."""
    v = np.asarray(vec, dtype=np.float64).reshape(-1)
    if v.size == 0 or not np.isfinite(v).all():
        raise LatentStudioError(f"Direction {what} holds NaN/infinite values or is empty.")
    norm = np.linalg.norm(v)
    if norm < 1e-8:
        raise LatentStudioError(f"Direction {what} is a zero vector; it has no direction to edit along.")
    return (v / norm).astype(np.float32)


def as_direction_array(vec: Any, what: str) -> np.ndarray:
    """Leading size-1 axes dropped: ``[d]``/``[1, d]``/``[1, 1, d]`` → ``[d]``; ``[rows, d]`` stays per-layer."""
    a = np.asarray(vec)
    shape = list(a.shape)
    if a.dtype.kind not in "biuf":
        raise LatentStudioError(f"{what} holds {a.dtype} values; a direction is an array of real numbers.")
    while a.ndim > 1 and a.shape[0] == 1:
        a = a[0]
    if a.ndim not in (1, 2) or a.size == 0:
        raise LatentStudioError(f"{what} holds an array of shape {shape}; a direction is [dim], [1, dim] or "
                                f"per-layer [num_ws, dim].")
    return a


def normalise(vec: Any, what: str) -> np.ndarray:
    """`unit_vector` for ``[d]``/``[1, d]``; a per-layer ``[rows, d]`` array scaled to root-mean-square row norm 1."""
    a = as_direction_array(vec, f"Direction {what}")
    if a.ndim == 1:
        return unit_vector(a, what)
    v = a.astype(np.float64)
    if not np.isfinite(v).all():
        raise LatentStudioError(f"Direction {what} holds NaN/infinite values or is empty.")
    norm = np.linalg.norm(v) / math.sqrt(v.shape[0])
    if norm < 1e-8:
        raise LatentStudioError(f"Direction {what} is a zero vector; it has no direction to edit along.")
    return (v / norm).astype(np.float32)


def direction_scale(direction: Direction) -> float:
    """The step for strength 1: ``meta["scale"]`` (GANSpace: the component's standard deviation), else 1."""
    scale = direction.meta.get("scale", 1.0) if isinstance(direction.meta, dict) else 1.0
    try:
        value = float(scale)
    except (TypeError, ValueError):
        value = float("nan")
    if not np.isfinite(value):
        raise LatentStudioError(f"Direction {direction.name!r} has an invalid scale {scale!r}; it must be a finite number.")
    return value


def own_rows(direction: Direction, num_ws: int) -> Optional[tuple[int, int]]:
    """The w+ rows ``(start, stop)`` (stop exclusive) the direction itself names (``meta["rows"]``), else None."""
    rows = direction.meta.get("rows") if isinstance(direction.meta, dict) else None
    if rows is None:
        return None
    if not isinstance(rows, (list, tuple)) or len(rows) != 2:
        raise LatentStudioError(f"Direction {direction.name!r} has an invalid row range {rows!r}; it is [start, stop].")
    start, stop = rows
    stop = num_ws if stop is None else stop
    if not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in (start, stop)) \
            or not 0 <= int(start) < int(stop) <= num_ws:
        last = f"{int(stop) - 1}" if isinstance(stop, (int, np.integer)) else repr(stop)
        raise LatentStudioError(f"Direction {direction.name!r} edits w+ rows {start} to {last} (both included), "
                                f"but this model's w+ has rows 0 to {num_ws - 1}.")
    return int(start), int(stop)


def _sign_fix(v: torch.Tensor) -> torch.Tensor:
    """Eigen/singular vectors have arbitrary sign; make the largest component positive so runs agree."""
    return -v if v[v.abs().argmax()] < 0 else v


def edit_space(G: Any) -> str:
    return "w" if "w" in G.spaces else "z"


def latent_dim(G: Any) -> int:
    return int(G.w_dim) if edit_space(G) == "w" else int(G.z_dim)


# ----------------------------------------------------------------------------------------------
# Layer ranges

def layer_ranges(num_ws: int) -> dict[str, tuple[int, int]]:
    """Named w+ row ranges (StyleGAN convention: pose/shape, features, colour/texture), clipped to ``num_ws``."""
    c = lambda x: min(int(x), int(num_ws))  # noqa: E731
    return {"coarse": (0, c(4)), "middle": (c(4), c(8)), "fine": (c(8), int(num_ws)), "all": (0, int(num_ws))}


def parse_layers(text: Any, num_ws: int) -> Optional[tuple[int, int]]:
    """"coarse" | "middle" | "fine" | "all" | "a:b" | "a-b" | "a" | (a, b) → (start, stop), None meaning all rows.

    ``"a:b"`` and ``(a, b)`` are Python slices (rows a to b-1); ``"a-b"`` is rows a to b *inclusive*
    (GANSpace's first/last layer), so ``"0-5"`` equals ``"0:6"``.
    """
    if text is None or (isinstance(text, str) and text.strip().lower() in ("", "all")):
        return None
    if isinstance(text, (tuple, list)):
        if len(text) != 2:
            raise LatentStudioError(f"A layer range is (start, stop), got {text!r}.")
        a, b = text
    else:
        t = str(text).strip().lower()
        named = layer_ranges(num_ws)
        try:
            if t in named:
                a, b = named[t]
            elif ":" in t:
                lo, hi = t.split(":", 1)
                a, b = int(lo) if lo.strip() else 0, int(hi) if hi.strip() else num_ws
            elif _INCLUSIVE.match(t):
                lo, hi = _INCLUSIVE.match(t).groups()
                a, b = int(lo), int(hi) + 1
            else:
                a = int(t)
                b = a + 1
        except ValueError:
            raise LatentStudioError(f"Unknown layer range {text!r}: use coarse, middle, fine, all, 'a:b' (rows a to "
                                    f"b-1, 0 <= a < b <= {num_ws}) or 'a-b' (rows a to b inclusive).") from None
    if not (0 <= int(a) < int(b) <= num_ws):
        raise LatentStudioError(f"Layer range {text!r} = {a}:{b} is empty or outside this model's w+ rows "
                                f"0:{num_ws}; use 'a:b' with 0 <= a < b <= {num_ws}.")
    return int(a), int(b)


def _affine_rows(G: Any) -> list[tuple[int, str, torch.Tensor]]:
    """(w+ row, layer name, affine weight [in_channels, w_dim]) in synthesis order (toRGB shares the next row)."""
    rows, w_idx, syn = [], 0, G.synthesis
    for res in syn.block_resolutions:
        block = getattr(syn, f"b{res}")
        convs = (["conv0"] if block.in_channels else []) + ["conv1"]
        for i, name in enumerate(convs):
            rows.append((w_idx + i, f"b{res}.{name}", getattr(block, name).affine.weight))
        rows.append((w_idx + block.num_conv, f"b{res}.torgb", block.torgb.affine.weight))
        w_idx += block.num_conv
    return rows


# ----------------------------------------------------------------------------------------------
# Finding directions

@torch.no_grad()
def sefa(G: Any, k: int = 8, layers: Any = "all", *, fingerprint: str = "") -> list[Direction]:
    """SeFa (Shen & Zhou 2021): the w directions the style affines amplify most, in closed form.

    Rows of the stacked affine weights A are normalised (as the paper's code does), then the top
    eigenvectors of AᵀA are the directions that change the modulation styles most. No sampling.
    """
    fp = fingerprint
    if not hasattr(G, "synthesis"):
        raise LatentStudioError(f"SeFa needs a StyleGAN2 (it factorises the style-modulation weights); this is a "
                                f"{getattr(G, 'arch', type(G).__name__)}. Use --method ganspace or examples instead.")
    check_range("k", k, 1, G.w_dim, integer=True)
    span = parse_layers(layers, G.num_ws) or (0, G.num_ws)
    picked = [(name, w) for row, name, w in _affine_rows(G) if span[0] <= row < span[1]]
    A = torch.cat([w.detach().double().cpu() for _, w in picked])
    A = A / A.norm(dim=1, keepdim=True).clamp_min(1e-12)
    evals, evecs = torch.linalg.eigh(A.T @ A)
    order = evals.argsort(descending=True)[:int(k)]
    out = []
    for rank, i in enumerate(order.tolist()):
        meta = {"eigenvalue": float(evals[i]), "rank": rank, "layers": list(span),
                "eigenvalues": [float(evals[j]) for j in order.tolist()], "affine_layers": [n for n, _ in picked]}
        out.append(Direction(f"sefa_{rank}", unit_vector(_sign_fix(evecs[:, i]), f"sefa_{rank}"), "w", "sefa", fp, meta))
    return out


@torch.no_grad()
def ganspace(G: Any, k: int = 8, n_samples: int = 10_000, seed: int = 0, *, fingerprint: str = "") -> list[Direction]:
    """GANSpace (Härkönen et al. 2020): principal components of mapped w (of z for DCGAN, i.e. random axes)."""
    fp = fingerprint
    space = edit_space(G)
    check_range("Number of samples", n_samples, 2, 1_000_000, integer=True)
    check_range("k", k, 1, min(latent_dim(G), int(n_samples)), integer=True)
    z = torch.randn([int(n_samples), G.z_dim], generator=make_generator(seed))
    if space == "w":
        device = next(G.parameters()).device
        x = torch.cat([G.mapping(z[i:i + 2048].to(device))[:, 0].cpu() for i in range(0, len(z), 2048)])
    else:
        x = z
    x = x.double()
    x = x - x.mean(dim=0)
    _, s, vh = torch.linalg.svd(x, full_matrices=False)
    var = s ** 2 / (len(x) - 1)
    ratio = var / var.sum()
    return [Direction(f"ganspace_{i}", unit_vector(_sign_fix(vh[i]), f"ganspace_{i}"), space, "ganspace", fp,
                      {"variance": float(var[i]), "variance_ratio": float(ratio[i]), "rank": i,
                       "n_samples": int(n_samples), "seed": int(seed)})
            for i in range(int(k))]


def example_points(x: Any, what: str) -> torch.Tensor:
    """Latents [N, dim] or w+ [N, rows, dim] (averaged over rows) → float64 [N, dim]."""
    t = torch.as_tensor(np.asarray(x.detach().cpu() if isinstance(x, torch.Tensor) else x, dtype=np.float64))
    if t.ndim == 3:
        t = t.mean(dim=1)
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[0] == 0:
        raise LatentStudioError(f"The {what} examples must be latents [N, dim] or [N, layers, dim], got {list(t.shape)}.")
    if not torch.isfinite(t).all():
        raise LatentStudioError(f"The {what} examples hold NaN or infinite values.")
    return t


def from_examples(pos: Any, neg: Any, name: str, *, space: str = "w", fingerprint: str = "",
                  l2: float = 1e-2) -> Direction:
    """InterFaceGAN: the unit normal of a linear boundary between latents with (pos) and without (neg) an attribute.

    L2-regularised logistic regression (full-batch LBFGS, float64, deterministic) on latents centred
    and scaled by one global factor, so the normal keeps its meaning in the original space. Points neg → pos.
    """
    P, N = example_points(pos, "positive"), example_points(neg, "negative")
    if P.shape[1] != N.shape[1]:
        raise LatentStudioError(f"Positive examples have dimension {P.shape[1]}, negative ones {N.shape[1]}.")
    X = torch.cat([P, N])
    y = torch.cat([torch.ones(len(P)), torch.zeros(len(N))]).double()
    Xc = X - X.mean(dim=0)
    spread = Xc.pow(2).mean().sqrt()
    if spread <= 1e-6 * X.pow(2).mean().sqrt() + 1e-12:
        raise LatentStudioError("All examples have (nearly) the same latent, so no boundary can be found; "
                                "give more distinct examples (or more inversion steps).")
    X = Xc / spread
    weights = torch.where(y > 0, 0.5 / len(P), 0.5 / len(N))  # balanced classes
    w = torch.zeros(X.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    with torch.enable_grad():
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=500, tolerance_grad=1e-10, tolerance_change=1e-12,
                                line_search_fn="strong_wolfe")

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = (torch.nn.functional.binary_cross_entropy_with_logits(X @ w + b, y, reduction="none") * weights).sum()
            loss = loss + l2 * (w * w).sum()
            loss.backward()
            return loss

        opt.step(closure)
    w, b = w.detach(), b.detach()
    if not torch.isfinite(w).all() or w.norm() < 1e-8:
        raise LatentStudioError("The positive and negative examples cannot be told apart; give more, or more distinct, examples "
                                "(or more inversion steps).")
    acc = float((((X @ w + b) > 0).double() == y).double().mean())
    return Direction(name, unit_vector(w, name), space, "examples", fingerprint,
                     {"train_accuracy": acc, "n_pos": len(P), "n_neg": len(N), "l2": l2})


# ----------------------------------------------------------------------------------------------
# Applying

def _orthogonalise(d: torch.Tensor, conditions: Sequence[Direction]) -> torch.Tensor:
    """InterFaceGAN conditional editing: drop d's components along the conditions (Gram–Schmidt), renormalise.

    A per-layer d ``[rows, dim]`` loses the conditions' components row by row (so no w+ row moves along
    them) and is rescaled to root-mean-square row norm 1. Conditions are single ``[dim]`` vectors.
    """
    basis: list[torch.Tensor] = []
    for c in conditions:
        v = torch.as_tensor(as_direction_array(c.vector, f"Condition {c.name!r}"), dtype=torch.float64)
        if v.ndim != 1:
            raise LatentStudioError(f"Condition {c.name!r} is a per-layer direction {list(v.shape)}; a condition "
                                    f"is a single [dim] vector.")
        if v.shape[-1] != d.shape[-1]:
            raise LatentStudioError(f"Condition {c.name!r} has dimension {v.numel()}, the direction {d.shape[-1]}.")
        for q in basis:
            v = v - (v @ q) * q
        if v.norm() > 1e-6:
            basis.append(v / v.norm())
    for q in basis:
        d = d - (d @ q)[..., None] * q
    norm = d.norm() / math.sqrt(d.shape[0] if d.ndim == 2 else 1)
    if norm < 1e-6:
        raise LatentStudioError("The direction lies along the condition direction(s); nothing is left to edit.")
    return d / norm


def apply(latent: torch.Tensor, direction: Direction, strength: float, layers: Any = None,
          condition: Direction | Sequence[Direction] | None = None) -> torch.Tensor:
    """A new latent moved by ``strength``·scale·d: w+ rows ``layers`` (a `parse_layers` range), w, or DCGAN z.

    ``layers=None`` edits the rows the direction names itself (``meta["rows"]``, GANSpace named edits),
    else all rows; an explicit range (``"all"`` too) replaces them. scale is ``meta["scale"]`` (default 1).
    A per-layer direction ``[num_ws, dim]`` adds ``strength·scale·d[i]`` to w+ row i, for the rows in range.
    """
    if not np.isfinite(float(strength)):
        raise LatentStudioError(f"Strength must be a finite number, got {strength!r}.")
    d = torch.as_tensor(as_direction_array(direction.vector, f"Direction {direction.name!r}"), dtype=torch.float64)
    if latent.shape[-1] != d.shape[-1]:
        raise LatentStudioError(f"Direction {direction.name!r} has dimension {d.shape[-1]}; the latent rows have {latent.shape[-1]}.")
    if condition is not None:
        d = _orthogonalise(d, as_list(condition))
    delta = (float(strength) * direction_scale(direction) * d).to(device=latent.device, dtype=latent.dtype)
    out = latent.clone()
    if latent.ndim == 2:
        if layers is not None:
            raise LatentStudioError(f"A layer range needs w+ latents; {direction.space} latents have no layers.")
        if d.ndim == 2:
            raise LatentStudioError(f"Direction {direction.name!r} is per-layer {list(d.shape)}; it needs w+ latents "
                                    f"[N, {d.shape[0]}, {d.shape[1]}], got {list(latent.shape)}.")
        if isinstance(direction.meta, dict) and direction.meta.get("rows") is not None:
            raise LatentStudioError(f"Direction {direction.name!r} edits a w+ row range; it needs w+ latents, "
                                    f"got {list(latent.shape)}.")
        return out + delta
    if latent.ndim != 3 or direction.space != "w":
        raise LatentStudioError(f"Cannot apply a {direction.space} direction to latents of shape {list(latent.shape)}.")
    num_ws = latent.shape[1]
    if d.ndim == 2 and d.shape[0] != num_ws:
        raise LatentStudioError(f"Direction {direction.name!r} is per-layer with shape {list(d.shape)}; these w+ latents "
                                f"have {num_ws} rows (shape {list(latent.shape)}).")
    span = own_rows(direction, num_ws) if layers is None else parse_layers(layers, num_ws)
    a, b = span or (0, num_ws)
    out[:, a:b] += delta[a:b] if d.ndim == 2 else delta
    return out
