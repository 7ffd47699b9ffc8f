"""``adapters.image``: any image saliency model as a live target (issue 25) — run exactly as the Booster runs its
spatial model, at the model's own input size, with clear errors for what cannot work."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vsodboost import adapters, plugins
from vsodboost.errors import InputError, UnknownNameError
from vsodboost.spatial import load_spatial, predict_maps
from vsodboost.testing import synthetic_clip
from vsodboost.video import load_video


@pytest.fixture(scope="module")
def frames():
    f, _, _ = synthetic_clip(3, h=40, w=56, seed=3)
    return f


def test_lite0_target_gives_the_spatial_models_own_maps_at_its_own_size(frames):
    target = adapters.image(spatial="lite0")
    assert target.name == "image:lite0" and target.input_size == 224  # the model's config.input_size
    maps = target.predict(load_video(frames, name="clip"))
    assert [m.shape for m in maps] == [(40, 56)] * 3 and all(m.dtype == np.float32 for m in maps)
    net = plugins.spatial_models().create("lite0").eval()
    ref = predict_maps(net, torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2), input_size=224)
    np.testing.assert_allclose(np.stack(maps), ref.numpy(), atol=1e-6)
    assert 0 <= min(m.min() for m in maps) and max(m.max() for m in maps) <= 1
    assert target.provenance["spatial"] == "lite0" and len(target.provenance["sha256"]) == 64


def test_u2netp_is_run_at_320_and_input_size_overrides(frames):
    assert adapters.image(spatial="u2netp").input_size == 320
    small = adapters.image(spatial="u2netp", input_size=64, name="mine")
    assert small.input_size == 64 and small.name == "mine"
    assert [m.shape for m in small.predict_frames(frames[:1])] == [(40, 56)]


def test_a_module_or_a_checkpoint_file_is_a_target_too(tmp_path, frames):
    net = plugins.spatial_models().create("lite0")
    t = adapters.image(spatial=net)
    assert t.spatial == "SaliencyUNet" and t.net is net
    from vsodboost.models.checkpoint import save_unet_checkpoint

    path = tmp_path / "mine.pt"
    save_unet_checkpoint(net, path)
    from_file = adapters.image(spatial=path)
    assert from_file.name == "image:mine.pt"
    np.testing.assert_allclose(np.stack(from_file.predict_frames(frames)), np.stack(t.predict_frames(frames)),
                               atol=1e-6)


def test_bad_options_are_refused_with_the_fix(tmp_path):
    with pytest.raises(InputError, match="input_size must be ≥ 32, got 16 \\(or None for the model's own size\\)"):
        adapters.image(spatial="lite0", input_size=16)
    with pytest.raises(InputError, match="batch must be an integer, got 2.0"):
        adapters.image(spatial="lite0", batch=2.0)
    with pytest.raises(InputError, match="batch must be ≥ 1, got 0"):
        adapters.u2netp(batch=0)
    with pytest.raises(UnknownNameError, match="lite0"):  # the message lists what is registered
        adapters.image(spatial="no_such_model")
    with pytest.raises(InputError, match="registry name"):
        load_spatial(tmp_path / "absent.pt")


def test_registered_and_reachable_by_name_with_target_args():
    assert "image" in plugins.targets().names()
    t = adapters.create("image", spatial="lite0", batch=2)
    assert t.batch == 2 and t.predict_frames([]) == []
