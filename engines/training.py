"""What both trainers share: the budgeted loop (time / images, logging, snapshots, Ctrl-C), atomic saves, and
the accelerate set-up (one process as always, or one per device under ``accelerate launch`` / ``torchrun``;
`AcceleratedTrainer`)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import threading
import time
from pathlib import Path
from typing import Any, Optional

import torch
from tqdm import tqdm

from .base import LatentStudioError, pick_device
from .training_options import PRECISIONS


def resolve_precision(requested: Optional[str], device: torch.device) -> str:
    """``requested`` (a config / --mixed-precision), else accelerate's (``accelerate launch --mixed_precision`` or
    ``accelerate config`` set ACCELERATE_MIXED_PRECISION), else bf16 on CUDA and none on the CPU (as always)."""
    value = requested or os.environ.get("ACCELERATE_MIXED_PRECISION") or ("bf16" if device.type == "cuda" else "no")
    if value not in PRECISIONS:
        raise LatentStudioError(f"mixed_precision must be one of {PRECISIONS} (from --mixed-precision or accelerate's "
                                f"config), got {value!r}: fp16 would need loss scaling, use bf16.")
    return value


def make_accelerator(device: str, precision: Optional[str]) -> tuple[Any, torch.device]:
    """accelerate's `Accelerator` for a trainer, and the device the trainer uses.

    One process: the device asked for (``cuda:1`` too), as before. Several processes (``accelerate launch``,
    ``torchrun``): each its own (``cuda:<local rank>``; CPU processes over gloo). Placement stays with the trainer
    (``device_placement=False``); mixed precision is `resolve_precision`'s."""
    from accelerate import Accelerator, PartialState
    from accelerate.state import AcceleratorState
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    state = PartialState(cpu=cpu)
    dev = state.device if state.num_processes > 1 else pick_device(device)
    mixed = resolve_precision(precision, dev)
    if state.num_processes == 1 and AcceleratorState._shared_state and AcceleratorState().mixed_precision != mixed:
        AcceleratorState._reset_state(True)  # an earlier trainer in this process used another precision
    return Accelerator(mixed_precision=mixed, cpu=cpu or dev.type == "cpu", device_placement=False), dev


def split_batch(batch: int, processes: int, accumulate: int) -> int:
    """Rows per micro-batch: the global ``batch`` shared by ``processes`` × ``accumulate`` micro-batches."""
    if accumulate < 1:
        raise LatentStudioError(f"accumulate must be at least 1, got {accumulate}.")
    parts = processes * accumulate
    if batch % parts:
        raise LatentStudioError(f"batch {batch} must be a multiple of processes × accumulate = {processes} × "
                                f"{accumulate} = {parts} (batch is the global batch of one optimiser step).")
    return batch // parts


class AcceleratedTrainer:
    """What a trainer on accelerate sets up first: ``cfg``; the ``accelerator`` and ``device`` (`make_accelerator`);
    ``rank`` and ``world`` (this process, how many); ``micro``, the rows of a micro-batch (`split_batch`); the run
    folder ``out``; the counters ``nimg``, ``steps``, ``elapsed`` (`run_budgeted` keeps them); torch seeded with
    ``cfg.seed``. ``config``: an `AcceleratedTrainingOptions`."""

    def __init__(self, config: Any) -> None:
        self.cfg = config
        self.accelerator, self.device = make_accelerator(config.device, config.mixed_precision)
        self.rank, self.world = self.accelerator.process_index, self.accelerator.num_processes
        self.micro = split_batch(config.batch, self.world, config.accumulate)
        self.out = Path(config.out)
        self.nimg, self.steps, self.elapsed = 0, 0, 0.0
        torch.manual_seed(config.seed)


def any_process(accelerator: Any, flag: bool, device: torch.device) -> bool:
    """True on every process if ``flag`` is true on any (so all leave a loop together; one process: ``flag``)."""
    if accelerator is None or accelerator.num_processes == 1:
        return flag
    return bool(accelerator.reduce(torch.tensor([float(flag)], device=device), reduction="sum").item() > 0)


def average_gradients(accelerator: Any, params: list[torch.nn.Parameter]) -> None:
    """Data parallelism by hand (what DDP does, for the GAN's two-network step): every process's gradients
    replaced by their mean over the processes, in one flat all-reduce. One process: nothing to do."""
    if accelerator.num_processes == 1 or not params:
        return
    grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
    flat = accelerator.reduce(torch.cat([g.flatten() for g in grads]), reduction="mean")
    for p, g in zip(params, flat.split([g.numel() for g in grads])):
        p.grad = g.view_as(p).clone()


