"""``CachedTarget`` / ``boost --target-cache`` (issue 25): a live target runs once per frame; a rerun reads its maps
back (16-bit, the same values the first run used), and a cache of another target is refused, never mixed in."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import torch

from conftest import tiny_booster
from vsodboost import adapters
from vsodboost.errors import InputError, ResumeError
from vsodboost.target_cache import CACHE_FILE, CachedTarget
from vsodboost.testing import ArrayTarget
from vsodboost.video import load_video


class Counting(ArrayTarget):
    calls = 0

    def predict(self, video):
        type(self).calls += 1
        return super().predict(video)


@pytest.fixture
def counting(clip12):
    Counting.calls = 0
    _, maps = clip12
    return Counting({k: v for k, v in maps.items() if k != "00003"}, name="live")  # no map for frame 00003


def test_the_target_runs_once_and_a_rerun_gives_the_same_bytes(clip12, counting, tmp_path):
    frames, _ = clip12
    first = tiny_booster(adapters.cached(counting, tmp_path / "cache")).run(frames, name="seq")
    calls = Counting.calls
    assert calls == 2  # one call per 6-frame buffer
    folder = tmp_path / "cache" / "seq"
    assert len(list(folder.glob("*.png"))) == 11
    assert json.loads((folder / CACHE_FILE).read_text())["no_map"] == ["00003"]
    assert cv2.imread(str(folder / "00000.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    again = tiny_booster(adapters.cached(counting, tmp_path / "cache")).run(frames, name="seq")
    assert Counting.calls == calls  # read back, not recomputed
    for a, b in zip(first.boosted, again.boosted):
        np.testing.assert_array_equal(a, b)
    assert again.target[3] is None
    reseeded = tiny_booster(adapters.cached(counting, tmp_path / "cache"), seed=1).run(frames, name="seq")
    assert Counting.calls == calls and len(reseeded.boosted) == 12  # other settings reuse the cache too


def test_maps_are_the_targets_within_a_16_bit_step(clip12, counting, tmp_path):
    frames, maps = clip12
    got = CachedTarget(counting, tmp_path).predict(load_video(list(frames[:6]), name="seq"))
    for i, m in enumerate(got):
        if m is not None:
            assert np.abs(m - maps[f"{i:05d}"]).max() <= 0.5 / 65535 + 1e-7


def test_a_cache_of_another_target_or_a_broken_one_is_refused(clip12, counting, tmp_path):
    frames, maps = clip12
    video = load_video(list(frames[:6]), name="seq")
    CachedTarget(counting, tmp_path).predict(video)
    other = ArrayTarget({k: 1 - v for k, v in maps.items()}, name="live")
    with pytest.raises(ResumeError, match="another target"):
        CachedTarget(other, tmp_path).predict(video)
    (tmp_path / "seq" / "00000.png").write_bytes(cv2.imencode(".png", np.zeros((48, 64), np.uint8))[1].tobytes())
    with pytest.raises(ResumeError, match="not a 16-bit map"):
        CachedTarget(counting, tmp_path).predict(video)
    (tmp_path / "seq" / CACHE_FILE).write_text("{")
    with pytest.raises(ResumeError, match="unreadable"):
        CachedTarget(counting, tmp_path).predict(video)
    with pytest.raises(InputError, match="not a target"):
        CachedTarget(object(), tmp_path)


class NetTarget:
    """A live target of one's own: a network, no identity(), no provenance."""

    name = "net"

    def __init__(self):
        self.net = torch.nn.Conv2d(3, 1, 1)

    def predict(self, video):
        x = torch.from_numpy(np.stack([video[i] for i in range(len(video))])).permute(0, 3, 1, 2).float() / 255
        with torch.no_grad():
            return list(torch.sigmoid(self.net(x))[:, 0].numpy())


def test_a_network_retrained_in_place_is_another_target(clip12, tmp_path):
    frames, _ = clip12
    video = load_video(list(frames[:6]), name="seq")
    target = NetTarget()
    CachedTarget(target, tmp_path).predict(video)
    CachedTarget(target, tmp_path).predict(video)  # same weights: read back
    with torch.no_grad():
        target.net.bias += 0.5  # same type, same repr, other weights: the resume key's identity sees it
    with pytest.raises(ResumeError, match="another target"):
        CachedTarget(target, tmp_path).predict(video)


def test_a_sequence_name_cannot_escape_the_cache_folder(clip12, counting, tmp_path):
    frames, _ = clip12
    with pytest.raises(InputError, match="sequence name"):
        CachedTarget(counting, tmp_path / "cache").predict(load_video(list(frames[:2]), name="../x"))
    assert not (tmp_path / "x").exists()
