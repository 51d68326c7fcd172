"""The Hugging Face Space's front matter (README.md) and the requirements agree on the Gradio the Space runs."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path

import gradio

ROOT = Path(__file__).resolve().parents[1]


def front_matter() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.match(r"---\n(.*?)\n---\n", text, re.S)
    assert block, "README.md must start with the Space's YAML front matter"
    return {k.strip(): v.strip().strip('"') for k, v in (line.split(":", 1) for line in block.group(1).splitlines())}


def test_space_pins_the_gradio_and_python_ci_tests():
    meta = front_matter()
    pin = re.search(r"^gradio(?:\[[^\]]*\])?==([\w.]+)\s*$", (ROOT / "requirements.txt").read_text(), re.M)
    assert pin, "requirements.txt must pin gradio exactly (the Space's sdk_version)"
    assert meta["sdk"] == "gradio" and meta["sdk_version"] == pin.group(1) == gradio.__version__
    assert re.fullmatch(r"3\.\d+", meta["python_version"])
    ci = (ROOT / ".ci" / "run").read_text()
    assert "python3 -m venv" in ci and "LATENT_STUDIO_REQUIRE_BROWSER=1" in ci
    if os.environ.get("LATENT_STUDIO_REQUIRE_BROWSER"):  # set by .ci/run: CI runs the Space's Python
        assert meta["python_version"] == f"{sys.version_info.major}.{sys.version_info.minor}"
