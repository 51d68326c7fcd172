"""Start-up benchmark: how long a user waits before anything happens.

    python -m bench.startup [--repeat 3] [--steps 75] [--photo PATH] [--skip-app]

Each figure is the wall time of a fresh process (median of ``--repeat`` runs), measured from outside, so it
counts the interpreter, every import and model loading: the import of each top-level module, ``python -m
engines --help``, an argument error, one photo through ``python -m engines invert --steps 75`` (the app's own
recipe) and ``python app.py`` until its page answers. Prints a markdown table (docs/startup.md holds one) and
writes bench/results/startup.json. The machine's load is recorded beside the figures: on a 2-core machine
another busy process slows torch's two threads far more than it slows one.
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
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "startup.json"
PHOTO = ROOT / "assets" / "examples" / "photos" / "stylegan2_seed1.png"
#: The top-level modules a user's command or the app loads first.
MODULES = ["engines", "engines.cli.main", "engines.stylegan.engine", "engines.diffusion.engine", "demo"]


def _env() -> dict:
    return dict(os.environ, PYTHONPATH=str(ROOT), GRADIO_ANALYTICS_ENABLED="False", HF_HUB_OFFLINE="1")


def _wall(cmd: list[str], timeout: float = 600) -> float:
    start = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 2):
        raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return seconds


def import_seconds(module: str) -> float:
    """Seconds to import ``module`` in a fresh interpreter (its own figure, measured inside)."""
    code = f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=_env(), capture_output=True, text=True,
                          timeout=600, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def invert_seconds(photo: Path, steps: int) -> tuple[float, float]:
    """(wall seconds of the whole command, seconds it reports for the optimisation itself)."""
    with tempfile.TemporaryDirectory() as out:
        wall = _wall([sys.executable, "-m", "engines", "invert", str(photo), "--steps", str(steps), "--device", "cpu",
                      "--out", out])
        metrics = json.loads((Path(out) / "metrics.json").read_text())
    return wall, next(iter(metrics["images"].values()))["seconds"]


def app_ready_seconds(timeout: float = 300) -> float:
    """Seconds from ``python app.py`` to its page answering HTTP 200."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--host", "127.0.0.1"], cwd=ROOT,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        while time.perf_counter() - start < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {proc.returncode} before it was ready")
            try:
                with opener.open(url, timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"app.py was not ready after {timeout} s")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _median(fn, repeat: int) -> dict:
    runs = [fn() for _ in range(repeat)]
    return {"median": statistics.median(runs), "runs": runs}


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown (default: 3)")
    p.add_argument("--steps", type=int, default=75, help="inversion steps (default: 75, the Invert tab's)")
    p.add_argument("--photo", type=Path, default=PHOTO, help="the photo to invert")
    p.add_argument("--skip-app", action="store_true", help="do not measure the app's start")
    args = p.parse_args(argv)
    py = sys.executable
    rows: dict[str, dict] = {}
    for module in MODULES:
        rows[f"import {module}"] = _median(lambda: import_seconds(module), args.repeat)
    rows["python -m engines --help"] = _median(lambda: _wall([py, "-m", "engines", "--help"]), args.repeat)
    rows["python -m engines invert --steps many (argument error)"] = _median(
        lambda: _wall([py, "-m", "engines", "invert", "x.png", "--steps", "many", "--out", "x"]), args.repeat)
    inverts = [invert_seconds(args.photo, args.steps) for _ in range(args.repeat)]
    rows[f"python -m engines invert PHOTO --steps {args.steps}"] = {
        "median": statistics.median(w for w, _ in inverts), "runs": [w for w, _ in inverts],
        "optimisation": statistics.median(s for _, s in inverts)}
    if not args.skip_app:
        rows["python app.py until its page answers"] = _median(app_ready_seconds, args.repeat)
    results = {"rows": rows, "cpus": os.cpu_count(), "load_average": os.getloadavg(), "python": platform.python_version(),
               "machine": platform.processor() or platform.machine(), "repeat": args.repeat,
               "command": "python -m bench.startup " + " ".join(argv if argv is not None else sys.argv[1:])}
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2))
    print(table(results))
    return results


def table(results: dict) -> str:
    lines = [f"`{results['command'].strip()}` · {results['cpus']} CPUs · load average "
             f"{', '.join(f'{x:.1f}' for x in results['load_average'])} · median of {results['repeat']}", "",
             "| what | seconds (wall) | runs |", "|---|---:|---|"]
    for name, row in results["rows"].items():
        extra = f" (optimisation {row['optimisation']:.1f} s)" if "optimisation" in row else ""
        lines.append(f"| `{name}` | {row['median']:.2f}{extra} | {', '.join(f'{r:.2f}' for r in row['runs'])} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
