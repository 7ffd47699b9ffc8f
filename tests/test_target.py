"""The TargetModel protocol and check_target_output (what the Booster runs on every target's output)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsodboost.errors import TargetError
from vsodboost.target import TargetModel, check_target_output
from vsodboost.video import load_video

H, W = 12, 16


@pytest.fixture
def video():
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in range(3)]
    return load_video(frames, names=["a", "b", "c"], name="clip")


class Good:
    name = "good"

    def predict(self, video):
        return [np.full((video.height, video.width), 0.5, np.float32) for _ in range(len(video))]


class Nameless:
    def predict(self, video):
        return []


class NoPredict:
    name = "nopredict"


class NotCallablePredict:
    name = "x"
    predict = None


def test_protocol_is_runtime_checkable():
    assert isinstance(Good(), TargetModel)
    assert not isinstance(Nameless(), TargetModel)
    assert not isinstance(NoPredict(), TargetModel)
    assert not isinstance(object(), TargetModel)


def test_builtin_adapters_satisfy_the_protocol(tmp_path):
    from vsodboost import adapters

    (tmp_path / "seq").mkdir()
    assert isinstance(adapters.precomputed(tmp_path), TargetModel)
    assert isinstance(adapters.ssav(maps=tmp_path), TargetModel)


def test_valid_output_passes_and_is_float32(video):
    maps = [np.linspace(0, 1, H * W).reshape(H, W), None, np.zeros((H, W), np.float16)]
    out = check_target_output(maps, video, Good())
    assert out[1] is None
    assert out[0].dtype == np.float32 and out[2].dtype == np.float32
    np.testing.assert_allclose(out[0], maps[0], atol=1e-7)


@pytest.mark.parametrize("shape", [(H, W, 1), (1, H, W)])
def test_channel_axis_of_one_is_accepted(video, shape):
    out = check_target_output([np.full(shape, 0.3)] * 3, video, Good())
    assert all(m.shape == (H, W) for m in out)


def test_tensors_and_stacked_outputs_are_accepted(video):
    t = torch.rand(3, H, W, dtype=torch.float64)
    out = check_target_output(t, video, Good())  # stacked (T,H,W)
    assert len(out) == 3 and out[0].shape == (H, W)
    np.testing.assert_allclose(out[2], t[2].numpy(), atol=1e-6)
    out = check_target_output(list(torch.rand(3, 1, H, W)), video, Good())
    assert out[0].shape == (H, W)
    if torch.cuda.is_available():  # device tensors come back on the CPU
        out = check_target_output([torch.rand(H, W, device="cuda")] * 3, video, Good())
        assert isinstance(out[0], np.ndarray)


def test_stacked_4d_model_output_is_accepted(video):
    """A PyTorch target's natural output, sigmoid((T,1,H,W)), is one map per frame."""
    t = torch.rand(3, 1, H, W)
    out = check_target_output(t, video, Good())
    assert len(out) == 3 and out[1].shape == (H, W)
    np.testing.assert_allclose(out[1], t[1, 0].numpy())


def test_requires_grad_tensors_are_detached(video):
    t = torch.rand(3, H, W, requires_grad=True)
    out = check_target_output([x for x in t], video, Good())
    assert isinstance(out[0], np.ndarray)


def _err(out, video, target=None):
    with pytest.raises(TargetError) as info:
        check_target_output(out, video, target or Good())
    return str(info.value)


def test_wrong_count(video):
    msg = _err([np.zeros((H, W))] * 2, video)
    assert "target 'good' (Good)" in msg and "2 maps for 3 frames" in msg


def test_not_a_sequence(video):
    assert "returned dict" in _err({"a": 1}, video)
    assert "returned str" in _err("abc", video)
    assert "returned NoneType" in _err(None, video)


def test_wrong_shape_names_adapter_and_frame(video):
    bad = [np.zeros((H, W)), np.zeros((H, W + 1)), np.zeros((H, W))]
    msg = _err(bad, video)
    assert "target 'good'" in msg and "frame 1 ('b')" in msg and f"(12, 17)" in msg and "(12, 16)" in msg


def test_wrong_dtype(video):
    msg = _err([np.zeros((H, W), np.uint8)] * 3, video)
    assert "dtype uint8" in msg and "255" in msg
    assert "dtype bool" in _err([np.zeros((H, W), bool)] * 3, video)


@pytest.mark.parametrize("bad_value,what", [(np.nan, "NaN"), (np.inf, "NaN or infinite"), (-np.inf, "infinite")])
def test_non_finite(video, bad_value, what):
    m = np.full((H, W), 0.5)
    m[3, 4] = bad_value
    assert what in _err([np.zeros((H, W)), np.zeros((H, W)), m], video)


@pytest.mark.parametrize("lo,hi", [(-0.1, 0.5), (0.0, 1.5), (-3.0, 4.0)])
def test_out_of_range(video, lo, hi):
    m = np.linspace(lo, hi, H * W).reshape(H, W)
    msg = _err([m] * 3, video)
    assert "expected [0, 1]" in msg and "sigmoid" in msg and "frame 0 ('a')" in msg


def test_non_array_map(video):
    assert "is a list" in _err([[0.0] * W] * 3, video)


def test_adapter_named_by_its_name_attribute_or_type(video):
    class Anonymous:
        pass

    assert "target 'Anonymous' (Anonymous)" in _err([None], video, Anonymous())


def test_target_stack_holds_the_maps_once_and_gives_them_back_per_frame():
    from vsodboost.target import TargetStack
    a, b = np.full((2, 3), 0.25, np.float32), np.eye(2, 3, dtype=np.float32)
    stack = TargetStack.of([a, None, b])
    assert stack.maps.shape == (3, 2, 3) and stack.maps.dtype == torch.float32 and stack.has.tolist() == [1, 0, 1]
    assert float(stack.maps[1].abs().sum()) == 0.0  # no map: zeros, masked out by `has`
    back = stack.to_list()
    assert back[1] is None and back[0].tobytes() == a.tobytes() and back[2].tobytes() == b.tobytes()
    empty = TargetStack.of([None, None], size=(4, 5))
    assert empty.maps.shape == (2, 4, 5) and not empty.has.any() and empty.to_list() == [None, None]
