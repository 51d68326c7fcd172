"""Edit: move a latent along a direction (named, SeFa, GANSpace, or from two sets of examples), −s … +s."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import gradio as gr
import numpy as np

from engines import imaging
from engines.base import LatentStudioError
from engines.stylegan import editing
from engines.stylegan.editing import load_direction, named_directions
from engines.stylegan.options import EditOptions

from . import common, inputs, outputs, polish
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry

METHODS = {"SeFa": "sefa", "GANSpace": "ganspace"}
FROM_EXAMPLES = "From examples (below)"


@dataclass
class EditTab:
    model: gr.Dropdown
    latent: gr.File
    start: gr.Radio


class DirectionCache:
    """SeFa/GANSpace components per model, computed once (GANSpace samples 10 k latents)."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], list] = {}
        self._lock = threading.Lock()

    def get(self, engine, label: str, method: str) -> list:
        with self._lock:
            key = (label, method)
            if key not in self._found:
                self._found[key] = engine.directions(method, k=8)
            return self._found[key]


def direction_choices(engine) -> list[str]:
    named = named_directions(engine)
    comps = [f"{label} {i}" for label, method in METHODS.items() if method in engine.direction_methods
             for i in range(8)]
    return named + comps + [FROM_EXAMPLES]


def _start_latent(engine, start: str, latent_file, photo, seed: int):
    if start == "Latent file":
        if not latent_file:
            raise LatentStudioError("Upload a latent .npz (or press 'Send to Edit' in the Invert tab, or pick an image "
                                    "in the Sample tab and send it here).")
        return latent_file if isinstance(latent_file, str) else latent_file.name
    if start == "Photo (inverted first)":
        if photo is None:
            raise LatentStudioError("Upload a photo to start from (or set 'Start from' to Random sample: the "
                                    "examples below are random samples of the model).")
        return inputs.load_photo(photo)
    return engine.random_latent(seed, truncation=0.7)


def layers_text(layers) -> str:
    """"all" or "w+ rows 0 to 5" for a result's layer option (a [start, stop) pair)."""
    return f"w+ rows {layers[0]} to {layers[1] - 1}" if isinstance(layers, (list, tuple)) else str(layers)


def edit_table(res) -> str:
    """The edit's numbers as a readable table: each strength and how much the image changed."""
    o = res.options
    layers = layers_text(o["layers"])
    head = outputs.table([("direction", f"{o['direction']} ({o['method']}, {o['space']})"), ("layers", layers),
                          ("time", f"{sum(res.timings.values()):.1f} s")], ("edit", "value"))
    rows = [(f"{float(v):+.1f}", f"{float(c):.1f}") for v, c in zip(res.metrics["strengths"], res.metrics["pixel_change"])]
    return head + "\n\n" + outputs.table(rows, ("strength", "mean pixel change (0-255 levels)"))


