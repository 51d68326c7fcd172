"""Launch the Latent Studio web app: ``python app.py [--gan SOURCE] [--device cpu|cuda] [--share] [--port N]``."""
from __future__ import annotations

import argparse
import sys


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Latent Studio web app (Gradio).")
    p.add_argument("--gan", default="default",
                   help="GAN source: 'default' (our weights/), a local folder/.safetensors/.pkl/.pt, "
                        "'hf:org/repo[:file]' or an URL (default: default)")
    p.add_argument("--arch", choices=["stylegan2", "dcgan"], default="stylegan2",
                   help="which default GAN 'default' means (default: stylegan2)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda[:N]' (default: auto)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1; 0.0.0.0 in a Space)")
    p.add_argument("--port", type=int, default=7860, help="port (default: 7860)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    from engines.base import LatentStudioError
    from engines.stylegan.engine import GanEngine
    try:
        gan = GanEngine(args.gan, arch=args.arch, device=args.device)
    except LatentStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from demo import build_demo
    build_demo(gan).launch(server_name=args.host, server_port=args.port, share=args.share)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
