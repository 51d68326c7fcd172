"""Pieces every tab uses: run/stop buttons with stable ids, seed and model fields, status and loss plots.

Element ids follow ``<tab>-run``, ``<tab>-stop``, ``<tab>-result``, ``<tab>-status`` so browser tests and
users' scripts can find them; API names are the tab names (``/invert``, ``/sdedit``, …).
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Optional

import gradio as gr
import pandas as pd

from .jobs import LIVE, Job, stream
from .registry import Registry

if TYPE_CHECKING:
    from engines.stylegan.engine import GanEngine

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
#: The brush palette of every sketch canvas: fur, eyes, nose and background colours of cat faces.
PALETTE = ["#000000", "#ffffff", "#808080", "#c0c0c0", "#5a3a22", "#a0522d", "#e8914a", "#f3d7a6",
           "#ffc0cb", "#3b6fd1", "#6fbf4f", "#f5e142"]


def examples(kind: str, pattern: str = "*.png") -> list[str]:
    """Example files shipped in assets/examples/<kind>/ (made by the project; see assets/README.md)."""
    folder = ASSETS / kind
    return sorted(str(p) for p in folder.glob(pattern)) if folder.is_dir() else []


@contextlib.contextmanager
def tab(title: str, slug: str, intro: str) -> Iterator[gr.Tab]:
    """A tab (id ``slug``, which its elements' ids start with) opening with ``intro`` (a text block: its white
    space is folded, as Markdown shows it)."""
    with gr.Tab(title, id=slug) as opened:
        gr.Markdown(" ".join(intro.split()))
        yield opened


def run_stop(slug: str, label: str = "Run") -> tuple[gr.Button, gr.Button]:
    with gr.Row():
        run = gr.Button(label, variant="primary", elem_id=f"{slug}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{slug}-stop")
    return run, stop


def status(slug: str) -> gr.Markdown:
    """The tab's status line: progress, "stopped at step k / n", the result summary; errors show here too."""
    return gr.Markdown("", elem_id=f"{slug}-status", elem_classes=["status-line"])


def run_event(button: gr.Button, fn: Any, inputs: list, outputs: list, status_md: gr.Markdown, api_name: str) -> Any:
    """``button.click`` for an engine job: one shared engine slot, and progress and errors shown on the status
    line only, so a failed run keeps the previous results on the page (no error badge over each output)."""
    return button.click(fn, inputs, outputs, api_name=api_name, concurrency_id="engines", show_progress_on=[status_md])


def session(request: Optional[gr.Request]) -> Optional[str]:
    return getattr(request, "session_hash", None)


def start_job(request: Optional[gr.Request], tab: str) -> Job:
    """The job a run streams through, registered under this browser session so Stop can report on it."""
    return LIVE.start(session(request), tab)


def number(limit: Any, value: Any = None, *, label: Optional[str] = None) -> gr.Number:
    """A number field over an option's `engines.options.Limit` (default, label, range in the help line).

    No ``minimum``/``maximum`` on the field: Gradio would refuse a bad value with "Value -3 is less than
    minimum value 0." before the engine's check, whose message names the field and its range."""
    info = "; ".join(x for x in (limit.help, f"{limit.min:g} to {limit.max:g}") if x)
    return gr.Number(value=limit.default if value is None else value, label=label or limit.label, info=info)


def range_note(slider: gr.Slider, label: str, low: float, high: float) -> None:
    """A typed value outside a slider's range is clamped by the browser; say so (field, range, new value)
    instead of changing it silently."""
    def note(value: Any) -> None:
        try:
            number = float(value)
        except (TypeError, ValueError):
            return
        if not low <= number <= high:
            kept = min(max(number, low), high)
            gr.Warning(f"{label} must be between {low:g} and {high:g}: {number:g} was set to {kept:g}.",
                       duration=6)

    slider.release(note, slider, None, preprocess=False, show_progress="hidden", api_visibility="private")


def limited_slider(limit: Any, value: Any = None, *, label: Optional[str] = None, **kwargs: Any) -> gr.Slider:
    """A slider over an option's `Limit` that warns when a typed value is out of range (see `range_note`)."""
    label = label or limit.label
    slider = gr.Slider(**limit.slider(value), label=label, **kwargs)
    range_note(slider, label.split(" (")[0], limit.min, limit.max)
    return slider


def face_checkbox() -> gr.Checkbox:
    return gr.Checkbox(False, label="Find the cat's face", info="for photos that are not a tight face crop: crop the "
                       "face like the training photos (and put edits back into the photo)")


def pti_slider() -> gr.Slider:
    """Pivotal tuning steps, over the one limit the engine checks (`PhotoOptions`)."""
    from engines.stylegan.options import PhotoOptions
    return limited_slider(PhotoOptions.limit("pti_steps"), label="Pivotal tuning steps (0 = off)",
                          info="photos: then tune a copy of the model to this photo (about 200 for fine detail, ~10 s "
                               "on a CPU)")


def realism_text(metrics: dict) -> str:
    """"realism 0.47 (0.5 ≈ a real photo)" for a result's metrics, or "" when there is no realism figure."""
    value = (metrics.get("realism") or [None])[0]
    return f"patch realism {value:.2f} (texture only: 0.5 ≈ a real photo, 0 = flat)" if value is not None else ""


def photo_distance_text(metrics: dict) -> str:
    """"distance to real photos 0.9 (1 ≈ a photo) · " for a result's metrics, or "" when the model has no reference."""
    value = (metrics.get("photo_distance") or [None])[0]
    return (f"**distance to real photos {value:.2f}** (discriminator features; 1 ≈ a photo, drawings ≈ 2) · "
            if value is not None else "")


def photo_warnings(crop: Any, engine_warnings: list[str]) -> list[str]:
    """What to tell the user about a photo the tab cropped itself (``crop``: a `faces.FaceCrop` or None) and the
    engine then inverted (its ``metrics["warnings"]`` for that image)."""
    from engines import faces
    told = [faces.CENTRE_USED] if crop is not None and not crop.found else []
    return told + [w for w in engine_warnings if w not in told]


def warnings_text(warnings: list[str]) -> str:
    """"⚠ …" lines ahead of a status, or "" when all is well."""
    return "".join(f"⚠ **{w[0].upper() + w[1:]}.**  \n" for w in warnings)


def face_box_text(crop: Any) -> str:
    """"Cat face found: left 75, top -25, side 375 px of the photo · " (or "" without a found face)."""
    if crop is None or not crop.found:
        return ""
    left, top, side = crop.box
    return f"cat face found: left {left}, top {top}, side {side} px of the photo · "


def face_text(found: bool, confidence: float) -> str:
    """"cat face found (confidence 2.7)" or "no cat face found": OpenCV's cat-face detector on the result."""
    return (f"cat face found (detector confidence {confidence:.1f})" if found
            else "no cat face found by the detector")


def seed_field(value: int = 0) -> gr.Number:
    """The seed (checked by the tab, whose message names the field and its range: no Gradio minimum)."""
    return gr.Number(value=value, precision=0, label="Seed", info=f"0 to {SEED_MAX}", min_width=120)


#: The largest seed the UI takes (the tabs check it with `inputs.whole`).
SEED_MAX = 2**31


def gan_picker(registry: Registry, label: str = "Model") -> tuple[gr.Dropdown, gr.Dropdown]:
    """The GAN dropdown (the Models tab adds what it loads) and its `class_dropdown`."""
    model = gr.Dropdown(registry.gan_labels(), value=registry.first_gan, label=label, min_width=260,
                        elem_classes=["gan-picker"])
    return model, class_dropdown(registry, model)


SPACE_ORDER = ("w+", "w", "z")  # w+ first: it reconstructs best


def space_radio(label: str = "Latent space", elem_id: Optional[str] = None) -> gr.Radio:
    """w+ / w / z picker; `follow_model_spaces` narrows it to the model's (in the same order)."""
    return gr.Radio(list(SPACE_ORDER), value="w+", label=label, elem_id=elem_id)


