"""The app under concurrent load: many gradio_client jobs at once against `python app.py` on loopback.

    python -m bench.load [--jobs 24] [--concurrency 1] [--max-queue 32] [--steps 30] [--out bench/results]

1. Starts ``app.py`` on a free localhost port (default models) and waits until it serves.
2. Runs each distinct job once, alone: inversion, scribble and SDEdit with a few seeds (the reference).
3. Fires ``--jobs`` jobs at once (a mix of the three, the same inputs and seeds) from threads; every job
   must either complete or be refused cleanly by the queue limit ("queue is full").
4. Checks every completed job's image against its solo run (same seed → same pixels, whatever ran beside it).
5. Cancels a long inversion mid-run and times how soon a quick job gets the freed worker.
6. Checks the app still answers, and reports jobs, failures, rejections, p50/p95 latency and the server's
   peak resident memory (VmHWM) as a table and ``<out>/load.json``.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "assets" / "examples" / "photos" / "stylegan2_seed1.png"
SKETCH = ROOT / "assets" / "examples" / "sketches" / "grumpy_filled.png"
GAN = "StyleGAN2 · cats (default)"


# ------------------------------------------------------------------------------------------ the server
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``python app.py`` as a child process on loopback; its peak memory is read from /proc."""

    def __init__(self, concurrency: int, max_queue: int, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        self.log = open(log, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port), "--device", "cpu",
             "--concurrency", str(concurrency), "--max-queue", str(max_queue)],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._peak = 0
        self._watch = threading.Thread(target=self._sample_memory, daemon=True)

    def wait(self, timeout: float = 180) -> "Server":
        start = time.time()
        while time.time() - start < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}; see {self.log.name}")
            if self.answers():
                self._watch.start()
                return self
            time.sleep(0.5)
        raise RuntimeError(f"app.py did not serve within {timeout} s; see {self.log.name}")

    def answers(self) -> bool:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.url + "/", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def rss_mb(self, field: str = "VmRSS") -> float:
        try:
            for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
        except OSError:
            pass
        try:
            import psutil
            return psutil.Process(self.proc.pid).memory_info().rss / 2**20
        except Exception:  # noqa: BLE001 — memory figures are best effort off Linux
            return 0.0

    def _sample_memory(self) -> None:
        while self.proc.poll() is None:
            self._peak = max(self._peak, self.rss_mb())
            time.sleep(0.2)

    def peak_mb(self) -> float:
        return max(self._peak, self.rss_mb("VmHWM"))

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# ------------------------------------------------------------------------------------------ jobs
def job_specs(steps: int) -> list[dict[str, Any]]:
    """The distinct jobs (kind, seed); the load phase repeats them round-robin."""
    from gradio_client import handle_file
    photo, sketch = handle_file(str(PHOTO)), handle_file(str(SKETCH))
    canvas = {"background": sketch, "layers": [], "composite": sketch}
    specs = []
    for seed in (0, 1):
        specs.append({"kind": "invert", "seed": seed, "api": "/invert", "image_index": 1,
                      "args": (photo, GAN, "w+", "adam", steps, 1.0, 0.0, "disc", 0.1, 0.0, 1, seed)})
        specs.append({"kind": "scribble", "seed": seed, "api": "/scribble", "image_index": 0,
                      "args": (canvas, GAN, "w+", steps, 0.01, 1, seed)})
        specs.append({"kind": "sdedit", "seed": seed, "api": "/sdedit", "image_index": 0,
                      "args": (canvas, 0.6, "ddim", 20, 3.0, 0.0, "grumpy cat", "", "", 1, seed, False)})
    return specs


def first_image(spec: dict, output: Any) -> np.ndarray:
    value = output[spec["image_index"]]
    if isinstance(value, list):  # a gallery
        value = value[0]["image"]
    return np.asarray(Image.open(value).convert("RGB"), dtype=np.int16)


def run_one(url: str, spec: dict, timeout: float) -> dict[str, Any]:
    from gradio_client import Client
    start = time.perf_counter()
    try:
        client = Client(url, verbose=False)
        output = client.predict(*spec["args"], api_name=spec["api"])
        return {"ok": True, "seconds": time.perf_counter() - start, "image": first_image(spec, output)}
    except Exception as exc:  # noqa: BLE001 — a refused or failed job is data here
        text = str(exc)
        return {"ok": False, "seconds": time.perf_counter() - start, "rejected": "queue is full" in text.lower(),
                "error": f"{type(exc).__name__}: {text[:200]}"}


def cancel_frees_worker(url: str, timeout: float) -> dict[str, Any]:
    """Start a 1000-step inversion, cancel it after its first progress, time a quick job afterwards."""
    from gradio_client import Client
    client = Client(url, verbose=False)
    spec = job_specs(1000)[0]
    long_job = client.submit(*spec["args"], api_name=spec["api"])
    start = time.perf_counter()
    while time.perf_counter() - start < timeout and long_job.status().code.name not in ("PROCESS_STARTING", "ITERATING"):
        time.sleep(0.1)
    time.sleep(1.0)
    long_job.cancel()
    t0 = time.perf_counter()
    quick = client.predict(GAN, 2, 0, 0.7, api_name="/sample")
    return {"quick_job_seconds_after_cancel": round(time.perf_counter() - t0, 2), "quick_job_images": len(quick),
            "long_job_finished": bool(long_job.done() and not long_job.cancelled() and long_job.status().success)}