def build(registry: Registry) -> EditTab:
    cache = DirectionCache()
    initial = direction_choices(registry.model(registry.first_gan))
    with common.tab("Edit", "edit", """
            Move an image along a latent direction: the middle image is the start (strength 0). Named directions ship
            with the model; SeFa / GANSpace components are found without labels; or give two sets of example images
            (with / without the attribute)."""):
        with gr.Row():
            with gr.Column(scale=1):
                model, model_class = common.gan_picker(registry)
                start = gr.Radio(["Random sample", "Latent file", "Photo (inverted first)"], value="Random sample",
                                 label="Start from")
                seed = common.seed_field(3)  # seed 0 of the default model is a dark frame, a poor first edit
                latent = gr.File(label="Latent (.npz, e.g. from Invert)", file_types=[".npz"], height=90)
                photo = gr.Image(label="Photo", type="filepath", height=160)
                face = common.face_checkbox()
                pti = common.pti_slider()
                direction = gr.Dropdown(initial, value=initial[0], label="Direction", min_width=260)
                with gr.Row():
                    strength = common.limited_slider(EditOptions.limit("strength"),
                                                     label="Strength s (strip from −s to +s)",
                                                     info="named directions set their own default")
                    count = gr.Slider(3, 11, value=5, step=2, label="Images in the strip")
                common.range_note(count, "Images in the strip", 3, 11)
                layers = gr.Dropdown(["all", "coarse", "middle", "fine", "0-5"], value="all", allow_custom_value=True,
                                     label="w+ layers", elem_id="edit-layers",
                                     info="all, coarse, middle, fine, or rows: 0-5 (rows 0 to 5) or 0:6 (the same)")
                with gr.Accordion("Direction from examples", open=False):
                    positives = gr.File(label="Images WITH the attribute", file_count="multiple", file_types=["image"])
                    negatives = gr.File(label="Images WITHOUT it", file_count="multiple", file_types=["image"])
                run, stop = common.run_stop("edit", "Edit")
                gr.Examples([["Random sample", 3], ["Random sample", 11]], inputs=[start, seed],
                            label="Examples (random samples of our model)", elem_id="edit-examples")
            with gr.Column(scale=2):
                gallery = gr.Gallery(format="png", interactive=False, label="−s … +s", columns=5, height=240, elem_id="edit-result")
                status = common.status("edit")
                before_after = gr.ImageSlider(label="Before / after (drag: start ↔ +s)", type="pil", format="png",
                                              interactive=False, height=300, max_height=300, visible=False, elem_id="edit-before-after")
                strip = gr.Image(label="Strip", type="pil", interactive=False, format="png", elem_id="edit-strip",
                                 elem_classes=["pixelated", "strip"])  # 64 px frames drawn at the frame's width
                table = gr.Markdown(elem_id="edit-metrics")
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json")
                edited = gr.File(label="Edited latents (.npz)", visible=False)
                polish.add(registry, before_after, "edit")

        outs = [gallery, status, strip, metrics, edited, table, before_after]

        @gpu(durations.edit)
        @user_errors(status=status)
        def run_edit(model_label, start_v, seed_v, latent_v, photo_v, direction_v, strength_v, count_v, layers_v,
                     pos_v, neg_v, class_label=None, face_v=False, pti_v=0, request: gr.Request = None):
            """Move an image along a latent direction and return the strip of images from −s to +s.

            Args:
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                start_v: "Random sample", "Latent file" or "Photo (inverted first)".
                seed_v: seed of the random sample (0-2147483648).
                latent_v: a latent .npz (from Invert or Sample), when starting from a latent file.
                photo_v: a photo, when starting from a photo (it is inverted first).
                direction_v: a named direction (e.g. "dark_fur"), "SeFa 0".."SeFa 7", "GANSpace 0".."GANSpace 7", or
                    "From examples (below)".
                strength_v: strength s (0-50): the strip runs from −s to +s.
                count_v: images in the strip (2-21).
                layers_v: w+ layers to edit: all, coarse, middle, fine, "a-b" (rows a to b) or "a:b".
                pos_v: images with the attribute (for a direction from examples).
                neg_v: images without it.
                class_label: class of a class-conditional model (None otherwise).
                face_v: find and crop the cat's face first (photo start).
                pti_v: pivotal-tuning steps after inverting the photo (0 = off).
            Returns:
                the strip as a gallery, a status line, the strip as one image, all numbers as JSON, the edited
                latents (.npz), a readable table of the numbers and the (start, +s) pair.
            """
            engine = registry.gan(model_label, class_label)
            limit = EditOptions.limit("strength")
            s = inputs.real(strength_v, limit.label, limit.min, limit.max)
            n = inputs.whole(count_v, "Images in the strip", 2, 21)
            src = _start_latent(engine, start_v, latent_v, photo_v, inputs.whole(seed_v, "Seed", 0, common.SEED_MAX))
            if not direction_v:
                raise LatentStudioError("Choose a direction.")
            layers_v = str(layers_v).strip() if layers_v is not None else ""
            layer_range = None if not engine.has_layers or layers_v in ("", "all") else layers_v
            if layer_range is not None:
                engine.layer_range(layer_range)  # a bad range fails now, with the forms it takes
            job = common.start_job(request, "edit")

            def work(job):
                if direction_v == FROM_EXAMPLES:
                    if not pos_v or not neg_v:
                        raise LatentStudioError("Give images with and without the attribute (at least one each).")
                    pos = [inputs.load_photo(p) for p in pos_v]
                    neg = [inputs.load_photo(p) for p in neg_v]
                    d = editing.from_example_images(engine, pos, neg, "from_examples",
                                                 invert_options={"steps": 100}, progress=job.progress)
                elif direction_v.split(" ")[0] in METHODS:
                    method, index = direction_v.split(" ")
                    d = cache.get(engine, f"{model_label}|{engine.class_index}", METHODS[method])[int(index)]
                else:
                    d = load_direction(direction_v, engine)
                return engine.edit(src, d, list(np.linspace(-s, s, n)), layers=layer_range,
                                   invert_options={"steps": 150}, face=bool(face_v) and start_v.startswith("Photo"),
                                   pti_steps=int(pti_v or 0) if start_v.startswith("Photo") else 0,
                                   progress=job.progress)

            res = yield from common.run_job(job, work, status, what="inverting: step")
            text = (f"**{res.options['direction']}** ({res.options['method']}) on layers {layers_text(res.options['layers'])}"
                    f" · mean pixel change at ±s: {res.metrics['pixel_change'][0]:.1f} / "
                    f"{res.metrics['pixel_change'][-1]:.1f} levels")
            rebuild = res.metrics.get("rebuild")
            if rebuild is not None:  # from a photo: how well it was rebuilt comes first (edits are no better)
                box = res.options.get("face_box")
                where = f" (face crop left {box[0]}, top {box[1]}, side {box[2]} px)" if box else ""
                text = (common.warnings_text(rebuild["warnings"]) +
                        f"Photo rebuilt{where}: **PSNR {rebuild['psnr']:.1f} dB · SSIM {rebuild['ssim']:.3f}**"
                        + (f" · patch realism {rebuild['realism']:.2f}" if rebuild["realism"] is not None else "")
                        + "  \n" + text)
            captions = [f"{v:+.1f}" for v in res.metrics["strengths"]]
            images = [common.big(im) for im in res.images]
            middle = min(range(len(images)), key=lambda i: abs(float(res.metrics["strengths"][i])))
            yield {gallery: list(zip(images, captions)), status: text,
                   strip: imaging.make_grid(res.images, nrow=len(res.images)),
                   metrics: outputs.pretty({"metrics": res.metrics, "options": res.options, "timings": res.timings}),
                   edited: outputs.save_latent(res.latents, "edit", "edited.npz"), table: edit_table(res),
                   before_after: outputs.save_pair(images[middle], images[-1], "edit")}

        def stopped(job):
            return common.stopped_update(job, status, what="inverting: step",
                                         kept="The edit needs the whole inversion: nothing to keep; run again to edit.")

        event = common.run_event(run, run_edit, [model, start, seed, latent, photo, direction, strength, count, layers,
                                                 positives, negatives, model_class, face, pti], outs, status, "edit")
        common.stop_wiring(stop, event, "edit", outs, stopped)
        common.reveal(event, [edited])
        common.reveal_on_run(run, [before_after])
        common.hide_if_empty_on_failure(event, before_after)
        common.track(event, "Edit", strip, status)

        @user_errors
        def choices_for(model_label):
            options = direction_choices(registry.model(model_label))
            return gr.update(choices=options, value=options[0])

        model.change(choices_for, model, direction, api_visibility="private")

        @user_errors
        def strength_for(model_label, direction_v):
            """A named direction's own default strength (one that keeps images realistic), else unchanged."""
            if direction_v in named_directions(registry.model(model_label)):
                s = load_direction(direction_v, registry.model(model_label)).meta.get("default_strength")
                if isinstance(s, (int, float)):
                    return gr.update(value=float(s))
            return gr.skip()

        direction.change(strength_for, [model, direction], strength, api_visibility="private")
    return EditTab(model=model, latent=latent, start=start)
