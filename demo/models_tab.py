"""Models: what is loaded (source, resolution, device, dtype, parameters, model card), and loading others —
by path, hub id, URL or a known model's name (`engines.catalog`: ffhq, afhqcat, …, sd-turbo)."""
from __future__ import annotations

import re
from typing import Any

import gradio as gr

from engines import catalog
from engines.sources import is_cached

from .errors import user_errors
from .registry import Registry


def _row(label: str, d: Any) -> str:
    return (f"| {label} | {d.name} | `{d.source}` | {d.resolution} | {d.device} | {d.dtype} | "
            f"{d.parameters / 1e6:.2f} M | {d.conditioning} |")


def summary(registry: Registry) -> str:
    lines = ["| model | network | source | resolution | device | dtype | parameters | conditioning |",
             "|---|---|---|---|---|---|---|---|"]
    for label, engine in registry.loaded_gans().items():
        lines.append(_row(label, engine.describe()))
    lines.append(_row("Diffusion (SDEdit)", registry.diffusion().describe()))
    not_loaded = [label for label in registry.gan_labels() if label not in registry.loaded_gans()]
    if not_loaded:
        lines.append(f"\nAvailable, loaded on first use: {', '.join(not_loaded)}.")
    return "\n".join(lines)


def known_models() -> str:
    """The known models as a markdown table: name, kind, resolution, size, defaults, licence, on this machine?"""
    lines = ["| name | kind | resolution | download | defaults | source | licence | on this machine |",
             "|---|---|---|---|---|---|---|---|"]
    for row in catalog.table(cached=is_cached):
        lines.append(f"| `{row['name']}` | {row['kind']} | {row['resolution']} | {row['size']} | {row['defaults']} | "
                     f"`{row['source']}` | {row['licence']} | {row['cached']} |")
    lines.append("\nType a name in a load field (or click it below the field). It is downloaded once on first load "
                 "(GANs into torch.hub's cache, diffusion models into the Hugging Face cache); offline, pass a local "
                 "copy's path instead. A local file or folder with the same name wins. Turbo models run with "
                 "guidance 0 and 4 steps unless you set them.")
    return "\n".join(lines)


def diffusion_card(registry: Registry) -> str:
    engine = registry.diffusion()
    return engine.card or engine.describe().notes or f"No model card for {registry.diffusion_source!r}."


def _for_the_page(card: str) -> str:
    """A model card as the app shows it: its images are files beside the card (``samples/grid.png``) that the page
    cannot fetch, so each becomes a line naming the file; headings drop two levels under the model's own heading."""
    card = re.sub(r"!\[([^\]]*)\]\(([^)]+)\)", lambda m: f"*(picture: {m.group(1) or 'figure'}, `{m.group(2)}` in the "
                  "model folder)*", card)
    return re.sub(r"^(#{1,4}) ", lambda m: "#" * min(6, len(m.group(1)) + 2) + " ", card, flags=re.M)


def cards(registry: Registry) -> str:
    parts = []
    for label, engine in registry.loaded_gans().items():
        parts.append(f"## {label}\n\n{_for_the_page(engine.card.strip()) or 'No model card.'}")
    parts.append(f"## Diffusion\n\n{_for_the_page(diffusion_card(registry).strip())}")
    return "\n\n---\n\n".join(parts)


