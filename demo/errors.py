"""Show errors as ``gr.Error`` so the page says what went wrong and the app keeps serving.

A user's mistake (`LatentStudioError`: a bad file, a value out of range) is one line in the server log and
a toast that says what to change; only unexpected failures log a traceback. Run buttons show progress
and errors on their status line only (`common.run_event`), so a failed run leaves the previous result on
the page instead of covering every output with an error badge.
"""
from __future__ import annotations

import functools
import inspect
import logging
from typing import Any, Callable, Optional

import gradio as gr
import torch

from engines.base import Cancelled, LatentStudioError

log = logging.getLogger("latent_studio.demo")

#: Seconds a toast stays up: long enough to read, short enough that toasts do not pile up over the page.
TOAST_SECONDS = 6


def as_gr_error(exc: BaseException) -> gr.Error:
    """The message a user sees for ``exc``: ours as is, out-of-memory with a hint, anything else named."""
    if isinstance(exc, gr.Error):
        return exc
    if isinstance(exc, LatentStudioError):
        log.warning("user error: %s", exc)
        return gr.Error(str(exc), duration=TOAST_SECONDS, print_exception=False)
    if isinstance(exc, torch.cuda.OutOfMemoryError) or "out of memory" in str(exc).lower():
        log.warning("out of memory: %s", exc)
        return gr.Error("Out of memory on the device. Try fewer samples or steps, a smaller image, or run the app "
                        "with --device cpu.", duration=TOAST_SECONDS, print_exception=False)
    log.exception("unexpected error in a UI callback", exc_info=exc)
    return gr.Error(f"Unexpected error ({type(exc).__name__}: {exc}). The app is still running; the details "
                    "are in the server log.", duration=TOAST_SECONDS, print_exception=False)


def user_errors(fn: Optional[Callable[..., Any]] = None, *, status: Optional[gr.Markdown] = None) -> Any:
    """Wrap a tab callback (plain or generator): every exception becomes a ``gr.Error`` with a clear message.

    ``status`` (generators): the tab's status line, one of the event's outputs; before raising, the message is put
    there (``{status: "**Error:** …"}``), so it stays on the page after the toast has gone; other outputs keep
    their values.
    """
    if fn is None:
        return lambda f: user_errors(f, status=status)
    if inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def gen_wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                yield from fn(*args, **kwargs)
            except Cancelled:
                return
            except Exception as exc:  # noqa: BLE001 — every failure must reach the page, not kill the worker
                error = as_gr_error(exc)
                if status is not None:
                    yield {status: f"**Error:** {error.message}"}
                raise error from None
        return gen_wrapper

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            raise as_gr_error(exc) from None
    return wrapper
