"""Batch jobs over many inputs, on one process or sharded across several with accelerate.

``python -m engines invert DIR``, ``scribble DIR`` and ``sdedit DIR`` (a folder, a ``.txt`` list, or any files
under ``accelerate launch`` / ``torchrun``) run through `BatchJob`:

- the inputs are cut into a fixed plan of chunks (``chunk`` inputs each, in input order) that does not depend on
  the number of processes, so every chunk runs with the same inputs and seed whoever runs it: results equal the
  single-process run's;
- the chunks still to do are split between the processes with `accelerate.PartialState.split_between_processes`;
- each input's outputs are written once, by the process that ran its chunk, and then its record
  (``records/<name>.json``: metrics, files, which process, seconds) is written atomically: an input with a
  record is finished, so a rerun (after a crash, Ctrl-C, or with more inputs) skips it;
- after `wait_for_everyone`, the main process merges the records into ``manifest.json`` (and the command its
  ``metrics.json``).

Records remember a fingerprint of the options; a rerun into the same folder with other options is refused
rather than mixing results made two ways.
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from datetime import timedelta
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from .base import LatentStudioError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
RECORDS = "records"
MANIFEST = "manifest.json"

#: ``work(chunk, todo, progress_desc) -> {input path: record}``: run one chunk (all of it, so the results do not
#: depend on what was already done) and write the outputs of the inputs in ``todo`` only; a record holds at
#: least ``"files"`` (names written, relative to the output folder) and ``"metrics"``.
Work = Callable[[list[Path], list[Path], str], dict[Path, dict[str, Any]]]


def expand_inputs(paths: Sequence[Path]) -> tuple[list[Path], bool]:
    """Files as given; a folder → its images (sorted by name, not recursive); a ``.txt`` file → one path per line
    (relative to the list's folder; blank lines and ``#`` comments skipped). Also says whether a folder or a list
    was among them (that makes the run a batch job)."""
    out: list[Path] = []
    expanded = False
    for p in map(Path, paths):
        if p.is_dir():
            expanded = True
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise LatentStudioError(f"{p} holds no images ({', '.join(IMAGE_SUFFIXES)}).")
            out += found
        elif p.suffix.lower() == ".txt":
            expanded = True
            if not p.is_file():
                raise LatentStudioError(f"List file {p} does not exist.")
            for line in p.read_text().splitlines():
                line = line.split("#", 1)[0].strip()
                if line:
                    item = Path(line)
                    out.append(item if item.is_absolute() else p.parent / item)
        else:
            out.append(p)
    missing = [str(p) for p in out if not p.is_file()]
    if missing:
        raise LatentStudioError(f"Input file(s) not found: {', '.join(missing[:5])}"
                                + (f" and {len(missing) - 5} more" if len(missing) > 5 else "") + ".")
    stems: dict[str, Path] = {}
    for p in out:
        if p.stem in stems:
            raise LatentStudioError(f"Two inputs are named {p.stem!r} ({stems[p.stem]} and {p}): their outputs would "
                                    "overwrite each other; rename one or run them into different --out folders.")
        stems[p.stem] = p
    return out, expanded


def fingerprint(options: dict[str, Any]) -> str:
    """A short hash of the options that decide the results (same options → same fingerprint)."""
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()[:16]


def process_state(device: str = "auto"):
    """accelerate's `PartialState`: one process unless started by ``accelerate launch`` / ``torchrun``.

    On CPU (``device`` "cpu", or no CUDA) it is asked for CPU processes explicitly: accelerate otherwise takes
    ``torchrun``'s processes on a machine without a GPU for lone ones, and each would do the whole job. They talk
    over gloo; on GPUs over NCCL. The process group waits up to 6 h at the final barrier (a long last chunk)."""
    import torch
    from accelerate import PartialState
    cpu = device == "cpu" or (device == "auto" and not torch.cuda.is_available())
    return PartialState(cpu=cpu, timeout=timedelta(hours=6))


def process_device(device: str, state: Any = None) -> str:
    """The device a process uses: its own accelerator (``state.device``) when several processes share a machine
    and ``device`` is "auto" or "cuda"; otherwise ``device`` as given."""
    state = state or process_state(device)
    if state.num_processes > 1 and device in ("auto", "cuda"):
        return str(state.device)
    return device


def _write_json(data: Any, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    tmp.replace(path)  # atomic: a record exists only once all of it is written


@dataclass
class BatchJob:
    """One command over ``inputs`` into ``out``. ``resumable``: keep records (skip finished inputs, write
    ``manifest.json``); off for a plain one-process run on files, which writes exactly what it always did."""
    command: str
    inputs: list[Path]
    out: Path
    options: dict[str, Any]
    chunk: int = 1
    resumable: bool = True
    state: Any = None
    skipped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.chunk < 1:
            raise LatentStudioError(f"Chunk size must be at least 1, got {self.chunk}.")
        self.state = self.state or process_state()
        self.key = fingerprint({"command": self.command, **self.options})

    # ------------------------------------------------------------------ records
    def record_path(self, path: Path) -> Path:
        return self.out / RECORDS / f"{path.name}.json"

    def finished(self, path: Path) -> bool:
        """Whether ``path`` has a record from a run with the same options (another's is an error)."""
        if not self.resumable:
            return False
        rec = self.record_path(path)
        if not rec.is_file():
            return False
        try:
            data = json.loads(rec.read_text())
        except (OSError, ValueError):
            return False  # unreadable: redo it
        if data.get("job") != self.key:
            raise LatentStudioError(
                f"{self.out} holds results of {self.command} with other options ({rec} was made by job "
                f"{data.get('job')}, this run is {self.key}); use another --out, or delete {self.out / RECORDS} "
                "to start over.")
        return True

    def plan(self) -> list[list[Path]]:
        """Chunks over all inputs in order: the same whatever is done already and however many processes run."""
        return [self.inputs[i:i + self.chunk] for i in range(0, len(self.inputs), self.chunk)]

    # ------------------------------------------------------------------ the run
    def run(self, work: Work) -> list[dict[str, Any]]:
        """Run the chunks still to do, this process's share of them, and return every input's record (in input
        order; on the main process after all have finished, on the others only their own)."""
        state = self.state
        rank, world = state.process_index, state.num_processes
        done = {p for p in self.inputs if self.finished(p)}
        self.skipped = [p.name for p in self.inputs if p in done]
        todo_chunks = [c for c in self.plan() if any(p not in done for p in c)]
        if self.resumable:
            (self.out / RECORDS).mkdir(parents=True, exist_ok=True)
        # nobody writes a record before every process has read the same "done" set, so all split the same list
        state.wait_for_everyone()
        if rank == 0 and self.skipped:
            print(f"{self.command}: {len(self.skipped)} of {len(self.inputs)} inputs already done in {self.out}, "
                  "skipping them")
        records: dict[Path, dict[str, Any]] = {}
        with state.split_between_processes(todo_chunks) as mine:
            total = sum(len([p for p in c if p not in done]) for c in mine)
            finished = 0
            for chunk in mine:
                todo = [p for p in chunk if p not in done]
                who = f"[process {rank + 1}/{world}] " if world > 1 else ""
                desc = f"{who}{self.command} {finished + 1}-{finished + len(todo)}/{total}"
                start = time.perf_counter()
                results = work(chunk, todo, desc)
                seconds = (time.perf_counter() - start) / len(chunk)
                for p in todo:
                    rec = {"input": str(p), "name": p.name, "job": self.key, "process": rank, "processes": world,
                           "seconds_wall": round(seconds, 3), **results[p]}
                    if self.resumable:
                        _write_json(rec, self.record_path(p))
                    records[p] = rec
                finished += len(todo)
                if world > 1:
                    print(f"{who}{finished}/{total} done ({', '.join(p.name for p in todo)})", flush=True)
        state.wait_for_everyone()
        if not self.resumable:
            return [records[p] for p in self.inputs]
        if not state.is_main_process:
            return [records[p] for p in self.inputs if p in records]
        merged = []
        for p in self.inputs:
            rec = records.get(p)
            if rec is None:
                rec = json.loads(self.record_path(p).read_text())
            merged.append(rec)
        _write_json(self.manifest(merged), self.out / MANIFEST)
        return merged

    def manifest(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        """Which input went where: files, process, seconds; what this run skipped; the options."""
        return {"command": self.command, "job": self.key, "options": self.options, "processes": self.state.num_processes,
                "inputs": len(records), "skipped_this_run": self.skipped, "chunk": self.chunk,
                "items": [{k: r.get(k) for k in ("name", "input", "files", "process", "processes", "seconds_wall")}
                          for r in records]}

