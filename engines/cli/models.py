"""``python -m engines models``: the known models by name, with resolution, size, source and licence."""
from __future__ import annotations

import argparse
import json

from .common import add_command, known_models_epilog


def register(sub: argparse._SubParsersAction) -> None:
    p = add_command(sub, "models", """
        Known models: pass the name wherever a model source goes (--model ffhq, --diffusion sd-turbo). They are
        downloaded once, GANs into torch.hub's cache ($TORCH_HOME/hub/checkpoints), diffusion models into the Hugging
        Face cache (only the diffusers fp32 safetensors files). Offline, pass a local copy instead (--model
        /path/to/ffhq.pkl or a diffusers folder). A local file or folder with the same name as a known model wins.
        Nothing is downloaded by this command.""",
                    run_models, epilog=known_models_epilog(), formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=["gan", "diffusion"], default=None, help="only GANs or only diffusion models")
    p.add_argument("--json", action="store_true", help="print the table as JSON (for scripts)")


def run_models(args: argparse.Namespace) -> int:
    from .. import catalog
    from ..sources import is_cached
    rows = catalog.table(args.kind, cached=is_cached)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    columns = ["name", "kind", "resolution", "size", "defaults", "cached"]
    widths = {c: max(len(c), *(len(r[c]) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip())
    print()
    for r in rows:
        print(f"{r['name']}: {r['source']}; licence: {r['licence']}")
    print("\nUse a name as --model NAME (GANs: also --gan NAME of compare; diffusion: --model of sdedit or "
          "--diffusion of compare). Offline: pass a local copy, e.g. --model /path/to/ffhq.pkl.")
    return 0
