"""Issue 12: every bad input is refused early with a typed error that says what was wrong and how to fix it; every
documented fallback warns; output folders survive kills and reruns (docs/reliability.md).

CPU-only and offline; the stand-in MQPM and the tiny spatial model come from test_booster.
"""

from __future__ import annotations

import errno
import json
import math
import os
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import vsodboost.io as vio
from test_booster import FlowMagnitudeMQPM, _config, _tiny_spatial
from vsodboost import adapters
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.runner import run_to_dir
from vsodboost.cli import main
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError, MissingMapsError, OutputError, ResumeError, TargetError
from vsodboost.models import saliency_unet
from vsodboost.config import FinetuneConfig
from vsodboost.video import load_video, read_image

N, H, W = 12, 48, 64


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=1)
    return np.stack(frames), target


@pytest.fixture(scope="module")
def disk(tmp_path_factory, clip):
    """``frames/seq/<stem>.png`` and two identical maps roots ``maps_a/seq``, ``maps_b/seq``."""
    frames, target = clip
    root = tmp_path_factory.mktemp("disk")
    for sub in ("frames/seq", "maps_a/seq", "maps_b/seq"):
        (root / sub).mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(root / "frames/seq" / f"{i:05d}.png"), f[:, :, ::-1])
        for m in ("maps_a", "maps_b"):
            cv2.imwrite(str(root / m / "seq" / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    (root / "cfg.json").write_text(json.dumps(
        {"buffer_size": 6, "flow_max_side": 0,
         "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64, "predict_batch": 16}}))
    return root


def _booster(target, **kw):
    return Booster(target, flow=kw.pop("flow", "dis"), mqpm=FlowMagnitudeMQPM(), spatial=kw.pop("spatial", _tiny_spatial()),
                   config=kw.pop("config", _config(buffer_size=6)), device="cpu", **kw)


# ---------------------------------------------------------------------------------------------------------------
# configuration fields: type (bool is not an int), range, NaN/inf — refused at construction
BOOST_CONFIG_CASES = [
    ("buffer_size=0", {"buffer_size": 0}, r"buffer_size must be ≥ 1, got 0"),
    ("buffer_size<0", {"buffer_size": -3}, r"buffer_size must be ≥ 1"),
    ("buffer_size-str", {"buffer_size": "3"}, r"buffer_size must be an integer, got '3' \(str\)"),
    ("buffer_size-float", {"buffer_size": 2.0}, r"buffer_size must be an integer, got 2.0"),
    ("buffer_size-bool", {"buffer_size": True}, r"buffer_size must be an integer, got True \(bool\)"),
    ("period=0", {"period": 0}, r"period \(1/T\) must be ≥ 1"),
    ("period=2.5", {"period": 2.5}, r"period \(1/T\) must be an integer, got 2.5.*period=5"),
    ("period-None", {"period": None}, r"period \(1/T\) must be an integer, got None"),
    ("hq_threshold-nan", {"hq_threshold": math.nan}, r"hq_threshold must be a finite number, got nan"),
    ("hq_threshold-inf", {"hq_threshold": math.inf}, r"hq_threshold must be a finite number, got inf"),
    ("hq_threshold>1", {"hq_threshold": 1.5}, r"hq_threshold must be in \[0.0, 1.0\], got 1.5"),
    ("hq_threshold-str", {"hq_threshold": "0.5"}, r"hq_threshold must be a number, got '0.5'"),
    ("hq_threshold-bool", {"hq_threshold": True}, r"hq_threshold must be a number, got True"),
    ("flow_last-unknown", {"flow_last": "forward"}, r"flow_last must be one of 'backward', 'repeat'"),
    ("flow_max_side<0", {"flow_max_side": -5}, r"flow_max_side must be ≥ 0, got -5"),
    ("flow_max_side-tiny", {"flow_max_side": 8}, r"flow_max_side must be 0 \(full resolution\) or ≥ 16"),
    ("flow_max_side-float", {"flow_max_side": 480.0}, r"flow_max_side must be an integer"),
    ("consistency_size=0", {"consistency_size": 0}, r"consistency_size must be ≥ 16, got 0"),
    ("consistency_size-float", {"consistency_size": 1.5}, r"consistency_size must be an integer"),
    ("fusion-unknown", {"fusion": "max"}, r"fusion must be one of 'replace', 'mean', 'geometric', got 'max'"),
    ("fusion-None", {"fusion": None}, r"fusion must be one of"),
    ("finetune-str", {"finetune": "fast"}, r"finetune must be a FinetuneConfig or a dict of its fields, got str"),
    ("finetune-unknown-key", {"finetune": {"lrr": 1e-4}}, r"unknown finetune keys \['lrr'\]; known: .*'lr'"),
]


@pytest.mark.parametrize("kwargs,match", [c[1:] for c in BOOST_CONFIG_CASES], ids=[c[0] for c in BOOST_CONFIG_CASES])
def test_boost_config_refuses(kwargs, match):
    with pytest.raises(InputError, match=match):
        BoostConfig(**kwargs)


FINETUNE_CASES = [
    ("iterations<0", {"iterations": -1}, r"finetune.iterations must be ≥ 0, got -1"),
    ("iterations-float", {"iterations": 1.5}, r"finetune.iterations must be an integer"),
    ("batch_size=0", {"batch_size": 0}, r"finetune.batch_size must be ≥ 1"),
    ("lr=0", {"lr": 0}, r"finetune.lr must be in \(0.0, inf\], got 0.0 \(1e-4 is the default\)"),
    ("lr<0", {"lr": -1e-4}, r"finetune.lr must be in \(0.0, inf\]"),
    ("lr-nan", {"lr": math.nan}, r"finetune.lr must be a finite number, got nan"),
    ("lr-inf", {"lr": math.inf}, r"finetune.lr must be a finite number, got inf"),
    ("lr-str", {"lr": "1e-4"}, r"finetune.lr must be a number, got '1e-4' \(str\)"),
    ("weight_decay<0", {"weight_decay": -1.0}, r"finetune.weight_decay must be in \[0.0, inf\]"),
    ("input_size-not-32x", {"input_size": 100}, r"finetune.input_size must be a multiple of 32 and ≥ 64, got 100"),
    ("input_size-too-small", {"input_size": 32}, r"finetune.input_size must be ≥ 64, got 32"),
    ("input_size-bool", {"input_size": True}, r"finetune.input_size must be an integer, got True"),
    ("hflip-int", {"hflip": 1}, r"finetune.hflip must be true or false, got 1 \(int\)"),
    ("hflip-str", {"hflip": "yes"}, r"finetune.hflip must be true or false, got 'yes'"),
    ("scale_jitter=1", {"scale_jitter": 1.0}, r"finetune.scale_jitter must be in \[0.0, 1.0\), got 1.0"),
    ("scale_jitter<0", {"scale_jitter": -0.1}, r"finetune.scale_jitter must be in \[0.0, 1.0\)"),
    ("loss-unknown", {"loss": "mse"}, r"finetune.loss must be one of 'bce', 'bce\+iou', got 'mse'"),
    ("pseudo_gt-unknown", {"pseudo_gt": "hard"}, r"finetune.pseudo_gt must be one of 'soft', 'otsu'"),
    ("train_layers-unknown", {"train_layers": "encoder"}, r"finetune.train_layers must be one of 'all', 'decoder'"),
    ("deep_supervision-None", {"deep_supervision": None}, r"finetune.deep_supervision must be true or false"),
    ("grad_clip-nan", {"grad_clip": math.nan}, r"finetune.grad_clip must be a finite number"),
    ("grad_clip<0", {"grad_clip": -1.0}, r"finetune.grad_clip must be in \[0.0, inf\].*0 disables"),
    ("predict_batch=0", {"predict_batch": 0}, r"finetune.predict_batch must be ≥ 1"),
]


@pytest.mark.parametrize("kwargs,match", [c[1:] for c in FINETUNE_CASES], ids=[c[0] for c in FINETUNE_CASES])
def test_finetune_config_refuses_directly_and_inside_boost_config(kwargs, match):
    with pytest.raises(InputError, match=match):
        FinetuneConfig(**kwargs)
    with pytest.raises(InputError, match=match):
        BoostConfig.from_dict({"finetune": kwargs})


FROM_DICT_CASES = [
    ("list", [1, 2], r"a config must be a mapping \(dict / JSON object\) of BoostConfig fields, got list"),
    ("str", "period=5", r"must be a mapping .* got str; e.g. \{\"period\": 5"),
    ("None", None, r"must be a mapping .* got NoneType"),
    ("unknown-key", {"perod": 5}, r"unknown config keys \['perod'\]; known: .*'period'"),
]


@pytest.mark.parametrize("d,match", [c[1:] for c in FROM_DICT_CASES], ids=[c[0] for c in FROM_DICT_CASES])
def test_from_dict_refuses(d, match):
    with pytest.raises(InputError, match=match):
        BoostConfig.from_dict(d)


SEED_CASES = [
    ("2**70", 2**70, r"seed must be in \[0, 9223372036854775807\], got 1180591620717411303424"),
    ("negative", -1, r"seed must be in \[0, 9223372036854775807\], got -1"),
    ("float", 1.5, r"seed must be an integer, got 1.5 \(float\)"),
    ("bool", True, r"seed must be an integer, got True \(bool\)"),
]


@pytest.mark.parametrize("seed,match", [c[1:] for c in SEED_CASES], ids=[c[0] for c in SEED_CASES])
def test_seed_out_of_range_is_refused(seed, match):
    with pytest.raises(InputError, match=match):
        _booster(ArrayTarget({}), seed=seed)


def test_target_by_name_without_its_root_is_refused():
    with pytest.raises(InputError, match=r"target 'precomputed' cannot be built from its name alone .*root"):
        Booster("precomputed", mqpm=FlowMagnitudeMQPM(), spatial=_tiny_spatial(), device="cpu")


def test_config_cannot_change_after_construction_and_a_replaced_field_is_checked_again():
    import dataclasses

    cfg = BoostConfig()
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.buffer_size = 0  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.finetune.lr = 1.0  # type: ignore[misc]
    with pytest.raises(InputError, match="buffer_size must be ≥ 1, got 0"):
        dataclasses.replace(cfg, buffer_size=0)
    assert dataclasses.replace(cfg, period=3).period == 3 and cfg.period == 5


# ---------------------------------------------------------------------------------------------------------------
# frames: truncated files, too small for the flow backend
def _truncate(path: Path, keep: float = 0.6) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.mark.parametrize("ext,match", [(".jpg", r"JPEG without its end-of-image marker \(FF D9\)"),
                                       (".png", r"PNG without its IEND chunk")], ids=["jpeg", "png"])
def test_truncated_frame_is_refused_naming_the_file(clip_factory, ext, match):
    folder, _ = clip_factory(n=4, h=96, w=128, ext=ext)
    _truncate(folder / f"00002{ext}")
    assert cv2.imread(str(folder / f"00002{ext}")) is not None or ext == ".png"  # what OpenCV alone would accept
    video = load_video(folder)
    assert video[1].shape == (96, 128, 3)  # whole frames still read
    with pytest.raises(InputError, match=match) as err:
        video[2]
    assert f"00002{ext}" in str(err.value) and "re-extract" in str(err.value)


def test_truncated_target_map_is_refused_naming_the_file(clip, tmp_path):
    frames, target = clip
    (tmp_path / "maps" / "demo").mkdir(parents=True)
    for i in range(6):
        cv2.imwrite(str(tmp_path / "maps" / "demo" / f"{i:05d}.jpg"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    _truncate(tmp_path / "maps" / "demo" / "00004.jpg")
    with pytest.raises(InputError, match=r"saliency map \S*00004.jpg: a JPEG without its end-of-image marker"):
        _booster(adapters.precomputed(tmp_path / "maps")).run(frames[:6], name="demo")


def test_jpeg_with_trailing_zero_padding_is_accepted(clip_factory):
    folder, _ = clip_factory(n=2, ext=".jpg")
    f = folder / "00000.jpg"
    f.write_bytes(f.read_bytes() + b"\x00" * 16)
    assert read_image(f).shape == (48, 64, 3)


@pytest.mark.parametrize("h,w", [(8, 8), (15, 64), (64, 11)], ids=["8x8", "15x64-strip", "64x11"])
def test_frames_too_small_for_the_flow_backend_are_refused_before_compute(clip, h, w):
    _, target = clip
    b = _booster(ArrayTarget({}), config=_config(buffer_size=6))
    frames = np.zeros((4, h, w, 3), np.uint8)
    with pytest.raises(InputError, match=rf"are {w}×{h} \(W×H\); flow backend 'dis' needs at least 16×16 px"):
        b.run(frames, name="tiny")


# ---------------------------------------------------------------------------------------------------------------
# targets that raise
class Raising:
    name = "flaky"

    def __init__(self, exc: Exception) -> None:
        self.exc = exc

    def predict(self, video):
        raise self.exc


def test_target_exception_is_wrapped_with_the_buffer_and_frames(clip):
    frames, _ = clip
    boom = RuntimeError("CUDA out of memory")
    with pytest.raises(TargetError, match=r"target 'flaky' \(Raising\) raised RuntimeError: CUDA out of memory") as err:
        _booster(Raising(boom)).run(frames, name="demo")
    assert "buffer 0:6 of 'demo' (frames '00000'…'00005')" in str(err.value)
    assert err.value.__cause__ is boom


def test_typed_target_error_keeps_its_type_and_gains_the_buffer(clip):
    frames, _ = clip
    with pytest.raises(MissingMapsError, match="no maps here") as err:
        _booster(Raising(MissingMapsError("no maps here"))).run(frames, name="demo")
    assert any("buffer 0:6" in n for n in err.value.__notes__)


# ---------------------------------------------------------------------------------------------------------------
# output folders: refused before compute, atomic writes, disk full
def _no_compute(monkeypatch, booster):
    def fail(*a, **k):
        raise AssertionError("computed a buffer before checking the output folder")
    monkeypatch.setattr(booster, "run_buffer", fail)


def test_out_is_a_file(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    (tmp_path / "out").write_text("x")
    with pytest.raises(OutputError, match=r"output folder .*out is a file; choose a folder path for --out"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")


def test_out_under_a_file(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputError, match=r"out lies under .*f, which is a file"):
        run_to_dir(b, frames, tmp_path / "f" / "out", name="demo")


def test_out_not_writable_simulated(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    real = os.open

    def deny(path, *a, **k):
        if ".probe." in str(path):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real(path, *a, **k)

    monkeypatch.setattr(vio.os, "open", deny)
    with pytest.raises(OutputError, match=r"output folder .*out is not writable \(Permission denied\)"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root ignores folder permissions")
def test_out_read_only_folder(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    _no_compute(monkeypatch, b)
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        with pytest.raises(OutputError, match="not writable"):
            run_to_dir(b, frames, ro, name="demo")
    finally:
        ro.chmod(0o755)


def _enospc(monkeypatch):
    def full(fd, data):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(vio.os, "write", full)


def test_disk_full_on_json_keeps_the_old_file_and_leaves_no_partial(tmp_path, monkeypatch):
    state = tmp_path / "vsodboost.json"
    vio.write_json_atomic(state, {"old": True})
    _enospc(monkeypatch)
    with pytest.raises(OutputError, match=r"cannot write .*vsodboost.json: No space left on device"):
        vio.write_json_atomic(state, {"new": list(range(1000))})
    assert json.loads(state.read_text()) == {"old": True}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vsodboost.json"]


def test_disk_full_during_a_run_is_a_typed_error(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    _enospc(monkeypatch)
    with pytest.raises(OutputError, match="No space left on device"):
        run_to_dir(b, frames, tmp_path / "out", name="demo")
    assert not list((tmp_path / "out").glob("*" + vio.TMP_SUFFIX))


def test_nan_map_is_never_written_as_black(tmp_path):
    with pytest.raises(InputError, match="NaN or infinite"):
        vio.write_map_atomic(tmp_path / "a.png", np.full((4, 4), np.nan, np.float32))
    assert not list(tmp_path.iterdir())


# ---------------------------------------------------------------------------------------------------------------
# resume: a rerun with anything different is refused, naming the setting
@pytest.fixture(scope="module")
def done_dir(tmp_path_factory, disk):
    out = tmp_path_factory.mktemp("resume") / "out"
    b = _booster(adapters.precomputed(disk / "maps_a"))
    run_to_dir(b, disk / "frames" / "seq", out)
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
    ("config", lambda d: _booster(adapters.precomputed(d / "maps_a"), config=_config(buffer_size=6, period=2)),
     r"config.period: 5 → 2"),
    ("flow", lambda d: _booster(adapters.precomputed(d / "maps_a"), flow="farneback"),
     r"flow backend: DISFlow\(.*\) → FarnebackFlow"),
    ("target-options", lambda d: _booster(adapters.precomputed(d / "maps_a", normalize=False)),
     r"target.normalize: true → false"),
]


@pytest.mark.parametrize("make,match", [c[1:] for c in RESUME_CASES], ids=[c[0] for c in RESUME_CASES])
def test_rerun_with_other_settings_is_refused_naming_them(disk, done_dir, make, match):
    before = {p.name: p.read_bytes() for p in done_dir.iterdir()}
    with pytest.raises(ResumeError, match=match) as err:
        run_to_dir(make(disk), disk / "frames" / "seq", done_dir)
    assert "pass --overwrite" in str(err.value)
    assert {p.name: p.read_bytes() for p in done_dir.iterdir()} == before  # nothing touched


def test_rerun_with_fewer_frames_is_refused(clip, tmp_path):
    frames, target = clip
    run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path / "o", name="demo")
    with pytest.raises(ResumeError, match=r"frames: 12 items .* → 10 items"):
        run_to_dir(_booster(ArrayTarget(target)), frames[:10], tmp_path / "o", name="demo")


@pytest.mark.parametrize("content,match", [("{trunc", "is unreadable"), ("[1, 2]", "is not a vsodboost run state")],
                         ids=["state-truncated", "state-not-object"])
def test_broken_state_file_is_refused(clip, tmp_path, content, match):
    frames, target = clip
    (tmp_path / "vsodboost.json").write_text(content)
    with pytest.raises(InputError, match=match + r".*remove it or choose another --out"):
        run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")


def test_state_from_an_older_key_format_is_refused_naming_the_format(clip, tmp_path):
    frames, target = clip
    (tmp_path / "vsodboost.json").write_text(json.dumps({"settings": {"sequence": "demo", "target": "arrays"},
                                                         "buffers_done": {}}))
    with pytest.raises(ResumeError, match=r"resume-key format: \(absent\) → 2"):
        run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")


def test_folder_from_before_work_max_side_resumes_only_where_nothing_would_be_resized(clip, tmp_path):
    """A config field added later (work_max_side) does not invalidate a folder whose maps it would not change: the
    frames fit, so the old key is read as the new one; a working size that would resize them is still refused."""
    frames, target = clip
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


def test_a_folder_mined_by_another_frame_selector_is_refused_and_an_old_folder_resumes_with_the_default(clip,
                                                                                                       tmp_path):
    """The frame selector changes which frames teach, so the maps: it is part of the resume key. A folder written
    before it was recorded resumes with the default (the only selector `vsodboost boost` had) and no other."""
    from vsodboost.bench._runs import random_frames

    frames, target = clip
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


def test_a_folder_from_before_finetune_autocast_resumes_in_float32_only(clip, tmp_path):
    """finetune.autocast came later: a key without it is the float32 ("off") run; a bf16 run is refused."""
    frames, target = clip
    first = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    state = json.loads((tmp_path / "vsodboost.json").read_text())
    del state["settings"]["config"]["finetune"]["autocast"]  # as written before the field existed
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    again = run_to_dir(_booster(ArrayTarget(target)), frames, tmp_path, name="demo")
    assert again["buffers_run"] == 0 and again["buffers_done"] == first["buffers_done"]
    (tmp_path / "vsodboost.json").write_text(json.dumps(state))
    # input_size 96: bf16 on the CPU refuses 64 (spatial.finetune.CPU_BF16_MIN_INPUT), so the key differs there too
    bf16 = _booster(ArrayTarget(target), config=_config(buffer_size=6, finetune={"autocast": "bf16", "input_size": 96}))
    with pytest.raises(ResumeError, match=r"config.finetune.autocast: \(absent\) → bf16"):
        run_to_dir(bf16, frames, tmp_path, name="demo")


def test_the_runners_steps_in_any_buffer_order_give_run_to_dirs_bytes_and_state(clip, tmp_path):
    """The Ray engine runs a sequence's buffers in whatever order its workers free up: open_run, then
    run_buffer_to_dir + record per buffer, then finish. Last buffer first must give run_to_dir's maps and records,
    and a run stopped after that buffer resumes with the others only."""
    from vsodboost.runner import open_run, run_buffer_to_dir

    frames, target = clip
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


# ---------------------------------------------------------------------------------------------------------------
# the command line: options refused up front, one clean line, exit status
def _cli(argv, capsys):
    try:
        rc = main([str(a) for a in argv])
    except SystemExit as e:  # argparse
        rc = e.code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return rc, err


def _boost_argv(disk, tmp, *extra):
    return ["boost", disk / "frames" / "seq", "--target", f"precomputed:{disk / 'maps_a'}", "--out", tmp / "o",
            "--quiet", *extra]


CLI_CASES = [
    ("buffer-size-0", lambda d, t: _boost_argv(d, t, "--buffer-size", "0"), 2,
     r"argument --buffer-size: expected an integer ≥ 1, got 0"),
    ("buffer-size-word", lambda d, t: _boost_argv(d, t, "--buffer-size", "ten"), 2,
     r"argument --buffer-size: expected an integer ≥ 1, got 'ten'"),
    ("seed-2**70", lambda d, t: _boost_argv(d, t, "--seed", str(2**70)), 2,
     r"argument --seed: expected an integer in \[0, 2\*\*63-1\]"),
    ("config-missing", lambda d, t: _boost_argv(d, t, "--config", t / "nope.json"), 2,
     r"--config \S*nope.json: no such file; give a JSON file of BoostConfig fields"),
    ("config-invalid-json", lambda d, t: _boost_argv(d, t, "--config", _file(t, "bad.json", "{oops")), 2,
     r"--config \S*bad.json: invalid JSON \(.* line 1 column 2\)"),
    ("config-list", lambda d, t: _boost_argv(d, t, "--config", _file(t, "l.json", "[1]")), 2,
     r"expected a JSON object of BoostConfig fields, got a JSON list"),
    ("config-unknown-key", lambda d, t: _boost_argv(d, t, "--config", _file(t, "u.json", '{"perod": 5}')), 2,
     r"unknown config keys \['perod'\]"),
    ("config-finetune-unknown-key",
     lambda d, t: _boost_argv(d, t, "--config", _file(t, "f.json", '{"finetune": {"lrr": 1}}')), 2,
     r"unknown finetune keys \['lrr'\]"),
    ("config-bad-value", lambda d, t: _boost_argv(d, t, "--config", _file(t, "v.json", '{"hq_threshold": "x"}')),
     2, r"hq_threshold must be a number"),
    ("target-precomputed-without-root",
     lambda d, t: ["boost", d / "frames" / "seq", "--target", "precomputed", "--out", t / "o"], 2,
     r"--target 'precomputed': precomputed needs a maps folder: --target precomputed:/path/to/maps"),
    ("target-empty-root", lambda d, t: ["boost", d / "frames" / "seq", "--target", "precomputed:", "--out", t / "o"],
     2, r"give the maps folder after the colon"),  # a usage error, as without the colon (issue 22)
    ("out-is-a-file",
     lambda d, t: ["boost", d / "frames" / "seq", "--target", f"precomputed:{d / 'maps_a'}", "--out",
                   _file(t, "o", "x")], 1, r"output folder \S+ is a file"),
    ("eval-json-is-a-folder",
     lambda d, t: ["eval", "--pred", t / "nopred", "--gt", t / "nogt", "--json", t], 2,
     r"--json \S+ is a folder; give a file path, e.g. \S+scores.json"),
]


def _file(folder: Path, name: str, text: str) -> Path:
    (folder / name).write_text(text)
    return folder / name


@pytest.mark.parametrize("make,code,match", [c[1:] for c in CLI_CASES], ids=[c[0] for c in CLI_CASES])
def test_cli_refuses_with_one_clean_line(disk, tmp_path, capsys, make, code, match):
    rc, err = _cli(make(disk, tmp_path), capsys)
    assert rc == code
    lines = [ln for ln in err.splitlines() if "error:" in ln]
    assert len(lines) == 1 and lines[0].startswith("vsodboost ")
    assert __import__("re").search(match, lines[0]), lines[0]
    assert not (tmp_path / "o").is_dir() or not any((tmp_path / "o").glob("*.png"))


# ---------------------------------------------------------------------------------------------------------------
# documented fallbacks, each with its warning
@pytest.mark.parametrize("value", [0.0, 1.0], ids=["all-zero-target", "all-one-target"])
def test_flat_target_maps_keep_the_target_with_a_warning(clip, value):
    frames, _ = clip
    flat = {f"{i:05d}": np.full((H, W), value, np.float32) for i in range(N)}
    res = _booster(ArrayTarget(flat)).run(frames, name="demo")
    assert res.mined == []
    assert all(np.array_equal(m, flat[n]) for m, n in zip(res.boosted, res.names))
    assert any("flat (constant ≈ " + f"{value:.3f}" in w and "6 frame(s)" in w for w in res.warnings)
    assert any("kept the target's maps" in w for w in res.warnings) and all(b.fallback for b in res.buffers)


def test_partly_flat_target_is_never_mined_from_its_flat_frames(clip):
    frames, target = clip
    maps = dict(target)
    for i in range(0, N, 2):
        maps[f"{i:05d}"] = np.zeros((H, W), np.float32)
    res = _booster(ArrayTarget(maps), config=_config(buffer_size=6, period=1)).run(frames, name="demo")
    assert res.mined and all(i % 2 == 1 for i in res.mined)
    assert any("flat" in w and "3 frame(s)" in w and "not used for fine-tuning" in w for w in res.warnings)


def test_collapsed_finetune_keeps_the_target_with_a_warning(clip, tmp_path):
    frames, target = clip
    b = _booster(ArrayTarget(target), config=_config(buffer_size=6, finetune={"lr": 1e6, "iterations": 3}))
    summary = run_to_dir(b, frames, tmp_path, name="demo")
    assert sum("fine-tuning collapsed" in w and "lower finetune.lr (now 1e+06)" in w
               for w in summary["warnings"]) == 2
    for i in range(N):
        saved = cv2.imread(str(tmp_path / f"{i:05d}.png"), cv2.IMREAD_GRAYSCALE)
        assert np.array_equal(saved, np.clip(target[f"{i:05d}"] * 255 + 0.5, 0, 255).astype(np.uint8))


# ---------------------------------------------------------------------------------------------------------------
# output guarantees
@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o077, 0o600)], ids=["umask022", "umask077"])
def test_outputs_follow_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        vio.write_map_atomic(tmp_path / "m.png", np.zeros((4, 4)))
        vio.write_json_atomic(tmp_path / "s.json", {})
    finally:
        os.umask(old)
    assert (tmp_path / "m.png").stat().st_mode & 0o777 == mode
    assert (tmp_path / "s.json").stat().st_mode & 0o777 == mode


def test_state_exists_before_the_first_map_and_a_killed_first_buffer_resumes(clip, tmp_path, monkeypatch):
    frames, target = clip
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


def test_resume_cleans_partials_redoes_undecodable_maps_and_keeps_warnings(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target), config=_config(buffer_size=11))  # the 1-frame last buffer warns
    first = run_to_dir(b, frames, tmp_path, name="demo")
    assert first["warnings"] and first["complete"]
    _truncate(tmp_path / "00011.png")  # in buffer 11:12
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


def test_a_frame_named_like_a_legacy_temporary_is_kept(tmp_path):
    (tmp_path / "a.1234abcd.png").write_bytes(b"map")  # the map of frame "a.1234abcd", not mkstemp's leftover
    (tmp_path / "a.5678efgh.png").write_bytes(b"")  # mkstemp's leftover for frame "a"
    removed = vio.clean_partials(tmp_path, ["a", "a.1234abcd"])
    assert [p.name for p in removed] == ["a.5678efgh.png"] and (tmp_path / "a.1234abcd.png").exists()


def test_target_identity_must_be_a_dict(clip, tmp_path):
    frames, target = clip

    class BadIdentity(ArrayTarget):
        def identity(self):
            return "v1"

    with pytest.raises(TargetError, match=r"identity\(\) returned str; expected a dict"):
        run_to_dir(_booster(BadIdentity(target)), frames, tmp_path, name="demo")


def test_folder_with_only_our_partials_is_not_foreign(clip, tmp_path):
    frames, target = clip
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


def _boost_proc(disk, out, kill=None):
    from vsodboost import plugins

    # the shipped Lite0 U-Net: fast on CPU ("lite0" where presets made "default" another model)
    spatial = "lite0" if "lite0" in plugins.spatial_models().names() else "default"
    argv = ["boost", str(disk / "frames" / "seq"), "--target", f"precomputed:{disk / 'maps_a'}", "--out", str(out),
            "--config", str(disk / "cfg.json"), "--spatial", spatial, "--quiet"]
    cmd = [sys.executable, "-c", _KILLER, *(kill or ("none", "0")), *argv]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)


def _maps(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def test_sigkill_at_any_point_then_rerun_gives_the_clean_run_bytes(disk, tmp_path):
    clean, out = tmp_path / "clean", tmp_path / "out"
    r = _boost_proc(disk, clean)
    assert r.returncode == 0, r.stderr
    assert len(_maps(clean)) == N

    # 1. killed while the first map of the sequence is being written: a 0-byte temporary is left
    r = _boost_proc(disk, out, ("write", "2"))
    assert r.returncode == -signal.SIGKILL
    assert not _maps(out) and len(list(out.glob("*" + vio.TMP_SUFFIX))) == 1
    assert json.loads((out / "vsodboost.json").read_text())["buffers_done"] == {}

    # 2. the rerun is killed between buffers: buffer 0:6 complete and recorded, nothing of 6:12
    r = _boost_proc(disk, out, ("buffer", "2"))
    assert r.returncode == -signal.SIGKILL
    state = json.loads((out / "vsodboost.json").read_text())
    assert set(state["buffers_done"]) == {"0:6"} and len(_maps(out)) == 6
    assert not list(out.glob("*" + vio.TMP_SUFFIX))
    stamps = {p.name: p.stat().st_mtime_ns for p in out.glob("*.png")}

    # 3. killed inside the second buffer's writes, a whole temporary map not yet renamed
    r = _boost_proc(disk, out, ("rename", "3"))
    assert r.returncode == -signal.SIGKILL
    assert len(_maps(out)) == 8 and len(list(out.glob("*" + vio.TMP_SUFFIX))) == 1

    # 4. a plain rerun finishes: byte-identical maps, no temporaries, buffer 0:6 was not recomputed
    r = _boost_proc(disk, out)
    assert r.returncode == 0, r.stderr
    assert _maps(out) == _maps(clean)
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in clean.iterdir())
    assert all((out / n).stat().st_mtime_ns == t for n, t in stamps.items())
    done, ref = (json.loads((d / "vsodboost.json").read_text()) for d in (out, clean))
    assert done["complete"] and done["settings"] == ref["settings"]
    assert {k: v["mined"] for k, v in done["buffers_done"].items()} == \
        {k: v["mined"] for k, v in ref["buffers_done"].items()}


# ---------------------------------------------------------------------------------------------------------------
# components and names of the wrong type: refused at construction / load, not as an AttributeError mid-buffer
COMPONENT_CASES = [
    ("flow-int", {"flow": 3}, r"flow 3 \(int\) is not a flow backend: it needs an `estimate\(frames\)` method"),
    ("mqpm-int", {"mqpm": 3}, r"mqpm 3 \(int\) is not an MQPM: it needs a `predict\(flow_images\)` method; pass "
                              r"'default'"),
    ("spatial-int", {"spatial": 3}, r"spatial 3 \(int\) is not a spatial model: pass a torch nn.Module or a registry"),
    ("spatial-dict", {"spatial": {}}, r"spatial \{\} \(dict\) is not a spatial model"),
]


@pytest.mark.parametrize("kw,match", [c[1:] for c in COMPONENT_CASES], ids=[c[0] for c in COMPONENT_CASES])
def test_component_of_the_wrong_type_is_refused_at_construction(kw, match):
    kw = {"flow": "dis", "mqpm": FlowMagnitudeMQPM(), "spatial": _tiny_spatial(), **kw}
    with pytest.raises(InputError, match=match):
        Booster(ArrayTarget({}), device="cpu", **kw)


def test_sequence_name_must_be_a_string(clip):
    frames, target = clip
    with pytest.raises(InputError, match=r"name must be a string \(the sequence name a maps-mode target looks up\), "
                                         r"got 5 \(int\)"):
        _booster(ArrayTarget(target)).run(frames, name=5)


@pytest.mark.parametrize("name,data,match", [
    ("zeros.mp4", b"\x00" * 1000, r"it does not start like an MP4/MOV file \(no 'ftyp' box\): it is not a video, or "
                                  r"its extension '.mp4' is wrong"),
    ("text.mov", b"hello, world", r"it does not start like an MP4/MOV file"),
    ("empty.avi", b"", r"the file is empty \(0 bytes\)"),
], ids=["zeros-mp4", "text-mov", "empty-avi"])
def test_video_file_that_is_not_a_video_says_why(tmp_path, name, data, match):
    (tmp_path / name).write_bytes(data)
    with pytest.raises(InputError, match=rf"cannot open video file \S*{name}: {match}"):
        load_video(tmp_path / name)
