"""Run a long engine call on a worker thread and turn its progress into a stream of UI events.

Gradio streams a generator's yields to the page and, when the user presses Stop, closes the
generator. `stream` yields an event at least every ``heartbeat`` seconds, so a close lands quickly;
closing sets the job's cancel flag, and the engine's next progress report raises `Cancelled`,
which ends the worker thread and frees its queue slot.

A closed generator cannot yield its last words, so each job records where it got to (step, total, last
preview, and the engine's partial result from `Cancelled.partial`); `Live` keeps the running job of each
browser session and tab, and the Stop button's follow-up reads it to show "stopped at step k / n" and
the partial result.
"""
from __future__ import annotations

import queue
import threading
from collections import OrderedDict
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
        self.finished = threading.Event()  # the worker thread has returned (result, error or cancelled)
        self.events: "queue.Queue[tuple[str, Any]]" = queue.Queue()
        self.losses: list[tuple[int, float]] = []
        self.step = self.total = 0
        self.preview: Optional[Image.Image] = None  # the last preview the engine sent
        self.partial: dict[str, Any] = {}  # `Cancelled.partial` when the job was stopped
        self.completed = False  # the result reached the page
        self.error: Optional[BaseException] = None  # the job failed (the page shows that error instead)
        self.context: dict[str, Any] = {}  # what the tab needs to show a stopped job (engine, target, …)
        self._lock = threading.Lock()

    def progress(self, step: int, total: int, preview: Optional[Image.Image] = None) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        self.step, self.total = step, total
        if preview is not None:
            self.preview = preview
        self.events.put(("progress", (step, total, preview)))

    def on_loss(self, step: int, loss: float) -> None:
        if self.cancel.is_set():
            raise Cancelled("Cancelled by the user.")
        with self._lock:
            self.losses.append((step, loss))

    def loss_curve(self) -> list[tuple[int, float]]:
        with self._lock:
            return list(self.losses)


def stream(work: Callable[[Job], Any], heartbeat: float = 0.5, job: Optional[Job] = None) -> Iterator[Event]:
    """Run ``work(job)`` on a thread; yield progress events, heartbeats and finally "done".

    An exception in ``work`` is re-raised here (so the caller's error handling shows it); closing
    this generator early cancels the job. ``job``: one made by `Live.start`, so Stop can find it.
    """
    job = job if job is not None else Job()

    def target() -> None:
        try:
            job.events.put(("done", work(job)))
        except Cancelled as exc:
            job.partial = dict(exc.partial)
            job.events.put(("error", exc))
        except BaseException as exc:  # noqa: BLE001 — handed to the consumer thread
            job.error = exc
            job.events.put(("error", exc))
        finally:
            job.finished.set()

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
                job.completed = True
                yield Event("done", result=payload, losses=job.loss_curve())
                return
    finally:
        job.cancel.set()


class Live:
    """The latest job of each (browser session, tab): what the Stop button's follow-up reports on."""

    def __init__(self, keep: int = 256) -> None:
        self._jobs: "OrderedDict[tuple[str, str], Job]" = OrderedDict()
        self._keep = keep
        self._lock = threading.Lock()

    @staticmethod
    def _key(session: Optional[str], tab: str) -> tuple[str, str]:
        return (session or "-", tab)

    def start(self, session: Optional[str], tab: str) -> Job:
        """A new job for ``tab`` in this browser session (replacing the previous one)."""
        job = Job()
        with self._lock:
            self._jobs[self._key(session, tab)] = job
            self._jobs.move_to_end(self._key(session, tab))
            while len(self._jobs) > self._keep:
                self._jobs.popitem(last=False)
        return job

    def stopped(self, session: Optional[str], tab: str, wait: float = 5.0) -> Optional[Job]:
        """The job Stop just cancelled, once its worker has ended (at most ``wait`` s); None when it had already
        finished (its result is on the page) or there was none."""
        with self._lock:
            job = self._jobs.get(self._key(session, tab))
        if job is None or job.completed or job.error is not None:
            return None
        job.cancel.set()
        job.finished.wait(wait)
        return None if job.completed or job.error is not None else job


#: The app's one registry of running jobs (keys include the browser session, so sessions never mix).
LIVE = Live()
