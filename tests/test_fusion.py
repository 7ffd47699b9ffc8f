"""vsodboost.fusion: the three fusions of a frame's boosted and target maps, the collapse check, and a buffer's
final maps when the target's are kept (docs/reliability.md, "Fallbacks")."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsodboost.fusion import collapse, fuse_buffer, fuse_maps

B = np.array([[0.0, 0.5, 1.0, 0.8]], np.float32)
T = np.array([[1.0, 0.5, 0.0, 0.2]], np.float32)


@pytest.mark.parametrize("how,want", [("replace", B), ("mean", [[0.5, 0.5, 0.5, 0.5]]),
                                      ("geometric", [[0.0, 0.5, 0.0, 0.4]])])
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


@pytest.mark.parametrize("how", ["replace", "mean", "geometric"])
def test_fuse_buffer_on_a_stack_gives_the_bytes_of_fuse_maps_frame_by_frame(how):
    rng = np.random.default_rng(0)
    predicted, target = (rng.random((4, 9, 7), dtype=np.float32) for _ in range(2))
    has = np.array([True, False, True, True])
    got = fuse_buffer(torch.from_numpy(predicted), torch.from_numpy(target), has, how, keep_target=False).numpy()
    for i in range(4):  # the tensor path and the per-frame numpy rule agree bit for bit (the recorded maps rely on it)
        want = fuse_maps(predicted[i], target[i] if has[i] else None, how)
        assert got[i].dtype == want.dtype and got[i].tobytes() == want.tobytes()
