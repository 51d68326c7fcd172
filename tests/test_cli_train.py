"""The training commands' flags are made from their configs (issue 32): one flag per limited field, the config's
defaults, ranges and help in --help, and the config built back from the parsed flags. The trainers themselves run
in tests/test_train_gan.py, test_train_diffusion.py and test_encoder.py."""
from __future__ import annotations

import argparse
import dataclasses

import pytest

from engines.cli.main import build_parser, main
from engines.diffusion.train_options import DiffusionTrainConfig
from engines.options import flag_name
from engines.stylegan.train_options import EncoderTrainConfig, TrainConfig

CONFIGS = {"train-gan": TrainConfig, "train-diffusion": DiffusionTrainConfig, "train-encoder": EncoderTrainConfig}
#: The least each command needs, as flags and as the config's fields.
NEEDED = {"train-gan": (["--data", "d", "--out", "o", "--kimg", "1"], dict(data="d", out="o", kimg=1)),
          "train-diffusion": (["--class", "cat=d", "--out", "o", "--kimg", "1"], dict(classes={"cat": "d"}, out="o",
                                                                                       kimg=1)),
          "train-encoder": (["--data", "d", "--out", "o", "--kimg", "1"], dict(data="d", out="o", kimg=1))}
#: The flags and defaults these commands had before their flags came from the configs (docs and scripts use them).
OLD_DEFAULTS = {
    "train-gan": {"--data": None, "--out": None, "--arch": "stylegan2", "--resume": None, "--minutes": None,
                  "--kimg": None, "--batch": 32, "--resolution": 64, "--lr": None, "--r1-gamma": None, "--mixing": None,
                  "--augment": "color,translation,cutout", "--no-xflip": True, "--ema-kimg": 10.0,
                  "--val-fraction": 0.05, "--seed": 0, "--device": "auto", "--snapshot-minutes": 5.0,
                  "--mixed-precision": None, "--accumulate": 1, "--model-json": {}},
    "train-diffusion": {"--class": None, "--out": None, "--resume": None, "--init": None, "--minutes": None,
                        "--kimg": None, "--batch": 32, "--lr": 2e-4, "--warmup-steps": 500, "--ema-decay": 0.9995,
                        "--label-dropout": 0.1, "--min-class-share": 0.25, "--resolution": None,
                        "--prediction-type": "v_prediction", "--snr-gamma": None, "--no-xflip": True, "--seed": 0,
                        "--device": "auto", "--snapshot-minutes": 10.0, "--mixed-precision": None, "--accumulate": 1,
                        "--unet-json": {}},
    "train-encoder": {"--model": "default", "--data": None, "--out": None, "--resume": None, "--minutes": None,
                      "--kimg": None, "--batch": 16, "--lr": 2e-4, "--perceptual": 0.1, "--latent": 1.0,
                      "--offset-reg": 0.01, "--seed": 0, "--device": "auto", "--snapshot-minutes": 10.0},
}


def command_parser(command: str) -> argparse.ArgumentParser:
    parser = build_parser(command)
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[command]


@pytest.mark.parametrize("command", CONFIGS)
def test_every_limited_config_field_has_its_flag(command):
    cls, actions = CONFIGS[command], command_parser(command)._option_string_actions
    for name, limit in cls.limits().items():
        flag = flag_name(name, limit)
        assert flag in actions and actions[flag].dest == name, f"{command} has no {flag} for {cls.__name__}.{name}"


@pytest.mark.parametrize("command", CONFIGS)
def test_help_shows_each_fields_help_range_and_default_from_the_config(command):
    text = " ".join(command_parser(command).format_help().split())
    for name, limit in CONFIGS[command].limits().items():
        assert " ".join(limit.flag_help().split()) in text, name
    assert "(default: " in text


