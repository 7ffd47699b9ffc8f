"""vsodboost.runner: run_to_dir's resume key (a rerun with anything different is refused, naming the setting), its
state file, the steps the engines call (open_run → run_buffer_to_dir → record → finish), and a CLI run killed at
any point that a rerun completes to the clean run's bytes (docs/reliability.md)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import vsodboost.io as vio
from conftest import tiny_booster, tiny_config, truncate
from vsodboost import adapters
from vsodboost.errors import InputError, ResumeError, TargetError
from vsodboost.models import saliency_unet
from vsodboost.runner import run_to_dir
from vsodboost.testing import ArrayTarget

N, H, W = 12, 48, 64


_booster = tiny_booster


# ---------------------------------------------------------------------------------------------------------------
# resume: a rerun with anything different is refused, naming the setting
@pytest.fixture(scope="module")
def done_dir(tmp_path_factory, disk12):
    out = tmp_path_factory.mktemp("resume") / "out"
    b = _booster(adapters.precomputed(disk12 / "maps_a"))
    run_to_dir(b, disk12 / "frames" / "seq", out)
    return out


def _other_spatial():
    torch.manual_seed(1)
    return saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)


RESUME_CASES = [
    ("maps-root", lambda d: _booster(adapters.precomputed(d / "maps_b")),
     r"target maps root: \S*maps_a → \S*maps_b"),
    ("spatial-weights-without-sha", lambda d: _booster(adapters.precomputed(d / "maps_a"), spatial=_other_spatial()),
     r"spatial model weights: state_dict:\w+ → state_dict:\w+"),
    ("seed", lambda d: _booster(adapters.precomputed(d / "maps_a"), seed=1), r"seed: 0 → 1"),
    ("config", lambda d: _booster(adapters.precomputed(d / "maps_a"), config=tiny_config(buffer_size=6, period=2)),
     r"config.period: 5 → 2"),
    ("flow", lambda d: _booster(adapters.precomputed(d / "maps_a"), flow="farneback"),
     r"flow backend: DISFlow\(.*\) → FarnebackFlow"),
    ("target-options", lambda d: _booster(adapters.precomputed(d / "maps_a", normalize=False)),
     r"target.normalize: true → false"),
]


@pytest.mark.parametrize("make,match", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_rerun_with_other_settings_is_refused_naming_them(disk12, done_dir, make, match):
    before = {p.name: p.read_bytes() for p in done_dir.iterdir()}
    with pytest.raises(ResumeError, match=match) as err:
        run_to_dir(make(disk12), disk12 / "frames" / "seq", done_dir)
    assert "pass --overwrite" in str(err.value)
    assert {p.name: p.read_bytes() for p in done_dir.iterdir()} == before  # nothing touched


def test_rerun_with_fewer_frames_is_refused(clip12, tmp_path):
    frames, target = clip12
    run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path / "o", name="demo")
    with pytest.raises(ResumeError, match=r"frames: 12 items .* → 10 items"):
        run_to_dir(_booster(ArrayTarget(target)), frames[:10], tmp_path / "o", name="demo")


@pytest.mark.parametrize("content,match", [("{trunc", "is unreadable"), ("[1, 2]", "is not a vsodboost run state")],
                         ids=["state-truncated", "state-not-object"])
def test_broken_state_file_is_refused(clip12, tmp_path, content, match):
    frames, target = clip12
    (tmp_path / "vsodboost.json").write_text(content)
    with pytest.raises(InputError, match=match + r".*remove it or choose another --out"):
        run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")


def test_state_from_an_older_key_format_is_refused_naming_the_format(clip12, tmp_path):
    frames, target = clip12
    (tmp_path / "vsodboost.json").write_text(json.dumps({"settings": {"sequence": "demo", "target": "arrays"},
                                                         "buffers_done": {}}))
    with pytest.raises(ResumeError, match=r"resume-key format: \(absent\) → 2"):
        run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")


def test_folder_from_before_work_max_side_resumes_only_where_nothing_would_be_resized(clip12, tmp_path):
    """A config field added later (work_max_side) does not invalidate a folder whose maps it would not change: the
    frames fit, so the old key is read as the new one; a working size that would resize them is still refused."""
    frames, target = clip12
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    state = json.loads((tmp_path / "vsodboost.json").read_text())
    del state["settings"]["config"]["work_max_side"]  # as written before the field existed
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert again["buffers_done"] == first["buffers_done"] and again.get("buffers_run", 0) == 0
    from types import SimpleNamespace

    from vsodboost.runner import _key_diff, _upgraded

    new = {"config": {"work_max_side": 1280, "period": 5}}
    old = {"config": {"period": 5}}
    assert _upgraded(old, new, SimpleNamespace(height=480, width=854)) == new  # fits: the same maps
    big = _upgraded(old, new, SimpleNamespace(height=3000, width=4000))  # would be resized: not the same maps
    assert _key_diff(big, new) == ["config.work_max_side: (absent) → 1280"]


def test_a_folder_mined_by_another_frame_selector_is_refused_and_an_old_folder_resumes_with_the_default(clip12,
                                                                                                       tmp_path):
    """The frame selector changes which frames teach, so the maps: it is part of the resume key. A folder written
    before it was recorded resumes with the default (the only selector `vsodboost boost` had) and no other."""
    from vsodboost.bench._runs import random_frames

    frames, target = clip12
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert first["settings"]["selector"] == "vsodboost.mining.mqpm_selector"
    random = _booster(ArrayTarget(target))
    random.selector = random_frames
    with pytest.raises(ResumeError, match=r"frame selector: vsodboost.mining.mqpm_selector → "
                                          r"vsodboost.bench._runs.random_frames"):
        run_to_dir(random, frames, tmp_path, name="demo")
    state = json.loads((tmp_path / "vsodboost.json").read_text())
    del state["settings"]["selector"]  # as written before the selector was recorded
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert again["buffers_run"] == 0 and again["buffers_done"] == first["buffers_done"]
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    with pytest.raises(ResumeError, match=r"frame selector: \(absent\) → vsodboost.bench._runs.random_frames"):
        run_to_dir(random, frames, tmp_path, name="demo")


def test_a_folder_from_before_finetune_autocast_resumes_in_float32_only(clip12, tmp_path):
    """finetune.autocast came later: a key without it is the float32 ("off") run; a bf16 run is refused."""
    frames, target = clip12
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    state = json.loads((tmp_path / "vsodboost.json").read_text())
    del state["settings"]["config"]["finetune"]["autocast"]  # as written before the field existed
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert again["buffers_run"] == 0 and again["buffers_done"] == first["buffers_done"]
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    # input_size 96: bf16 on the CPU refuses 64 (spatial.finetune.CPU_BF16_MIN_INPUT), so the key differs there too
    bf16 = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6, finetune={"autocast": "bf16", "input_size": 96}))
    with pytest.raises(ResumeError, match=r"config.finetune.autocast: \(absent\) → bf16"):
        run_to_dir(bf16, frames, tmp_path, name="demo")


def test_the_runners_steps_in_any_buffer_order_give_run_to_dirs_bytes_and_state(clip12, tmp_path):
    """The Ray engine runs a sequence's buffers in whatever order its workers free up: open_run, then
    run_buffer_to_dir + record per buffer, then finish. Last buffer first must give run_to_dir's maps and records,
    and a run stopped after that buffer resumes with the others only."""
    from vsodboost.runner import open_run, run_buffer_to_dir

    frames, target = clip12
    ref = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path / "ref", name="demo")
    booster = _booster(ArrayTarget(target))
    video = booster.load(frames, name="demo")
    run = open_run(booster, video, tmp_path / "out")
    assert run.todo == [0, 1] and json.loads((tmp_path / "out" / "vsodboost.json").read_text())["buffers_done"] == {}
    run.record(1, run_buffer_to_dir(booster, video, run, 1))  # the last buffer first; then "killed"
    again = open_run(_booster(ArrayTarget(target)), video, tmp_path / "out")
    assert again.todo == [0] and list(again.summary["buffers_done"]) == ["6:12"]
    again.record(0, run_buffer_to_dir(booster, video, again, 0))
    done = again.finish(booster, video)
    maps = lambda d: {p.name: p.read_bytes() for p in sorted(d.glob("*.png"))}  # noqa: E731
    assert maps(tmp_path / "out") == maps(tmp_path / "ref") and len(maps(tmp_path / "ref")) == len(frames)
    strip = lambda s: {t: {k: v for k, v in b.items() if k != "timings"} for t, b in s["buffers_done"].items()}  # noqa
    assert strip(done) == strip(ref) and done["complete"] and done["warnings"] == ref["warnings"]
    assert done["settings"] == ref["settings"]


def test_state_exists_before_the_first_map_and_a_killed_first_buffer_resumes(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target))
    real = b.run_buffer

    def interrupted(*a, **k):
        assert (tmp_path / "vsodboost.json").is_file()
        raise KeyboardInterrupt

    monkeypatch.setattr(b, "run_buffer", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_to_dir(b, frames, tmp_path, name="demo")
    assert json.loads((tmp_path / "vsodboost.json").read_text())["buffers_done"] == {}
    monkeypatch.setattr(b, "run_buffer", real)
    assert set(run_to_dir(b, frames, tmp_path, name="demo")["buffers_done"]) == {"0:6", "6:12"}


def test_resume_cleans_partials_redoes_undecodable_maps_and_keeps_warnings(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=11))  # the 1-frame last buffer warns
    first = run_to_dir(b, frames, tmp_path, name="demo")
    assert first["warnings"] and first["complete"]
    truncate(tmp_path / "00011.png")  # in buffer 11:12
    (tmp_path / ".00003.png.1a2b3c4d.vsodboost-tmp").write_bytes(b"")
    (tmp_path / "00004.k2j3h4g5.png").write_bytes(b"")  # what mkstemp left before this fix
    (tmp_path / "vsodboost.ab12cd34.json").write_bytes(b'{"sett')
    calls = []
    real = b.run_buffer
    monkeypatch.setattr(b, "run_buffer", lambda *a, **k: calls.append(a[1:3]) or real(*a, **k))
    again = run_to_dir(b, frames, tmp_path, name="demo")
    assert calls == [(11, 12)]
    assert again["warnings"] == first["warnings"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"{i:05d}.png" for i in range(N)] + ["vsodboost.json"])
    assert vio.map_is_complete(tmp_path / "00011.png", (H, W))


def test_target_identity_must_be_a_dict(clip12, tmp_path):
    frames, target = clip12

    class BadIdentity(ArrayTarget):
        def identity(self):
            return "v1"

    with pytest.raises(TargetError, match=r"identity\(\) returned str; expected a dict"):
        run_to_dir(_booster(BadIdentity(target)), frames, tmp_path, name="demo")


def test_folder_with_only_our_partials_is_not_foreign(clip12, tmp_path):
    frames, target = clip12
    (tmp_path / ".00000.png.deadbeef.vsodboost-tmp").write_bytes(b"\x89PNG")
    run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert not list(tmp_path.glob("*" + vio.TMP_SUFFIX)) and len(list(tmp_path.glob("*.png"))) == N


# ---------------------------------------------------------------------------------------------------------------
# SIGKILL and resume: the CLI in a subprocess, killed at chosen points by a real SIGKILL it sends itself
_KILLER = r"""
import os, signal, sys
import vsodboost.booster as B
mode, n, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
count = [0]
def hit():
    count[0] += 1
    if count[0] == n:
        os.kill(os.getpid(), signal.SIGKILL)
