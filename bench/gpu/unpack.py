"""Bring a GPU burst's results back: join the parts, check them, unpack, expand the compact states.

    python -m bench.gpu.unpack FILES_AT [--into runs/gpu-burst]

``FILES_AT`` is the folder the device tool put ``$OUT``'s files in (``summary.json``, ``burst.log``,
``burst.tar.partNN``). The result is two ordinary run folders, ``INTO/gan`` and ``INTO/ddpm``, each
with ``latest/`` (the fp16 shipping folder), ``log.jsonl``, the first and last sample grid and
``state.pt`` (fp32, expanded from the compact ``state16.pt``), from which ``train-gan`` /
``train-diffusion`` ``--resume INTO/gan`` / ``INTO/ddpm`` continue exactly (the GAN with the
``--model-json`` of ``latest/config.json``; commands in bench/gpu/README.md). The quality benches
(``bench.gan_quality``, ``bench.diffusion_quality``) decide whether ``latest/`` replaces ``weights/``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import tarfile
from pathlib import Path
from typing import Optional, Sequence

from bench.gpu.compact import COMPACT_NAME, expand_run


def join_parts(src: Path, dest: Path) -> Path:
    """Concatenate the parts named in ``summary.json`` (checking each sha256) into ``dest/burst.tar``."""
    summary = json.loads((src / "summary.json").read_text())
    tar_path = dest / "burst.tar"
    h = hashlib.sha256()
    with open(tar_path, "wb") as fh:
        for part in summary["parts"]:
            data = (src / part["name"]).read_bytes()
            if hashlib.sha256(data).hexdigest() != part["sha256"]:
                raise SystemExit(f"{part['name']} is damaged (sha256 differs from summary.json)")
            fh.write(data)
            h.update(data)
    if h.hexdigest() != summary["tar_sha256"]:
        raise SystemExit("the joined tar does not match summary.json")
    return tar_path


def unpack(src: Path, into: Path) -> dict:
    into.mkdir(parents=True, exist_ok=True)
    tar_path = join_parts(src, into)
    with tarfile.open(tar_path) as tar:
        for member in tar.getmembers():
            if not member.isfile() or member.name.startswith("/") or ".." in Path(member.name).parts:
                raise SystemExit(f"unexpected entry in the burst tar: {member.name}")
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))
    tar_path.unlink()
    for name in ("summary.json", "burst.log"):
        if (src / name).is_file():
            shutil.copy(src / name, into / name)
    expanded = []
    for kind in ("gan", "ddpm"):
        run = into / kind
        if (run / COMPACT_NAME).is_file():
            expand_run(run, kind)
            (run / COMPACT_NAME).unlink()
            expanded.append(kind)
    return {"into": str(into), "expanded": expanded, **json.loads((src / "summary.json").read_text())}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("files_at", help="the folder holding summary.json and burst.tar.partNN")
    ap.add_argument("--into", default="runs/gpu-burst", help="where the run folders go (default: runs/gpu-burst)")
    args = ap.parse_args(argv)
    info = unpack(Path(args.files_at), Path(args.into))
    for kind, report in info["stages"].items():
        print(f"{kind}: ok={report.get('ok')} mode={report.get('mode')} img/s={report.get('img_per_s')} "
              f"(steady {report.get('img_per_s_steady')}) images={report.get('images_this_run')} "
              f"GPU={(report.get('env') or {}).get('gpu')} peak={report.get('peak_memory_gib')} GiB")
    print(f"unpacked into {info['into']}; expanded states: {info['expanded'] or 'none'}; "
          f"left out on the device: {info['left_out'] or 'nothing'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