def test_help_states_the_defaults_the_configs_have():
    encoder = " ".join(command_parser("train-encoder").format_help().split())
    assert "--batch BATCH even: half generated samples, half photos; 2-65536 (default: 16)" in encoder
    assert "--model MODEL the StyleGAN2 (with its discriminator): 'default' or a folder (default: default)" in encoder
    gan = " ".join(command_parser("train-gan").format_help().split())
    assert "--snapshot-minutes SNAPSHOT_MINUTES minutes between snapshots; 0-1e+09 (default: 5)" in gan
    assert "--xflip, --no-xflip mirror training images at random (default: on)" in gan
    assert "--lr LR learning rate; 1e-08-1 (default: 0.0025 stylegan2, 0.0002 dcgan)" in gan
    diffusion = " ".join(command_parser("train-diffusion").format_help().split())
    assert "label_dropout" not in diffusion and "share of labels replaced by the null class" in diffusion
    assert "0-1 (default: 0.1)" in diffusion


@pytest.mark.parametrize("command", CONFIGS)
def test_the_parsed_defaults_are_the_configs_defaults(command):
    cls, (flags, fields) = CONFIGS[command], NEEDED[command]
    args = command_parser(command).parse_args(flags)
    extra = {"classes": dict(args.classes)} if command == "train-diffusion" else {}
    assert cls.from_args(args, **extra) == cls(**fields)
    for f in dataclasses.fields(cls):
        if f.name in cls.limits() and f.name not in fields:
            default = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            assert getattr(args, f.name) == default, f.name


@pytest.mark.parametrize("command", CONFIGS)
def test_every_old_flag_keeps_its_name_and_default(command):
    parser = command_parser(command)
    actions = parser._option_string_actions
    assert set(OLD_DEFAULTS[command]) <= set(actions)
    args = parser.parse_args(NEEDED[command][0])
    for flag, default in OLD_DEFAULTS[command].items():
        if flag in NEEDED[command][0]:
            continue
        assert getattr(args, actions[flag].dest) == default, flag


def test_flags_reach_the_config():
    args = command_parser("train-gan").parse_args(
        [*NEEDED["train-gan"][0], "--arch", "dcgan", "--no-xflip", "--model-json", '{"channel_base": 2048}',
         "--r1-gamma", "0.05", "--accumulate", "2", "--mixed-precision", "bf16"])
    cfg = TrainConfig.from_args(args)
    assert (cfg.arch, cfg.xflip, cfg.model, cfg.r1_gamma, cfg.accumulate, cfg.mixed_precision, cfg.lr) == \
           ("dcgan", False, {"channel_base": 2048}, 0.05, 2, "bf16", 0.0002)
    args = command_parser("train-diffusion").parse_args(
        ["--class", "cat=a", "--class", "grumpy cat = b", "--out", "o", "--minutes", "3", "--snr-gamma", "0",
         "--unet-json", '{"layers_per_block": 1}', "--resolution", "32"])
    cfg = DiffusionTrainConfig.from_args(args, classes=dict(args.classes))
    assert (cfg.classes, cfg.snr_gamma, cfg.unet, cfg.resolution) == ({"cat": "a", "grumpy cat": "b"}, None,
                                                                      {"layers_per_block": 1}, 32)


@pytest.mark.parametrize("command, flag, value, message", [
    ("train-gan", "--batch", "1", "error: batch must be between 2 and 65536, got 1."),
    ("train-gan", "--model-json", "{oops", "error: --model-json is not valid JSON"),
    ("train-diffusion", "--label-dropout", "1.5", "error: label_dropout must be between 0.0 and 1.0, got 1.5."),
    ("train-encoder", "--batch", "3", "error: batch must be an even number ≥ 2"),
    ("train-encoder", "--lr", "0", "error: lr must be between 1e-08 and 1.0, got 0.0."),
])
def test_a_bad_value_is_one_line_naming_the_field_and_its_range(command, flag, value, message, capsys):
    assert main([command, *NEEDED[command][0], flag, value]) == 2
    assert message in capsys.readouterr().err


def test_class_names_must_be_unique(capsys):
    assert main(["train-diffusion", "--class", "cat=a", "--class", "cat=b", "--out", "o", "--kimg", "1"]) == 2
    assert "Class names must be unique" in capsys.readouterr().err
