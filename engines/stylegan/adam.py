"""Adam for the latent optimisations (projection, drag, pivotal tuning), on torch's functional optimizer API.

The update is torch's own: `torch.optim.adam.adam`, the documented functional form of `torch.optim.Adam` ("the
caller must initialize and retain optimizer state"), called the way `torch.optim.Adam.step` calls it. Only the
state lives here. Why not `torch.optim.Adam` itself: constructing any `torch.optim.Optimizer` imports
``torch._dynamo`` (``Optimizer.add_param_group`` is wrapped in ``torch._disable_dynamo``), about 1.1 s on a 2-core
machine, a fifth of a one-photo ``python -m engines invert``. tests/test_projector.py checks that both give the
same numbers step for step.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch.optim.adam import adam


class Adam:
    """``Adam(params, lr)``; set ``.lr`` between steps for a schedule; ``zero_grad()``, ``step()``."""

    def __init__(self, params: Iterable[torch.Tensor], lr: float, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8) -> None:
        self.params = list(params)
        self.lr, self.betas, self.eps = float(lr), betas, eps
        self.exp_avgs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        self.exp_avg_sqs = [torch.zeros_like(p, memory_format=torch.preserve_format) for p in self.params]
        # torch.optim.Adam keeps each step count as a float32 scalar tensor on the CPU (non-capturable)
        self.steps = [torch.tensor(0.0, dtype=torch.float32) for _ in self.params]

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """One update of every parameter that has a gradient (like `torch.optim.Adam.step`)."""
        live = [i for i, p in enumerate(self.params) if p.grad is not None]
        if not live:
            return
        adam([self.params[i] for i in live], [self.params[i].grad for i in live],
             [self.exp_avgs[i] for i in live], [self.exp_avg_sqs[i] for i in live], [],
             [self.steps[i] for i in live], amsgrad=False, beta1=self.betas[0], beta2=self.betas[1], lr=self.lr,
             weight_decay=0.0, eps=self.eps, maximize=False)