def percentile(values: Sequence[float], q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


def main(argv: Optional[Sequence[str]] = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--jobs", type=int, default=24, help="jobs fired at once (at least 20 for the real test)")
    p.add_argument("--concurrency", type=int, default=1, help="the app's --concurrency")
    p.add_argument("--max-queue", type=int, default=32, help="the app's --max-queue")
    p.add_argument("--steps", type=int, default=30, help="optimisation steps of inversion and scribble jobs")
    p.add_argument("--timeout", type=float, default=900, help="seconds the whole load phase may take")
    p.add_argument("--out", default="bench/results")
    args = p.parse_args(argv)
    if args.steps < 10:
        p.error(f"--steps must be at least 10 (the app's Steps sliders start at 10), got {args.steps}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Path(tempfile.gettempdir()) / f"latent-studio-load-{os.getpid()}.log"
    server = Server(args.concurrency, args.max_queue, log)
    started = time.perf_counter()
    try:
        server.wait()
        idle_mb = server.rss_mb()
        specs = job_specs(args.steps)
        print(f"app on {server.url} (pid {server.proc.pid}, {idle_mb:.0f} MB); {len(specs)} solo reference jobs…",
              flush=True)
        solo = [run_one(server.url, s, args.timeout) for s in specs]
        if not all(r["ok"] for r in solo):
            raise RuntimeError(f"a solo job failed: {[r.get('error') for r in solo if not r['ok']]}")
        load_specs = [specs[i % len(specs)] for i in range(args.jobs)]
        print(f"{args.jobs} jobs at once (concurrency {args.concurrency}, queue {args.max_queue})…", flush=True)
        t0 = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            results = list(pool.map(lambda s: run_one(server.url, s, args.timeout), load_specs))
        wall = time.perf_counter() - t0
        matches, mismatches = 0, []
        for i, (spec, res) in enumerate(zip(load_specs, results)):
            if res["ok"]:
                ref = solo[specs.index(spec)]["image"]
                diff = int(np.abs(res["image"] - ref).max()) if res["image"].shape == ref.shape else 999
                if diff <= 1:
                    matches += 1
                else:
                    mismatches.append({"job": i, "kind": spec["kind"], "seed": spec["seed"], "max_diff": diff})
        cancel = cancel_frees_worker(server.url, 120)
        still = server.answers()
        done = [r for r in results if r["ok"]]
        rejected = [r for r in results if not r["ok"] and r.get("rejected")]
        failed = [r for r in results if not r["ok"] and not r.get("rejected")]
        latencies = [r["seconds"] for r in done]
        record = {
            "jobs": args.jobs, "mix": {k: sum(s["kind"] == k for s in load_specs) for k in ("invert", "scribble", "sdedit")},
            "concurrency": args.concurrency, "max_queue": args.max_queue, "steps": args.steps,
            "completed": len(done), "rejected_by_queue": len(rejected), "failed": len(failed),
            "failures": [r["error"] for r in failed][:5], "match_solo": matches, "mismatches": mismatches,
            "latency_p50_s": round(percentile(latencies, 50), 2), "latency_p95_s": round(percentile(latencies, 95), 2),
            "load_wall_s": round(wall, 1), "throughput_jobs_per_min": round(60 * len(done) / wall, 1) if wall else None,
            "solo_seconds": {f"{s['kind']}#{s['seed']}": round(r["seconds"], 2) for s, r in zip(specs, solo)},
            "rss_idle_mb": round(idle_mb, 0), "rss_peak_mb": round(server.peak_mb(), 0),
            "cancel": cancel, "answers_afterwards": still, "total_s": round(time.perf_counter() - started, 1),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "python": platform.python_version()},
        }
    finally:
        server.stop()
    rows = [("jobs fired at once", f"{record['jobs']} ({record['mix']})"),
            ("app concurrency / queue limit", f"{record['concurrency']} / {record['max_queue']}"),
            ("completed / rejected by the queue / failed", f"{record['completed']} / {record['rejected_by_queue']} / {record['failed']}"),
            ("completed jobs equal to their solo run", f"{record['match_solo']} of {record['completed']}"),
            ("latency p50 / p95 (s)", f"{record['latency_p50_s']} / {record['latency_p95_s']}"),
            ("throughput (jobs/min)", str(record["throughput_jobs_per_min"])),
            ("server memory idle → peak (MB)", f"{record['rss_idle_mb']:.0f} → {record['rss_peak_mb']:.0f}"),
            ("quick job after cancelling a long one (s)", str(record["cancel"]["quick_job_seconds_after_cancel"])),
            ("app answers afterwards", str(record["answers_afterwards"]))]
    print("\n| measure | value |\n|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    (out / "load.json").write_text(json.dumps(record, indent=2))
    print(f"\nwrote {out / 'load.json'}")
    return record


if __name__ == "__main__":
    main()
