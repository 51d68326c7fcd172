"""The layering the README's Architecture section promises, checked on the source (imports anywhere in a file,
top-level or inside functions, count): nothing imports upward, and no two modules import each other."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: Layer of each module prefix (the longest matching prefix wins); a module may import its own layer or lower.
LAYERS = {
    "engines.base": 0, "engines.imaging": 0, "engines.evaluation": 0, "engines.options": 0, "engines.data": 0,
    "engines.training": 0, "engines.training_options": 0, "engines.sources": 0, "engines.catalog": 0, "engines.faces": 0,
    "engines.stylegan": 1, "engines.diffusion": 1,            # networks, schedulers, pipelines, algorithms
    "engines.stylegan.engine": 2, "engines.stylegan.editing": 2, "engines.stylegan.interpolation": 2,
    "engines.stylegan.dragging": 2, "engines.stylegan.inversion": 2, "engines.stylegan.direction_files": 2,
    "engines.stylegan.view": 2,
    "engines.stylegan.latents": 2, "engines.stylegan.train": 2, "engines.stylegan.encoder_train": 2,
    "engines.diffusion.engine": 2, "engines.diffusion.backend": 2, "engines.diffusion.pixel_backend": 2,
    "engines.diffusion.stable_diffusion": 2, "engines.diffusion.guide": 2, "engines.diffusion.train": 2,
    "engines.diffusion.loading": 2, "engines.diffusion.translation": 2,
    "engines.compare": 3, "engines.batch": 3, "engines.cli": 4, "engines.__main__": 4, "demo": 4, "bench": 4, "app": 4,
}
CORE = ("engines.stylegan.networks", "engines.stylegan.ops", "engines.stylegan.discriminator", "engines.stylegan.dcgan",
        "engines.stylegan.projector", "engines.stylegan.directions", "engines.stylegan.losses",
        "engines.stylegan.augment", "engines.stylegan.classes", "engines.diffusion.pixel_pipeline",
        "engines.diffusion.schedulers")


def _modules() -> dict[str, Path]:
    out = {}
    for path in [*ROOT.glob("engines/**/*.py"), *ROOT.glob("demo/*.py"), ROOT / "app.py"]:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                pkg = package.split(".")
                base = ".".join(pkg[:len(pkg) - node.level + 1] + ([base] if base else []))
            targets = [base] + [f"{base}.{a.name}" for a in node.names]
        else:
            continue
        found |= {t for t in targets if t in known and t != name}
    return found


def _layer(name: str) -> int:
    if name == "engines":  # the package itself: `from .. import imaging` names it on the way
        return 0
    best = max((p for p in LAYERS if name == p or name.startswith(p + ".")), key=len, default=None)
    return LAYERS[best] if best is not None else 4


MODULES = _modules()
GRAPH = {name: _imports(name, path, set(MODULES)) for name, path in MODULES.items()}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_a_higher_layer(name):
    upward = sorted(t for t in GRAPH[name] if _layer(t) > _layer(name) and not name.endswith("__init__")
                    and not t.startswith(name + "."))
    assert not upward, f"{name} (layer {_layer(name)}) imports {upward}"


@pytest.mark.parametrize("name", CORE)
def test_core_algorithms_know_no_engine(name):
    assert not any(_layer(t) >= 2 for t in GRAPH[name]), f"{name} imports {sorted(GRAPH[name])}"


def test_no_import_cycles():
    seen, stack, cycles = set(), [], []

    def visit(node):
        if node in stack:
            cycles.append(stack[stack.index(node):] + [node])
            return
        if node in seen:
            return
        seen.add(node)
        stack.append(node)
        for nxt in GRAPH[node]:
            if not nxt.startswith(node + ".") and not node.startswith(nxt + "."):  # a package and its own modules
                visit(nxt)
        stack.pop()

    for n in sorted(GRAPH):
        visit(n)
    assert not cycles, cycles[:5]
