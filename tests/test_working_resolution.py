"""Issue 12: frames longer than ``work_max_side`` go through the pipeline at a working size; maps come back at the
frame's size (vsodboost/workres.py, docs/reliability.md). Frames that fit are untouched, byte for byte.

CPU-only and offline; the stand-in MQPM and the tiny spatial model come from test_booster.
"""

from __future__ import annotations

import tracemalloc

import cv2
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.runner import run_to_dir
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError, TargetError
from vsodboost.io import map_is_complete
from vsodboost.video import Video, load_video
from vsodboost.workres import (FullSizeMaps, area_resize_frames, full_size_maps, upscale_map, working_clip,
                               working_size)

N, H, W = 8, 96, 128  # a "large" clip for a working side of 64: processed at 48×64
SIDE = 64


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=3)
    return np.stack(frames), target


def _booster(target, side=SIDE, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=tiny_config(buffer_size=4, work_max_side=side, **kw), device="cpu")


def _small(frames, target, size=(H * SIDE // W, SIDE)):
    """What the user would get by downscaling the frames and the target's maps first (area interpolation)."""
    h, w = size
    fr = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in frames])
    tg = {k: cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA) for k, m in target.items()}
    return fr, tg


class Spy(ArrayTarget):
    """Records the frame size it is given; ``full``: returns maps at the full size whatever it receives."""

    def __init__(self, maps, full=False):
        super().__init__(maps)
        self.sizes, self.full = [], full

    def predict(self, video):
        self.sizes.append(video.size)
        if self.full:
            return [self.maps.get(n) for n in video.names]
        return [None if self.maps.get(n) is None else
                cv2.resize(self.maps[n], (video.width, video.height), interpolation=cv2.INTER_AREA)
                for n in video.names]


# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("h,w,side,expect", [
    (3000, 4000, 1280, (960, 1280)), (2160, 3840, 1280, (720, 1280)), (4000, 3000, 1280, (1280, 960)),
    (480, 854, 1280, (480, 854)), (288, 512, 1280, (288, 512)), (720, 1280, 1280, (720, 1280)),
    (3000, 4000, 0, (3000, 4000)), (20000, 30, 1280, (1280, 2)),
], ids=["4000x3000", "3840x2160", "portrait", "davis", "visal", "720p-fits", "off", "strip"])
def test_working_size(h, w, side, expect):
    assert working_size(h, w, side) == expect


WORK_CASES = [
    ("negative", {"work_max_side": -1}, r"work_max_side must be ≥ 0, got -1 \(0: full resolution; default 1280\)"),
    ("tiny", {"work_max_side": 32}, r"work_max_side must be 0 \(full resolution\) or ≥ 64, got 32"),
    ("float", {"work_max_side": 1280.0}, r"work_max_side must be an integer, got 1280.0 \(float\)"),
    ("bool", {"work_max_side": True}, r"work_max_side must be an integer, got True \(bool\)"),
    ("str", {"work_max_side": "1280"}, r"work_max_side must be an integer, got '1280' \(str\)"),
]


@pytest.mark.parametrize("kwargs,match", [c[1:] for c in WORK_CASES], ids=[c[0] for c in WORK_CASES])
def test_work_max_side_is_checked(kwargs, match):
    with pytest.raises(InputError, match=match):
        BoostConfig(**kwargs)
    with pytest.raises(InputError, match=match):
        BoostConfig.from_dict(kwargs)


def test_default_keeps_davis_visal_and_720p_at_their_size():
    side = BoostConfig().work_max_side
    for h, w in [(480, 854), (240, 320), (288, 512), (720, 1280)]:
        assert working_size(h, w, side) == (h, w)
    assert working_size(2160, 3840, side) == (720, 1280)


# ---------------------------------------------------------------------------------------------------------------
def test_chunked_area_resize_equals_one_interpolate_over_the_buffer():
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 256, (19, 3, 61, 83), generator=g, dtype=torch.uint8)
    whole = F.interpolate(frames.float(), size=(23, 31), mode="area").round().clamp(0, 255).to(torch.uint8)
    assert torch.equal(area_resize_frames(frames, (23, 31), chunk=4), whole)


