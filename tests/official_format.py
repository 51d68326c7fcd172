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

import numpy as np

OFFICIAL_CLASS = {"StyleGAN2Generator": "Generator", "StyleGAN2Discriminator": "Discriminator"}

# Attributes the official modules keep besides their tensors (from the public stylegan2-ada-pytorch
# constructors), with the numpy types that code produces: gains are ``np.float64`` (``1 / np.sqrt(n)``,
# ``bias_act``'s ``def_gain = np.sqrt(2)``), so every real pickle holds numpy scalars.
_SQRT2 = np.sqrt(2)


def _official_attrs(m: torch.nn.Module) -> dict:
    name = type(m).__name__
    plain = {k: v for k, v in vars(m).items()
             if not k.startswith("_") and k not in ("training", "config") and isinstance(v, (int, float, str, bool, type(None), list, tuple))}
    attrs = {k: (np.float64(v) if isinstance(v, float) else v) for k, v in plain.items()}
    if name == "FullyConnectedLayer":
        attrs.update(weight_gain=np.float64(m.weight_gain), bias_gain=m.bias_gain)
    elif name == "Conv2dLayer":
        attrs.update(act_gain=np.float64(_SQRT2) if m.activation == "lrelu" else 1, up=1,
                     weight_gain=1 / np.sqrt(np.float64(m.weight.shape[1] * m.weight.shape[2] ** 2)))
    elif name == "SynthesisLayer":
        attrs.update(activation="lrelu", act_gain=np.float64(_SQRT2))
    elif name == "ToRGBLayer":
        attrs.update(weight_gain=1 / np.sqrt(np.float64(m.weight.shape[1])))
    elif name == "SynthesisBlock":
        attrs.update(architecture="skip", channels_last=False, w_dim=m.conv1.affine.in_features)
    elif name == "SynthesisNetwork":
        attrs.update(img_resolution_log2=int(np.log2(m.img_resolution)), block_resolutions=list(m.block_resolutions))
    return attrs


class _Persistent:
    """Pickles a module the way ``torch_utils.persistence`` does: class name, module source, full ``__dict__``."""

    def __init__(self, module: torch.nn.Module, init_kwargs=None, src="", top=True):
        self.module, self.init_kwargs, self.src = module, init_kwargs, src

    def __reduce__(self):
        m = self.module
        state = {
            "training": False,
            "_parameters": OrderedDict((k, v) for k, v in m._parameters.items()),
            "_buffers": OrderedDict((k, v) for k, v in m._buffers.items()),
            "_non_persistent_buffers_set": set(),
            "_backward_hooks": OrderedDict(), "_forward_hooks": OrderedDict(), "_forward_pre_hooks": OrderedDict(),
            "_state_dict_hooks": OrderedDict(), "_load_state_dict_pre_hooks": OrderedDict(),
            "_modules": OrderedDict((k, _Persistent(c, None, self.src)) for k, c in m._modules.items()),
            "_init_args": (),
            "_init_kwargs": EasyDict(self.init_kwargs or {}),
            **_official_attrs(m),
        }
        cls = OFFICIAL_CLASS.get(type(m).__name__, type(m).__name__)
        meta = dict(type="class", version=6, module_src=self.src, class_name=cls, state=state)
        return (_persistence._reconstruct_persistent_obj, (meta,))


class _AugmentPipe(torch.nn.Module):
    """What the official ``AugmentPipe`` carries: a probability buffer, filter buffers and float settings."""

    def __init__(self):
        super().__init__()
        self.register_buffer("p", torch.zeros([]))
        self.register_buffer("Hz_geom", torch.randn(12))
        self.xflip, self.rotate90, self.brightness, self.saturation_std = 1.0, 1.0, 1.0, np.float64(1.0)
        self.imgfilter_bands = [1, 1, 1, 1]


def generator_kwargs(cfg) -> "EasyDict":
    """``Generator(**kwargs)`` as stylegan2-ada-pytorch's train.py builds them (EasyDicts, fp16 and clamp)."""
    return EasyDict(z_dim=cfg.z_dim, c_dim=cfg.c_dim, w_dim=cfg.w_dim, img_resolution=cfg.img_resolution,
                    img_channels=cfg.img_channels,
                    mapping_kwargs=EasyDict(num_layers=cfg.mapping_layers, lr_multiplier=cfg.mapping_lr_multiplier),
                    synthesis_kwargs=EasyDict(channel_base=cfg.channel_base, channel_max=cfg.channel_max,
                                              num_fp16_res=cfg.num_fp16_res, conv_clamp=cfg.conv_clamp,
                                              architecture="skip"))


def write_official_pkl(path, G, D=None, module_src="", *, G_train=None, mbstd_group_size="config",
                       numpy_core="numpy._core") -> None:
    """Pickle like stylegan2-ada-pytorch's training loop: dict of persistent networks + kwargs.

    ``G`` is written as ``G_ema`` (what users sample); ``G_train`` (default: a perturbed copy of G) as
    ``G``, so a reader that takes the wrong one gives different images. ``mbstd_group_size=None`` writes
    what ``legacy.py`` writes for converted TF pickles. ``numpy_core="numpy.core"`` spells numpy
    scalars the way numpy 1.x pickles them.
    """
    import copy
    if G_train is None:
        G_train = copy.deepcopy(G)
        with torch.no_grad():
            for p in G_train.parameters():
                p.add_(0.5 * torch.randn_like(p))
    g_kwargs = generator_kwargs(G.config)
    data = {"training_set_kwargs": EasyDict(class_name="training.dataset.ImageFolderDataset", path="cats.zip",
                                            use_labels=G.config.c_dim > 0, max_size=None, xflip=False,
                                            resolution=G.config.img_resolution),
            "G": _Persistent(G_train, g_kwargs, module_src), "D": None,
            "G_ema": _Persistent(G, g_kwargs, module_src),
            "augment_pipe": _Persistent(_AugmentPipe(), EasyDict(xflip=1, rotate90=1), module_src)}
    if D is not None:
        dc = D.config
        group = dc.mbstd_group_size if mbstd_group_size == "config" else mbstd_group_size
        data["D"] = _Persistent(D, EasyDict(c_dim=dc.c_dim, img_resolution=dc.img_resolution, img_channels=3,
                                            architecture="resnet", channel_base=dc.channel_base,
                                            channel_max=dc.channel_max, num_fp16_res=4, conv_clamp=dc.conv_clamp,
                                            cmap_dim=None, block_kwargs=EasyDict(), mapping_kwargs=EasyDict(),
                                            epilogue_kwargs=EasyDict(mbstd_group_size=group)), module_src)
    blob = pickle.dumps(data, protocol=3)
    if numpy_core != "numpy._core":  # protocol 3 names globals as text lines, so this is an exact respelling
        blob = blob.replace(b"cnumpy._core.multiarray\n", f"c{numpy_core}.multiarray\n".encode())
    with open(path, "wb") as f:
        f.write(blob)


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
