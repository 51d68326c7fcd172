"""Reproducible experiment report: the classic GAN-photo-editing and SDEdit studies on our engines.

    python -m bench.experiments [--quick] --out DIR [--gan SOURCE] [--dcgan SOURCE] [--diffusion SOURCE]

Eight studies, each a table, a picture grid or curves, and time per image next to quality:
1. inversion losses, 2. DCGAN vs StyleGAN2, 3. z / w / w+ × mean / random start, 4. Adam vs L-BFGS
against wall-clock time, 5. interpolation paths and their smoothness, 6. scribbles (density,
regulariser, restarts), 7. SDEdit strength × guidance × sampler, 8. GAN vs diffusion on the same
sketches. Writes ``DIR/report.md``, ``DIR/results.json`` and ``DIR/figures/``.
"""
