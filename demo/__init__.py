"""Gradio UI for Latent Studio: a thin layer over `engines`, one module per tab."""
from .app import build_demo

__all__ = ["build_demo"]