def sketch_examples(component: Any, slug: str) -> gr.Examples:
    """The project's drawn example sketches and simple canvas drawings (assets/examples/sketches, drawings) feeding
    ``component``."""
    return gr.Examples(examples("drawings") + examples("sketches"), inputs=[component],
                       label="Example sketches (drawn for this project)",
                       elem_id=f"{slug}-examples")


def canvas(slug: str, label: str = "Sketch") -> gr.ImageEditor:
    """A drawing canvas with the cat palette and an eraser; an uploaded image becomes the background."""
    # fixed_canvas: an upload (a 64 px photo too) is scaled into the 256 px canvas, so the brush keeps its size
    return gr.ImageEditor(label=label, type="pil", image_mode="RGBA", sources=("upload", "clipboard"),
                          brush=gr.Brush(colors=PALETTE, default_color="#808080", default_size=BRUSH_SIZE),
                          eraser=gr.Eraser(default_size=2 * BRUSH_SIZE), canvas_size=(256, 256), fixed_canvas=True,
                          height=360, elem_id=f"{slug}-canvas")


#: Default brush width in canvas pixels (the canvas is 256 px: about 2 px of a 64 px model image).
BRUSH_SIZE = 6


def big(image: Any, size: int = 256) -> Any:
    """A display copy of a small model image at ``size`` px (downloads keep the native resolution): whole
    multiples are scaled with nearest neighbour, so a 64 px image shows crisp pixels, not blur; None stays
    None and Gradio's ``skip`` passes through."""
    from PIL import Image
    if isinstance(image, Image.Image) and max(image.size) < size:
        w, h = image.size
        factor = size / max(w, h)
        how = Image.NEAREST if factor == int(factor) else Image.LANCZOS
        return image.resize((round(w * factor), round(h * factor)), how)
    return image


def progress_text(step: int, total: int, what: str = "step") -> str:
    return f"{what} {step} / {total}" if total else "working…"


def stopped_text(job: Job, what: str = "step", kept: str = "") -> str:
    """The status after Stop: where the job got to and what of it the page keeps."""
    where = f" at {what} {job.step} / {job.total}" if job.total else " before the first step"
    return f"**Stopped{where}.**" + (f" {kept}" if kept else "")


def run_job(job: Job, work: Callable[[Job], Any], status_md: gr.Markdown, *, preview: Any = None,
            losses: Any = None, what: str = "step") -> Iterator[Any]:
    """Run ``work(job)`` (`jobs.stream`) inside a tab's run generator and stream it to the page; the engine's result
    is this generator's return value: ``result = yield from common.run_job(job, work, status, …)``.

    Each progress report yields ``{status_md: "step k / n", preview: the engine's preview, losses: the loss
    curve}`` (``preview`` and ``losses``: outputs to show them on, or None; a report without a preview leaves
    ``preview`` as it is); each heartbeat yields ``gr.skip()`` (nothing changes, but Stop can land)."""
    result = None
    for ev in stream(work, job=job):
        if ev.kind == "done":
            result = ev.result  # the stream ends after "done": the loop finishes it before the caller goes on
        elif ev.kind == "progress":
            update = {status_md: progress_text(ev.step, ev.total, what)}
            if preview is not None and ev.preview is not None:
                update[preview] = big(ev.preview)
            if losses is not None:
                update[losses] = loss_frame(ev.losses)
            yield update
        else:
            yield gr.skip()
    return result


def stopped_update(job: Job, status_md: gr.Markdown, *, what: str = "step", kept: str = "",
                   preview: Any = None) -> dict:
    """The usual Stop follow-up (`stop_wiring`'s ``on_stop``): ``{status_md: "Stopped at step k / n. <kept>"}``.

    ``preview``: an output that keeps the engine's last preview; then ``kept`` (what the page keeps) is said only
    when there was a preview to keep. Without ``preview``, ``kept`` is always said."""
    if preview is None:
        return {status_md: stopped_text(job, what, kept)}
    if job.preview is None:
        return {status_md: stopped_text(job, what)}
    return {status_md: stopped_text(job, what, kept), preview: big(job.preview)}


