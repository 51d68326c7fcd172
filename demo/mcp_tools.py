"""The app's endpoints as tools an agent understands (``python app.py --mcp-server``; also on the API page).

Gradio makes each public endpoint an MCP tool named after its function, with the function's docstring as the
description and its parameter names as the arguments. The tabs' own endpoints are written for the page: their
arguments are the page's controls (``space_v``, ``canvas_value``), some return a gallery or a gr.State, which
Gradio's MCP layer cannot hand back (a State output fails with "pop index out of range"). So each tab's work is
offered here once more, as a plain function: a photo in (a URL, or a ``data:image/png;base64,...`` string, which
Gradio's MCP layer saves to a file; or a path from its ``upload_file_to_gradio`` tool), named options with the
engines' defaults, and one image out (``list_models``: text). One output only: with several, Gradio 6.31's MCP layer
returns the whole tuple as one text item (``_execute_tool_without_progress`` wraps ``job.result()`` in a list), so
the image never reaches the agent as an image.

Ranges and defaults come from the options dataclasses (`ProjectionConfig`, `DragConfig`, `EditOptions`,
`SDEditOptions`, `TranslateOptions`): the docstrings are formatted with their `Limit.range_text` (`_described`), and
the engines check the values (a `LatentStudioError` naming the field, which `user_errors` makes a tool error). Each
tool's hidden input components are made from its signature (`_inputs`), so a default is written once.

The page's endpoint ``X`` that a tool replaces (`REPLACED`) is left callable by clients (``undocumented``) but no
longer listed, so an agent sees each operation once; the tool's own endpoint is ``X_tool``.
"""
from __future__ import annotations

import inspect
import typing
from typing import TYPE_CHECKING, Any, Callable, Optional

import gradio as gr

from engines import compare as comparison
from engines.base import LatentStudioError
from engines.diffusion.options import SDEditOptions, TranslateOptions
from engines.stylegan.dragging import parse_points
from engines.stylegan.editing import load_direction, named_directions
from engines.stylegan.options import SCRIBBLE_DEFAULTS, DragConfig, EditOptions, ProjectionConfig

from . import common, inputs
from .edit_tab import FROM_EXAMPLES, METHODS, DirectionCache, direction_choices
from .errors import user_errors
from .gpu import gpu
from .registry import Registry

if TYPE_CHECKING:
    from engines.stylegan.engine import GanEngine

#: The page's endpoints a tool here replaces for agents (kept callable, unlisted); the tool's endpoint is ``<name>_tool``.
REPLACED = ("sample", "invert", "scribble", "sdedit", "interpolate", "edit", "drag", "translate", "compare", "models")
#: Page plumbing the tools make unneeded and an agent cannot use (its outputs are gr.State): unlisted too.
PAGE_ONLY = ("drag_start",)

#: Arguments that are pictures (a file path, URL or data: string); every other argument's component follows its type.
PICTURES = ("photo", "photo_a", "photo_b", "sketch", "image")
#: Tiles of a returned picture are this many pixels on their longer side (64 px model images scaled up crisply).
TILE = 256


def _ranges() -> dict[str, str]:
    """The ranges the docstrings state, from the options' limits (``{name}`` placeholders)."""
    P, D, S, T = ProjectionConfig.limit, DragConfig.limit, SDEditOptions.limit, TranslateOptions.limit
    return {"seed": f"0-{common.SEED_MAX - 1}", "project_steps": P("steps").range_text(),
            "space": P("space").range_text(), "restarts": P("restarts").range_text(),
            "drag_steps": D("steps").range_text(), "edit_strength": EditOptions.limit("strength").range_text(),
            "sd_strength": S("strength").range_text(), "sd_steps": S("steps").range_text(),
            "sd_n": S("n").range_text(), "depth": T("strength").range_text(), "tr_guidance": T("guidance").range_text(),
            "tr_steps": T("steps").range_text(), "refine": T("refine").range_text()}


