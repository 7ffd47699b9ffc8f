"""vsodboost.fusion: the four fusions of a frame's boosted and target maps (the motion rule's weights), the collapse
check, and a buffer's final maps when the target's are kept (docs/reliability.md, "Fallbacks")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsodboost.config import BoostConfig
from vsodboost.errors import InputError
from vsodboost.fusion import collapse, fuse_buffer, fuse_maps, motion_weights

B = np.array([[0.0, 0.5, 1.0, 0.8]], np.float32)
T = np.array([[1.0, 0.5, 0.0, 0.2]], np.float32)


@pytest.mark.parametrize("how,want", [("replace", B), ("mean", [[0.5, 0.5, 0.5, 0.5]]),
                                      ("geometric", [[0.0, 0.5, 0.0, 0.4]]), ("motion", [[0.5, 0.5, 0.5, 0.5]])])
def test_fuse_maps_combines_one_frame_as_named(how, want):
    np.testing.assert_allclose(fuse_maps(B, T, how), want, atol=1e-6)
    assert fuse_maps(B, None, how) is B  # a frame without a target map keeps the boosted map


@pytest.mark.parametrize("maps,why", [
    (torch.full((2, 4, 4), 0.3), "every predicted map is constant ≈ 0.300"),
    (torch.tensor([[[0.0, float("nan")]]]), "NaN or infinite"),
])
def test_collapse_says_how_the_maps_collapsed(maps, why):
    assert why in collapse(maps)


def test_collapse_is_empty_when_one_map_varies():
    maps = torch.zeros(2, 4, 4)
    maps[1, 0, 0] = 1.0
    assert collapse(maps) == ""


def test_fuse_buffer_fuses_each_frame_or_keeps_the_targets_and_fills_the_rest_with_the_pretrained_maps():
    predicted = torch.from_numpy(np.stack([B, B, B]))
    target = torch.from_numpy(np.stack([T, np.zeros_like(T), T]))
    has = np.array([True, False, True])
    before, target_before = predicted.clone(), target.clone()
    fused = fuse_buffer(predicted, target, has, "mean", keep_target=False)
    np.testing.assert_allclose(fused[0], 0.5) and np.testing.assert_array_equal(fused[1], B)
    pre = torch.full((1, 1, 4), 0.25)
    kept = fuse_buffer(predicted, target, has, "mean", keep_target=True, pretrained=pre)
    assert torch.equal(kept[0], target[0]) and torch.equal(kept[2], target[2])
    np.testing.assert_array_equal(kept[1], pre[0].numpy())
    assert torch.equal(predicted, before) and torch.equal(target, target_before)  # pure: inputs left as they were
    with pytest.raises(ValueError, match="1 frame"):
        fuse_buffer(predicted, target, has, "mean", keep_target=True)


@pytest.mark.parametrize("how", ["replace", "mean", "geometric", "motion"])
def test_fuse_buffer_on_a_stack_gives_the_bytes_of_fuse_maps_frame_by_frame(how):
    rng = np.random.default_rng(0)
    predicted, target = (rng.random((4, 9, 7), dtype=np.float32) for _ in range(2))
    has = np.array([True, False, True, True])
    w = np.array([0.9, 0.5, 0.0, 0.3])
    got = fuse_buffer(torch.from_numpy(predicted), torch.from_numpy(target), has, how, keep_target=False,
                      weights=w).numpy()
    for i in range(4):  # the tensor path and the per-frame numpy rule agree bit for bit (the recorded maps rely on it)
        want = fuse_maps(predicted[i], target[i] if has[i] else None, how, w[i])
        assert got[i].dtype == want.dtype and got[i].tobytes() == want.tobytes()


def test_motion_fusion_weighs_the_boosted_map_per_frame():
    np.testing.assert_allclose(fuse_maps(B, T, "motion", 0.75), 0.75 * B + 0.25 * T, atol=1e-6)
    np.testing.assert_array_equal(fuse_maps(B, T, "motion", 1.0), B)
    np.testing.assert_array_equal(fuse_maps(B, T, "motion", 0.0), T)
    stack = fuse_maps(np.stack([B, B]), np.stack([T, T]), "motion", np.array([1.0, 0.0]))
    np.testing.assert_array_equal(stack[0], B) and np.testing.assert_array_equal(stack[1], T)


def _disc(cx: int, size: int = 64) -> torch.Tensor:
    yy, xx = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    return (((yy - size // 2) ** 2 + (xx - cx) ** 2) < 100).float()


def test_motion_weights_lean_toward_the_map_that_agrees_with_the_motion_saliency():
    motion = torch.stack([_disc(20), _disc(44), _disc(20), _disc(20)])  # frame 0 moves where the boosted map is
    boosted = torch.stack([_disc(20), _disc(20), _disc(20), _disc(20)])
    target = torch.stack([_disc(44), _disc(44), _disc(20), _disc(44)])
    has = np.array([True, True, True, False])
    w = motion_weights(motion, boosted, target, has, size=32)
    assert w[0] == 1.0 and w[1] == 0.0  # the agreeing map wins outright at the default gain
    assert w[2] == 0.5 and w[3] == 0.5  # equal agreement, and a frame without a target map: the mean
    soft = motion_weights(motion, boosted, target, has, gain=0.1, size=32)
    assert 0.5 < soft[0] < 1.0 and 0.0 < soft[1] < 0.5  # a small gain tilts, a zero gain is the mean
    np.testing.assert_array_equal(motion_weights(motion, boosted, target, has, gain=0.0, size=32), 0.5)
    np.testing.assert_array_equal(motion_weights(None, boosted, target, has), 0.5)  # no motion computed: the mean
    # the target's consistency where already known (the Booster's filter step) is used, not recomputed
    known = np.array([0.0, np.nan, np.nan, np.nan])
    assert motion_weights(motion, boosted, target, has, size=32, target_consistency=known)[0] == 1.0
    told = np.array([1.0, np.nan, np.nan, np.nan])  # told the target agrees perfectly: frame 0 leans to the target
    assert motion_weights(motion, boosted, target, has, size=32, target_consistency=told)[0] < 0.5


@pytest.mark.parametrize("gain", [-1.0, float("nan"), "8"])
def test_a_bad_fusion_gain_is_refused_with_the_field_named(gain):
    with pytest.raises(InputError, match="fusion_gain"):
        BoostConfig(fusion_gain=gain)
    assert BoostConfig().fusion == "motion" and BoostConfig().fusion_gain == 8.0