def test_working_clip_decodes_and_downscales_one_frame_at_a_time(tmp_path):
    h, w, n = 600, 800, 8
    rng = np.random.default_rng(0)
    for i in range(n):  # PNG files: a few KB each, a 1.4 MB array each once decoded
        f = np.zeros((h, w, 3), np.uint8)
        f[100 + 10 * i: 300, 200: 500] = rng.integers(0, 255, 3)
        cv2.imwrite(str(tmp_path / f"{i:05d}.png"), f)
    video = load_video(tmp_path)
    frame = h * w * 3
    tracemalloc.start()
    try:
        clip = working_clip(video, 0, n, 200)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert clip.size == (150, 200) and len(clip) == n and clip.names == video.names
    assert clip.full_size == (h, w)
    # the old path, video[0:n], held all n frames at full size (11 MB): now one or two at a time
    assert peak < 3 * frame, f"peak {peak / 1e6:.1f} MB for frames of {frame / 1e6:.1f} MB"
    ref = cv2.resize(video[3], (200, 150), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(clip[3], ref)


def test_working_clip_of_a_frame_that_fits_is_the_slice_itself():
    frames = [np.full((48, 64, 3), i, np.uint8) for i in range(4)]
    video = Video(arrays=frames)
    clip = working_clip(video, 1, 3, 1280)
    assert clip.size == (48, 64) and clip.names == ["00001", "00002"]
    assert clip[0] is frames[1]  # no copy, no resampling


def test_full_size_maps():
    small = [np.linspace(0, 1, 12, dtype=np.float32).reshape(3, 4), None]
    maps = full_size_maps(small, (6, 8))
    assert isinstance(maps, FullSizeMaps) and len(maps) == 2 and maps[1] is None
    assert maps[0].shape == (6, 8) and maps[0].dtype == np.float32
    assert 0.0 <= maps[0].min() and maps[0].max() <= 1.0
    np.testing.assert_array_equal(maps[0], cv2.resize(small[0], (8, 6), interpolation=cv2.INTER_LINEAR))
    assert [m is None for m in maps] == [False, True] and maps[0:1][0].shape == (6, 8)
    assert maps.working[0] is small[0]
    assert "returned at 8×6" in repr(maps)
    same = [np.zeros((6, 8), np.float32)]
    assert full_size_maps(same, (6, 8)) is same  # maps at the frame's size: the list itself


# ---------------------------------------------------------------------------------------------------------------
def test_large_frames_run_at_working_size_and_come_back_at_frame_size(clip):
    frames, target = clip
    spy = Spy(target)
    res = _booster(spy).run(frames, name="demo")
    assert spy.sizes == [(48, 64), (48, 64)]  # the target sees the working-size clip
    assert isinstance(res.boosted, FullSizeMaps) and isinstance(res.target, FullSizeMaps)
    assert len(res.boosted) == N and res.boosted[0].shape == (H, W) and res.target[0].shape == (H, W)
    assert res.boosted.working[0].shape == (48, 64)
    np.testing.assert_array_equal(res.boosted[5], upscale_map(res.boosted.working[5], (H, W)))
    # the same maps as boosting frames the user downscaled first, then upsampling: the pipeline runs at 48×64
    fr, tg = _small(frames, target)
    ref = _booster(ArrayTarget(tg), side=0).run(fr, name="demo")
    for a, b in zip(res.boosted.working, ref.boosted):
        np.testing.assert_array_equal(a, b)
    assert res.mined == ref.mined


def test_frames_that_fit_are_unchanged_byte_for_byte(clip):
    frames, target = clip
    runs = [_booster(ArrayTarget(target), side=s).run(frames, name="demo") for s in (0, 128, 1280)]
    for r in runs:
        assert isinstance(r.boosted, list) and r.boosted[0].shape == (H, W)
    for r in runs[1:]:
        for a, b in zip(r.boosted, runs[0].boosted):
            assert a.tobytes() == b.tobytes()


def test_target_maps_at_full_size_are_accepted_and_downscaled(clip):
    frames, target = clip
    spy = Spy(target, full=True)
    res = _booster(spy).run(frames, name="demo")
    assert spy.sizes[0] == (48, 64) and res.target.working[0].shape == (48, 64)
    ref = _booster(Spy(target)).run(frames, name="demo")  # a target that answers at the clip's size
    for a, b in zip(res.boosted.working, ref.boosted.working):
        np.testing.assert_array_equal(a, b)


class WrongSize(ArrayTarget):
    def predict(self, video):
        return [np.zeros((50, 50), np.float32) for _ in video.names]


def test_target_map_of_neither_size_names_both(clip):
    frames, target = clip
    with pytest.raises(TargetError, match=r"map for frame 0 \('00000'\) has shape \(50, 50\); expected the frame size "
                                          r"\(48, 64\) or the frames' full size \(96, 128\)"):
        _booster(WrongSize(target)).run(frames, name="demo")


class OutOfRangeFull(ArrayTarget):
    def predict(self, video):
        m = np.zeros((H, W), np.float32)
        m[0, 0] = 1.5  # one pixel out of range: averaging it away would hide it, so full-size maps are checked first
        return [m for _ in video.names]


def test_full_size_target_maps_are_checked_before_downscaling(clip):
    frames, target = clip
    with pytest.raises(TargetError, match=r"has values in \[0, 1.5\]; expected \[0, 1\]"):
        _booster(OutOfRangeFull(target)).run(frames, name="demo")


def test_run_to_dir_and_save_write_maps_at_frame_size_and_resume(clip, tmp_path):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    res = b.run(frames, name="demo")
    run_to_dir(b, frames, tmp_path / "dir", name="demo")
    res.save(tmp_path / "saved")
    for n, m in zip(res.names, res.boosted):
        for folder in ("dir", "saved"):
            img = cv2.imread(str(tmp_path / folder / f"{n}.png"), cv2.IMREAD_UNCHANGED)
            assert img.shape == (H, W)
            np.testing.assert_array_equal(img, np.clip(m * 255.0 + 0.5, 0, 255).astype(np.uint8))
        assert map_is_complete(tmp_path / "dir" / f"{n}.png", (H, W))
    calls = []
    real = b.run_buffer
    b.run_buffer = lambda *a, **k: calls.append(a[1:3]) or real(*a, **k)  # type: ignore[method-assign]
    run_to_dir(b, frames, tmp_path / "dir", name="demo")  # a rerun resumes: every map is whole, at frame size
    assert calls == []


def test_stream_gives_maps_at_frame_size(clip):
    frames, target = clip
    out = list(_booster(ArrayTarget(target)).stream(list(frames), name="demo", buffer_size=4))
    assert [b.boosted[0].shape for b in out] == [(H, W), (H, W)]
    # the frames are held at the working size as they arrive (a 4K stream no longer holds a buffer of full-size frames)
    assert out[0].frames[0].shape == (*working_size(H, W, SIDE), 3) == (48, 64, 3)


def test_a_video_held_at_the_working_size_gives_full_size_maps_and_resumes(clip, tmp_path):
    # what Booster.stream builds: working-size frames that know their own size (Video.full_size)
    frames, target = clip
    small = Video(arrays=[working_clip(load_video(frames), 0, N, SIDE)[i] for i in range(N)], name="demo",
                  full_size=(H, W))
    b = _booster(ArrayTarget(target))
    ref = b.run(frames, name="demo")
    res = b.run(small)
    assert {m.shape for m in res.boosted} == {(H, W)}
    for x, y in zip(res.boosted, ref.boosted):
        np.testing.assert_array_equal(x, y)
    first = run_to_dir(b, small, tmp_path / "dir")
    assert all(map_is_complete(tmp_path / "dir" / f"{n}.png", (H, W)) for n in small.names)
    again = run_to_dir(b, small, tmp_path / "dir")  # the maps at (H, W) count as complete: nothing is redone
    assert first["buffers_run"] == 2 and again["buffers_run"] == 0
