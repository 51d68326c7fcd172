"""Latent Studio engines: edit images on the manifold of a GAN or a diffusion model (no Gradio here)."""
from .base import Cancelled, Engine, LatentStudioError, ModelDescription, Result

__all__ = ["Cancelled", "Engine", "LatentStudioError", "ModelDescription", "Result"]
__version__ = "0.1.0"
