"""What both trainers share: the budgeted loop (time / images, logging, snapshots, Ctrl-C) and atomic saves."""
from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import time
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, then rename: a crash never leaves half a ``state.pt``."""
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    tmp.replace(path)


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
    progress-bar label to a stat name.
    """
    cfg = trainer.cfg
    start = last_snap = time.perf_counter()
    start_nimg, base_elapsed = trainer.nimg, trainer.elapsed
    stop_nimg = trainer.nimg + cfg.kimg * 1000 if cfg.kimg is not None else math.inf
    budget = cfg.minutes * 60 if cfg.minutes is not None else math.inf
    sums: dict[str, list[float]] = {}
    bar = tqdm(desc=desc, unit="img", unit_scale=True,
               total=None if math.isinf(stop_nimg) else int(stop_nimg - trainer.nimg))
    stack = contextlib.ExitStack()
    stack.enter_context(sigterm_as_interrupt())
    try:
        while trainer.nimg < stop_nimg and time.perf_counter() - start < budget:
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
                trainer.out.mkdir(parents=True, exist_ok=True)
                with open(trainer.out / "log.jsonl", "a") as fh:
                    fh.write(json.dumps(line) + "\n")
            if time.perf_counter() - last_snap > cfg.snapshot_minutes * 60:
                trainer.elapsed = base_elapsed + time.perf_counter() - start
                trainer.snapshot()
                last_snap = time.perf_counter()
    except KeyboardInterrupt:
        bar.write("interrupted: saving a snapshot")
    finally:
        bar.close()
        stack.close()
    trainer.elapsed = base_elapsed + time.perf_counter() - start
    folder = trainer.snapshot()
    return {"folder": str(folder), "images_seen": trainer.nimg, "steps": trainer.steps,
            "images_this_run": trainer.nimg - start_nimg, "train_seconds": round(trainer.elapsed, 1)}