def average_buffers(accelerator: Any, module: torch.nn.Module) -> None:
    """Running averages (StyleGAN2's tracked mean w) made equal across processes: the mean of each process's
    update from its share of the batch is the update from the whole batch (the update is affine in the batch)."""
    if accelerator.num_processes == 1:
        return
    for buf in module.buffers():
        if buf.is_floating_point():
            buf.copy_(accelerator.reduce(buf.detach().clone(), reduction="mean"))


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a ``state.pt``."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


def load_optimizer(opt: torch.optim.Optimizer, opt_state: dict[str, Any], schedule: Any = None,
                   schedule_state: Optional[dict[str, Any]] = None) -> None:
    """Load a saved optimizer (and LambdaLR schedule) state but keep the learning rates ``opt`` was built with.

    ``Optimizer.load_state_dict`` restores the saved learning rates, so a run resumed with a new ``--lr`` would
    silently go on at the old one; the moments, step counts and the schedule's position still come back."""
    wanted = [g.get("initial_lr", g["lr"]) for g in opt.param_groups]
    opt.load_state_dict(opt_state)
    for group, lr in zip(opt.param_groups, wanted):
        group["lr"] = lr
        if "initial_lr" in group:
            group["initial_lr"] = lr
    if schedule is not None:
        if schedule_state is not None:
            schedule.load_state_dict(schedule_state)
        schedule.base_lrs = list(wanted)
        for group, rule, lr in zip(opt.param_groups, schedule.lr_lambdas, wanted):
            group["lr"] = lr * rule(schedule.last_epoch)


@contextlib.contextmanager
def sigterm_as_interrupt():
    """While training, SIGTERM (a scheduler, ``kill``) stops like Ctrl-C: the loop saves a snapshot first.

    Background jobs of a non-interactive shell ignore SIGINT, so SIGTERM is how to stop them cleanly.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_budgeted(trainer: Any, desc: str, postfix: dict[str, str], log_every: int = 20) -> dict[str, Any]:
    """Call ``trainer.step()`` until ``cfg.minutes`` / ``cfg.kimg`` is spent (or Ctrl-C).

    Every ``log_every`` steps the mean of each stat goes to ``out/log.jsonl``; every
    ``cfg.snapshot_minutes`` and at the end ``trainer.snapshot()`` runs. ``postfix`` maps a short
    progress-bar label to a stat name. Under several processes all stop at the same step (the budget is
    agreed each step) and only the main one logs and snapshots.
    """
    cfg = trainer.cfg
    accelerator = getattr(trainer, "accelerator", None)
    main = accelerator is None or accelerator.is_main_process
    start = last_snap = time.perf_counter()
    start_nimg, base_elapsed = trainer.nimg, trainer.elapsed
    stop_nimg = trainer.nimg + cfg.kimg * 1000 if cfg.kimg is not None else math.inf
    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    sums: dict[str, list[float]] = {}
    bar = tqdm(desc=desc, unit="img", unit_scale=True, disable=not main,
               total=None if math.isinf(stop_nimg) else int(stop_nimg - trainer.nimg))
    stack = contextlib.ExitStack()
    stack.enter_context(sigterm_as_interrupt())
    try:
        while not any_process(accelerator, trainer.nimg >= stop_nimg or time.perf_counter() - start >= budget,
                              trainer.device):
            stats = trainer.step()
            bar.update(cfg.batch)
            for k, v in stats.items():
                sums.setdefault(k, []).append(v)
            if trainer.steps % log_every == 0:
                line = {"kimg": round(trainer.nimg / 1000, 2), "steps": trainer.steps,
                        "seconds": round(base_elapsed + time.perf_counter() - start, 1),
                        **{k: round(sum(v) / len(v), 5) for k, v in sums.items()}}
                sums = {}
                bar.set_postfix({label: line[key] for label, key in postfix.items()})
                if main:
                    trainer.out.mkdir(parents=True, exist_ok=True)
                    with open(trainer.out / "log.jsonl", "a") as fh:
                        fh.write(json.dumps(line) + "\n")
            if main and time.perf_counter() - last_snap > cfg.snapshot_minutes * 60:
                trainer.elapsed = base_elapsed + time.perf_counter() - start
                trainer.snapshot()
                last_snap = time.perf_counter()
    except KeyboardInterrupt:
        bar.write("interrupted: saving a snapshot")
    finally:
        bar.close()
        stack.close()
    trainer.elapsed = base_elapsed + time.perf_counter() - start
    folder = trainer.snapshot() if main else trainer.out / "latest"
    if accelerator is not None:
        accelerator.wait_for_everyone()
    return {"folder": str(folder), "images_seen": trainer.nimg, "steps": trainer.steps,
            "images_this_run": trainer.nimg - start_nimg, "train_seconds": round(trainer.elapsed, 1)}
