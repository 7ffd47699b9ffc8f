"""COSNet live target: deterministic references, shapes and ranges at frame size, strict official loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vsodboost.errors import InputError, MissingWeightsError, WeightsError
from vsodboost.testing import moving_square, read_manifest, save_fake_checkpoint
from vsodboost.nets.cosnet import COSNetLive, reference_indices

MANIFEST = Path(__file__).parent / "data" / "nets" / "cosnet_official_keys.json"


@pytest.fixture(scope="module")
def live() -> COSNetLive:
    torch.manual_seed(0)
    return COSNetLive(random_init=True, input_size=32, batch_size=4)


@pytest.mark.parametrize("n", range(1, 13))
def test_even_references_are_distinct_spread_and_capped(n: int) -> None:
    refs = reference_indices(n, 5, "even")
    assert len(refs) == min(5, n) and refs == sorted(set(refs))
    assert all(0 <= r < n for r in refs)
    if n >= 2:
        assert refs[0] == 0 and refs[-1] == n - 1  # the whole video is seen


def test_random_references_are_seeded(live: COSNetLive) -> None:
    live.reference_mode, live.seed = "random", 3
    try:
        a, b = live.plan(20), live.plan(20)
        assert a == b  # same seed, same draw
        assert len({tuple(r) for r in a}) > 1  # drawn per target
        assert all(len(set(r)) == 5 for r in a)
        live.seed = 4
        assert live.plan(20) != a
    finally:
        live.reference_mode, live.seed = "even", 0
    assert live.plan(9) == [[0, 2, 4, 6, 8]] * 9


@pytest.mark.parametrize("n, refs", [(2, 5), (3, 2)])
def test_predict_video_shapes_and_ranges_at_frame_size(live: COSNetLive, n: int, refs: int) -> None:
    # (2, 5): fewer frames than references (every frame is a reference, its features reused);
    # (3, 2): references 0 and 2 reuse their features, frame 1 is encoded as a target only.
    live.references = refs
    try:
        maps = live.predict_video(moving_square(n, 30, 41))
    finally:
        live.references = 5
    assert len(maps) == n
    assert all(m.shape == (30, 41) and m.dtype == np.float32 and 0 <= m.min() <= m.max() <= 1 for m in maps)


def test_bad_options() -> None:
    with pytest.raises(InputError, match="reference_mode"):
        COSNetLive(random_init=True, reference_mode="shuffle")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="references"):
        COSNetLive(random_init=True, references=0)


def test_official_layout_loads_strictly(tmp_path: Path) -> None:
    keys = read_manifest(MANIFEST)["keys"]
    wrap = lambda s: {"model": {"module." + k: v for k, v in s.items()}, "epoch": 29}
    path = save_fake_checkpoint(tmp_path / "co_attention.pth", keys, wrap)
    live = COSNetLive(weights=path)
    assert torch.all(live.net.linear_e.weight == 0.5)
    assert torch.all(live.net.encoder.layer5.prelu.weight == 0.5)


def test_wrong_checkpoint_fails_with_readable_diff(tmp_path: Path) -> None:
    keys = dict(read_manifest(MANIFEST)["keys"])
    keys["linear_e.weight"] = [256, 512]
    keys["encoder.layer5.extra.weight"] = [1]
    wrap = lambda s: {"model": {"module." + k: v for k, v in s.items()}}
    path = save_fake_checkpoint(tmp_path / "bad.pth", keys, wrap)
    with pytest.raises(WeightsError) as err:
        COSNetLive(weights=path)
    msg = str(err.value)
    assert "unexpected in checkpoint (1):\n  encoder.layer5.extra.weight" in msg
    assert "linear_e.weight: model (256, 256) vs checkpoint (256, 512)" in msg


def test_offline_default_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")
    with pytest.raises(MissingWeightsError, match=r"co_attention\.pth.*carrierlxk/COSNet"):
        COSNetLive()
