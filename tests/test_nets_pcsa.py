"""PCSA live target: unfold attention vs a brute-force definition, clip protocol, normalisation, strict loading."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vsodboost.errors import InputError, MissingWeightsError, WeightsError
from vsodboost.testing import moving_square, read_manifest, save_fake_checkpoint
from vsodboost.nets.pcsa import PCSA_TRAIN_MEAN, PCSA_TRAIN_STD, PCSALive, clip_windows, pcsa_attention

MANIFEST = Path(__file__).parent / "data" / "nets" / "pcsa_official_keys.json"


@pytest.fixture(scope="module")
def live() -> PCSALive:
    torch.manual_seed(0)
    return PCSALive(random_init=True, size=(32, 48), batch_size=2)


@pytest.mark.parametrize("n", range(1, 13))
def test_clip_windows_cover_every_frame_once_with_full_clips(n: int) -> None:
    wins = clip_windows(n, 5)
    kept = [i for s, e, keep in wins for i in range(keep, e)]
    assert kept == list(range(n))
    assert all(e - s == min(5, n) and 0 <= s <= keep < e <= n for s, e, keep in wins)


def test_clip_windows_examples() -> None:
    assert clip_windows(7) == [(0, 5, 0), (2, 7, 5)]
    assert clip_windows(10) == [(0, 5, 0), (5, 10, 5)]
    assert clip_windows(3) == [(0, 3, 0)]
    with pytest.raises(InputError):
        clip_windows(0)


def _brute_force(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, r: int, d: int, scale: float) -> torch.Tensor:
    b, t, c, h, w = q.shape
    out = torch.zeros_like(q)
    for bi in range(b):
        for ti in range(t):
            for y in range(h):
                for x in range(w):
                    scores, values = [], []
                    for s in range(t):
                        for i in range(-r, r + 1):
                            for j in range(-r, r + 1):
                                yy, xx = y + i * d, x + j * d
                                inside = 0 <= yy < h and 0 <= xx < w
                                # the CUDA op scores outside positions 0 and gives them no value
                                scores.append(float(q[bi, ti, :, y, x] @ k[bi, s, :, yy, xx]) * scale if inside else 0.0)
                                values.append(v[bi, s, :, yy, xx] if inside else torch.zeros(c))
                    wts = torch.tensor(scores).softmax(0)
                    out[bi, ti, :, y, x] = (wts[:, None] * torch.stack(values)).sum(0)
    return out


@pytest.mark.parametrize("r, d", [(1, 1), (1, 2), (2, 1)])
def test_unfold_attention_matches_the_ops_definition(r: int, d: int) -> None:
    g = torch.Generator().manual_seed(r * 10 + d)
    q, k, v = (torch.randn(1, 2, 3, 5, 6, generator=g) * 2 for _ in range(3))
    got = pcsa_attention(q, k, v, r, d, 1 / math.sqrt(8))
    assert torch.allclose(got, _brute_force(q, k, v, r, d, 1 / math.sqrt(8)), atol=1e-5)


def test_trained_normalization_touches_only_columns_0_to_2(live: PCSALive) -> None:
    x = torch.full((1, 3, 4, 6), 127.5)
    y = live.normalize(x)
    assert torch.allclose(y[..., 3:], torch.full_like(y[..., 3:], 0.5))  # raw [0, 1] elsewhere
    for i in range(3):  # column i, every channel, statistic of channel i
        assert torch.allclose(y[..., i], torch.full_like(y[..., i], (0.5 - PCSA_TRAIN_MEAN[i]) / PCSA_TRAIN_STD[i]))


@pytest.mark.parametrize("n", [3, 7])
def test_predict_video_shapes_and_ranges(live: PCSALive, n: int) -> None:
    maps = live.predict_video(moving_square(n, 30, 41))
    assert len(maps) == n
    assert all(m.shape == (30, 41) and m.dtype == np.float32 and 0 <= m.min() <= m.max() <= 1 for m in maps)


def test_frames_interact_within_a_clip_only() -> None:
    torch.manual_seed(1)
    live = PCSALive(random_init=True, size=(16, 24), clip=3, batch_size=2)
    # Random init shrinks MobileNet activations to ~1e-9 (eval BN with unit statistics): rescale the LightRFB output
    # of each frame to unit std (per frame, so no coupling is added) and let the attention matter.
    live.net.dilation_conv_group.register_forward_hook(lambda m, i, o: o / o.std(dim=(1, 2, 3), keepdim=True))
    with torch.no_grad():
        for p in live.net.temporal_high.parameters():
            p.mul_(5)
    frames = moving_square(6, 16, 24, side=6, step=2)
    base = live.predict_video(frames)
    changed = list(frames)
    changed[4] = np.ascontiguousarray(frames[4][::-1])  # alter one frame of the second clip
    out = live.predict_video(changed)
    for i in range(3):  # first clip: untouched
        np.testing.assert_allclose(out[i], base[i], atol=1e-6)
    for i in (3, 5):  # same clip as frame 4: changed through the temporal attention
        assert np.abs(out[i] - base[i]).max() > 1e-4


def test_official_layout_loads_strictly(tmp_path: Path) -> None:
    keys = read_manifest(MANIFEST)["keys"]
    wrap = lambda s: {"net": s, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-6, "params": [0]}]},
                      "sche": {"cur_batches": 10, "cur_epoch": 15}}
    path = save_fake_checkpoint(tmp_path / "checkpoint.pth", keys, wrap)
    live = PCSALive(weights=path)
    assert torch.all(live.net.temporal_high.output_Linear.weight == 0.5)
    assert torch.all(live.net.feature_extractor.features[15].conv[1].running_mean == 0.5)


def test_wrong_checkpoint_fails_with_readable_diff(tmp_path: Path) -> None:
    keys = dict(read_manifest(MANIFEST)["keys"])
    del keys["SegNIN.1.weight"]
    keys["temporal_high.query_conv.weight"] = [16, 32, 1, 1, 1]
    path = save_fake_checkpoint(tmp_path / "bad.pth", keys, lambda s: {"net": s})
    with pytest.raises(WeightsError) as err:
        PCSALive(weights=path)
    msg = str(err.value)
    assert "missing from checkpoint (1):\n  SegNIN.1.weight" in msg
    assert "temporal_high.query_conv.weight: model (32, 32, 1, 1, 1) vs checkpoint (16, 32, 1, 1, 1)" in msg


def test_bad_options_and_offline_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InputError, match="normalization"):
        PCSALive(random_init=True, normalization="imagenet")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="multiples of 8"):
        PCSALive(random_init=True, size=(250, 448))
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=r"PCSA_checkpoint\.pth.*PyramidCSA"):
        PCSALive()
