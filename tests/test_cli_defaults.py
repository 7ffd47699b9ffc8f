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


def test_boost_stream_and_export_take_the_same_booster_options_with_the_same_defaults():
    # one declaration (commands.boost.add_booster_arguments): an option added to boost reaches stream and export
    def options(cmd: str) -> dict:
        sub = next(a for a in build_parser()._subparsers._group_actions if cmd in a.choices).choices[cmd]
        return {a.dest: (a.default, a.type, a.choices) for a in sub._actions if a.option_strings}

    boost, stream, export = options("boost"), options("stream"), options("export")
    shared = set(boost) & set(stream) & set(export)
    assert {"target", "target_arg", "flow", "mqpm", "preset", "spatial", "config", "buffer_size", "name", "device",
            "seed", "threads"} <= shared
    for key in shared:
        assert boost[key] == stream[key] == export[key], key
    argv = ["--target", "t", "--out", "o", "--preset", "fast", "--buffer-size", "7", "--seed", "3"]
    picked = ("target", "preset", "buffer_size", "seed", "flow", "mqpm", "threads")
    got = [{k: _parsed(cmd, "src", *argv)[k] for k in picked} for cmd in ("boost", "stream", "export")]
    assert got[0] == got[1] == got[2] == {"target": "t", "preset": "fast", "buffer_size": 7, "seed": 3, "flow": "dis",
                                          "mqpm": "default", "threads": 1}


@pytest.mark.parametrize("argv, message", [
    (["--seed", "-1"], "argument --seed: expected an integer in [0, 2**63-1], got -1"),
    (["--threads", "two"], "argument --threads: expected an integer ≥ 0, got 'two'"),
    (["--vis-frames", "-2"], "argument --vis-frames: expected an integer ≥ 0, got -2"),
    (["--config", "absent.json"], "--config absent.json: no such file"),
])
def test_bench_checks_its_numbers_and_config_as_boost_does(argv, message, capsys, tmp_path, monkeypatch):
    from vsodboost.cli import main

    monkeypatch.chdir(tmp_path)
    argv = ["bench", "--data", str(tmp_path), "--layout", "davis", "--target", "pdb:" + str(tmp_path),
            "--out", str(tmp_path / "out"), *argv]
    try:
        code = main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    assert code == 2 and message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [["eval", "--pred", "p", "--gt", "g", "--threads", "-1"],
                                  ["train", "spatial", "--data", "d", "--out", "o.pt", "--threads", "-1"],
                                  ["train", "mqpm", "--data", "d", "--out", "o.pt", "--threads", "x"]])
def test_every_threads_option_is_a_checked_count(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(argv)
    assert exc.value.code == 2 and "argument --threads: expected an integer ≥ 0" in capsys.readouterr().err
