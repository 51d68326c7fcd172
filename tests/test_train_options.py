"""The trainers' configs (issue 32): plain-Python option dataclasses whose fields carry their limits, so a bad
value names the field and its range, the configs load without torch, and the configs saved with the shipped
models still load under the same field names."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from engines.base import LatentStudioError
from engines.diffusion.train_options import DiffusionTrainConfig
from engines.stylegan.train_options import ARCH_DEFAULTS, AUGMENTATIONS, EncoderTrainConfig, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = {TrainConfig: dict(data="d", out="o", kimg=1), EncoderTrainConfig: dict(data="d", out="o", kimg=1),
           DiffusionTrainConfig: dict(classes={"cat": "d"}, out="o", kimg=1)}
#: Fields a user sets in Python only (no limit, so no flag): the diffusion run's per-class dicts.
UNLIMITED = {TrainConfig: set(), EncoderTrainConfig: set(), DiffusionTrainConfig: {"classes", "val_fraction"}}


@pytest.mark.parametrize("cls", CONFIGS, ids=lambda c: c.__name__)
def test_every_field_of_a_training_config_has_a_limit(cls):
    assert {f.name for f in dataclasses.fields(cls)} - set(cls.limits()) == UNLIMITED[cls]


@pytest.mark.parametrize("cls, field, value, message", [
    (TrainConfig, "batch", 1, "batch must be between 2 and 65536, got 1."),
    (TrainConfig, "lr", 0, "lr must be between 1e-08 and 1.0, got 0."),
    (TrainConfig, "mixing", 1.5, "mixing must be between 0.0 and 1.0, got 1.5."),
    (TrainConfig, "accumulate", 0, "accumulate must be between 1 and 4096, got 0."),
    (TrainConfig, "xflip", "no", "xflip must be true or false, got 'no'."),
    (TrainConfig, "model", "channel_base=2", "model must be a dict (a JSON object), got 'channel_base=2'."),
    (TrainConfig, "mixed_precision", "fp16", "Unknown mixed_precision 'fp16': use one of no, bf16."),
    (DiffusionTrainConfig, "label_dropout", 1.5, "label_dropout must be between 0.0 and 1.0, got 1.5."),
    (DiffusionTrainConfig, "batch", 0, "batch must be between 1 and 65536, got 0."),
    (DiffusionTrainConfig, "snr_gamma", -1, "snr_gamma must be between 0.0 and 10000.0, got -1."),
    (DiffusionTrainConfig, "prediction_type", "sample", "Unknown prediction_type 'sample': use one of v_prediction, "
                                                        "epsilon."),
    (EncoderTrainConfig, "lr", -1e-3, "lr must be between 1e-08 and 1.0, got -0.001."),
    (EncoderTrainConfig, "seed", -1, "seed must be between 0 and 4294967295, got -1."),
    (EncoderTrainConfig, "minutes", float("nan"), "minutes must be between 0.0 and 10000000.0, got nan."),
    (EncoderTrainConfig, "data", None, "data must be text, got NoneType."),
])
def test_a_bad_value_names_the_field_and_its_range(cls, field, value, message):
    with pytest.raises(LatentStudioError) as err:
        cls(**{**CONFIGS[cls], field: value})
    assert str(err.value) == message


def test_the_rules_across_fields_still_hold():
    with pytest.raises(LatentStudioError, match="budget"):
        EncoderTrainConfig(data="d", out="o")
    with pytest.raises(LatentStudioError, match="even"):
        EncoderTrainConfig(data="d", out="o", kimg=1, batch=3)
    with pytest.raises(LatentStudioError, match="not both"):
        DiffusionTrainConfig(classes={"cat": "d"}, out="o", kimg=1, resume="r", init="i")
    with pytest.raises(LatentStudioError, match="unknown augmentation"):
        TrainConfig(data="d", out="o", kimg=1, augment="color,rotate")


def test_values_are_converted_and_unset_ones_filled_in():
    cfg = TrainConfig(data=Path("d"), out="o", kimg=1, arch="DCGAN", batch=8.0)
    assert (cfg.data, cfg.arch, cfg.batch, type(cfg.batch)) == ("d", "dcgan", 8, int)
    assert (cfg.lr, cfg.r1_gamma, cfg.mixing) == tuple(ARCH_DEFAULTS["dcgan"][k] for k in ("lr", "r1_gamma", "mixing"))
    assert TrainConfig(data="d", out="o", kimg=1, lr=1e-3).lr == 1e-3
    assert DiffusionTrainConfig(classes={"cat": "d"}, out="o", kimg=1, snr_gamma=0).snr_gamma is None  # plain MSE
    assert EncoderTrainConfig(data="d", out="o", kimg=1).model == "default"
    assert TrainConfig(data="d", out="o", kimg=1).model is not TrainConfig(data="d", out="o", kimg=1).model


@pytest.mark.parametrize("folder, name, cls", [
    ("stylegan2-cats64", "config.json", TrainConfig), ("dcgan-cats64", "config.json", TrainConfig),
    ("stylegan2-grumpy64", "config.json", TrainConfig), ("ddpm-cats64", "training.json", DiffusionTrainConfig),
    ("stylegan2-cats64/encoder", "config.json", EncoderTrainConfig)])
def test_the_configs_saved_with_the_shipped_models_load_under_the_same_names(folder, name, cls):
    info = json.loads((ROOT / "weights" / folder / name).read_text())
    saved = (info.get("training") or info)["config"]
    config = cls(**saved)
    assert {k: getattr(config, k) for k in saved} == saved


def test_the_augmentation_names_are_augments():
    from engines.stylegan.augment import POLICIES
    assert tuple(POLICIES) == AUGMENTATIONS


def test_the_old_import_paths_give_the_same_classes():
    from engines.diffusion import train as diffusion_train
    from engines.stylegan import encoder_train, train
    assert (train.TrainConfig, encoder_train.EncoderTrainConfig, diffusion_train.DiffusionTrainConfig) == \
           (TrainConfig, EncoderTrainConfig, DiffusionTrainConfig)


def test_the_configs_load_without_torch():
    code = ("import sys, engines.stylegan.train_options, engines.diffusion.train_options\n"
            "print(sorted(m for m in ('torch', 'diffusers', 'accelerate') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr
