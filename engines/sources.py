"""Turn a model SOURCE string into local files, in one place, with one set of error messages.

Every entry point (app flags, CLI, engines) accepts the same kinds of source: "default" (our weights
in ``weights/``), a local file or folder, a known model's name (``ffhq``, ``sd-turbo``, … see
`engines.catalog`), a Hugging Face Hub id ("hf:org/repo[:file]" or a bare "org/repo" as diffusers
users type it) or an http(s) URL. A local file or folder wins over a known name spelled the same.
Resolving them here keeps the rules the same everywhere and makes the offline case (the common one
on clusters and in Spaces without network) fail with a message that says how to pass a local path
instead of a stack trace from an HTTP client.
"""
from __future__ import annotations

import hashlib
import os
import re
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch

from . import catalog
from .base import LatentStudioError

REPO_ROOT = Path(__file__).resolve().parent.parent
WEIGHTS_DIR = REPO_ROOT / "weights"

#: Default model folder for each kind, relative to the repo root.
DEFAULT_SOURCES = {
    "stylegan2": "weights/stylegan2-cats64",
    "dcgan": "weights/dcgan-cats64",
    "diffusion": "weights/ddpm-cats64",
    "realism": "weights/realism-cats64.npz",  # patch statistics of real photos (evaluation.realism)
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# Suffixes that mark a typed string as a (missing) checkpoint file rather than a hub repo id.
_FILE_SUFFIXES = {".pkl", ".pt", ".pth", ".ckpt", ".safetensors", ".bin", ".json", ".npz", ".onnx"}
_USAGE = ("use 'default', a local path, a known model name (`python -m engines models`), 'hf:org/repo[:file]' "
          "or an http(s) URL.")


@dataclass(frozen=True)
class ResolvedSource:
    """Where a source lives. ``path`` is None only when a remote source was not downloaded."""
    spec: str
    kind: str  # "default" | "local" | "hub" | "url"
    path: Optional[Path]
    repo_id: Optional[str] = None
    filename: Optional[str] = None
    name: Optional[str] = None  # the catalogue name when ``spec`` is a known model (see `engines.catalog`)


def default_path(kind: str) -> Path:
    """The folder of our default model for ``kind`` (it may not exist before training)."""
    if kind not in DEFAULT_SOURCES:
        raise LatentStudioError(f"Unknown model kind {kind!r}: known kinds are {', '.join(sorted(DEFAULT_SOURCES))}.")
    return REPO_ROOT / DEFAULT_SOURCES[kind]


def resolve_source(spec: str, kind: str = "stylegan2", *, download: bool = True) -> ResolvedSource:
    """Resolve ``spec`` to local files, downloading remote sources once (``download=False``: don't)."""
    if not isinstance(spec, (str, os.PathLike)):
        raise LatentStudioError(f"Model source must be a string, got {type(spec).__name__}.")
    spec = os.fspath(spec).strip()
    if spec == "default":
        return ResolvedSource(spec, "default", default_path(kind))
    if spec.startswith(("http://", "https://")):
        return _resolve_url(spec, download)
    if spec.startswith("hf:"):
        repo_id, colon, filename = spec[3:].partition(":")
        return _resolve_hub(spec, repo_id, filename if colon else None, download)
    local = Path(spec).expanduser()
    if spec and local.exists():  # a local file/folder wins over a known name spelled the same
        return ResolvedSource(spec, "local", local.resolve())
    entry = catalog.lookup(spec)
    if entry is not None:
        return _resolve_known(spec, entry, kind, download)
    if _HUB_ID.match(spec) and Path(spec).suffix.lower() not in _FILE_SUFFIXES:
        return _resolve_hub(spec, spec, None, download)
    if _looks_like_path(spec):
        raise LatentStudioError(f"No such file or folder: {str(local)!r}. Unknown model source {spec!r}: {_USAGE}")
    raise LatentStudioError(f"Unknown model source {spec!r}: {_USAGE}")


def _looks_like_path(spec: str) -> bool:
    return (spec.startswith((".", "~", "/")) or "/" in spec or "\\" in spec or os.sep in spec
            or Path(spec).suffix.lower() in _FILE_SUFFIXES)


def _short(exc: BaseException) -> str:
    """One line, at most ~200 chars, for an exception inside a user-facing message."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    text = f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."


def _hub_offline() -> bool:
    # Read at call time: huggingface_hub reads HF_HUB_OFFLINE only once, at import.
    return os.environ.get("HF_HUB_OFFLINE", "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def _resolve_known(spec: str, entry: catalog.KnownModel, kind: str, download: bool) -> ResolvedSource:
    """A catalogue name: its URL through torch.hub's cache, or its Hub repo through huggingface_hub's."""
    if catalog.catalog_kind(kind) != entry.kind:
        other = "a GAN" if entry.kind == "gan" else "a diffusion model"
        where = "--model/--gan of the GAN commands" if entry.kind == "gan" else "--model of sdedit or --diffusion"
        raise LatentStudioError(f"{entry.name!r} is {other} ({entry.title}), not a {kind} model: pass it to {where}.")
    if entry.is_url:
        res = _resolve_url(entry.source, download, known=entry)
    else:
        res = _resolve_hub(spec, entry.source, None, download, known=entry)
    return ResolvedSource(spec, res.kind, res.path, repo_id=res.repo_id, filename=res.filename, name=entry.name)


def _resolve_hub(spec: str, repo_id: str, filename: Optional[str], download: bool,
                 known: Optional[catalog.KnownModel] = None) -> ResolvedSource:
    if not _HUB_ID.match(repo_id) or (filename is not None and not filename.strip()):
        raise LatentStudioError(f"Bad Hugging Face source {spec!r}: write it as 'hf:org/repo' or 'hf:org/repo:file.ext'.")
    if filename is not None and not _plain_relative(filename):
        raise LatentStudioError(f"Bad file name {filename!r} in {spec!r}: name a file inside the repository "
                                "(relative, without '..').")
    if not download:
        return ResolvedSource(spec, "hub", None, repo_id=repo_id, filename=filename)
    try:
        import huggingface_hub

        offline = _hub_offline()
        if filename is None and known is not None and known.files:  # only the files the engine loads
            path = huggingface_hub.snapshot_download(repo_id, local_files_only=offline,
                                                     allow_patterns=list(known.files))
        elif filename is None:
            path = huggingface_hub.snapshot_download(repo_id, local_files_only=offline)
        else:
            path = huggingface_hub.hf_hub_download(repo_id, filename, local_files_only=offline)
    except Exception as exc:  # offline, missing repo/file, HTTP and connection errors all land here
        if known is not None:
            raise LatentStudioError(
                f"Could not download known model {known.name!r} ({known.title}, {known.size}) from the Hugging Face "
                f"Hub repo {repo_id!r} (offline or not reachable: {_short(exc)}). On a machine with internet run "
                f"`{known.hub_download_command()}` and pass the local copy instead (--model DIR); or fill the "
                "Hugging Face cache (HF_HOME) there and copy it here.") from exc
        target = f"{repo_id} {filename}" if filename else repo_id
        local_hint = f" (if you meant a local path: {str(Path(spec).expanduser())!r} does not exist)" \
            if not spec.startswith("hf:") else ""
        raise LatentStudioError(
            f"Could not download {spec!r} (offline or not found: {_short(exc)}){local_hint}. "
            f"Download it on a machine with internet (e.g. `hf download {target} --local-dir DIR`) "
            f"and pass the local path DIR{'/' + filename if filename else ''} instead.") from exc
    return ResolvedSource(spec, "hub", Path(path), repo_id=repo_id, filename=filename)


def url_cache_path(url: str) -> Path:
    """Where a URL's file is kept: torch.hub's checkpoint cache, named after the URL's last path part."""
    name = os.path.basename(urllib.parse.unquote(urllib.parse.urlparse(url).path))
    if name in ("", ".", "..") or "/" in name or "\\" in name:
        name = "download-" + hashlib.sha256(url.encode()).hexdigest()[:16]
    return Path(torch.hub.get_dir()) / "checkpoints" / name


def _resolve_url(spec: str, download: bool, known: Optional[catalog.KnownModel] = None) -> ResolvedSource:
    dst = url_cache_path(spec)
    if dst.is_file():
        return ResolvedSource(spec, "url", dst, filename=dst.name)
    if not download:
        return ResolvedSource(spec, "url", None, filename=dst.name)
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        torch.hub.download_url_to_file(spec, str(dst), progress=True)
    except Exception as exc:  # URLError/HTTPError are OSErrors; ValueError for malformed URLs
        if known is not None:
            raise LatentStudioError(
                f"Could not download known model {known.name!r} ({known.title}, {known.size}) from {spec} "
                f"(offline or not reachable: {_short(exc)}). Download {dst.name} on a machine with internet and "
                f"give its local path instead (/path/to/{dst.name}: the CLI's --model, the app's source field), "
                f"or put it at {str(dst)!r}.") from exc
        raise LatentStudioError(
            f"Could not download {spec!r} (offline or not reachable: {_short(exc)}). "
            f"Download the file yourself and pass its local path (or put it at {str(dst)!r}).") from exc
    return ResolvedSource(spec, "url", dst, filename=dst.name)


def _plain_relative(name: str) -> bool:
    """True for a relative path that stays inside its folder by its very spelling (no '..', no drive, no root)."""
    if not name or name.startswith(("/", "\\", "~")) or re.match(r"^[A-Za-z]:", name) or "\x00" in name:
        return False
    return all(part not in ("", ".", "..") for part in re.split(r"[\\/]", name))


def plain_name(name: object) -> bool:
    """True for one file or folder name (no separators, not '.' or '..'): what config fields may name."""
    return isinstance(name, str) and _plain_relative(name) and not re.search(r"[\\/]", name)


def safe_join(root: Path | str, relative: str) -> Path:
    """``root / relative`` for a file name read from a config, refusing anything that escapes ``root``.

    Checkpoint configs are user-supplied; without this a field like "../../etc/passwd" or a symlink
    inside the folder could make a reader open files the user never pointed at.
    """
    if not isinstance(relative, (str, os.PathLike)) or not os.fspath(relative).strip():
        raise LatentStudioError(f"Bad file name in the model config: {relative!r}.")
    relative = os.fspath(relative)
    if Path(relative).is_absolute() or relative.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", relative):
        raise LatentStudioError(f"File name {relative!r} in the model config must be relative to {str(root)!r}.")
    try:
        base = Path(root).expanduser().resolve()
        target = (base / relative).resolve()
    except (OSError, ValueError, RuntimeError) as exc:
        raise LatentStudioError(f"Bad file name in the model config: {relative!r} ({_short(exc)}).") from exc
    if target != base and base not in target.parents:
        raise LatentStudioError(f"File name {relative!r} in the model config points outside {str(base)!r}.")
    return target


def cache_path(entry: catalog.KnownModel) -> Optional[Path]:
    """Where a URL entry's file is kept (torch.hub's checkpoint cache); None for Hub entries."""
    if not entry.is_url:
        return None
    return url_cache_path(entry.source)


def is_cached(entry: catalog.KnownModel) -> bool:
    """Whether the model is already on this machine (never touches the network)."""
    try:
        if entry.is_url:
            path = cache_path(entry)
            return path is not None and path.is_file()
        from huggingface_hub import try_to_load_from_cache
        return isinstance(try_to_load_from_cache(entry.source, "model_index.json"), str)
    except Exception:  # a broken cache folder or env var must not break a listing
        return False
