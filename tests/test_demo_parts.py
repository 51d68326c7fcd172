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


def test_stop_reports_where_it_stopped_and_keeps_the_best_latent(tiny_engine):
    """What the Stop button's follow-up sees: the step reached and the engine's partial latent (not lost)."""
    from demo import common
    live = jobs.Live()
    job = live.start("visit-1", "invert")
    photo = tiny_engine.sample(1, 3)[0]
    gen = jobs.stream(lambda j: tiny_engine.invert([photo], steps=1000, progress=j.progress, on_loss=j.on_loss), job=job,
                      heartbeat=0.05)
    for ev in gen:
        if ev.kind == "progress" and ev.step >= 3:
            break
    gen.close()  # what Gradio does when the user presses Stop
    stopped = live.stopped("visit-1", "invert")
    assert stopped is job and 3 <= job.step < 1000 and job.total == 1000
    assert f"Stopped at step {job.step} / 1000" in common.stopped_text(job)
    latent, space = job.partial["latent"], job.partial["space"]
    assert space == "w+" and tuple(latent.shape) == (1, tiny_engine.G.num_ws, tiny_engine.G.w_dim)
    assert tiny_engine.synthesize(latent, space)[0].size == photo.size
    assert live.stopped("visit-2", "invert") is None  # another visitor's Stop sees nothing of it


def test_stop_after_the_result_changes_nothing():
    live = jobs.Live()
    job = live.start("v", "sdedit")
    assert [e.kind for e in jobs.stream(lambda j: "done", job=job)] == ["done"]
    assert live.stopped("v", "sdedit") is None


def test_picked_sample_latent_renders_that_sample(tiny_engine):
    from demo.sample_tab import sample_latent
    images = tiny_engine.sample(4, 5, truncation=0.7)
    record = sample_latent(tiny_engine, 4, 5, 2, 0.7)
    again = tiny_engine.synthesize(record["latent"], str(record["space"]))[0]
    assert np.abs(np.asarray(again, np.int16) - np.asarray(images[2], np.int16)).max() <= 2
    with pytest.raises(LatentStudioError, match="Pick one of the 4"):
        sample_latent(tiny_engine, 4, 5, 4, 0.7)


def test_metrics_tables_are_readable():
    from demo import outputs
    text = outputs.table({"strengths": [np.float64(-4.0), np.float32(0.5)], "psnr": np.float32(23.456789),
                          "space": "w+", "none": None})
    assert "np." not in text and "| strengths | -4, 0.5 |" in text and "| psnr | 23.46 |" in text and "—" in text
    assert "np." not in outputs.pretty({"x": np.float32(1.5), "v": np.arange(3)})


def test_gpu_durations_grow_with_the_work_and_stay_bounded():
    from demo.gpu import MAX_SECONDS, MIN_SECONDS, durations
    args = [None, "m", "w+", "adam", 100, 1, 0, "disc", 0.1, 0, 1, 0, None, False, 0]
    short, long = durations.invert(*args), durations.invert(*args[:4], 2000, *args[5:])
    assert MIN_SECONDS <= short < long <= MAX_SECONDS
    assert durations.invert(*args[:4], 10**9, *args[5:]) == MAX_SECONDS and durations.sdedit() >= MIN_SECONDS


def test_history_keeps_this_visits_results_newest_first():
    from demo import history
    first, _ = history.add([], "Invert", Image.new("RGB", (8, 8)), "**PSNR 24.1 dB** · SSIM 0.8")
    items, shown = history.add(first, "Edit", [(Image.new("RGB", (8, 8), "red"), "+4.0")], "done")
    assert [c.split(" · ")[0] for _, c in items] == ["Edit", "Invert"] and "PSNR 24.1 dB" in items[1][1]
    assert history.add(items, "SDEdit", [], "x")[0] == items  # nothing to add


def test_mcp_server_flag_needs_gradio_mcp(monkeypatch, capsys):
    import app
    assert app.parse_args(["--mcp-server"]).mcp_server and not app.parse_args([]).mcp_server
    monkeypatch.setattr(app, "mcp_available", lambda: False)
    assert app.main(["--mcp-server"]) == 2
    assert 'pip install "gradio[mcp]"' in capsys.readouterr().err


def test_the_api_functions_describe_their_arguments_for_mcp_tools():
    import inspect
    from demo import build_demo
    from demo.registry import Registry
    from engines.diffusion.engine import DiffusionEngine
    from engines.diffusion.tiny import tiny_pixel_pipeline
    demo = build_demo(Registry(None, DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu"), device="cpu"))
    named = {fn.api_name: fn.fn for fn in demo.fns.values() if fn.api_name and fn.api_visibility != "private"}
    for name in ("invert", "interpolate", "scribble", "edit", "sdedit", "compare", "sample", "load_gan",
                 "sample_tool", "invert_tool", "scribble_tool", "sdedit_tool"):
        doc = inspect.getdoc(named[name]) or ""
        assert "Args:" in doc and "Returns:" in doc, name


def test_two_models_with_the_same_folder_name_get_two_entries(tmp_path, tiny_g, tiny_d):
    """Two runs' `latest/` folders: the second must not replace the first (issue 32, item 4)."""
    from conftest import randomize
    from demo.registry import Registry
    from engines.diffusion.engine import DiffusionEngine
    from engines.diffusion.tiny import tiny_pixel_pipeline
    from engines.stylegan.checkpoints import save_gan
    from engines.stylegan.networks import StyleGAN2Generator
    save_gan(tmp_path / "run1" / "latest", tiny_g, tiny_d)
    other = randomize(StyleGAN2Generator(tiny_g.config), 9)
    save_gan(tmp_path / "run2" / "latest", other, tiny_d)
    registry = Registry(None, DiffusionEngine.from_pipeline(tiny_pixel_pipeline(), device="cpu"), device="cpu")
    a = registry.add_gan(str(tmp_path / "run1" / "latest"))
    b = registry.add_gan(str(tmp_path / "run2" / "latest"))
    assert a != b and "run2/latest" in b
    assert registry.gan(a).fingerprint != registry.gan(b).fingerprint


def test_history_wires_only_the_runs_of_the_app_being_built():
    """A tab built in a Blocks of its own (no history) must not leave its run events for the next app's history:
    their components are not in that app, and gradio_client failed to read its API (StopIteration)."""
    import gradio as gr
    from demo import history
    with gr.Blocks():
        other = gr.Button()
        history.track(other.click(lambda: None), "Other", gr.Image(), None)
    with gr.Blocks() as app:
        mine = gr.Button()
        image = gr.Image()
        history.track(mine.click(lambda: None), "Mine", image, None)
        history.build()
    wired = [fn for fn in app.fns.values() if any(getattr(b, "_id", None) == image._id for b in fn.inputs)]
    assert len(wired) == 1 and not history._TRACKED
