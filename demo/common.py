"""Pieces every tab uses: run/stop buttons with stable ids, seed and model fields, status and loss plots.

Element ids follow ``<tab>-run``, ``<tab>-stop``, ``<tab>-result``, ``<tab>-status`` so browser tests and
users' scripts can find them; API names are the tab names (``/invert``, ``/sdedit``, …).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import gradio as gr
import pandas as pd

from .registry import Registry

ASSETS = Path(__file__).resolve().parent.parent / "assets" / "examples"
#: The brush palette of every sketch canvas: fur, eyes, nose and background colours of cat faces.
PALETTE = ["#000000", "#ffffff", "#808080", "#c0c0c0", "#5a3a22", "#a0522d", "#e8914a", "#f3d7a6",
           "#ffc0cb", "#3b6fd1", "#6fbf4f", "#f5e142"]


def examples(kind: str, pattern: str = "*.png") -> list[str]:
    """Example files shipped in assets/examples/<kind>/ (made by the project; see assets/README.md)."""
    folder = ASSETS / kind
    return sorted(str(p) for p in folder.glob(pattern)) if folder.is_dir() else []


def run_stop(slug: str, label: str = "Run") -> tuple[gr.Button, gr.Button]:
    with gr.Row():
        run = gr.Button(label, variant="primary", elem_id=f"{slug}-run")
        stop = gr.Button("Stop", variant="stop", elem_id=f"{slug}-stop")
    return run, stop


def status(slug: str) -> gr.Markdown:
    return gr.Markdown("", elem_id=f"{slug}-status")


def number(limit: Any, value: Any = None, *, label: Optional[str] = None) -> gr.Number:
    """A number field over an option's `engines.options.Limit` (its range, default and label)."""
    return gr.Number(value=limit.default if value is None else value, minimum=limit.min, maximum=limit.max,
                     label=label or limit.label, info=limit.help or None)


def face_checkbox() -> gr.Checkbox:
    return gr.Checkbox(False, label="Find the cat's face", info="for photos that are not a tight face crop: crop the "
                       "face like the training photos (and put edits back into the photo)")


def pti_slider() -> gr.Slider:
    return gr.Slider(0, 500, value=0, step=10, label="Pivotal tuning steps (0 = off)",
                     info="photos: then tune a copy of the model to this photo (about 200 for fine detail, ~10 s on a CPU)")


def realism_text(metrics: dict) -> str:
    """"realism 0.47 (0.5 ≈ a real photo)" for a result's metrics, or "" when there is no realism figure."""
    value = (metrics.get("realism") or [None])[0]
    return f"realism {value:.2f} (0.5 ≈ a real photo, 0 = flat)" if value is not None else ""


def seed_field(value: int = 0) -> gr.Number:
    return gr.Number(value=value, precision=0, minimum=0, label="Seed")


def gan_dropdown(registry: Registry, label: str = "Model") -> gr.Dropdown:
    return gr.Dropdown(registry.gan_labels(), value=registry.first_gan, label=label)


def space_radio(label: str = "Latent space") -> gr.Radio:
    """z / w / w+ picker (w+ first: it reconstructs best); `follow_model_spaces` narrows it to the model's."""
    return gr.Radio(["w+", "w", "z"], value="w+", label=label)


def sketch_examples(component: Any, slug: str) -> gr.Examples:
    """The project's drawn example sketches (assets/examples/sketches) feeding ``component``."""
    return gr.Examples(examples("sketches"), inputs=[component], label="Example sketches (drawn for this project)",
                       elem_id=f"{slug}-examples")


def canvas(slug: str, label: str = "Sketch") -> gr.ImageEditor:
    """A drawing canvas with the cat palette and an eraser; an uploaded image becomes the background."""
    return gr.ImageEditor(label=label, type="pil", image_mode="RGBA", sources=("upload", "clipboard"),
                          brush=gr.Brush(colors=PALETTE, default_color="#808080", default_size=8),
                          eraser=gr.Eraser(default_size=12), canvas_size=(256, 256), height=360,
                          elem_id=f"{slug}-canvas")


def big(image: Any, size: int = 256) -> Any:
    """A display copy of a small model image at ``size`` px (downloads keep the native resolution);
    None stays None and Gradio's ``skip`` passes through."""
    from PIL import Image
    if isinstance(image, Image.Image) and max(image.size) < size:
        return image.resize((size, size), Image.LANCZOS)
    return image


def preview(image: Any) -> Any:
    """A progress preview for an output, or "no change" when the engine sent none."""
    return big(image) if image is not None else gr.skip()


def skips(n: int) -> tuple:
    """A yield that changes nothing (a heartbeat while a job runs)."""
    return tuple(gr.skip() for _ in range(n))


def progress_text(step: int, total: int, what: str = "step") -> str:
    return f"{what} {step} / {total}" if total else "working…"


def loss_frame(losses: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame(losses or [(0, float("nan"))], columns=["step", "loss"])


def stop_wiring(stop: gr.Button, event: Any) -> None:
    """The Stop button cancels the running job (its generator is closed; the engine stops at its next step)."""
    stop.click(None, None, None, cancels=[event], queue=False, api_visibility="private")


def _class_update(engine: Any, keep: Any = None) -> dict:
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
        spaces = list(registry.gan(model_label).spaces)
        return gr.update(choices=spaces, value="w+" if "w+" in spaces else spaces[0])

    model.change(spaces_for, model, space, api_visibility="private")
