"""MGA live target: clip protocol (flow per frame), shapes and ranges, strict official-checkpoint loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vsodboost.errors import InputError, MissingWeightsError, WeightsError
from vsodboost.testing import moving_square, read_manifest, save_fake_checkpoint
from vsodboost.nets.mga import MGALive

MANIFEST = Path(__file__).parent / "data" / "nets" / "mga_official_keys.json"


class IndexFlow:
    """Fake backend: frame i is filled with 10·i; flow = (mean(next) − mean(this), mean(this))."""

    name = "index"

    def __init__(self) -> None:
        self.calls: list[int] = []

    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        self.calls.append(frames.shape[0])
        m = frames.float().mean(dim=(1, 2, 3))
        t, _, h, w = frames.shape
        out = torch.empty(t - 1, 2, h, w)
        out[:, 0] = (m[1:] - m[:-1]).view(-1, 1, 1)
        out[:, 1] = m[:-1].view(-1, 1, 1)
        return out

    def to(self, device: object) -> "IndexFlow":
        return self


@pytest.fixture(scope="module")
def live() -> MGALive:
    torch.manual_seed(0)
    return MGALive(random_init=True, input_size=32, batch_size=2, flow=IndexFlow())


def _index_video(n: int) -> torch.Tensor:
    return torch.stack([torch.full((3, 8, 8), 10 * i, dtype=torch.uint8) for i in range(n)])


@pytest.mark.parametrize("n", [2, 5, 7])
def test_flow_per_frame_chunks_agree_and_last_frame_is_negated_backward(live: MGALive, n: int) -> None:
    video = _index_video(n)
    whole = live.flows_for(video, 0, n)
    chunks = torch.cat([live.flows_for(video, s, min(s + 2, n)) for s in range(0, n, 2)])
    assert torch.equal(whole, chunks)
    u, src = whole[:, 0, 0, 0], whole[:, 1, 0, 0]
    assert torch.all(u == 10)  # forward motion everywhere, also for the last frame (negated backward flow)
    assert src[:-1].tolist() == [10.0 * i for i in range(n - 1)]  # frame i's flow starts at frame i
    assert src[-1].item() == -10.0 * (n - 1)  # last: −flow(T−1 → T−2) starts at frame T−1


def test_one_frame_video_gets_zero_flow_and_a_map(live: MGALive) -> None:
    live.flow.calls.clear()
    maps = live.predict_video(moving_square(1, 30, 42))
    assert live.flow.calls == []  # no motion can be estimated from one frame
    assert len(maps) == 1 and maps[0].shape == (30, 42)


def test_predict_video_shapes_ranges_odd_sizes(live: MGALive) -> None:
    frames = moving_square(3, 37, 53)
    maps = live.predict_video(frames)
    assert len(maps) == 3
    for m in maps:
        assert m.shape == (37, 53) and m.dtype == np.float32
        assert m.min() >= 0.0 and m.max() <= 1.0
        assert m.max() - m.min() > 0.5  # per-image min-max as released
    assert live.flow.calls  # flows were estimated


def test_flow_images_bypass_the_backend_and_are_checked(live: MGALive) -> None:
    frames = moving_square(2, 32, 32)
    live.flow.calls.clear()
    with pytest.raises(InputError, match="one flow image per frame"):
        live.predict_video(frames, flow_images=frames[:1])
    assert live.flow.calls == []


@pytest.mark.parametrize(
    "frames, match",
    [
        ([], "empty"),
        ([np.zeros((8, 8, 3), np.float32)], "dtype float32"),
        ([np.zeros((8, 8, 3), np.uint8), np.zeros((9, 8, 3), np.uint8)], "share one size"),
        ([np.zeros((8, 8), np.uint8)], "H×W×3"),
    ],
)
def test_bad_videos_raise_input_error(live: MGALive, frames: list, match: str) -> None:
    with pytest.raises(InputError, match=match):
        live.predict_video(frames)


def test_official_layout_loads_strictly(tmp_path: Path) -> None:
    manifest = read_manifest(MANIFEST)
    path = save_fake_checkpoint(tmp_path / "MGA_trained.pth", manifest["keys"])
    live = MGALive(weights=path, flow=IndexFlow())
    assert live.weights_source == str(path)
    assert torch.all(live.net.resnet_aspp.last_conv[6].bias == 0.5)  # values come from the file
    assert torch.all(live.net.layer3[22].bn3.running_var == 0.5)


def test_wrong_checkpoint_fails_with_readable_diff(tmp_path: Path) -> None:
    keys = dict(read_manifest(MANIFEST)["keys"])
    keys["conv1x1_layer4_spatial.weight"] = [1, 256, 1, 1]  # wrong shape
    keys["aspp.renamed.weight"] = keys.pop("aspp.conv1.weight")  # wrong name
    path = save_fake_checkpoint(tmp_path / "bad.pth", keys, wrap=lambda s: {"model": s})
    with pytest.raises(WeightsError) as err:
        MGALive(weights=path, flow=IndexFlow())
    msg = str(err.value)
    assert "missing from checkpoint (1):\n  aspp.conv1.weight" in msg
    assert "unexpected in checkpoint (1):\n  aspp.renamed.weight" in msg
    assert "conv1x1_layer4_spatial.weight: model (1, 512, 1, 1) vs checkpoint (1, 256, 1, 1)" in msg


def test_default_weights_offline_name_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=r"MGA_trained\.pth.*nets.*drive\.google\.com"):
        MGALive(flow=IndexFlow())
    with pytest.raises(InputError, match="contradict"):
        MGALive(weights=tmp_path / "x.pth", random_init=True, flow=IndexFlow())
