"""Issue 14, the first hour of a user: threads, dataset runs that keep going, progress, explained name mismatches,
target options from the command line, help texts and readable reprs. Fast doubles from test_booster (CPU, offline)."""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vsodboost import adapters
import vsodboost.booster as booster_mod
from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost import plugins
from vsodboost.booster import Booster
from vsodboost.cli import build_parser, iter_parsers, main
from vsodboost.runner import run_to_dir
from vsodboost.commands.boost import parse_target, parse_target_args
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError, NoMatchingMapsError, TargetError, UsageError
from vsodboost.video import load_video


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(6, h=48, w=64, seed=1)
    return np.stack(frames), target


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=kw.pop("config", tiny_config()), device="cpu", **kw)


# -- threads ---------------------------------------------------------------------------------------------------
def test_threads_option_sets_torch_threads_and_none_leaves_them():
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        assert _booster(ArrayTarget({})).threads == 1  # the command line's default (issue 21)
        assert torch.get_num_threads() == 2  # building a Booster changes nothing
        b = _booster(ArrayTarget({}), threads=1)
        assert torch.get_num_threads() == 2 and b.threads == 1  # applied while a buffer runs, not process-wide
        assert _booster(ArrayTarget({}), threads=0).threads == 0  # torch's own setting
        assert _booster(ArrayTarget({}), threads=None).threads == 0  # None: the same, as before
        with pytest.raises(InputError, match="threads"):
            _booster(ArrayTarget({}), threads=-1)
    finally:
        torch.set_num_threads(before)


def test_importing_the_library_does_not_change_torch_threads():
    code = ("import torch; n = torch.get_num_threads(); import vsodboost, vsodboost.booster, vsodboost.cli, "
            "vsodboost.adapters; print(n, torch.get_num_threads())")
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    before, after = out.stdout.split()
    assert before == after == "2"


