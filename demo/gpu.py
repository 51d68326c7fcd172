"""On a Hugging Face ZeroGPU Space, GPU work must run inside ``spaces.GPU``; everywhere else nothing changes."""
from __future__ import annotations

from typing import Any, Callable

try:  # the `spaces` package exists only on Hugging Face Spaces
    import spaces as _spaces
except ImportError:  # pragma: no cover - depends on the host
    _spaces = None


def gpu(fn: Callable[..., Any]) -> Callable[..., Any]:
    """``spaces.GPU(duration=120)(fn)`` when the `spaces` package is present, else ``fn`` itself."""
    if _spaces is None:
        return fn
    return _spaces.GPU(duration=120)(fn)
