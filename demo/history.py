"""This visit's results, newest first: every finished run adds its result image with the tab, the time and
the status line, so a visitor can go back to an earlier result after trying other settings.

Per browser session (a ``gr.State``); each picture is copied into the app's temp folder (`outputs`). Tabs call `track` for
their run events while the UI is built; `build` (in `demo.app`) then adds the gallery and wires them up.
"""
from __future__ import annotations

import re
import time
from typing import Any

import gradio as gr
from PIL import Image

#: How many results a visit keeps (the oldest drop off).
KEEP = 48

_TRACKED: list[tuple[Any, Any, str, Any, Any]] = []


def _root() -> Any:
    """The Blocks being built (a tab built in a Blocks of its own, as tests do, must not be wired into the next app)."""
    from gradio.context import Context
    return Context.root_block


def track(event: Any, tab: str, image: Any, status: Any) -> None:
    """Add ``image``'s value (an Image or a Gallery) to the history when ``event`` succeeds."""
    _TRACKED.append((_root(), event, tab, image, status))


def first_image(value: Any) -> Any:
    """The picture in an Image value, the first of a Gallery value, the "after" of an ImageSlider value (None when
    there is none)."""
    if isinstance(value, tuple) and len(value) == 2:
        value = value[1]
    if isinstance(value, list):
        value = value[0] if value else None
        if isinstance(value, (tuple, list)):
            value = value[0]
    if isinstance(value, Image.Image):
        return value.copy()
    if isinstance(value, str):
        return Image.open(value).convert("RGB")
    return None


def caption(tab: str, status_text: Any) -> str:
    text = re.sub(r"[*_`]", "", str(status_text or "")).split(" · ")[0].strip()
    return f"{tab} · {time.strftime('%H:%M:%S')}" + (f" · {text}" if text else "")


def add(items: list, tab: str, value: Any, status_text: Any) -> tuple[list, list]:
    image = first_image(value)
    if image is None:
        return items, gr.skip()
    from .outputs import save_image
    items = [(save_image(image, "history", "result.png"), caption(tab, status_text))] + list(items or [])
    return items[:KEEP], items[:KEEP]


def build() -> None:
    """The history gallery (collapsed) and its wiring to every tracked run; call inside the Blocks."""
    state = gr.State([])
    with gr.Accordion("History of this visit (newest first; click one to see it large)", open=False,
                      elem_id="history"):
        gallery = gr.Gallery(label="Results", interactive=False, columns=8, height=220, format="png", elem_id="history-gallery",
                             buttons=["download", "fullscreen"])
        clear = gr.Button("Clear history", size="sm")
    root = _root()
    for built_in, event, tab, image, status in _TRACKED:
        if built_in is not root:  # tracked while another Blocks was built (that one has no history)
            continue
        event.success(lambda items, value, text=None, tab=tab: add(items, tab, value, text),
                      [state, image] + ([status] if status is not None else []), [state, gallery], queue=False,
                      show_progress="hidden", api_visibility="private")
    _TRACKED.clear()
    clear.click(lambda: ([], []), None, [state, gallery], queue=False, api_visibility="private")
