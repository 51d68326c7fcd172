"""Launch the Latent Studio web app.

    python app.py [--gan SOURCE] [--arch stylegan2|dcgan] [--diffusion SOURCE] [--device auto|cpu|cuda]
                  [--share] [--host H] [--port N] [--concurrency N] [--max-queue N] [--mcp-server]

On a Hugging Face Space (``SPACE_ID`` is set) it listens on 0.0.0.0 and port 7860 unless told otherwise.
``--mcp-server`` also serves every named endpoint (invert, edit, sdedit, …) as an MCP tool described by its
function's docstring, at ``/gradio_api/mcp/sse`` (needs ``pip install "gradio[mcp]"``).
"""
from __future__ import annotations

import argparse
import os
import sys


def parse_args(argv=None) -> argparse.Namespace:
    on_space = bool(os.environ.get("SPACE_ID"))
    p = argparse.ArgumentParser(description="Latent Studio web app (Gradio).")
    p.add_argument("--gan", default="default",
                   help="GAN source: 'default' (our weights/), a local folder/.safetensors/.pkl/.pt, "
                        "'hf:org/repo[:file]' or an URL (default: default)")
    p.add_argument("--arch", choices=["stylegan2", "dcgan"], default="stylegan2",
                   help="which default GAN 'default' means (default: stylegan2)")
    p.add_argument("--diffusion", default="default",
                   help="diffusion source: 'default' (our pixel model in weights/), a local diffusers folder "
                        "(e.g. a Stable Diffusion checkpoint) or 'hf:org/repo' (default: default)")
    p.add_argument("--device", default="auto", help="'auto' (CUDA if present), 'cpu' or 'cuda[:N]' (default: auto)")
    p.add_argument("--share", action="store_true", help="also serve through a public gradio.live link")
    p.add_argument("--host", default="0.0.0.0" if on_space else "127.0.0.1",
                   help="address to listen on (default: 127.0.0.1; 0.0.0.0 on a Space)")
    p.add_argument("--port", type=int, default=int(os.environ.get("PORT", 7860)), help="port (default: 7860)")
    p.add_argument("--concurrency", type=int, default=1,
                   help="engine jobs run at once; others wait in the queue (default: 1, right for a CPU)")
    p.add_argument("--max-queue", type=int, default=32,
                   help="jobs that may wait in the queue; more are refused with 'queue is full' (default: 32)")
    p.add_argument("--mcp-server", action="store_true",
                   default=os.environ.get("GRADIO_MCP_SERVER", "").lower() == "true",
                   help="also serve the app's tools to MCP clients (LLM agents) at /gradio_api/mcp/sse; needs "
                        "gradio[mcp] (default: off, or GRADIO_MCP_SERVER=True)")
    return p.parse_args(argv)


def mcp_available() -> bool:
    import importlib.util
    return importlib.util.find_spec("mcp") is not None


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.mcp_server and not mcp_available():
        print('error: --mcp-server needs the MCP extra of Gradio: pip install "gradio[mcp]"', file=sys.stderr)
        return 2
    from engines.base import LatentStudioError
    from engines.diffusion.engine import DiffusionEngine
    from engines.stylegan.engine import GanEngine
    try:
        gan = GanEngine(args.gan, arch=args.arch, device=args.device)
        diffusion = DiffusionEngine(args.diffusion, device=args.device)
    except LatentStudioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    from demo import build_demo
    from demo.app import CSS, MAX_FILE_SIZE, THEME
    from demo.registry import DEFAULT_GAN, Registry
    if args.gan == "default":
        label = DEFAULT_GAN if args.arch == "stylegan2" else "DCGAN · cats"
    else:
        label = f"{gan.describe().name} · {args.gan}"
    registry = Registry(gan, diffusion, device=args.device, gan_label=label, diffusion_source=args.diffusion)
    demo = build_demo(registry, concurrency=max(1, args.concurrency), max_queue=max(1, args.max_queue),
                      mcp_server=bool(args.mcp_server))
    demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_FILE_SIZE,
                footer_links=["api", "gradio"], theme=THEME, css=CSS, mcp_server=args.mcp_server)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