if mode == "write":  # during the n-th os.write (the 1st is the state file written before any map)
    real_write = os.write
    os.write = lambda fd, data: (hit(), real_write(fd, data))[1]
elif mode == "rename":  # after the n-th map's temporary file is complete, before its rename
    real_replace = os.replace
    os.replace = lambda src, dst: (str(dst).endswith(".png") and hit(), real_replace(src, dst))[1]
elif mode == "buffer":  # when the n-th buffer starts computing
    real_run = B.Booster.run_buffer
    B.Booster.run_buffer = lambda self, *a, **k: (hit(), real_run(self, *a, **k))[1]
from vsodboost.cli import main
sys.exit(main(argv))
"""


def _boost_proc(disk12, out, kill=None):
    from vsodboost import plugins

    # the shipped Lite0 U-Net: fast on CPU ("lite0" where presets made "default" another model)
    spatial = "lite0" if "lite0" in plugins.spatial_models().names() else "default"
    argv = ["boost", str(disk12 / "frames" / "seq"), "--target", f"precomputed:{disk12 / 'maps_a'}", "--out", str(out),
            "--config", str(disk12 / "cfg.json"), "--spatial", spatial, "--quiet"]
    cmd = [sys.executable, "-c", _KILLER, *(kill or ("none", "0")), *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _maps(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_sigkill_at_any_point_then_rerun_gives_the_clean_run_bytes(disk12, tmp_path):
    clean, out = tmp_path / "clean", tmp_path / "out"
    r = _boost_proc(disk12, clean)
    assert r.returncode == 0, r.stderr
    assert len(_maps(clean)) == N

    # 1. killed while the first map of the sequence is being written: a 0-byte temporary is left
    r = _boost_proc(disk12, out, ("write", "2"))
    assert r.returncode == -signal.SIGKILL
    assert not _maps(out) and len(list(out.glob("*" + vio.TMP_SUFFIX))) == 1
    assert json.loads((out / "vsodboost.json").read_text())["buffers_done"] == {}

    # 2. the rerun is killed between buffers: buffer 0:6 complete and recorded, nothing of 6:12
    r = _boost_proc(disk12, out, ("buffer", "2"))
    assert r.returncode == -signal.SIGKILL
    state = json.loads((out / "vsodboost.json").read_text())
    assert set(state["buffers_done"]) == {"0:6"} and len(_maps(out)) == 6
    assert not list(out.glob("*" + vio.TMP_SUFFIX))
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    # 3. killed inside the second buffer's writes, a whole temporary map not yet renamed
    r = _boost_proc(disk12, out, ("rename", "3"))
    assert r.returncode == -signal.SIGKILL
    assert len(_maps(out)) == 8 and len(list(out.glob("*" + vio.TMP_SUFFIX))) == 1

    # 4. a plain rerun finishes: byte-identical maps, no temporaries, buffer 0:6 was not recomputed
    r = _boost_proc(disk12, out)
    assert r.returncode == 0, r.stderr
    assert _maps(out) == _maps(clean)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())
    assert all((out / n).stat().st_mtime_ns == t for n, t in stamps.items())
    done, ref = (json.loads((d / "vsodboost.json").read_text()) for d in (out, clean))
    assert done["complete"] and done["settings"] == ref["settings"]
    assert {k: v["mined"] for k, v in done["buffers_done"].items()} == \
        {k: v["mined"] for k, v in ref["buffers_done"].items()}


def test_run_to_dir_resumes_and_refuses_foreign_settings(clip12, tmp_path, monkeypatch):
    frames, target = clip12
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6))
    out = tmp_path / "out"
    summary = run_to_dir(b, frames, out, name="demo")
    assert len(list(out.glob("*.png"))) == 12 and set(summary["buffers_done"]) == {"0:6", "6:12"}
    stamp = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}
    # interrupted run: the second buffer's record is lost → only that buffer is recomputed
    state = json.loads((out / "vsodboost.json").read_text())
    del state["buffers_done"]["6:12"]
    (out / "vsodboost.json").write_text(json.dumps(state))
    calls = []
    real = b.run_buffer
    monkeypatch.setattr(b, "run_buffer", lambda *a, **k: calls.append(a[1:3]) or real(*a, **k))
    run_to_dir(b, frames, out, name="demo")
    assert calls == [(6, 12)]
    assert all(stamp[f"{i:05d}.png"] == (out / f"{i:05d}.png").stat().st_mtime_ns for i in range(6))
    other = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6, period=2))
    with pytest.raises(InputError, match="other settings"):
        run_to_dir(other, frames, out, name="demo")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not a vsodboost output folder"):
        run_to_dir(b, frames, foreign, name="demo")
    assert (foreign / "notes.txt").read_text() == "mine"
