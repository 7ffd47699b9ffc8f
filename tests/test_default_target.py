"""Issue 25, parts 2-3: a user with only a video — ``vsodboost boost clip.mp4 --out DIR`` without ``--target``
boosts the shipped image model U²-Net-p's own maps (offline), and ``Booster().run(...)`` does the same; the live
target's time per buffer is shown beside the boost's stages."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vsodboost.booster import Booster
from vsodboost.target import DEFAULT_TARGET
from vsodboost.cli import build_parser, main
from vsodboost.testing import synthetic_clip

N, H, W = 6, 96, 128
CFG = {"buffer_size": 6, "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64}}


@pytest.fixture(scope="module")
def clip_mp4(tmp_path_factory):
    path = tmp_path_factory.mktemp("only_a_video") / "clip.mp4"
    frames, _, _ = synthetic_clip(N, h=H, w=W, seed=25)
    vw = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 25, (W, H))
    for f in frames:
        vw.write(np.ascontiguousarray(f[:, :, ::-1]))
    vw.release()
    (path.parent / "cfg.json").write_text(json.dumps(CFG))
    return path


def test_the_help_names_the_default_target():
    boost = build_parser()._subparsers._group_actions[0].choices["boost"]
    (target,) = [a for a in boost._actions if a.dest == "target"]
    assert target.default is None and "default: u2netp" in target.help and "U²-Net-p" in target.help
    assert DEFAULT_TARGET == "u2netp"


def test_boost_without_a_target_boosts_u2netp_and_python_gives_the_same_bytes(clip_mp4, tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        rc = main(["boost", str(clip_mp4), "--out", str(tmp_path / "cli"), "--preset", "fast",
                   "--config", str(clip_mp4.parent / "cfg.json"), "--device", "cpu"])
    finally:
        torch.set_num_threads(before)
    out, err = capsys.readouterr()
    assert rc == 0
    assert "no --target: boosting the maps of the shipped image model U²-Net-p (--target u2netp)" in err
    assert f"clip: {N} frames" in out
    line = next(ln for ln in out.splitlines() if "seconds per buffer:" in ln)
    assert "target " in line and "fine-tuning " in line and "prediction " in line  # the target's time beside
    state = json.loads((tmp_path / "cli" / "vsodboost.json").read_text())
    assert state["settings"]["target"]["name"] == "u2netp"
    result = Booster(preset="fast", config=CFG, device="cpu").run(str(clip_mp4))
    assert result.provenance["target"]["name"] == "u2netp"
    result.save(tmp_path / "py")
    cli = {p.name: p.read_bytes() for p in (tmp_path / "cli").glob("*.png")}
    py = {p.name: p.read_bytes() for p in (tmp_path / "py").glob("*.png")}
    assert len(cli) == N and cli == py
    assert result.timings.get("target", 0) > 0  # the live target's time is reported with the stages


def test_rounds_two_from_the_cli_and_python_give_the_same_bytes(clip_mp4, tmp_path, capsys):
    before = torch.get_num_threads()
    try:
        rc = main(["boost", str(clip_mp4), "--out", str(tmp_path / "cli"), "--preset", "fast", "--rounds", "2",
                   "--config", str(clip_mp4.parent / "cfg.json"), "--device", "cpu"])
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert rc == 0 and "(round 2 of 2; earlier rounds in" in out
    r1 = next(ln for ln in out.splitlines() if "round 1, seconds per buffer:" in ln)
    assert "target " in r1 and "round 2, seconds per buffer:" in out  # each round's own time, the target's in round 1
    assert len(list((tmp_path / "cli" / "rounds" / "1").glob("*.png"))) == N
    result = Booster(preset="fast", config=CFG, device="cpu").run(str(clip_mp4), rounds=2)
    assert result.provenance["rounds"]["first_target"] == "u2netp"
    result.save(tmp_path / "py")
    cli = {p.name: p.read_bytes() for p in (tmp_path / "cli").glob("*.png")}
    assert len(cli) == N and cli == {p.name: p.read_bytes() for p in (tmp_path / "py").glob("*.png")}


def test_target_cache_keeps_the_live_targets_maps_for_a_rerun_with_other_settings(clip_mp4, tmp_path, capsys):
    cache = tmp_path / "cache"
    args = ["boost", str(clip_mp4), "--preset", "fast", "--config", str(clip_mp4.parent / "cfg.json"),
            "--device", "cpu", "--target-cache", str(cache)]
    before = torch.get_num_threads()
    try:
        assert main(args + ["--out", str(tmp_path / "a")]) == 0
        written = {p.name: p.stat().st_mtime_ns for p in (cache / "clip").glob("*.png")}
        assert len(written) == N
        assert main(args + ["--out", str(tmp_path / "b"), "--seed", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    assert {p.name: p.stat().st_mtime_ns for p in (cache / "clip").glob("*.png")} == written  # read, not redone
    state = json.loads((tmp_path / "b" / "vsodboost.json").read_text())
    assert state["settings"]["target"]["cache"] == "png16" and state["settings"]["target"]["name"] == "u2netp"
    capsys.readouterr()