# -- progress --------------------------------------------------------------------------------------------------
def test_iteration_progress_counts_up_over_every_buffer(clip, capsys):
    frames, target = clip
    calls, buffers = [], []
    cfg = tiny_config(buffer_size=3, finetune={"iterations": 2})
    _booster(ArrayTarget(target), config=cfg).run(frames, name="demo",
                                                  iteration_progress=lambda d, t: calls.append((d, t)),
                                                  progress=lambda d, t: buffers.append((d, t)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 4 and {t for _, t in calls} == {4}
    assert len(calls) >= 4  # each iteration reported, not only buffer ends
    assert buffers == [(3, 6), (6, 6)]


def test_progress_true_shows_a_bar(clip, capsys):
    frames, target = clip
    _booster(ArrayTarget(target)).run(frames, name="demo_bar", progress=True)
    assert "demo_bar" in capsys.readouterr().err


# -- reprs -----------------------------------------------------------------------------------------------------
def test_result_and_booster_reprs_are_short_and_say_what_matters(clip):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    res = b.run(frames, name="demo")
    text = repr(res)
    assert text.startswith("BoostResult(sequence='demo', frames=6, mined=[")
    assert "array(" not in text and len(text) < 400 and "timings=" in text
    assert res.mined_names == [res.names[i] for i in res.mined] and all(n in text for n in res.mined_names)
    assert res.maps is res.boosted
    assert res.summary()["mined"] == res.mined_names
    assert repr(b) == "Booster(target='arrays', preset='quality', spatial=SaliencyUNet, device='cpu')"


# -- name matching that explains itself -------------------------------------------------------------------------
def _maps(folder: Path, stems: list[str], h: int = 48, w: int = 64) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(stems):
        m = np.zeros((h, w), np.uint8)
        m[10:30, 5 + 3 * i: 25 + 3 * i] = 255
        cv2.imwrite(str(folder / f"{s}.png"), m)
    return folder


def test_no_matching_name_says_counts_and_examples_and_suggests_order(tmp_path, clip):
    frames, _ = clip
    _maps(tmp_path / "maps" / "bird", [f"bird_frame{i:04d}" for i in range(21, 27)])
    target = adapters.precomputed(tmp_path / "maps")
    b = _booster(target)
    b.run_buffer = None  # refused before any compute
    with pytest.raises(NoMatchingMapsError) as err:
        b.run(frames, name="bird")
    msg = str(err.value)
    assert "6 frames (e.g. '00000', '00001') and 6 maps" in msg and "'bird_frame0021', 'bird_frame0022'" in msg
    assert "match='order'" in msg
    assert isinstance(err.value, TargetError)  # callers catching the old type still catch it
    assert "no map for any of the 6 frames of 'bird'" in msg
    with pytest.raises(NoMatchingMapsError):
        run_to_dir(b, frames, tmp_path / "out", name="bird")
    assert not (tmp_path / "out").exists()  # nothing written


def test_match_order_pairs_by_sorted_position_across_buffers(tmp_path, clip):
    frames, _ = clip
    # natural sort: frame9 before frame10 (a plain sort would put 10 first)
    _maps(tmp_path / "maps" / "bird", [f"bird_frame{i}" for i in range(7, 13)])
    res = _booster(adapters.precomputed(tmp_path / "maps", match="order"),
                   config=tiny_config(buffer_size=4)).run(frames, name="bird")
    assert all(t is not None for t in res.target)
    first, last = (cv2.imread(str(tmp_path / "maps" / "bird" / f"bird_frame{i}.png"), 0) > 127 for i in (7, 12))
    assert np.array_equal(res.target[0] > 0.5, first) and np.array_equal(res.target[5] > 0.5, last)


def test_match_order_refuses_a_count_mismatch_and_unknown_modes(tmp_path, clip):
    frames, _ = clip
    _maps(tmp_path / "maps" / "bird", [f"m{i}" for i in range(5)])
    with pytest.raises(InputError, match="5 maps for 6 frames"):
        adapters.precomputed(tmp_path / "maps", match="order").predict(load_video(frames, name="bird"))
    with pytest.raises(InputError, match="match must be 'stem'.*or 'order'"):
        adapters.precomputed(tmp_path / "maps", match="name")


# -- target options from the command line ----------------------------------------------------------------------
def test_target_args_parse_json_else_string():
    assert parse_target_args(["match=order", 'exts=["png"]', "normalize=false", "n=5", "s=a=b"]) == \
        {"match": "order", "exts": ["png"], "normalize": False, "n": 5, "s": "a=b"}
    for bad in (["match"], ["=x"], ["a=1", "a=2"]):
        with pytest.raises(UsageError, match="--target-arg"):
            parse_target_args(bad)


class _NoMaps:
    name = "nomaps_t"

    def __init__(self, size: int = 1) -> None:
        self.size = size

    def predict(self, video):
        return [None] * len(video)


@pytest.fixture
def nomaps_plugin():
    plugins.targets().register("nomaps_t", _NoMaps, plugin="test", description="no maps folder")
    yield
    plugins.targets().unregister("nomaps_t")


def test_target_spec_root_only_where_the_target_takes_maps(tmp_path, nomaps_plugin):
    (tmp_path / "maps").mkdir()
    t = parse_target(f"precomputed:{tmp_path / 'maps'}", {"match": "order"})
    assert t.match == "order" and t.root == tmp_path / "maps"
    assert parse_target("nomaps_t", {"size": 3}).size == 3
    with pytest.raises(UsageError, match=r"takes no maps folder.*--target-arg KEY=VALUE"):
        parse_target(f"nomaps_t:{tmp_path}")
    with pytest.raises(UsageError, match=r"cannot be built with options \['colour'\].*--target-arg"):
        parse_target("nomaps_t", {"colour": 1})
    assert "nomaps_t" in dir(adapters) and "precomputed" in dir(adapters)


def test_missing_maps_hint_is_in_command_line_form(tmp_path, capsys, clip_factory):
    seq, _ = clip_factory()
    rc = main(["boost", str(seq), "--target", f"ssav:{tmp_path / 'nothing'}", "--out", str(tmp_path / "o"), "-q"])
    err = capsys.readouterr().err
    assert rc == 1 and "--target ssav:ROOT" in err and "maps=ROOT" not in err


# -- dataset runs that keep going --------------------------------------------------------------------------------
@pytest.fixture
def dataset(tmp_path, monkeypatch):
    """frames/{a,b,c}: `a` has maps, `b` has no maps folder, `c` has maps named unlike its frames."""
    frames, _, target = synthetic_clip(6, h=48, w=64, seed=2)
    for seq in "abc":
        (tmp_path / "frames" / seq).mkdir(parents=True)
        for i, f in enumerate(frames):
            cv2.imwrite(str(tmp_path / "frames" / seq / f"{i:05d}.jpg"), f[:, :, ::-1])
    _maps(tmp_path / "maps" / "a", [f"{i:05d}" for i in range(6)])
    _maps(tmp_path / "maps" / "c", [f"c_{i}" for i in range(6)])
    real = booster_mod.Booster
    made = []

    def fast(target, **kw):  # the CLI's Booster with the fast test doubles
        made.append(kw)
        return real(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(), config=tiny_config(),
                    device="cpu", seed=kw.get("seed", 0), threads=kw.get("threads", 1))

    monkeypatch.setattr(booster_mod, "Booster", fast)
    set_threads, now = [], [2]  # torch's setting as the fakes see it: 2, a 2-core machine's default

    def set_num_threads(n):
        set_threads.append(n)
        now[0] = n

    monkeypatch.setattr(torch, "set_num_threads", set_num_threads)
    monkeypatch.setattr(torch, "get_num_threads", lambda: now[0])
    return tmp_path, set_threads


def _boost(root: Path, *extra: str) -> list[str]:
    return ["boost", str(root / "frames"), "--target", f"precomputed:{root / 'maps'}", "--out", str(root / "out"),
            *extra]


def test_dataset_run_skips_sequences_without_maps_and_exits_3(dataset, capsys):
    root, set_threads = dataset
    rc = main(_boost(root))
    out, err = capsys.readouterr()
    assert rc == 3
    skips = [ln for ln in err.splitlines() if ln.startswith("warning: skipped")]
    assert len(skips) == 2
    assert skips[0].startswith("warning: skipped sequence 2/3 b: ") and "--target precomputed:ROOT" not in skips[0]
    assert skips[1].startswith("warning: skipped sequence 3/3 c: ") and "--target-arg match=order" in skips[1]
    assert "6 frames (e.g. '00000', '00001') and 6 maps" in skips[1] and "'c_0', 'c_1'" in skips[1]
    assert "boosted 1 of 3 sequences; skipped 2 without target maps: b, c (exit status 3)" in err
    assert "sequence 1/3 a: 6 frames" in out
    assert len(list((root / "out" / "a").glob("*.png"))) == 6
    assert not (root / "out" / "b").exists() and not (root / "out" / "c").exists()
    assert set_threads == [1]  # the documented default of the command line; the Booster agrees: not set again
    assert re.search(r"sequence 1/3 a: .*6/6 .*frame", err)  # the bar's prefix, in frames (issue 21)


def test_dataset_run_of_chosen_sequences_exits_0(dataset, capsys):
    root, set_threads = dataset
    assert main(_boost(root, "--sequences", "a", "--threads", "0", "-q")) == 0
    out, err = capsys.readouterr()
    assert "sequence 1/1 a: 6 frames" in out and "boosted 1 of 1 sequences" in out
    assert "frame/s" not in err and "frame]" not in err and "fine-tuning" not in err  # -q: no bar
    assert set_threads == []  # --threads 0 keeps torch's default, in the Booster too (it gets threads=0)
    assert main(_boost(root, "--sequences", "a,zz", "-q")) == 2
    assert "--sequences: no sequence zz in the input; it holds: a, b, c" in capsys.readouterr().err


def test_a_single_sequence_without_maps_is_still_an_error(dataset, capsys):
    root, _ = dataset
    rc = main(["boost", str(root / "frames" / "c"), "--target", f"precomputed:{root / 'maps'}",
               "--out", str(root / "out_c"), "-q"])
    assert rc == 1 and "pair them by order with --target-arg match=order" in capsys.readouterr().err


# -- help ------------------------------------------------------------------------------------------------------
def test_every_command_and_option_has_help():
    parsers = iter_parsers(build_parser())
    assert {p.prog for p in parsers} >= {"vsodboost boost", "vsodboost demo", "vsodboost plugins"}
    missing = [f"{p.prog} {a.option_strings or a.dest}" for p in parsers for a in p._actions
               if not a.help or a.help == argparse.SUPPRESS]
    assert not missing, missing
    assert not [p.prog for p in parsers if not p.description]
    boost = " ".join(next(p for p in parsers if p.prog == "vsodboost boost").format_help().split())
    assert "default: dis" in boost and "exit status: 0 all done; 3 some sequences skipped" in boost
    assert "--seed SEED same seed → same maps on CPU (0 … 2**63-1) (default: 0)" in boost
    demo = next(p for p in parsers if p.prog == "vsodboost demo").format_help()
    assert "--threads" in demo and "(default: 40)" in demo
