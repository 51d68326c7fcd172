"""Drag: click a handle and a target on the image (DragGAN), Run, and the GAN moves that part of the cat."""
from __future__ import annotations

from dataclasses import dataclass

import math
from typing import Any

import gradio as gr
from PIL import Image, ImageDraw

from engines.stylegan.drag import DragConfig

from . import common, inputs, outputs, polish
from .errors import user_errors
from .gpu import durations, gpu
from .registry import Registry

LIMITS = DragConfig.limits()
SHOWN = 256  # the image is shown at this size; clicks are mapped back to the model's pixels


def draw_points(image: Image.Image, points: list[list[float]], resolution: int) -> Image.Image:
    """The start image at `SHOWN` px with each handle (red) → target (blue) pair drawn as an arrow; an unpaired last
    click is a red dot. ``points`` alternate handle, target, … in the model's pixels."""
    out = common.big(image, SHOWN).convert("RGB")
    draw = ImageDraw.Draw(out)
    k = SHOWN / resolution
    to_px = lambda p: ((p[0] + 0.5) * k, (p[1] + 0.5) * k)  # noqa: E731 — pixel centres
    for i in range(0, len(points), 2):
        hx, hy = to_px(points[i])
        draw.ellipse([hx - 4, hy - 4, hx + 4, hy + 4], fill=(230, 40, 40))
        if i + 1 < len(points):
            tx, ty = to_px(points[i + 1])
            draw.line([hx, hy, tx, ty], fill=(255, 255, 255), width=2)
            angle = math.atan2(ty - hy, tx - hx)
            for side in (2.6, -2.6):
                draw.line([tx, ty, tx - 9 * math.cos(angle + side / 2), ty - 9 * math.sin(angle + side / 2)],
                          fill=(255, 255, 255), width=2)
            draw.ellipse([tx - 4, ty - 4, tx + 4, ty + 4], fill=(40, 90, 230))
    return out


def points_text(points: list[list[float]]) -> str:
    """Handle, target, … → "x0,y0:x1,y1;…" (a lone last handle as "x,y")."""
    fmt = lambda p: f"{p[0]:g},{p[1]:g}"  # noqa: E731
    items = [f"{fmt(points[i])}:{fmt(points[i + 1])}" if i + 1 < len(points) else fmt(points[i])
             for i in range(0, len(points), 2)]
    return ";".join(items)


def text_points(text: str) -> list[list[float]]:
    """The inverse of `points_text` (a clear error for anything else)."""
    out = []
    for item in [t for t in (text or "").replace(" ", "").split(";") if t]:
        for side in item.split(":"):
            try:
                x, y = (float(v) for v in side.split(","))
            except ValueError:
                raise gr.Error(f"Points are handle:target pairs 'x0,y0:x1,y1' separated by ';' (got {item!r}).")
            out.append([x, y])
    return out


@dataclass
class DragTab:
    model: gr.Dropdown
    latent: gr.State  # the .npz the next drag starts from: the last result (its warp included) or the start
    to_edit: gr.Button


