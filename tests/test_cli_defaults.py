"""The CLI's training defaults are the library's, and those reproduce the shipped weights (one source of truth)."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
import torch

import vsodboost
from vsodboost.cli import build_parser
from vsodboost.mqpm.theta import DEFAULT_THETA
from vsodboost.mqpm.train import TrainConfig
from vsodboost.spatial.pretrain import pretrain_spatial

WEIGHTS = Path(vsodboost.__file__).parent / "weights"


def _parsed(*argv: str) -> dict:
    return vars(build_parser().parse_args(list(argv)))


def _shipped_meta(name: str) -> dict:
    return torch.load(WEIGHTS / name, map_location="cpu", weights_only=True)["meta"]


def test_train_spatial_defaults_are_pretrain_spatials_and_reproduce_the_shipped_lite0():
    args = _parsed("train", "spatial", "--data", "d", "--out", "o.pt")
    lib = {k: p.default for k, p in inspect.signature(pretrain_spatial).parameters.items()
           if p.default is not inspect.Parameter.empty}
    shipped = _shipped_meta("spatial_lite0.pt")
    for key in ("iterations", "batch_size", "lr", "input_size", "seed"):
        assert args[key] == lib[key] == shipped[key], (key, args[key], lib[key], shipped[key])


@pytest.mark.parametrize("key", ["flow", "theta", "encoder", "input_size", "cache_max_side", "batch_size",
                                 "iterations", "lr", "encoder_lr", "freeze_stages", "seed"])
def test_train_mqpm_defaults_are_train_configs_and_reproduce_the_shipped_mqpm(key):
    args = _parsed("train", "mqpm", "--data", "d", "--out", "o.pt")
    shipped = _shipped_meta("mqpm_lite0_dis.pt")["train_config"]
    assert args[key] == getattr(TrainConfig(), key) == shipped[key]


def test_train_mqpm_theta_help_names_the_default_theta():
    train = build_parser()._subparsers._group_actions[0].choices["train"]
    mqpm = train._subparsers._group_actions[0].choices["mqpm"]
    (theta,) = [a for a in mqpm._actions if a.dest == "theta"]
    assert DEFAULT_THETA in theta.help and theta.default == TrainConfig().theta
