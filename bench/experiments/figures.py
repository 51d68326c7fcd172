"""Pictures for the report: labelled image grids and curves (matplotlib, no display needed)."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Optional, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from PIL import Image  # noqa: E402

CELL_INCHES = 0.95


def image_grid(rows: Sequence[Sequence[Optional[Image.Image]]], path: Path, *, col_labels: Sequence[str] = (),
               row_labels: Sequence[str] = (), title: str = "") -> Path:
    """One image per cell (None leaves it blank), column titles on top, row labels on the left."""
    n_rows, n_cols = len(rows), max(len(r) for r in rows)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(CELL_INCHES * n_cols + 0.8, CELL_INCHES * n_rows + 0.5),
                             squeeze=False)
    for i, row in enumerate(rows):
        for j in range(n_cols):
            ax = axes[i][j]
            ax.set_xticks([]), ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if j < len(row) and row[j] is not None:
                ax.imshow(row[j], interpolation="nearest")
            if i == 0 and j < len(col_labels):
                ax.set_title(textwrap.fill(col_labels[j], 16), fontsize=6.5)
            if j == 0 and i < len(row_labels):
                ax.set_ylabel(textwrap.fill(row_labels[i], 18), fontsize=6.5)
    if title:
        fig.suptitle(title, fontsize=8)
    fig.tight_layout(pad=0.3)
    return _save(fig, path)


def curves(series: dict[str, tuple[Sequence[float], Sequence[float]]], path: Path, *, xlabel: str, ylabel: str,
           title: str = "", logx: bool = False, logy: bool = False, markers: bool = False,
           ax: Optional[plt.Axes] = None) -> Optional[Path]:
    """Lines y(x), one per series; draws into ``ax`` when given (then the caller saves)."""
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(5, 3.4))
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o" if markers else None, markersize=3, linewidth=1.3, label=label)
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    if logx:
        ax.set_xscale("log")
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    if own:
        fig.tight_layout()
        return _save(fig, path)
    return None


def panels(n: int, path: Path, draw, width: float = 5.0) -> Path:
    """``n`` side-by-side axes; ``draw(axes)`` fills them."""
    fig, axes = plt.subplots(1, n, figsize=(width * n, 3.6), squeeze=False)
    draw(list(axes[0]))
    fig.tight_layout()
    return _save(fig, path)


def scatter(points: dict[str, tuple[Sequence[float], Sequence[float]]], path: Path, *, xlabel: str, ylabel: str,
            title: str = "") -> Path:
    """Groups of (x, y) points, one colour per group (a trade-off plot)."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for label, (x, y) in points.items():
        ax.scatter(x, y, s=14, label=label, alpha=0.8)
    ax.set_xlabel(xlabel), ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