def build(registry: Registry) -> DragTab:
    with common.tab("Drag", "drag", """
            Click a **handle** on the cat (an eye, an ear tip, the chin), then where it should go (the **target**);
            add more pairs if you like, then **Drag**: the GAN moves that part and keeps the rest a cat (DragGAN).
            Each drag starts from the last result, so you can go on."""):
        with gr.Row():
            with gr.Column(scale=1):
                model, model_class = common.gan_picker(registry)
                with gr.Row():
                    seed = common.seed_field(3)
                    new = gr.Button("New sample", size="sm", elem_id="drag-new")
                photo = gr.Image(label="…or start from a photo (inverted first)", type="filepath", height=140,
                                 elem_id="drag-photo")
                face = common.face_checkbox()
                steps = common.limited_slider(LIMITS["steps"], label="Most steps", elem_id="drag-steps")
                points = gr.Textbox(label="Points (handle:target pairs in the model's pixels; clicks fill this in)",
                                    placeholder="20,28:20,18", elem_id="drag-points")
                with gr.Row():
                    undo = gr.Button("Undo last point", size="sm", elem_id="drag-undo")
                    reset = gr.Button("Clear points", size="sm", elem_id="drag-reset")
                run, stop = common.run_stop("drag", "Drag")
            with gr.Column(scale=2):
                canvas = gr.Image(label="Click: handle (red), then target (blue)", type="pil", interactive=False,
                                  format="png", height=SHOWN, elem_id="drag-canvas")
                status = common.status("drag")
                before_after = gr.ImageSlider(label="Before / after", type="pil", format="png", interactive=False,
                                              height=300, max_height=300, visible=False, elem_id="drag-before-after")
                with gr.Accordion("All numbers (JSON)", open=False):
                    metrics = gr.Code(label="Metrics", language="json", elem_id="drag-metrics")
                latent = gr.File(label="Latent (.npz)", elem_id="drag-latent", visible=False)
                to_edit = gr.Button("Send the result to Edit", size="sm", elem_id="drag-to-edit")
                polish.add(registry, before_after, "drag")
        start = gr.State("")       # the latent (.npz) the next drag starts from
        base = gr.State(None)      # its image (PIL, model size)

        @user_errors
        def load(model_label, seed_v, photo_path, face_v, class_label=None):
            """A start for dragging: a sample of the model (seed) or, with a photo, its inversion."""
            engine = registry.gan(model_label, class_label)
            if photo_path:
                inv = engine.invert([inputs.load_photo(photo_path)], face=bool(face_v), steps=75)
                record, image = inv.latents, inv.images[0]
            else:
                record = engine.random_latent(inputs.whole(seed_v, "Seed", 0, common.SEED_MAX))
                image = engine.synthesize(*engine.load_latent(record))[0]
            path = outputs.save_latent(record, "drag", "start.npz")
            return path, image, "", draw_points(image, [], engine.resolution), "Click a handle, then its target."

        @user_errors
        def click(model_label, image, text, class_label, evt: gr.SelectData):
            if image is None:
                raise gr.Error("Load a sample or a photo first (New sample).")
            res = registry.gan(model_label, class_label).resolution
            x, y = evt.index
            pts = text_points(text) + [[min(res - 1.0, max(0.0, round(x * res / SHOWN - 0.5))),
                                        min(res - 1.0, max(0.0, round(y * res / SHOWN - 0.5)))]]
            said = ("Now click its target." if len(pts) % 2 else f"{len(pts) // 2} pair(s): Drag, or add another.")
            return points_text(pts), draw_points(image, pts, res), said

        def edit_points(model_label, image, text, class_label, how):
            if image is None:
                return gr.skip()  # nothing loaded: the points, canvas and status stay
            pts = [] if how == "reset" else text_points(text)[:-1]
            return points_text(pts), draw_points(image, pts, registry.gan(model_label, class_label).resolution), \
                f"{len(pts) // 2} pair(s)."

        outs = [canvas, status, before_after, metrics, latent, start, base, points]

        @gpu(durations.drag)
        @user_errors(status=status)
        def run_drag(model_label, start_path, image, points_v, steps_v, class_label=None, seed_v=3,
                     request: gr.Request = None):
            """Drag handle points to target points in the current image (DragGAN on StyleGAN2).

            Args:
                model_label: which GAN, e.g. "StyleGAN2 · cats (default)".
                start_path: the latent (.npz) to start from (New sample / a photo / the last drag; the page keeps it).
                image: the start image (the page keeps it).
                points_v: handle:target pairs in the model's pixels, "x0,y0:x1,y1;x0,y0:x1,y1".
                steps_v: most optimisation steps (it stops once every handle has arrived).
                class_label: class of a class-conditional model (None otherwise).
                seed_v: without a start (an API call): drag this sample of the model (ψ 0.7).
            Returns:
                the canvas, a status line, the before/after pair, all numbers as JSON, the latent (.npz), and
                the new start (latent, image, no points).
            """
            engine = registry.gan(model_label, class_label)
            if not start_path or image is None:  # no start on the page: the seed's sample
                start_path = outputs.save_latent(engine.random_latent(inputs.whole(seed_v, "Seed", 0, common.SEED_MAX)),
                                                 "drag", "start.npz")
                image = engine.synthesize(*engine.load_latent(start_path))[0]
            pts = text_points(points_v)
            if len(pts) < 2:
                raise gr.Error("Click a handle and then its target on the image.")
            pairs = pts[: len(pts) // 2 * 2]
            handles, targets = pairs[0::2], pairs[1::2]
            job = common.start_job(request, "drag")
            res = yield from common.run_job(job, lambda job: engine.drag(start_path, handles, targets, steps=steps_v,
                                                                         progress=job.progress),
                                            status, preview=canvas)
            m = res.metrics
            text = (f"**{'Arrived' if m['arrived'] else 'Stopped'} after {m['steps_run']} steps** · distance to "
                    f"the targets {', '.join(f'{d:g}' for d in m['distance_before'])} → "
                    f"{', '.join(f'{d:g}' for d in m['distance_after'])} px · "
                    f"{common.face_text(m['holds_face'], m['cat_face'])} · {res.timings['drag']:.1f} s")
            after = res.images[1]
            path = outputs.save_latent(res.latents, "drag", "dragged.npz")
            yield {canvas: draw_points(after, [], engine.resolution), status: text,
                   before_after: (common.big(image), common.big(after)),
                   metrics: outputs.pretty({"metrics": m, "options": res.options, "timings": res.timings}),
                   latent: path, start: path, base: after, points: ""}  # the next drag starts here, with no points

        def stopped(job):
            return common.stopped_update(job, status, preview=canvas,
                                         kept="Showing the last preview; the start is unchanged.")

        new.click(load, [model, seed, photo, face, model_class], [start, base, points, canvas, status],
                  api_name="drag_start", concurrency_id="engines")
        canvas.select(click, [model, base, points, model_class], [points, canvas, status], api_visibility="private")
        undo.click(lambda m, i, p, c: edit_points(m, i, p, c, "undo"), [model, base, points, model_class],
                   [points, canvas, status], api_visibility="private")
        reset.click(lambda m, i, p, c: edit_points(m, i, p, c, "reset"), [model, base, points, model_class],
                    [points, canvas, status], api_visibility="private")
        event = common.run_event(run, run_drag, [model, start, base, points, steps, model_class, seed], outs, status,
                                 "drag")
        common.stop_wiring(stop, event, "drag", outs, stopped)
        common.reveal_on_run(run, [before_after])
        common.hide_if_empty_on_failure(event, before_after)
        common.reveal(event, [latent])
        common.track(event, "Drag", canvas, status)
    return DragTab(model=model, latent=start, to_edit=to_edit)
