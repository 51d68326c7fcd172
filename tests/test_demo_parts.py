"""The demo's plumbing: canvases become sketch + mask, Stop really stops the engine job, errors read well."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from PIL import Image

gr = pytest.importorskip("gradio")

from demo import inputs, jobs  # noqa: E402
from demo.errors import as_gr_error, user_errors  # noqa: E402
from engines.base import LatentStudioError  # noqa: E402


def _layer(box=(10, 10, 30, 30), colour=(200, 40, 40, 255), size=64):
    layer = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    layer.paste(Image.new("RGBA", (box[2] - box[0], box[3] - box[1]), colour), box[:2])
    return layer


def test_strokes_on_layers_are_the_mask():
    background = Image.new("RGBA", (64, 64), (255, 255, 255, 255))
    layer = _layer()
    composite = Image.alpha_composite(background, layer)
    sketch, mask = inputs.canvas_to_sketch({"background": background, "layers": [layer], "composite": composite})
    assert sketch.mode == "RGB" and sketch.size == (64, 64) and mask.shape == (64, 64)
    assert mask[20, 20] == 1 and mask[40, 40] == 0 and mask.sum() == 400
    assert sketch.getpixel((20, 20)) == (200, 40, 40)


def test_an_uploaded_sketch_without_strokes_is_the_scribble():
    drawing = Image.new("RGB", (64, 64), "white")
    drawing.paste((90, 90, 90), (16, 16, 48, 48))
    sketch, mask = inputs.canvas_to_sketch({"background": drawing.convert("RGBA"), "layers": [], "composite": None})
    assert mask[32, 32] == 1 and mask[2, 2] == 0 and sketch.size == (64, 64)


@pytest.mark.parametrize("value", [None, {"background": None, "layers": [], "composite": None},
                                   {"background": Image.new("RGBA", (64, 64), (0, 0, 0, 0)), "layers": [
                                       Image.new("RGBA", (64, 64), (0, 0, 0, 0))], "composite": None},
                                   {"background": Image.new("RGBA", (64, 64), "white"), "layers": [], "composite": None}])
def test_an_empty_canvas_is_a_clear_error(value):
    with pytest.raises(LatentStudioError, match="(?i)sketch|draw"):
        inputs.canvas_to_sketch(value)


@pytest.mark.parametrize("value,name,low,high,message", [
    ("abc", "Steps", 1, 10, "Steps must be a number between 1 and 10"),
    (2.5, "Steps", 1, 10, "whole number between 1 and 10"),
    (11, "Steps", 1, 10, "got 11"),
    (float("nan"), "Steps", 1, 10, "between 1 and 10"),
])
def test_numbers_from_the_api_are_checked(value, name, low, high, message):
    with pytest.raises(LatentStudioError, match=message):
        inputs.whole(value, name, low, high)


def test_overlay_keeps_the_result_size():
    out = inputs.overlay(Image.new("RGB", (64, 64), "black"), Image.new("RGB", (256, 256), "white"),
                         np.ones((256, 256), np.float32), alpha=0.5)
    assert out.size == (64, 64) and out.getpixel((5, 5)) in ((127, 127, 127), (128, 128, 128))


def test_stream_reports_progress_and_the_result():
    def work(job):
        for i in range(3):
            job.progress(i + 1, 3, None)
            job.on_loss(i + 1, 1.0 / (i + 1))
        return "result"
    events = [e for e in jobs.stream(work, heartbeat=0.05) if e.kind != "heartbeat"]
    assert [e.kind for e in events] == ["progress"] * 3 + ["done"]
    assert events[-1].result == "result" and [s for s, _ in events[-1].losses] == [1, 2, 3]


def test_closing_the_stream_cancels_the_engine_job():
    stopped = threading.Event()
    steps = []

    def work(job):
        try:
            for i in range(10_000):
                time.sleep(0.01)
                steps.append(i)
                job.progress(i, 10_000, None)
        finally:
            stopped.set()

    gen = jobs.stream(work, heartbeat=0.05)
    next(gen)
    gen.close()  # what Gradio does when the user presses Stop
    assert stopped.wait(2.0), "the worker kept running after the UI cancelled"
    assert len(steps) < 10_000


def test_errors_in_the_job_reach_the_ui_as_gr_error():
    @user_errors
    def handler():
        yield from (None for _ in jobs.stream(lambda job: (_ for _ in ()).throw(LatentStudioError("bad steps"))))

    with pytest.raises(gr.Error, match="bad steps"):
        list(handler())


def test_out_of_memory_gets_a_hint_and_surprises_are_named():
    assert "--device cpu" in as_gr_error(RuntimeError("CUDA out of memory. Tried to allocate")).message
    assert "ZeroDivisionError" in as_gr_error(ZeroDivisionError("x")).message
