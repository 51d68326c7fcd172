"""Test fixtures that write networks in third-party formats, written from those formats' docs.

They do not use the readers' key maps, so a wrong map in a reader makes the round-trip tests fail.
"""
from __future__ import annotations

import pickle
import sys
import types
from collections import OrderedDict

import torch

# --- official StyleGAN2-ADA pickle ------------------------------------------------------------
_persistence = types.ModuleType("torch_utils.persistence")
_torch_utils = types.ModuleType("torch_utils")
_dnnlib = types.ModuleType("dnnlib")
_dnnlib_util = types.ModuleType("dnnlib.util")


def _reconstruct_persistent_obj(meta):  # only named here so pickle writes the official global
    raise AssertionError("never called by the tests")


class EasyDict(dict):
    pass


_reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
_persistence._reconstruct_persistent_obj = _reconstruct_persistent_obj
EasyDict.__module__ = "dnnlib.util"
_dnnlib_util.EasyDict = EasyDict
for name, mod in [("torch_utils", _torch_utils), ("torch_utils.persistence", _persistence),
                  ("dnnlib", _dnnlib), ("dnnlib.util", _dnnlib_util)]:
    sys.modules.setdefault(name, mod)

OFFICIAL_CLASS = {"StyleGAN2Generator": "Generator", "StyleGAN2Discriminator": "Discriminator"}


class _Persistent:
    def __init__(self, module: torch.nn.Module, init_kwargs=None, src="", top=True):
        self.module, self.init_kwargs, self.src = module, init_kwargs, src

    def __reduce__(self):
        m = self.module
        state = {
            "training": False,
            "_parameters": OrderedDict((k, v) for k, v in m._parameters.items()),
            "_buffers": OrderedDict((k, v) for k, v in m._buffers.items()),
            "_non_persistent_buffers_set": set(),
            "_modules": OrderedDict((k, _Persistent(c, None, self.src)) for k, c in m._modules.items()),
            "_init_args": (),
            "_init_kwargs": EasyDict(self.init_kwargs or {}),
        }
        cls = OFFICIAL_CLASS.get(type(m).__name__, type(m).__name__)
        meta = dict(type="class", version=6, module_src=self.src, class_name=cls, state=state)
        return (_persistence._reconstruct_persistent_obj, (meta,))


def write_official_pkl(path, G, D=None, module_src="") -> None:
    """Pickle like stylegan2-ada-pytorch's training loop: dict of persistent networks + kwargs."""
    cfg = G.config
    g_kwargs = dict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                    img_channels=cfg.img_channels,
                    mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers),
                    synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                                              num_fp16_res=0, conv_clamp=None, architecture="skip"))
    data = {"G": _Persistent(G, g_kwargs, module_src), "G_ema": _Persistent(G, g_kwargs, module_src),
            "augment_pipe": None, "training_set_kwargs": EasyDict(path="cats.zip", resolution=cfg.img_resolution)}
    if D is not None:
        dc = D.config
        data["D"] = _Persistent(D, dict(c_dim=0, img_resolution=dc.img_resolution, img_channels=3,
                                        architecture="resnet", channel_base=dc.channel_base,
                                        channel_max=dc.channel_max, block_kwargs=EasyDict(),
                                        epilogue_kwargs=EasyDict(mbstd_group_size=dc.mbstd_group_size)), module_src)
    with open(path, "wb") as f:
        pickle.dump(data, f, protocol=3)


# --- rosinality/stylegan2-pytorch .pt ---------------------------------------------------------
def rosinality_state_dict(G) -> dict[str, torch.Tensor]:
    """Our generator's weights under rosinality's names and shapes (from its model.py layout)."""
    sd = G.state_dict()
    out: dict[str, torch.Tensor] = {}
    for i in range(G.config.mapping_layers):
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"].clone()
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"].clone()
    out["input.input"] = sd["synthesis.b4.const"][None].clone()

    def styled(src: str, dst: str, up: bool = False):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1).clone()
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"].clone()
        if up:
            out[f"{dst}.conv.blur.kernel"] = torch.ones(4, 4)

    def torgb(src: str, dst: str):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None].clone()
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"].clone()
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"].clone()
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1).clone()

    styled("synthesis.b4.conv1", "conv1")
    torgb("synthesis.b4.torgb", "to_rgb1")
    noises = [sd["synthesis.b4.conv1.noise_const"]]
    res, k = 8, 0
    while res <= G.img_resolution:
        styled(f"synthesis.b{res}.conv0", f"convs.{2 * k}", up=True)
        styled(f"synthesis.b{res}.conv1", f"convs.{2 * k + 1}")
        torgb(f"synthesis.b{res}.torgb", f"to_rgbs.{k}")
        noises += [sd[f"synthesis.b{res}.conv0.noise_const"], sd[f"synthesis.b{res}.conv1.noise_const"]]
        res, k = res * 2, k + 1
    for j, n in enumerate(noises):
        out[f"noises.noise_{j}"] = n[None, None].clone()
    return out