def build(registry: Registry, gan_dropdowns: list[gr.Dropdown], diffusion_outputs: list, diffusion_update) -> None:
    """``gan_dropdowns``: every tab's GAN picker (refreshed after a load); ``diffusion_update()`` gives the
    values of ``diffusion_outputs`` after the diffusion model changes."""
    with gr.Tab("Models", id="models"):
        table = gr.Markdown(summary(registry), elem_id="models-result")
        with gr.Row():
            with gr.Column():
                gr.Markdown("### Load a GAN\nA local folder / `.safetensors` / official `.pkl` / rosinality `.pt`, "
                            "`hf:org/repo[:file]`, an URL or a known name (`ffhq`, `afhqcat`, …). Pickles are read "
                            "without running their code.")
                gan_source = gr.Textbox(label="GAN source", placeholder="weights/stylegan2-grumpy64 or hf:org/repo:file.pkl")
                arch = gr.Radio(["stylegan2", "dcgan"], value="stylegan2", label="Architecture (for 'default')")
                load_gan = gr.Button("Load GAN", elem_id="models-load-gan")
                gr.Examples([["weights/stylegan2-grumpy64", "stylegan2"], ["weights/dcgan-cats64", "dcgan"]],
                            inputs=[gan_source, arch], label="Examples (our shipped models)", elem_id="models-examples")
                gr.Examples([[name, "stylegan2"] for name in catalog.names("gan")], inputs=[gan_source, arch],
                            label="Known models (downloaded on first load)", elem_id="models-known-gans")
            with gr.Column():
                gr.Markdown("### Load a diffusion model\n`default`, a local diffusers folder (our pixel model or a "
                            "Stable Diffusion checkpoint), a known name or `hf:org/repo`.")
                diff_source = gr.Textbox(label="Diffusion source", placeholder="default, sd-turbo or hf:org/repo")
                load_diff = gr.Button("Load diffusion model", elem_id="models-load-diffusion")
                gr.Examples([["default"]] + [[name] for name in catalog.names("diffusion")], inputs=[diff_source],
                            label="Known models (downloaded on first load)", elem_id="models-known-diffusion")
        with gr.Accordion("Known models", open=False):
            known_md = gr.Markdown(known_models(), elem_id="models-known")
        status = gr.Markdown(elem_id="models-status")
        refresh = gr.Button("Refresh", size="sm")
        with gr.Accordion("Model cards", open=False):
            card_md = gr.Markdown(cards(registry), max_height=700, elem_id="models-cards")  # scrolls, not 13,000 px

        @user_errors(status=status)  # an error replaces the status line, never sits beside it
        def add_gan(source, arch_v):
            """Load a GAN and select it in every tab.

            Args:
                source: a local folder / .safetensors / official .pkl / rosinality .pt, "hf:org/repo[:file]", an URL
                    or a known name (ffhq, afhqcat, …). Loading the same model twice keeps one entry.
                arch_v: "stylegan2" or "dcgan" (which architecture "default" means).
            Returns:
                a status line, the table of loaded models and the model cards.
            """
            before = set(registry.loaded_gans())
            label = registry.add_gan(source, arch_v)
            picks = [gr.update(choices=registry.gan_labels(), value=label)] * len(gan_dropdowns)
            said = "was already loaded" if label in before else "is loaded"
            yield (f"**{label}** {said}; it is now selected in every tab.", summary(registry), cards(registry),
                   *picks)

        load_gan.click(add_gan, [gan_source, arch], [status, table, card_md, *gan_dropdowns], api_name="load_gan",
                       concurrency_id="engines", show_progress_on=[status])

        @user_errors(status=status)
        def set_diffusion(source):
            """Load a diffusion model for SDEdit (it replaces the current one; the old one stays on failure).

            Args:
                source: "default", a local diffusers folder (our pixel model or a Stable Diffusion checkpoint), a
                    known name (e.g. sd-turbo) or "hf:org/repo".
            Returns:
                a status line, the table of loaded models, the model cards and the SDEdit controls' new values.
            """
            engine = registry.set_diffusion(source)
            yield (f"Loaded **{engine.describe().name}** from `{source}`.", summary(registry), cards(registry),
                   *diffusion_update())

        load_diff.click(set_diffusion, [diff_source], [status, table, card_md, *diffusion_outputs],
                        api_name="load_diffusion", concurrency_id="engines", show_progress_on=[status])

        def models():
            """The loaded models (network, source, resolution, device, dtype, parameters, conditioning) and their
            model cards, as markdown."""
            return summary(registry), cards(registry)

        refresh.click(models, None, [table, card_md], api_name="models")
        refresh.click(known_models, None, [known_md], api_visibility="private")  # "on this machine" after downloads
