"""Directions that mean something, from labelled photos (InterFaceGAN), checked on held-out photos.

    python -m bench.named_directions --direction age --orthogonal-to pale_coat dark_fur ginger white_muzzle --strength 3
    python -m bench.named_directions --direction grumpy --per-class 80 --steps 60 --strength 4
    python -m bench.named_directions --direction eyes_open --strength 4

Every direction is built the same way: photos with the attribute (pos) and without it (neg) from the
training split are inverted into w, separated by a linear boundary (`directions.from_examples`, its L2
regulariser chosen by 5-fold cross-validation on the training photos alone unless ``--l2`` sets it), and the
held-out (validation-split) photos of both classes are inverted too and classified by the boundary
(threshold midway between the training classes), so the direction is known to mean the attribute beyond
its training examples. The default strength is the largest of 1…6 whose edited samples keep realism ≥ 0.3
(a flat patch scores 0, real photos 0.5) on average, unless ``--strength`` sets it after looking at the
figure (recorded as such). Writes ``<model>/directions/NAME.npz`` (default strength and held-out accuracy
in its meta), a figure of samples edited from −s to +s, and ``bench/results/named_directions_NAME.json``.

The photo sets:

``grumpy``: Grumpy-Cat photos (``../shared/data/grumpy``) against other cats (``../shared/data/cats``).
``age``: adult cats (``bench/labels/age_adult.txt``) against kittens (``bench/labels/age_kitten.txt``).
``eyes_open``: wide-open eyes (``bench/labels/eyes_open.txt``) against squinting or closed eyes
(``bench/labels/eyes_closed.txt``): a change of shape, not colour. The label files were written by
looking at contact sheets of ``../shared/data/cats``; each line names its split, checked here.
``--space w+ --rows auto`` inverts into w+ instead and lets the boundary see the mean of a range of w+ rows
(``row_candidates``: every even-edged range of at least 2 rows, or ``--rows a:b`` / coarse / middle / fine);
the range is chosen together with the regulariser by cross-validation on the training photos, the held-out
photos are classified on the same rows, and the saved direction edits only those rows (``meta["rows"]``).
``--orthogonal-to NAME ...`` makes the boundary's normal orthogonal to the named shipped directions (a conditional
edit, as InterFaceGAN's), so an edit does not move along them (e.g. coat colour): the examples lose their
components along those directions before the fit, so it is the best boundary among the orthogonal ones.
``--steps 0`` classifies the model encoder's codes of the photos (no optimisation) instead of inversions.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from engines import data as datasets
from engines import imaging
from engines.base import LatentStudioError
from engines.evaluation.realism import PatchRealism
from engines.evaluation.swd import subset
from engines.stylegan import editing
from engines.stylegan.directions import Direction, apply, from_examples, parse_layers
from engines.stylegan.engine import GanEngine

LABELS = Path(__file__).resolve().parent / "labels"
STRENGTHS = (1.0, 2.0, 3.0, 4.0, 6.0)
DESCRIPTIONS = {
    "grumpy": "towards Grumpy Cat's face: down-turned mouth, pale face with a dark mask",
    "age": "older: from a kitten's face (round, big eyes and ears, blue-grey eyes) towards an adult cat's (negative: younger)",
    "eyes_open": "opens the eyes wide (negative: squints, then closes them)",
}
LABELLED = {"age": ("age_adult", "age_kitten"), "eyes_open": ("eyes_open", "eyes_closed")}


def read_labels(path: Path) -> dict[str, list[str]]:
    """A label file (``FILE SPLIT [EXTRA]`` per line, ``#`` comments) → {"train": [...], "val": [...]} file names."""
    out: dict[str, list[str]] = {"train": [], "val": []}
    for line in path.read_text().splitlines():
        fields = line.split("#", 1)[0].split()
        if fields:
            out[fields[1]].append(fields[0])
    return out


def load_named(folder: Path, names: list[str], res: int) -> torch.Tensor:
    """The named photos of ``folder`` as float [-1, 1]; each name must be in the split its label file says."""
    return datasets.to_float(datasets.load_images([folder / n for n in names], res))


def invert_w(engine: GanEngine, photos: torch.Tensor, steps: int, space: str = "w") -> torch.Tensor:
    """w latents [N, w_dim] (or w+ [N, num_ws, w_dim]) of ``photos``: from the model's default start (its encoder
    where it has one), latent only: fitted noise maps would take up the fine detail (eye shape, fur) the
    boundary is meant to see. ``steps=0``: the model's encoder alone (no optimisation; w is its rows' mean)."""
    if steps == 0:
        if engine.encoder is None:
            raise SystemExit("--steps 0 uses the model's encoder, and this model folder has none (no encoder/)")
        with torch.no_grad():
            return engine.encoder.encode(photos.to(engine.device), space).cpu()
    result = engine.invert(imaging.to_pil(photos), space=space, steps=steps, perceptual="disc", frames=0,
                           optimize_noise=False)
    return torch.as_tensor(np.asarray(result.latents["latent"]))


def photo_sets(name: str, args: argparse.Namespace, res: int) -> tuple[torch.Tensor, ...]:
    """(pos train, neg train, pos held-out, neg held-out) photos for direction ``name``."""
    if name == "grumpy":
        load = lambda folder, frac, split: datasets.to_float(datasets.load_split(folder, res, frac, split))  # noqa: E731
        grumpy_train, grumpy_val = load(args.grumpy, 0.1, "train"), load(args.grumpy, 0.1, "val")
        cat_train = subset(load(args.cats, 0.05, "train"), args.per_class, seed=0)
        cat_val = subset(load(args.cats, 0.05, "val"), len(grumpy_val) * 2, seed=0)
        return grumpy_train[:args.per_class], cat_train, grumpy_val, cat_val
    if name in LABELLED:  # label files: the first set is the positive one
        sets = [read_labels(args.labels / f"{stem}.txt") for stem in LABELLED[name]]
        for split in ("train", "val"):
            wrong = [n for labels in sets for n in labels[split] if datasets.is_validation(n, 0.05) != (split == "val")]
            if wrong:
                raise SystemExit(f"{name} labels: {wrong[:5]} are not in the {split} split of engines.data.split")
        return tuple(load_named(args.cats, labels[split], res) for split in ("train", "val") for labels in sets)
    raise SystemExit(f"unknown direction {name!r}")


def orthonormal(conditions: list[Direction]) -> list[np.ndarray]:
    """An orthonormal basis (Gram–Schmidt) of the span of the ``conditions``' vectors."""
    basis: list[np.ndarray] = []
    for c in conditions:
        u = np.asarray(c.vector, dtype=np.float64).reshape(-1)
        for q in basis:
            u = u - (u @ q) * q
        basis.append(u / np.linalg.norm(u))
    return basis


def without(vector: np.ndarray, conditions: list[Direction]) -> np.ndarray:
    """``vector`` with the components along ``conditions`` removed (Gram–Schmidt), back to unit length."""
    v = np.asarray(vector, dtype=np.float64)
    for q in orthonormal(conditions):
        v = v - (v @ q) * q
    return (v / np.linalg.norm(v)).astype(np.float32)


def project_out(points: torch.Tensor, conditions: list[Direction]) -> torch.Tensor:
    """``points`` [N, dim] (float64) with their components along ``conditions`` removed."""
    x = points.double()
    for q in orthonormal(conditions):
        q = torch.as_tensor(q)
        x = x - (x @ q)[:, None] * q
    return x


L2_GRID = (1e-3, 1e-2, 3e-2, 0.1, 0.3, 1.0, 3.0)
CV_REPEATS = 3  # 5-fold cross-validation repeated over 3 shuffles: one shuffle's noise (±0.01) exceeded the gaps


def row_candidates(num_ws: int) -> list[tuple[int, int]]:
    """The w+ row ranges ``--rows auto`` chooses from: every a:b with a, b even (or b = num_ws), at least 2 rows."""
    edges = sorted(set(range(0, num_ws, 2)) | {num_ws})
    return [(a, b) for a in edges for b in edges if b - a >= 2]


def features(latents: torch.Tensor, rows: Optional[tuple[int, int]]) -> torch.Tensor:
    """The points a boundary separates: w [N, dim] as they are; w+ [N, num_ws, dim] averaged over ``rows``
    (all rows when None), so the boundary's normal is one w vector that edits those rows."""
    if latents.ndim == 2:
        return latents
    a, b = rows or (0, latents.shape[1])
    return latents[:, a:b].mean(dim=1)


def boundary(pos: torch.Tensor, neg: torch.Tensor, name: str, fingerprint: str, l2: float,
             conditions: list[Direction]) -> Direction:
    """``from_examples`` with the regulariser ``l2``, orthogonal to ``conditions`` (if any): the examples lose their
    components along the conditions *before* the fit, so the boundary is the best one among those orthogonal to
    them (removing them from a boundary fitted on everything afterwards, as InterFaceGAN does for two given
    boundaries, throws away what the fit put there: cross-validated on the `age` training photos' encoder
    codes 0.78 that way, 0.81 this way)."""
    if conditions:
        pos, neg = project_out(pos, conditions), project_out(neg, conditions)
    d = from_examples(pos, neg, name, space="w", fingerprint=fingerprint, l2=l2)
    if conditions:
        d.vector = without(d.vector, conditions)  # already orthogonal up to rounding; exact and unit length
    return d


def split_accuracy(v: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor, tpos: torch.Tensor,
                   tneg: torch.Tensor) -> torch.Tensor:
    """Per-photo correctness [len(tpos) + len(tneg)] of the boundary along ``v`` on (tpos, tneg), its threshold
    midway between the class means of the photos it was built from (pos, neg)."""
    centre = ((pos @ v).mean() + (neg @ v).mean()) / 2
    return torch.cat([(tpos @ v) > centre, (tneg @ v) <= centre]).float()


def cross_validated_l2(pos: torch.Tensor, neg: torch.Tensor, name: str, conditions: list[Direction],
                       folds: int = 5, repeats: int = CV_REPEATS) -> tuple[float, dict]:
    """The regulariser of ``L2_GRID`` with the best ``folds``-fold cross-validated accuracy (``repeats``
    shuffles) on the *training* photos alone (the held-out photos never choose anything); ties go to the
    stronger regulariser."""
    scores = {}
    for l2 in L2_GRID:
        right = []
        for r in range(repeats):
            order = [torch.randperm(len(x), generator=torch.Generator().manual_seed(i + 10 * r)).tolist()
                     for i, x in enumerate((pos, neg))]
            for f in range(folds):
                fit = [x[[i for j, i in enumerate(o) if j % folds != f]] for x, o in zip((pos, neg), order)]
                test = [x[[i for j, i in enumerate(o) if j % folds == f]] for x, o in zip((pos, neg), order)]
                v = torch.as_tensor(boundary(*fit, name, "", l2, conditions).vector, dtype=torch.float32)
                right.append(split_accuracy(v, *fit, *test))
        scores[l2] = round(float(torch.cat(right).mean()), 4)
    best = max(scores.values())
    return max(l2 for l2, s in scores.items() if s == best), scores


def cross_validated_rows(latents: list[torch.Tensor], name: str, conditions: list[Direction],
                         candidates: list[Optional[tuple[int, int]]], l2: Optional[float]
                         ) -> tuple[Optional[tuple[int, int]], float, dict]:
    """The (row range, regulariser) pair with the best cross-validated accuracy on the training photos
    (``latents[:2]``) alone; ties go to more rows, then the stronger regulariser. A fixed ``l2`` is kept."""
    table, best = {}, None
    for rows in candidates:
        pos, neg = (features(x, rows) for x in latents[:2])
        if l2 is None:
            chosen, scores = cross_validated_l2(pos, neg, name, conditions)
        else:
            chosen, scores = l2, {l2: None}
        key = "all" if rows is None else f"{rows[0]}:{rows[1]}"
        table[key] = scores
        score = scores[chosen] if scores[chosen] is not None else 0.0
        span = latents[0].shape[1] if rows is None or latents[0].ndim == 2 else rows[1] - rows[0]
        if best is None or (score, span, chosen) > best[0]:
            best = ((score, span, chosen), rows, chosen)
    return best[1], best[2], table


@torch.no_grad()
def choose_strength(engine: GanEngine, d: Direction, w: torch.Tensor) -> tuple[float, list[dict]]:
    """The largest strength in `STRENGTHS` whose edited samples (w+ ``w``) keep mean realism ≥ 0.3, and the table."""
    realism = PatchRealism.default()
    chosen, table = 1.0, []
    for s in STRENGTHS:
        imgs = engine.G.synthesize(apply(w, d, s), "w+")
        score = float(realism.score(imgs).mean()) if realism is not None else 1.0
        table.append({"strength": s, "realism": round(score, 3)})
        if score >= 0.3:
            chosen = s
    return chosen, table


def inverted_sets(engine: GanEngine, name: str, sets: tuple[torch.Tensor, ...], steps: int,
                  cache: Optional[Path], space: str = "w") -> list[torch.Tensor]:
    """The four photo sets inverted into ``space``; with ``cache``, kept in ``cache/NAME_STEPS.pt`` (w) or
    ``cache/NAME_wplus_STEPS.pt`` (w+), so a rerun with another ``--strength`` skips the inversions."""
    tag = "" if space == "w" else "wplus_"
    path = cache / f"{name}_{tag}{steps}.pt" if cache is not None else None
    if path is not None and path.is_file():
        saved = torch.load(path)
        if [len(x) for x in saved] == [len(x) for x in sets]:
            return saved
    latents = [invert_w(engine, photos, steps, space) for photos in sets]
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(latents, path)
    return latents


def build(engine: GanEngine, name: str, sets: tuple[torch.Tensor, ...], steps: int,
          strength: Optional[float], model: str, results: Path, figures: Path, cache: Optional[Path] = None,
          orthogonal_to: tuple[str, ...] = (), l2: Optional[float] = None, space: str = "w",
          rows: str = "all") -> dict:
    latents = inverted_sets(engine, name, sets, steps, cache, space)
    conditions = [editing.load_direction(n, engine) for n in orthogonal_to]
    num_ws = engine.G.num_ws
    if str(rows).strip().lower() == "auto":
        if space != "w+":
            raise SystemExit("--rows auto needs --space w+ (w latents are the same on every row)")
        candidates = [None if c == (0, num_ws) else c for c in row_candidates(num_ws)]
        span, l2, cv_scores = cross_validated_rows(latents, name, conditions, candidates, l2)
    else:
        span = parse_layers(rows, num_ws)
        if span is not None and space != "w+":
            raise SystemExit("--rows needs --space w+ (w latents are the same on every row)")
        cv_scores = None
        if l2 is None:
            l2, cv_scores = cross_validated_l2(*(features(x, span) for x in latents[:2]), name, conditions)
    pos, neg, vpos, vneg = (features(x, span) for x in latents)
    d = from_examples(pos, neg, name, space="w", fingerprint=engine.fingerprint, l2=l2)  # unconditioned: cosines
    if span is not None:
        d.meta["rows"] = list(span)
    cosines = {}  # colour leaks show up here
    for n in editing.named_directions(engine):
        if n != name:
            try:
                cosines[n] = round(float(np.dot(d.vector, editing.load_direction(n, engine).vector)), 3)
            except LatentStudioError:  # made for the previous weights: being rebuilt too, no cosine to report
                cosines[n] = None
    if conditions:
        d.vector = boundary(pos, neg, name, engine.fingerprint, l2, conditions).vector
        d.meta["orthogonal_to"] = list(orthogonal_to)
    v = torch.as_tensor(d.vector, dtype=torch.float32)
    held = split_accuracy(v, pos, neg, vpos, vneg)  # threshold midway between the two training classes
    held_acc = float(held.mean())
    train_acc = float(split_accuracy(v, pos, neg, pos, neg).mean())
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        w = engine.G.mapping(torch.randn(8, engine.G.z_dim, generator=gen), truncation_psi=0.7)  # w+ [8, num_ws, dim]
    by_rule, table = choose_strength(engine, d, w)
    chosen = by_rule if strength is None else float(strength)
    with torch.no_grad():
        strip = [engine.G.synthesize(apply(w[:4], d, s), "w+") for s in (-chosen, -chosen / 2, 0.0, chosen / 2, chosen)]
    d.meta.update(train_accuracy=round(train_acc, 3), default_strength=chosen, heldout_accuracy=round(held_acc, 3), n_pos=len(pos), n_neg=len(neg),
                  heldout=[len(vpos), len(vneg)], l2=l2, inversion_steps=steps, inversion_space=space, inversion_init=engine.default_init("w"),
                  description=DESCRIPTIONS[name])
    if strength is not None:
        d.meta["default_strength_note"] = (f"chosen by looking at the figure; the realism rule (largest of "
                                           f"{list(STRENGTHS)} with realism >= 0.3) gives {by_rule}")
    path = editing.save_direction(d, Path(model) / "directions")
    figure = imaging.make_grid([im for t in zip(*[imaging.to_pil(x) for x in strip]) for im in t], nrow=5)
    figures.mkdir(parents=True, exist_ok=True)
    figure_path = figures / f"{Path(model).name}-directions-{name}.png"
    figure.save(figure_path)
    record = {"model": model, "direction": str(path), "figure": str(figure_path),
              "figure_rows": "4 samples (psi 0.7, seed 5); columns: strength -s, -s/2, 0, +s/2, +s",
              "train_accuracy": round(train_acc, 3), "heldout_accuracy": round(held_acc, 3),
              "heldout_accuracy_pos": round(float(held[:len(vpos)].mean()), 3),
              "heldout_accuracy_neg": round(float(held[len(vpos):].mean()), 3),
              "n_train": [len(pos), len(neg)], "n_heldout": [len(vpos), len(vneg)], "inversion_steps": steps,
              "inversion_space": space, "rows": "all" if span is None else f"{span[0]}:{span[1]}",
              "inversion_init": d.meta["inversion_init"],
              "cosine_before_orthogonalising": cosines,
              "orthogonal_to": list(orthogonal_to), "l2": l2, "cross_validated_accuracy": cv_scores,
              "default_strength": chosen, "default_strength_by_realism_rule": by_rule, "realism_by_strength": table}
    results.mkdir(parents=True, exist_ok=True)
    (results / f"named_directions_{name}.json").write_text(json.dumps(record, indent=2))
    return record


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="weights/stylegan2-cats64")
    p.add_argument("--direction", choices=sorted(DESCRIPTIONS), required=True)
    p.add_argument("--cats", type=Path, default=Path("../shared/data/cats"))
    p.add_argument("--grumpy", type=Path, default=Path("../shared/data/grumpy"))
    p.add_argument("--labels", type=Path, default=LABELS)
    p.add_argument("--per-class", type=int, default=160, help="grumpy: photos per class")
    p.add_argument("--steps", type=int, default=100,
                   help="inversion steps (0: the model's encoder alone, no optimisation)")
    p.add_argument("--strength", type=float, default=None,
                   help="default strength chosen by looking at the figure (default: the realism rule)")
    p.add_argument("--results", type=Path, default=Path("bench/results"))
    p.add_argument("--figures", type=Path, default=Path("assets/samples"))
    p.add_argument("--orthogonal-to", nargs="*", default=[], metavar="NAME",
                   help="shipped directions whose components are removed from the new one (conditional edit)")
    p.add_argument("--l2", type=float, default=None,
                   help="the boundary's L2 regulariser (default: chosen by 5-fold cross-validation on the training photos)")
    p.add_argument("--cache", type=Path, default=None, help="folder to keep the inverted latents in (reruns skip inverting)")
    p.add_argument("--space", choices=("w", "w+"), default="w", help="invert the photos into w or w+")
    p.add_argument("--rows", default="all",
                   help="w+ rows the boundary sees and the edit moves: all, coarse, middle, fine, 'a:b', or auto "
                        "(chosen with the regulariser by cross-validation on the training photos); needs --space w+")
    args = p.parse_args(argv)
    torch.manual_seed(0)
    engine = GanEngine(args.model, device="cpu")
    sets = photo_sets(args.direction, args, engine.resolution)
    record = build(engine, args.direction, sets, args.steps, args.strength, args.model, args.results,
                   args.figures, args.cache, tuple(args.orthogonal_to), args.l2, args.space, args.rows)
    print(json.dumps(record, indent=2))
    return record


if __name__ == "__main__":
    main()
