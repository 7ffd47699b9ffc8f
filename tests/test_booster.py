"""The Booster's pipeline on a small synthetic clip, with a stand-in MQPM (the real one is tested in test_mqpm*)."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from vsodboost import plugins
from vsodboost.booster import Booster
from vsodboost.config import BoostConfig
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError, TargetError
from vsodboost.models import saliency_unet

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial


@pytest.fixture(scope="module")
def clip():
    frames, masks, target = synthetic_clip(12, h=48, w=64, seed=1)
    return np.stack(frames), masks, target


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=kw.pop("mqpm", FlowMagnitudeMQPM()), spatial=kw.pop("spatial", tiny_spatial()),
                   config=kw.pop("config", tiny_config()), device="cpu", **kw)


def test_run_returns_one_map_per_frame_and_mines_frames_with_target(clip):
    frames, _, target = clip
    target = dict(target)
    del target["00003"]  # a frame without a target map: never mined, still boosted
    res = _booster(ArrayTarget(target)).run(frames, name="demo")
    assert len(res.boosted) == 12 and all(m.shape == (48, 64) for m in res.boosted)
    assert all(0.0 <= m.min() and m.max() <= 1.0 for m in res.boosted)
    assert res.target[3] is None and np.isnan(res.consistency[3])
    assert res.mined and 3 not in res.mined
    assert all(np.isfinite(res.consistency[i]) for i in res.mined)
    assert set(res.timings) >= {"flow", "mqpm+filter", "finetune", "predict"}
    assert all(v >= 0 for v in res.timings.values()) and res.timings["finetune"] > 0
    assert res.provenance["target"]["name"] == "arrays"


def test_one_frame_per_period_is_kept(clip):
    frames, _, target = clip
    res = _booster(ArrayTarget(target), config=tiny_config(period=4)).run(frames, name="demo")
    # every frame is HQ under the stub → 12 candidates → 3 groups of 4
    assert len(res.mined) == 3
    assert [i // 4 for i in res.mined] == [0, 1, 2]
    for i in res.mined:
        group = range(4 * (i // 4), 4 * (i // 4) + 4)
        assert res.consistency[i] == max(res.consistency[j] for j in group)


def test_spatial_model_is_never_modified_and_seed_makes_runs_repeatable(clip):
    frames, _, target = clip
    spatial = saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)
    before = {k: v.clone() for k, v in spatial.state_dict().items()}
    a = _booster(ArrayTarget(target), spatial=spatial, seed=3).run(frames, name="demo")
    b = _booster(ArrayTarget(target), spatial=spatial, seed=3).run(frames, name="demo")
    assert all(torch.equal(before[k], v) for k, v in spatial.state_dict().items())
    assert all(np.array_equal(x, y) for x, y in zip(a.boosted, b.boosted))


def test_buffers_cut_long_videos(clip):
    frames, _, target = clip
    mqpm = FlowMagnitudeMQPM()
    res = _booster(ArrayTarget(target), mqpm=mqpm, config=tiny_config(buffer_size=5)).run(frames, name="demo")
    assert [(b.start, b.stop) for b in res.buffers] == [(0, 5), (5, 10), (10, 12)]
    assert mqpm.calls == 3 and len(res.boosted) == 12
    assert all(b.start <= i < b.stop for b in res.buffers for i in b.mined)


def test_no_hq_frame_falls_back_with_a_warning(clip):
    frames, _, target = clip
    res = _booster(ArrayTarget(target), mqpm=FlowMagnitudeMQPM(threshold=2.0)).run(frames, name="demo")
    assert res.mined and res.buffers[0].fallback
    assert any("fell back" in w for w in res.warnings)


def test_single_frame_buffer_does_not_crash(clip):
    frames, _, target = clip
    res = _booster(ArrayTarget(target), config=tiny_config(buffer_size=11)).run(frames, name="demo")
    assert res.buffers[-1].stop - res.buffers[-1].start == 1
    assert any("1 frame" in w for w in res.warnings) and len(res.boosted) == 12


def test_target_without_any_map_is_a_clear_error(clip):
    frames, _, _ = clip
    with pytest.raises(TargetError, match="no map for any"):
        _booster(ArrayTarget({})).run(frames, name="demo")


@pytest.mark.parametrize("bad,match", [
    (lambda m: m[:10], "shape"),
    (lambda m: m * 3.0, r"\[0, 1\]"),
    (lambda m: np.where(m > 0.5, np.nan, m).astype(np.float32), "NaN"),
])
def test_bad_target_maps_name_the_adapter(clip, bad, match):
    frames, _, target = clip
    broken = {k: bad(v) for k, v in target.items()}
    with pytest.raises(TargetError, match=match) as err:
        _booster(ArrayTarget(broken, name="broken_model")).run(frames, name="demo")
    assert "broken_model" in str(err.value)


def test_not_a_target_is_refused():
    with pytest.raises(InputError, match="TargetModel"):
        Booster(object(), mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(), device="cpu")


def test_fusion_mean_combines_boosted_and_target(clip):
    frames, _, target = clip
    rep = _booster(ArrayTarget(target), seed=1, config=tiny_config(fusion="replace")).run(frames, name="demo")
    mean = _booster(ArrayTarget(target), seed=1, config=tiny_config(fusion="mean")).run(frames, name="demo")
    geo = _booster(ArrayTarget(target), seed=1, config=tiny_config(fusion="geometric")).run(frames, name="demo")
    mot = _booster(ArrayTarget(target), seed=1, config=tiny_config(fusion="motion")).run(frames, name="demo")
    np.testing.assert_allclose(mean.boosted[0], 0.5 * (rep.boosted[0] + target["00000"]), atol=1e-6)
    np.testing.assert_allclose(geo.boosted[0], np.sqrt(rep.boosted[0] * target["00000"]), atol=1e-6)
    # motion: per frame, the recorded weight of the fine-tuned model's map (the same in every run of the seed)
    np.testing.assert_array_equal(mot.motion_weight, rep.motion_weight)
    for i in (0, 3):
        w = mot.motion_weight[i]
        np.testing.assert_allclose(mot.boosted[i], w * rep.boosted[i] + (1 - w) * target[f"{i:05d}"], atol=1e-6)
    assert BoostConfig().fusion == "motion"  # measured best with the default U²-Net-p (docs/booster.md)


def test_spatial_registry_has_the_paper_model_and_a_timm_unet():
    names = plugins.spatial_models().names()
    assert {"default", "u2netp", "lite0", "lite0_imagenet", "vgg16", "timm_unet"} <= set(names)


def test_readme_usage_folder_of_frames_with_a_maps_mode_target(tmp_path, clip):
    """`Booster(target=adapters.ssav(maps=ROOT)).run(folder)`: frames from disk, maps matched by stem."""
    import cv2

    from vsodboost import Booster as TopLevelBooster
    from vsodboost import adapters

    frames, _, target = clip
    seq = tmp_path / "frames" / "clip7"
    seq.mkdir(parents=True)
    maps = tmp_path / "ssav_maps" / "clip7"
    maps.mkdir(parents=True)
    for i, f in enumerate(frames[:6]):
        cv2.imwrite(str(seq / f"{i:05d}.png"), f[:, :, ::-1])
        if i != 2:  # a frame without a published map
            cv2.imwrite(str(maps / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    booster = TopLevelBooster(target=adapters.ssav(maps=tmp_path / "ssav_maps"), mqpm=FlowMagnitudeMQPM(),
                              spatial=tiny_spatial(), config=tiny_config(), device="cpu")
    res = booster.run(seq)
    assert res.sequence == "clip7" and res.names == [f"{i:05d}" for i in range(6)]
    assert res.target[2] is None and all(res.target[i] is not None for i in (0, 1, 3, 4, 5))
    assert 2 not in res.mined and len(res.boosted) == 6
    # motion (default): the fine-tuned model's map times its weight where the target is zero, never above it there
    zero, w = res.target[0] < 1e-6, float(res.motion_weight[0])
    assert 0 < w <= 1 and res.motion_weight[2] == 0.5  # frame 2 has no target map: nothing to weigh
    assert zero.any() and np.any(res.boosted[0][zero] > 1e-3) and np.all(res.boosted[0][zero] <= w + 1e-6)


def test_every_driver_seeds_buffer_b_the_same_way(clip, tmp_path, monkeypatch):
    from vsodboost.runner import run_to_dir

    frames, _, target = clip
    b = _booster(ArrayTarget(target), config=tiny_config(buffer_size=6), seed=40)
    assert [b.buffer_seed(k) for k in range(3)] == [40, 41, 42]
    seeds, real = [], b.run_buffer
    monkeypatch.setattr(b, "run_buffer", lambda *a, **k: seeds.append(k.get("seed")) or real(*a, **k))
    b.run(frames, name="demo")
    run_to_dir(b, frames, tmp_path / "out", name="demo")
    list(b.stream(iter(frames), name="demo", buffer_size=6))
    assert seeds == [40, 41] * 3


@pytest.mark.parametrize("pseudo_gt", ["soft", "blend"])
def test_pseudo_gt_blend_averages_the_targets_maps_with_the_untuned_models(clip12, monkeypatch, pseudo_gt):
    import vsodboost.booster as booster_mod
    from conftest import tiny_booster
    from vsodboost.spatial.finetune import predict_maps

    frames, maps = clip12
    b = tiny_booster(ArrayTarget(maps), config=tiny_config(buffer_size=6, finetune={"pseudo_gt": pseudo_gt}))
    seen = {}
    real = booster_mod.finetune
    monkeypatch.setattr(booster_mod, "finetune", lambda model, x, y, cfg, **kw: seen.update(x=x, y=y) or
                        real(model, x, y, cfg, **kw))
    out = b.run(frames[:6], name="seq")
    target = torch.from_numpy(np.stack([maps[f"{i:05d}"] for i in out.mined]))
    if pseudo_gt == "soft":  # the paper: the target's maps as they are
        assert torch.equal(seen["y"], target)
    else:  # blend: halfway to what the pretrained spatial model, untouched by the run, predicts on those frames
        pre = predict_maps(b.spatial, seen["x"], **b.config.finetune.predict_args())
        torch.testing.assert_close(seen["y"], (target + pre) / 2)
        assert not torch.equal(seen["y"], target)
