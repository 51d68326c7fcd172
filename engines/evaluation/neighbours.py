"""Nearest training image for each sample: the check that a generator does not copy its data."""
from __future__ import annotations

import torch


def nearest_neighbours(queries: torch.Tensor, pool: torch.Tensor, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """(index, RMS pixel distance) of the closest ``pool`` image for each query; both float [-1, 1].

    Compare the distances with those of held-out real photos to the same pool: samples that sit much
    closer to the training set than unseen photos do are memorised.
    """
    q = queries.flatten(1).float()
    best_d = torch.full((len(q),), float("inf"))
    best_i = torch.zeros(len(q), dtype=torch.long)
    for start in range(0, len(pool), chunk):
        p = pool[start:start + chunk].flatten(1).float()
        d = torch.cdist(q, p)
        d_min, i_min = d.min(dim=1)
        better = d_min < best_d
        best_d = torch.where(better, d_min, best_d)
        best_i = torch.where(better, i_min + start, best_i)
    return best_i, best_d / q.shape[1] ** 0.5
