"""Show user errors as ``gr.Error`` so the page says what went wrong and the app keeps serving."""
from __future__ import annotations

import functools
from typing import Any, Callable

import gradio as gr

from engines.base import LatentStudioError


def user_errors(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a tab callback: `LatentStudioError` → ``gr.Error`` with the same message."""
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except LatentStudioError as exc:
            raise gr.Error(str(exc)) from exc
    return wrapper
