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
import copy
import dataclasses
import json
import os
from dataclasses import dataclass, field
from typing import Any, Collection, Mapping, Optional

from .base import LatentStudioError, check_range

_KEY = "limit"

#: The default of an option the caller must always give (`option(REQUIRED, …)`; a required flag on the CLI).
REQUIRED: Any = dataclasses.MISSING


@dataclass(frozen=True)
class Limit:
    """What one option may be. ``kind``: "number" (``min``..``max``, ``integer`` for whole numbers),
    "choice" (one of ``choices``, case-insensitive), "text" (a path is taken as its text), "switch" (true or
    false) or "json" (a dict: a JSON object on the command line). ``optional``: None is allowed and means
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
        if self.kind == "switch":
            if not isinstance(value, bool):
                raise LatentStudioError(f"{self.label} must be true or false, got {value!r}.")
            return value
        if self.kind == "json":
            if not isinstance(value, Mapping):
                raise LatentStudioError(f"{self.label} must be a dict (a JSON object), got {value!r}.")
            return dict(value)
        if isinstance(value, os.PathLike):
            value = os.fspath(value)
        if not isinstance(value, str):
            raise LatentStudioError(f"{self.label} must be text, got {type(value).__name__}.")
        return value

    def range_text(self) -> str:
        """"1-1000", "0-1", "one of a, b" or "" (text, switches, dicts), for help texts."""
        if self.kind == "number":
            return f"{self.min:.0f}-{self.max:.0f}" if self.integer else f"{self.min:g}-{self.max:g}"
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
            shown = (f"{self.default:g}" if isinstance(self.default, float) else
                     ("on" if self.default else "off") if self.kind == "switch" else
                     json.dumps(self.default) if self.kind == "json" else str(self.default))
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
    ``max`` → a number, a bool default → a switch, a dict default → a dict (each instance gets its own copy),
    else text. ``optional`` fields default to None ("unset"): give ``shown_default`` for what UIs show and
    --help states (e.g. strength's 0.6 when t0 is not given either); ``optional=True`` with another default
    allows None too. ``default`` `REQUIRED`: no default, the caller must give it."""
    kind = ("choice" if choices else "number" if min is not None or max is not None else
            "switch" if isinstance(default, bool) else "json" if isinstance(default, dict) else "text")
    if kind == "number" and (min is None or max is None):
        raise TypeError(f"option {label!r}: a number needs both min and max.")
    required = default is REQUIRED
    optional = optional or default is None
    limit = Limit(label=label, help=help, kind=kind, min=min, max=max, integer=integer, choices=tuple(choices),
                  default=None if required else shown_default if (optional and shown_default is not None) else default,
                  optional=optional, step=step, default_text=default_text)
    if required:
        return field(metadata={_KEY: limit})
    if kind == "json":
        return field(default_factory=lambda: copy.deepcopy(default), metadata={_KEY: limit})
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

    @classmethod
    def from_args(cls, args: argparse.Namespace, **values: Any):
        """The options from the flags `add_flags` added (``values``: fields given otherwise, e.g. by a command's
        own flags). The class's own checks run as they would for Python callers; a dict flag whose text is not
        JSON is a `LatentStudioError` naming the flag."""
        for name, limit in cls.limits().items():
            if name in values or not hasattr(args, name):
                continue
            value = getattr(args, name)
            if limit.kind == "json" and isinstance(value, str):
                try:
                    value = json.loads(value)
                except json.JSONDecodeError as exc:
                    raise LatentStudioError(f"{flag_name(name, limit)} is not valid JSON: {exc}") from exc
            values[name] = value
        return cls(**values)

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
    A switch is ``--name`` / ``--no-name``; a dict takes a JSON object (`Options.from_args` reads it).
    """
    limit = dataclasses.replace(limit, help=help) if help is not None else limit
    if limit.kind == "number":
        kwargs.setdefault("type", int if limit.integer else float)
    elif limit.kind == "choice":
        kwargs.setdefault("choices", list(limit.choices))
    elif limit.kind == "switch":
        kwargs.setdefault("action", argparse.BooleanOptionalAction)
    elif limit.kind == "json":
        kwargs.setdefault("metavar", "JSON")
    if default is _UNSET:
        default = None if limit.optional else limit.default
    text = limit.flag_help().replace("%", "%%")  # argparse formats help strings with %
    return parser.add_argument(flag, default=default, help=text, **kwargs)


def flag_name(name: str, limit: Limit) -> str:
    """The flag `add_flags` gives a field: ``--field-name``, and ``--field-name-json`` for a dict."""
    return "--" + name.replace("_", "-") + ("-json" if limit.kind == "json" else "")


def add_flags(parser: Any, options: type, *, skip: Collection[str] = ()) -> dict[str, str]:
    """One flag per limited field of the options dataclass ``options`` (but those in ``skip``), in field order,
    named by `flag_name`, made by `add_flag`, defaulting to the field's own default (a field without one makes a
    required flag). ``options.from_args(args)`` builds the options back. Returns field → flag."""
    flags = {}
    for f in dataclasses.fields(options):
        limit = f.metadata.get(_KEY)
        if limit is None or f.name in skip:
            continue
        flags[f.name] = flag_name(f.name, limit)
        if f.default is REQUIRED and f.default_factory is REQUIRED:
            add_flag(parser, flags[f.name], limit, dest=f.name, default=None, required=True)
        else:
            default = f.default if f.default_factory is REQUIRED else f.default_factory()
            add_flag(parser, flags[f.name], limit, dest=f.name, default=default)
    return flags
