"""Class labels of a class-conditional generator: its class names, and a user's label → a class index.

A label is an index, a digit string or (where the model's files name its classes) a class name. A class-conditional
model needs one; an unconditional one refuses one, since it would mean nothing. Used by `GanEngine.class_index_of`
and `GanEngine.for_class`; pure (no tensors, no files).
"""
from __future__ import annotations

import re
from typing import Any, Optional

import numpy as np

from ..base import LatentStudioError, check_range


def class_names(config: dict, num_classes: int) -> list[str]:
    """The class names a model's config gives (``config["generator"]["class_names"]``), else "0" … "N-1" (empty when
    unconditional)."""
    names = (config.get("generator") or {}).get("class_names") or []
    if len(names) == num_classes and all(isinstance(n, str) for n in names):
        return list(names)
    return [str(i) for i in range(num_classes)]


def is_named(names: list[str]) -> bool:
    """Whether ``names`` (from `class_names`) are real names rather than "0" … "N-1"."""
    return names != [str(i) for i in range(len(names))]


def class_index(label: Any, names: list[str]) -> Optional[int]:
    """A class index from an index, a digit string or a class name of ``names`` (from `class_names`: one per class,
    none when the model is unconditional); None for an unconditional model and no label."""
    num_classes, named = len(names), is_named(names)
    if label is None or (isinstance(label, str) and not label.strip()):
        if num_classes:
            raise LatentStudioError(
                f"This model is class-conditional ({num_classes} classes): choose a class "
                f"(0–{num_classes - 1}{' or a name: ' + ', '.join(names) if named else ''}) "
                "with --class in the CLI (--gan-class for compare) or the Class menu in the app.")
        return None
    if not num_classes:
        raise LatentStudioError(f"This model is unconditional: it has no classes, so leave the class out "
                                f"(got {label!r}).")
    text = str(label).strip()
    if text in names and named:
        return names.index(text)
    if isinstance(label, (int, float, np.integer, np.floating)) and not isinstance(label, bool):
        index = int(label) if float(label).is_integer() else None
    else:
        index = int(text) if re.fullmatch(r"[+-]?\d+", text) else None
    if index is None:
        known = f"names {', '.join(names)} or " if named else ""
        raise LatentStudioError(f"Unknown class {label!r}: give {known}an index 0–{num_classes - 1}.")
    check_range("Class", index, 0, num_classes - 1, integer=True)
    return index
