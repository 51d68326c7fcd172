"""A study's outcome (tables, figures, findings) and the Markdown + JSON report built from all of them."""
from __future__ import annotations

import json
import math
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch


@dataclass
class Table:
    caption: str
    rows: list[dict[str, Any]]
    columns: list[str] = field(default_factory=list)

    def markdown(self) -> str:
        cols = self.columns or list(self.rows[0])
        lines = [f"*{self.caption}*", "", "| " + " | ".join(cols) + " |",
                 "|" + "|".join("---" if i == 0 else "---:" for i in range(len(cols))) + "|"]
        lines += ["| " + " | ".join(fmt(r.get(c, "")) for c in cols) + " |" for r in self.rows]
        return "\n".join(lines)


@dataclass
class Study:
    number: int
    title: str
    question: str
    inputs: str                       # which targets: held-out photos, sketches, or both
    setup: str                        # what was held fixed
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, Path]] = field(default_factory=list)
    findings: list[str] = field(default_factory=list)   # sentences computed from the numbers above
    notes: list[str] = field(default_factory=list)      # caveats of the method
    seconds: float = 0.0

    def markdown(self, root: Path) -> str:
        out = [f"## {self.number}. {self.title}", "", f"**Question.** {self.question}", "",
               f"**Inputs.** {self.inputs}", "", f"**Setup.** {self.setup}", ""]
        for table in self.tables:
            out += [table.markdown(), ""]
        for caption, path in self.figures:
            out += [f"![{caption}]({path.relative_to(root).as_posix()})", "", f"*{caption}*", ""]
        if self.findings:
            out += ["**Findings** (computed from the tables):", ""] + [f"- {f}" for f in self.findings] + [""]
        if self.notes:
            out += ["**Caveats.**", ""] + [f"- {n}" for n in self.notes] + [""]
        out += [f"Study wall time: {self.seconds:.0f} s.", ""]
        return "\n".join(out)


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        if 1 <= abs(value) < 10_000:
            return f"{value:.2f}"
        return f"{value:.3g}"
    return str(value).replace("|", "\\|")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info = {"cpu": cpu, "threads": torch.get_num_threads(), "platform": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    try:
        import diffusers
        info["diffusers"] = diffusers.__version__
    except ImportError:
        pass
    return info


def write(out: Path, header: dict[str, Any], studies: list[Study]) -> Path:
    """``report.md`` (tables + figures) and ``results.json`` (the same numbers) in ``out``."""
    m = header["machine"]
    hardware = f"{m['gpu'] or m['cpu']}" + ("" if m["gpu"] else f", {m['threads']} threads, no GPU")
    lines = [f"# Latent Studio experiment report ({header['scale']} run)", "",
             f"- Command: `{header['command']}`",
             f"- Date: {header['date']}; wall time {header['seconds'] / 60:.1f} min on {hardware} "
             f"(torch {m['torch']}, {m['platform']})",
             "- Models: " + "; ".join(f"{k}: {v}" for k, v in header["models"].items()),
             f"- Inputs: {header['data']}",
             f"- Perceptual yardstick in every table: {header['features']}",
             "- Time per image is wall-clock on this machine for the whole job divided by the images it made "
             "(batched where the engine batches). A run that two studies share (same model, options and seed) "
             "is made once and appears in both.", ""]
    if header["scale"] != "full":
        lines += ["> **Quick run**: a smoke test with few targets, few steps and a reduced grid; its numbers "
                  "are not evidence of anything. The full run is the one the README links.", ""]
    lines += ["## Contents", ""] + [f"{s.number}. [{s.title}](#{anchor(s)}) ({s.seconds:.0f} s)" for s in studies] + [""]
    lines += [s.markdown(out) for s in studies]
    path = out / "report.md"
    path.write_text("\n".join(lines))
    record = {**header, "studies": [{**{k: v for k, v in asdict(s).items() if k != "figures"},
                                     "figures": [(c, p.relative_to(out).as_posix()) for c, p in s.figures]}
                                    for s in studies]}
    (out / "results.json").write_text(json.dumps(record, indent=1, default=str))
    return path


def anchor(study: Study) -> str:
    text = f"{study.number}. {study.title}".lower()
    return "".join(c for c in text.replace(" ", "-") if c.isalnum() or c in "-_")