def _described(**more: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Fill a tool's docstring placeholders with the options' ranges (and ``more``) before Gradio reads it.

    Gradio reads one line per argument (``name: text``; continuation lines are dropped), so each stays on one line."""
    values = {**_ranges(), **more}

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        fn.__doc__ = inspect.cleandoc(fn.__doc__ or "").format(**values)
        return fn
    return wrap


def _tool(**more: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A tool: its docstring's placeholders filled (`_described`, with ``more``), its errors made tool errors
    (`user_errors`), on a GPU on ZeroGPU (`gpu`)."""
    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        return gpu()(user_errors(_described(**more)(fn)))
    return wrap


def _given(picture: Optional[str], message: str) -> str:
    """``picture``, or a tool error saying what to give when it is empty."""
    if not picture:
        raise gr.Error(message)
    return picture


def _inputs(fn: Callable[..., Any]) -> list:
    """Hidden input components for ``fn``'s arguments, in order, holding its defaults (which Gradio lists as the
    tool's defaults; an argument without one is required): pictures as files, numbers, checkboxes, text."""
    hints = typing.get_type_hints(fn)
    components = []
    for p in inspect.signature(fn).parameters.values():
        default = None if p.default is inspect.Parameter.empty else p.default
        kind = hints.get(p.name, str)
        kind = next((a for a in typing.get_args(kind) if a is not type(None)), kind)  # Optional[X] → X
        if p.name in PICTURES:  # image_mode None: the file as sent (a sketch keeps its transparency)
            components.append(gr.Image(type="filepath", sources=["upload"], image_mode=None))
        elif kind is bool:
            components.append(gr.Checkbox(bool(default)))
        elif kind in (int, float):
            components.append(gr.Number(default, precision=0 if kind is int else None))
        else:
            components.append(gr.Textbox(default))
    return components


def _grid(images: list, size: int = TILE) -> Any:
    """Display copies of the images side by side, each ``size`` px on its longer side (one image for the agent)."""
    from PIL import Image
    tiles = []
    for im in images:
        im = common.big(im, size)
        if max(im.size) > size:
            im = im.copy()
            im.thumbnail((size, size), Image.LANCZOS)
        tiles.append(im.convert("RGB"))
    grid = Image.new("RGB", (sum(t.width for t in tiles), max(t.height for t in tiles)), "white")
    x = 0
    for tile in tiles:
        grid.paste(tile, (x, 0))
        x += tile.width
    return grid


def _seed(value: Any, name: str = "Seed") -> int:
    return inputs.whole(value, name, 0, common.SEED_MAX - 1)


def direction_names(engine: GanEngine) -> str:
    """The directions the edit tool takes for ``engine``: its named ones, then "SeFa 0 … SeFa 7" and so on."""
    found = [f"{name} 0 … {name} 7" for name, method in METHODS.items() if method in engine.direction_methods]
    return ", ".join(named_directions(engine) + found)


def _direction(engine: GanEngine, text: Any) -> str:
    """The edit tab's name of the direction ``text`` (case and spaces aside), or an error listing them."""
    known = {c.lower(): c for c in direction_choices(engine) if c != FROM_EXAMPLES}
    chosen = known.get(" ".join(str(text or "").split()).lower())
    if chosen is None:
        raise LatentStudioError(f"Unknown direction {text!r}: use one of {direction_names(engine)}.")
    return chosen


def models_text(registry: Registry, model: Optional[str] = None) -> str:
    """What `list_models` says: each GAN (label, size, spaces, classes, edit directions) and the diffusion model."""
    loaded = registry.loaded_gans()
    if model:
        loaded[model] = registry.model(model)
    lines = ["GAN models (the `model` argument of sample, invert, scribble, interpolate, edit, drag and compare; "
             f"none = {registry.first_gan!r}):"]
    for label in registry.gan_labels():
        engine = loaded.get(label)
        if engine is None:
            lines.append(f"- {label!r}: not loaded yet (loaded on first use; list_models with model={label!r} "
                         "lists its directions)")
            continue
        d = engine.describe()
        lines.append(f"- {label!r}: {d.name}, latent spaces {', '.join(engine.spaces)}, {d.conditioning}; "
                     f"edit directions: {direction_names(engine)}"
                     + ("" if engine.arch == "stylegan2" else "; no drag (needs StyleGAN2)"))
        if engine.class_names():
            lines.append(f"  classes: {', '.join(engine.class_names())}")
    diff = registry.diffusion()
    d = diff.describe()
    lines.append("")
    lines.append(f"Diffusion model (sdedit, translate, compare): {d.name} from {d.source!r}; default steps "
                 f"{diff.default_steps}, guidance {diff.default_guidance:g}.")
    if diff.classes:
        lines.append(f"  classes (`class_name` of sdedit and translate, `source_class` of translate): "
                     f"{', '.join(diff.classes)}")
    elif diff.kind != "pixel":
        lines.append("  text-conditioned: sdedit takes a `prompt`; translate takes prompts as `source_class` and "
                     "`class_name`")
    return "\n".join(lines)


def build(registry: Registry) -> None:
    """Add the tools (inside the app's ``gr.Blocks``; their components are hidden)."""
    directions = DirectionCache()
    first = registry.model(registry.first_gan)
    pixels = f"0-{first.resolution - 1} on {registry.first_gan!r}"

    @_tool()
    def sample(count: int = 4, seed: int = 0, truncation: float = 0.7, model: Optional[str] = None) -> Any:
        """Draw new cat images from the GAN (StyleGAN2 trained on cat faces, 64 px).

        Args:
            count: how many images, 1-16 (returned side by side in one picture).
            seed: random seed, {seed}; the same seed gives the same images.
            truncation: 0-2; lower gives more typical cats, higher more varied ones (0.7 is a good start).
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            the images side by side (PNG, each 256 px).
        """
        engine = registry.gan(model or None)
        count = inputs.whole(count, "Count", 1, 16)
        images = engine.sample(count, _seed(seed), truncation=inputs.real(truncation, "Truncation", 0, 2))
        return _grid(images)

    @_tool()
    def invert(photo: str, steps: int = 75, space: str = "w+", find_face: bool = False, seed: int = 0,
               model: Optional[str] = None) -> Any:
        """Reconstruct a photo with the GAN: find the latent code whose image matches it (GAN inversion).

        Args:
            photo: the photo (a cat face works best; it is centre-cropped to the model's size).
            steps: optimisation steps, {project_steps}; 75 takes a few seconds on a CPU.
            space: latent space, {space}: "w+" is the most faithful (list_models lists each model's).
            find_face: find the cat face in the photo and invert that square instead of the centre.
            seed: random seed, {seed}.
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            the reconstruction (PNG, 256 px).
        """
        photo = _given(photo, "Give a photo to invert.")
        result = registry.gan(model or None).invert([photo], steps=steps, space=space, face=bool(find_face),
                                                    seed=_seed(seed))
        return common.big(result.images[0])

    @_tool()
    def scribble(sketch: str, steps: int = SCRIBBLE_DEFAULTS["steps"], restarts: int = SCRIBBLE_DEFAULTS["restarts"],
                 seed: int = 0, model: Optional[str] = None) -> Any:
        """Turn a colour sketch of a cat into a realistic cat image that follows its strokes (GAN projection).

        Args:
            sketch: the drawing (strokes on a white or transparent background).
            steps: optimisation steps per restart, {project_steps}.
            restarts: independent tries, {restarts}; the one most like a cat face is kept.
            seed: random seed, {seed}; other seeds give other cats.
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            the image (PNG, 256 px).
        """
        sketch = _given(sketch, "Give a sketch.")
        result = registry.gan(model or None).scribble(sketch, None, steps=steps, restarts=restarts, seed=_seed(seed))
        return common.big(result.images[0])

    @_tool()
    def sdedit(image: str, strength: float = SDEditOptions.limit("strength").default,
               steps: int = SDEditOptions.limit("steps").default, count: int = 1, seed: int = 0,
               class_name: Optional[str] = None, prompt: Optional[str] = None) -> Any:
        """SDEdit: add noise to a photo or sketch up to a strength, then denoise it with the diffusion model.

        Args:
            image: the guide, a photo or a colour sketch.
            strength: {sd_strength}; how much noise: 0 keeps the image, 1 ignores it (0.6 keeps the layout, makes it real).
            steps: steps of the full schedule, {sd_steps}; about strength × steps of them run.
            count: how many results, {sd_n} (seeds seed, seed + 1, …), returned side by side in one picture.
            seed: random seed, {seed}.
            class_name: for a class-conditional model, the class (e.g. "grumpy cat"; list_models lists them); empty for its first.
            prompt: for Stable Diffusion models only, the text prompt.
        Returns:
            the results side by side (PNG, each 256 px).
        """
        image = _given(image, "Give an image to edit.")
        diff = registry.diffusion()
        result = diff.from_guide(image, None, strength=strength, steps=steps, n=count, seed=_seed(seed),
                                 class_name=(class_name or None) if diff.classes else None,
                                 prompt=(prompt or None) if diff.kind != "pixel" else None)
        return _grid(result.images)

    def endpoint(engine: GanEngine, photo: Optional[str], seed: int, space: str = "w+") -> Any:
        """A photo (as an image, inverted by the engine) or else the seed's sample as a latent record in ``space``'s
        family: z for z (untruncated), else w at ψ 0.7 (the sample tool's image for that seed)."""
        if photo:
            return inputs.load_photo(photo)
        if space == "z" and "z" in engine.spaces:
            return engine.latent_record(engine.random_z(1, seed), "z")
        return engine.random_latent(seed, truncation=0.7)

    @_tool()
    def interpolate(photo_a: Optional[str] = None, photo_b: Optional[str] = None, seed_a: int = 0, seed_b: int = 1,
                    frames: int = 8, space: str = "w+", invert_steps: int = 150, model: Optional[str] = None) -> Any:
        """Walk in the GAN's latent space from image A to image B (each a photo, inverted first, or a seed's sample) and return the frames.

        Args:
            photo_a: photo A (inverted first); empty to start from the sample of seed_a.
            photo_b: photo B (inverted first); empty to end at the sample of seed_b.
            seed_a: the seed of A when no photo A is given, {seed} (the sample tool's image for it, count 1).
            seed_b: the seed of B when no photo B is given, {seed}.
            frames: frames of the walk, 2-16, A and B included (returned side by side in one picture).
            space: latent space of the walk, {space}: straight lines in w / w+, a great circle (slerp) in z.
            invert_steps: inversion steps for each photo, {project_steps}.
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            the frames from A to B side by side (PNG, each 256 px; 128 px from 9 frames on).
        """
        engine = registry.gan(model or None)
        n = inputs.whole(frames, "Frames", 2, 16)
        a = endpoint(engine, photo_a, _seed(seed_a, "Seed A"), space)
        b = endpoint(engine, photo_b, _seed(seed_b, "Seed B"), space)
        result = engine.interpolate(a, b, space=space, frames=n, crossfade_row=False,
                                    invert_options={"steps": invert_steps})
        return _grid(result.images, TILE if n <= 8 else TILE // 2)

    @_tool(directions=direction_names(first))
    def edit(direction: str, photo: Optional[str] = None, seed: int = 3, strength: Optional[float] = None,
             count: int = 5, layers: str = "all", find_face: bool = False, invert_steps: int = 150,
             model: Optional[str] = None) -> Any:
        """Edit a cat along a latent direction of the GAN (e.g. darker fur, grumpier, older): a strip from −strength to +strength with the start in the middle.

        Args:
            direction: the direction, by name; for the default model one of: {directions} (list_models lists each model's).
            photo: the photo to edit (inverted first); empty to edit the sample of the seed.
            seed: the sample to edit when no photo is given, {seed}.
            strength: {edit_strength}, in the direction's unit steps; empty for the direction's own default (else 3).
            count: images in the strip, 2-11 (an odd count has the unedited start in the middle).
            layers: w+ layers to edit: all, coarse, middle, fine, or rows such as "0-5".
            find_face: find the cat face in the photo, edit it and paste the results back into the photo.
            invert_steps: inversion steps for a photo, {project_steps}.
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            the strip from −strength to +strength (PNG, each image 256 px).
        """
        engine = registry.gan(model or None)
        chosen = _direction(engine, direction)
        n = inputs.whole(count, "Count", 2, 11)
        layers = str(layers or "").strip()
        layer_range = None if not engine.has_layers or layers.lower() in ("", "all") else layers
        if layer_range is not None:
            engine.layer_range(layer_range)  # a bad range fails now, naming the forms it takes
        if chosen.split(" ")[0] in METHODS:
            method, index = chosen.split(" ")
            d = directions.get(engine, f"{model or registry.first_gan}|{engine.class_index}", METHODS[method])[int(index)]
        else:
            d = load_direction(chosen, engine)
        if strength is None:
            own = d.meta.get("default_strength") if isinstance(d.meta, dict) else None
            strength = float(own) if isinstance(own, (int, float)) else EditOptions.limit("strength").default
        s = EditOptions(strength=strength).check().strength  # 'Strength must be between 0 and 50' for the s asked
        start = inputs.load_photo(photo) if photo else engine.random_latent(_seed(seed), truncation=0.7)
        result = engine.edit(start, d, [s * (2 * i / (n - 1) - 1) for i in range(n)], layers=layer_range,
                             invert_options={"steps": invert_steps}, face=bool(find_face) and bool(photo))
        return _grid(result.images)

    @_tool(pixels=pixels)
    def drag(points: str, photo: Optional[str] = None, seed: int = 3, steps: int = DragConfig.limit("steps").default,
             find_face: bool = False, invert_steps: int = 75, model: Optional[str] = None) -> Any:
        """Drag points of a cat image to new places (DragGAN on StyleGAN2): e.g. move an ear tip up, open the mouth, turn the head.

        Args:
            points: handle:target pairs in the model's pixels, "x0,y0:x1,y1;x0,y0:x1,y1" (x right, y down; {pixels}).
            photo: the photo to drag in (inverted first); empty to drag the sample of the seed.
            seed: the sample to drag when no photo is given, {seed}.
            steps: most optimisation steps, {drag_steps} (it stops once every handle has arrived).
            find_face: find the cat face in the photo, drag it and paste the result back into the photo.
            invert_steps: inversion steps for a photo, {project_steps}.
            model: which StyleGAN2, as list_models lists them; none for the default.
        Returns:
            before | after side by side (PNG, each 256 px).
        """
        engine = registry.gan(model or None)
        handles, targets = parse_points(points)
        source = inputs.load_photo(photo) if photo else _seed(seed)
        result = engine.drag(source, handles, targets, steps=steps, frames=0, face=bool(find_face) and bool(photo),
                             invert_options={"steps": invert_steps})
        return _grid(result.images)

    @_tool()
    def translate(photo: str, class_name: Optional[str] = None, source_class: Optional[str] = None,
                  depth: float = TranslateOptions.limit("strength").default,
                  guidance: float = TranslateOptions.limit("guidance").default,
                  steps: int = TranslateOptions.limit("steps").default,
                  refine: int = TranslateOptions.limit("refine").default, find_face: bool = False) -> Any:
        """Turn the cat in a photo into another class of the diffusion model (e.g. a cat into a grumpy cat), keeping its pose and layout.

        Args:
            photo: the cat photo.
            class_name: the class to turn it into (list_models lists them); empty for the first class other than the source.
            source_class: what the photo shows now; empty for the model's first class.
            depth: how far the photo is inverted, {depth}; lower keeps more of the photo, 1 changes the most.
            guidance: guidance toward the target and away from the source, {tr_guidance} (1 = the target alone).
            steps: DDIM steps of the full schedule, {tr_steps}; about depth × steps run each way.
            refine: fixed-point iterations per inversion step, {refine} (a closer round trip, slower).
            find_face: find the cat face, translate that crop and paste it back into the photo.
        Returns:
            before | after side by side (PNG, each 256 px).
        """
        photo = _given(photo, "Give a photo to translate.")
        result = registry.diffusion().translate(inputs.load_photo(photo), class_name=class_name or None,
                                                source_class=source_class or None, strength=depth, guidance=guidance,
                                                steps=steps, refine=refine, face=bool(find_face))
        return _grid(result.images)

    @_tool()
    def compare(sketch: str, gan_steps: int = SCRIBBLE_DEFAULTS["steps"],
                strength: float = SDEditOptions.limit("strength").default,
                steps: int = SDEditOptions.limit("steps").default, seed: int = 0, model: Optional[str] = None) -> Any:
        """GAN vs diffusion on one sketch: the GAN's scribble projection and the diffusion model's SDEdit of the same drawing, side by side.

        Args:
            sketch: the drawing (strokes on a white or transparent background).
            gan_steps: GAN optimisation steps per restart, {project_steps}.
            strength: SDEdit noise level, {sd_strength} (0.6 keeps the layout, makes it real).
            steps: SDEdit steps of the full schedule, {sd_steps}; about strength × steps run.
            seed: random seed for both, {seed}.
            model: which GAN, as list_models lists them; none for the default.
        Returns:
            GAN result | diffusion result side by side (PNG, each 256 px).
        """
        gan, diff = registry.gan(model or None), registry.diffusion()
        # both engines' options checked before either runs: a bad SDEdit strength must not wait for the GAN's run
        ProjectionConfig.limit("steps").check(gan_steps)
        SDEditOptions(strength=strength, steps=steps).check(num_train_timesteps=diff.backend.num_train_timesteps)
        drawing, mask = inputs.canvas_to_sketch(sketch)
        rgb, strokes = comparison.square_sketch(drawing, mask)
        seed_n = _seed(seed)
        runs = [comparison.run_engine("GAN", gan, rgb, strokes, seed=seed_n, guide_mask="strokes", steps=gan_steps),
                comparison.run_engine("Diffusion", diff, rgb, strokes, seed=seed_n, guide_mask=None, strength=strength,
                                      steps=steps, scheduler="ddim", frames=0)]
        return _grid([r.image for r in runs])

    @user_errors
    def list_models(model: Optional[str] = None) -> str:
        """The loaded models and what each takes: GAN labels (the `model` argument), their latent spaces, classes and edit directions (the `direction` argument of edit), and the diffusion model's classes (`class_name`).

        Args:
            model: a GAN label to load now and describe (the others not yet loaded are named only); empty for the loaded ones.
        Returns:
            the list as text.
        """
        return models_text(registry, model or None)

    # tool → the page endpoint it replaces (its own endpoint is "<that>_tool")
    tools = [(sample, "sample"), (invert, "invert"), (scribble, "scribble"), (sdedit, "sdedit"),
             (interpolate, "interpolate"), (edit, "edit"), (drag, "drag"), (translate, "translate"),
             (compare, "compare"), (list_models, "models")]
    with gr.Column(visible=False):
        for fn, replaces in tools:
            out = gr.Textbox() if fn is list_models else gr.Image(type="pil", format="png")
            gr.Button().click(fn, _inputs(fn), out, api_name=f"{replaces}_tool", concurrency_id="engines")


def hide_replaced(demo: gr.Blocks, names: Optional[tuple[str, ...]] = None) -> None:
    """The page's endpoints that a tool replaces: still callable by clients, no longer listed (nor MCP tools)."""
    for fn in demo.fns.values():
        if fn.api_name in (names or REPLACED + PAGE_ONLY):
            fn.api_visibility = "undocumented"