def track(event: Any, tab: str, image: Any, status_md: Any) -> None:
    """Add each finished run's result to this visit's history (see `demo.history`)."""
    from . import history
    history.track(event, tab, image, status_md)


def shown(value: Any) -> Any:
    """Set an output that stays hidden until there is a result (file slots, details) and show it (for the
    Stop follow-up; run events return plain values, so API clients get values, and use `reveal`)."""
    return gr.update(value=value, visible=True)


def reveal_on_run(button: gr.Button, components: list) -> None:
    """Show ``components`` as soon as a run starts (an image slider laid out while hidden shows its pictures
    cropped, so it must be visible before its first value arrives)."""
    button.click(lambda: tuple(gr.update(visible=True) for _ in components) if len(components) > 1
                 else gr.update(visible=True), None, components, queue=False, show_progress="hidden",
                 api_visibility="private")


def hide_if_empty_on_failure(event: Any, slider: Any) -> None:
    """After a failed run, hide ``slider`` again (shown by `reveal_on_run`) unless it still holds an earlier result:
    a failed first run must not leave an empty 300 px box on the page."""
    def shown(value: Any) -> Any:
        held = value is not None and (not isinstance(value, (tuple, list)) or any(v is not None for v in value))
        return gr.update(visible=held)
    event.failure(shown, [slider], [slider], queue=False, show_progress="hidden", api_visibility="private")


def reveal(event: Any, components: list) -> None:
    """Show ``components`` (hidden until there is a result: file slots look like upload boxes when empty) once
    ``event`` has succeeded."""
    event.success(lambda: tuple(gr.update(visible=True) for _ in components) if len(components) > 1
                  else gr.update(visible=True), None, components, queue=False, show_progress="hidden",
                  api_visibility="private")


def loss_frame(losses: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(losses or [(0, float("nan"))], columns=["step", "loss"])


def stop_wiring(stop: gr.Button, event: Any, tab: str, outputs: list, on_stop: Any) -> None:
    """The Stop button cancels the running job (its generator is closed; the engine stops at its next step);
    then ``on_stop(job)`` gives the changed outputs as ``{component: value}`` (e.g. `stopped_update`): the status
    says where it stopped, the partial result stays. Nothing changes when the job had already finished."""
    cancel = stop.click(None, None, None, cancels=[event], queue=False, api_visibility="private")

    def after_stop(request: gr.Request):
        job = LIVE.stopped(session(request), tab)
        return gr.skip() if job is None else on_stop(job)  # a lone skip leaves every output as it is

    cancel.then(after_stop, None, outputs, queue=False, show_progress="hidden", api_visibility="private")


def _class_update(engine: GanEngine, keep: Any = None) -> dict:
    names = engine.class_names()
    return gr.update(choices=names, value=keep if keep in names else (names[0] if names else None),
                     visible=bool(names))


def class_dropdown(registry: Registry, model: gr.Dropdown) -> gr.Dropdown:
    """The class picker of class-conditional models, shown only for them and kept to the chosen model's classes."""
    from .errors import user_errors

    first = _class_update(registry.model(registry.first_gan))
    picker = gr.Dropdown(first["choices"], value=first["value"], visible=first["visible"], label="Class",
                         info="this model is class-conditional: the class to generate")

    @user_errors
    def classes_for(model_label, current):
        return _class_update(registry.model(model_label), current)

    model.change(classes_for, [model, picker], picker, api_visibility="private")
    return picker


def follow_model_spaces(registry: Registry, model: gr.Dropdown, space: gr.Radio) -> None:
    """Keep a latent-space picker to the spaces the chosen model has (a DCGAN has only z)."""
    from .errors import user_errors

    @user_errors
    def spaces_for(model_label):
        has = set(registry.gan(model_label).spaces)
        spaces = [s for s in SPACE_ORDER if s in has]  # the picker's own order, whatever order the model lists
        return gr.update(choices=spaces, value=spaces[0])

    model.change(spaces_for, model, space, api_visibility="private")
