"""Run a long engine call on a worker thread and turn its progress into a stream of UI events.

Gradio streams a generator's yields to the page and, when the user presses Stop, closes the
generator. `stream` yields an event at least every ``heartbeat`` seconds, so a close lands quickly;
closing sets the job's cancel flag, and the engine's next progress report raises `Cancelled`,
which ends the worker thread and frees its queue slot.
"""
from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Optional

from PIL import Image

from engines.base import Cancelled


@dataclass
class Event:
    """``kind``: "progress" (step/total/preview), "heartbeat" (nothing new) or "done" (result)."""
    kind: str
    step: int = 0
    total: int = 0
    preview: Optional[Image.Image] = None
    result: Any = None
    losses: list[tuple[int, float]] = field(default_factory=list)


class Job:
    """What the engine call sees: ``progress`` and ``on_loss`` callbacks that honour cancellation."""

    def __init__(self) -> None:
        self.cancel = threading.Event()
        self.events: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        self.losses: list[tuple[int, float]] = []
        self._lock = threading.Lock()

    def progress(self, step: int, total: int, preview: Optional[Image.Image] = None) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        self.events.put(("progress", (step, total, preview)))

    def on_loss(self, step: int, loss: float) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        with self._lock:
            self.losses.append((step, loss))

    def loss_curve(self) -> list[tuple[int, float]]:
        with self._lock:
            return list(self.losses)


def stream(work: Callable[[Job], Any], heartbeat: float = 0.5) -> Iterator[Event]:
    """Run ``work(job)`` on a thread; yield progress events, heartbeats and finally "done".

    An exception in ``work`` is re-raised here (so the caller's error handling shows it); closing
    this generator early cancels the job.
    """
    job = Job()

    def target() -> None:
        try:
            job.events.put(("done", work(job)))
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer thread
            job.events.put(("error", exc))

    thread = threading.Thread(target=target, name="latent-studio-job", daemon=True)
    thread.start()
    try:
        while True:
            try:
                kind, payload = job.events.get(timeout=heartbeat)
            except queue.Empty:
                yield Event("heartbeat", losses=job.loss_curve())
                continue
            if kind == "progress":
                step, total, preview = payload
                yield Event("progress", step=step, total=total, preview=preview, losses=job.loss_curve())
            elif kind == "error":
                raise payload
            else:
                yield Event("done", result=payload, losses=job.loss_curve())
                return
    finally:
        job.cancel.set()
