"""Show user errors as ``gr.Error`` so the page says what went wrong and the app keeps serving."""
from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable

import gradio as gr
import torch

from engines.base import Cancelled, LatentStudioError

log = logging.getLogger("latent_studio.demo")


def as_gr_error(exc: BaseException) -> gr.Error:
    """The message a user sees for ``exc``: ours as is, out-of-memory with a hint, anything else named."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, LatentStudioError):
        return gr.Error(str(exc))
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        return gr.Error("Out of memory on the device. Try fewer samples or steps, a smaller image, or run the app "
                        "with --device cpu.")
    log.exception("unexpected error in a UI callback", exc_info=exc)
    return gr.Error(f"Unexpected error ({type(exc).__name__}: {exc}). The app is still running; the details "
                    "are in the server log.")


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a tab callback (plain or generator): every exception becomes a ``gr.Error`` with a clear message."""
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Cancelled:
                return
            except Exception as exc:  # noqa: BLE001 — every failure must reach the page, not kill the worker
                raise as_gr_error(exc) from exc
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise as_gr_error(exc) from exc
    return wrapper
