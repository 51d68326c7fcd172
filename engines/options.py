"""Options that own their limits: one declaration per field gives the check, the CLI flag and the UI range.

An options dataclass declares each user-settable field with `option`, which stores a `Limit` (label,
help, min/max or choices, default, UI step) in the field's metadata::

    @dataclass
    class ProjectOptions(Options):
        steps: int = option(300, "Steps", "optimisation steps", min=1, max=10_000, integer=True, step=10)
        optimizer: str = option("adam", "Optimizer", "the update rule", choices=("adam", "lbfgs"))

    opts = ProjectOptions(steps=5000).check()   # LatentStudioError "Steps must be between 1 and 10000, got 50000."
    ProjectOptions.limit("steps").slider()     # {"minimum": 1, "maximum": 10000, "step": 10, "value": 300}
    add_flag(parser, "--steps", ProjectOptions.limit("steps"))   # type, default and help (with the range)

Values are checked once, by the engine, with `Options.check` (or `check_values` when a check needs
overrides, e.g. a maximum that depends on the model); flags and sliders only take their ranges and
defaults from the limits. Nothing here knows about Gradio or the engines.
"""
from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

from .base import LatentStudioError, check_range

_KEY = "limit"


@dataclass(frozen=True)
class Limit:
    """What one option may be. ``kind``: "number" (``min``..``max``, ``integer`` for whole numbers),
    "choice" (one of ``choices``, case-insensitive) or "text". ``optional``: None is allowed and means
    "unset" (the engine or the model picks); ``default`` is still what a UI shows first and what --help
    states, unless ``default_text`` says it better (e.g. "50; 4 for turbo models")."""
    label: str
    help: str = ""
    kind: str = "number"
    min: Optional[float] = None
    max: Optional[float] = None
    integer: bool = False
    choices: tuple[str, ...] = ()
    default: Any = None
    optional: bool = False
    step: Optional[float] = None
    default_text: Optional[str] = None

    def check(self, value: Any) -> Any:
        """``value`` converted to the option's type, or a `LatentStudioError` naming the field and its range."""
        if value is None and self.optional:
            return None
        if self.kind == "number":
            check_range(self.label, value, self.min, self.max, integer=self.integer)
            return int(value) if self.integer else float(value)
        if self.kind == "choice":
            key = value.strip().lower() if isinstance(value, str) else None
            if key not in self.choices:
                raise LatentStudioError(f"Unknown {self.label.lower()} {value!r}: "
                                        f"use one of {', '.join(self.choices)}.")
            return key
        if not isinstance(value, str):
            raise LatentStudioError(f"{self.label} must be text, got {type(value).__name__}.")
        return value

    def range_text(self) -> str:
        """"1-1000", "0-1", "one of a, b" or "" (text), for help texts."""
        if self.kind == "number":
            return f"{self.min:g}-{self.max:g}"
        if self.kind == "choice":
            return "one of " + ", ".join(self.choices)
        return ""

    def flag_help(self) -> str:
        """The help line of a CLI flag: what it does, its range and its default."""
        parts = [self.help] if self.help else []
        if self.kind == "number":
            parts.append(self.range_text())
        shown = self.default_text
        if shown is None and self.default is not None:
            shown = f"{self.default:g}" if isinstance(self.default, float) else str(self.default)
        return "; ".join(parts) + (f" (default: {shown})" if shown is not None else "")

    def slider(self, value: Any = None) -> dict[str, Any]:
        """Keyword arguments of a UI slider over this range (``value``: another start value than the default)."""
        if self.kind != "number":
            raise TypeError(f"{self.label} is not a number: it has no slider.")
        step = self.step if self.step is not None else (1 if self.integer else None)
        args = {"minimum": self.min, "maximum": self.max, "value": self.default if value is None else value}
        return args if step is None else {**args, "step": step}


def option(default: Any, label: str, help: str = "", *, min: Optional[float] = None, max: Optional[float] = None,
           integer: bool = False, choices: tuple[str, ...] = (), step: Optional[float] = None,
           optional: bool = False, shown_default: Any = None, default_text: Optional[str] = None) -> Any:
    """A dataclass field with its `Limit`. The kind follows the arguments: ``choices`` → a choice, ``min`` and
    ``max`` → a number, neither → text. ``optional`` fields default to None ("unset"): give ``shown_default``
    for what UIs show and --help states (e.g. strength's 0.6 when t0 is not given either)."""
    kind = "choice" if choices else "number" if min is not None or max is not None else "text"
    if kind == "number" and (min is None or max is None):
        raise TypeError(f"option {label!r}: a number needs both min and max.")
    optional = optional or default is None
    limit = Limit(label=label, help=help, kind=kind, min=min, max=max, integer=integer, choices=tuple(choices),
                  default=shown_default if (optional and shown_default is not None) else default,
                  optional=optional, step=step, default_text=default_text)
    return field(default=default, metadata={_KEY: limit})


class Options:
    """Mixin for option dataclasses whose fields are declared with `option`."""

    @classmethod
    def limits(cls) -> dict[str, Limit]:
        """Field name → `Limit`, in declaration order (fields declared without `option` are left out)."""
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        return {f.name: f.metadata[_KEY] for f in fields if _KEY in f.metadata}

    @classmethod
    def limit(cls, name: str) -> Limit:
        try:
            return cls.limits()[name]
        except KeyError:
            raise KeyError(f"{cls.__name__} has no option {name!r}.") from None

    def check_values(self, overrides: Optional[Mapping[str, Limit]] = None) -> dict[str, Any]:
        """Every limited field checked and converted (``overrides``: limits to use instead, e.g. a
        model-dependent maximum); fields without a limit are returned as they are."""
        limits = {**self.limits(), **(overrides or {})}
        return {f.name: limits[f.name].check(getattr(self, f.name)) if f.name in limits else getattr(self, f.name)
                for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    def check(self):
        """A checked copy (converted values); subclasses add rules across fields."""
        return dataclasses.replace(self, **self.check_values())  # type: ignore[type-var]

    def as_dict(self) -> dict[str, Any]:
        """Plain values for `Result.options` — never callables (progress callbacks are not options)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]
        return {k: v for k, v in values.items() if not callable(v)}


_UNSET: Any = object()


def add_flag(parser: Any, flag: str, limit: Limit, *, default: Any = _UNSET, help: Optional[str] = None,
             **kwargs: Any) -> argparse.Action:
    """``parser.add_argument(flag, ...)`` with the type, choices, default and help taken from ``limit``.

    ``default``: the parsed default (by default the limit's own, or None for optional options: unset, so
    the engine applies its own default, which the help states).
    The range is only stated, not enforced: the engine checks the value once, with the same message
    whether it came from the CLI, the UI or Python. ``help``: replaces the limit's help sentence.
    """
    limit = dataclasses.replace(limit, help=help) if help is not None else limit
    if limit.kind == "number":
        kwargs.setdefault("type", int if limit.integer else float)
    elif limit.kind == "choice":
        kwargs.setdefault("choices", list(limit.choices))
    if default is _UNSET:
        default = None if limit.optional else limit.default
    text = limit.flag_help().replace("%", "%%")  # argparse formats help strings with %
    return parser.add_argument(flag, default=default, help=text, **kwargs)
