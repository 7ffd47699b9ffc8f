"""Spatial model: checkpoints, fine-tuning semantics, saliency pretraining CLI."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from vsodboost.cli import main
from vsodboost.errors import InputError, MissingWeightsError, WeightsError
from vsodboost.models import saliency_unet
from vsodboost.config import FinetuneConfig
from vsodboost.models.checkpoint import load_unet_checkpoint, save_unet_checkpoint
from vsodboost.spatial import finetune, predict_maps
from vsodboost.spatial._plugin import lite0_spatial
from vsodboost.spatial.finetune import CPU_BF16_MIN_INPUT, otsu_threshold

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)


def _data(n=4, h=40, w=56):
    g = torch.Generator().manual_seed(0)
    frames = torch.randint(0, 255, (n, 3, h, w), dtype=torch.uint8, generator=g)
    targets = torch.zeros(n, h, w)
    targets[:, 10:30, 15:40] = 1.0
    frames[:, :, 10:30, 15:40] = 250
    return frames, targets


def test_checkpoint_roundtrip_is_strict_and_exact(net, tmp_path):
    p = save_unet_checkpoint(net, tmp_path / "m.pt", meta={"why": "test", "torch": torch.__version__}, half=False)
    back = load_unet_checkpoint(p, cls_head=False)
    for k, v in net.state_dict().items():
        assert torch.equal(v, back.state_dict()[k]), k
    assert back.provenance["why"] == "test" and len(back.provenance["sha256"]) == 64
    assert isinstance(back.provenance["torch"], str)  # plain types only: weights_only loading must work


def test_checkpoint_of_the_other_kind_or_tampered_fails_with_the_diff(net, tmp_path):
    p = save_unet_checkpoint(net, tmp_path / "m.pt")
    with pytest.raises(WeightsError, match="classification head"):
        load_unet_checkpoint(p, cls_head=True)
    obj = torch.load(p, weights_only=True)
    obj["state_dict"]["head.weight"] = obj["state_dict"]["head.weight"][:, :2]
    del obj["state_dict"]["head.bias"]
    torch.save(obj, tmp_path / "bad.pt")
    with pytest.raises(WeightsError) as err:
        load_unet_checkpoint(tmp_path / "bad.pt")
    assert "head.bias" in str(err.value) and "shape mismatch" in str(err.value)
    torch.save({"format": "something-else"}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="not a vsodboost U-Net checkpoint"):
        load_unet_checkpoint(tmp_path / "other.pt")


def test_missing_default_weights_name_the_command(tmp_path):
    with pytest.raises(MissingWeightsError, match="vsodboost train spatial"):
        lite0_spatial(weights=tmp_path / "absent.pt")


def test_finetune_trains_a_copy_and_lowers_the_loss(net):
    frames, targets = _data()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    cfg = FinetuneConfig(iterations=12, batch_size=2, lr=1e-3, input_size=64, scale_jitter=0.0)
    tuned, losses = finetune(net, frames, targets, cfg, seed=0)
    assert tuned is not net
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert np.mean(losses[-3:]) < np.mean(losses[:3])
    maps = predict_maps(tuned, frames, input_size=64)
    assert maps.shape == (4, 40, 56) and 0.0 <= float(maps.min()) and float(maps.max()) <= 1.0
    inside, outside = maps[:, 12:28, 18:38].mean(), maps[:, :8].mean()
    assert inside > outside  # it learned where the object is


def test_bf16_autocast_trains_and_predicts_close_to_float32_and_off_is_float32(net):
    # FinetuneConfig.autocast (for CUDA; CPU autocast exercises the same code path here). 96 = CPU_BF16_MIN_INPUT: at 64
    # the CPU's bf16 weight gradient read uninitialised memory and this test failed at random (NaN loss)
    frames, targets = _data()
    kw = dict(iterations=3, batch_size=2, input_size=CPU_BF16_MIN_INPUT)
    tuned32, losses32 = finetune(net, frames, targets, FinetuneConfig(**kw, autocast="off"), seed=0)
    tuned16, losses16 = finetune(net, frames, targets, FinetuneConfig(**kw, autocast="bf16"), seed=0)
    assert all(np.isfinite(losses16)) and losses16 != losses32, (losses16, losses32)  # bf16 really ran
    assert np.allclose(losses16, losses32, rtol=0.05, atol=0.02), (losses16, losses32)
    p32 = predict_maps(tuned32, frames, input_size=64)
    p16 = predict_maps(tuned32, frames, input_size=64, autocast_mode="bf16")
    assert p16.dtype == torch.float32 and p16.shape == p32.shape
    gap = float((p16 - p32).abs().max())
    assert 0 < gap < 0.05, gap  # bf16 rounding, nothing more
    assert torch.equal(predict_maps(tuned32, frames, input_size=64, autocast_mode="off"), p32)
    with pytest.raises(InputError, match="finetune.autocast"):
        FinetuneConfig(autocast="fp8")


def test_bf16_fine_tuning_on_the_cpu_refuses_inputs_whose_gradients_read_garbage(net):
    frames, targets = _data()
    with pytest.raises(InputError, match=r"input_size >= 96, got 64.*autocast='off'"):
        finetune(net, frames, targets, FinetuneConfig(iterations=1, input_size=64, autocast="bf16"))
    finetune(net, frames, targets, FinetuneConfig(iterations=1, input_size=64, autocast="off"))  # float32 is fine
    finetune(net, frames, targets, FinetuneConfig(iterations=1, input_size=64))  # "auto" falls back to float32
    # a Booster says so when it is built, before any flow or mining is computed
    from vsodboost.booster import Booster
    from vsodboost.testing import ArrayTarget

    with pytest.raises(InputError, match=r"input_size >= 96, got 64"):
        Booster(ArrayTarget({}), config={"finetune": {"autocast": "bf16", "input_size": 64}}, device="cpu")
    # the bound's evidence, rerun: at CPU_BF16_MIN_INPUT the bf16 gradients do not depend on what the allocator held
    spec = importlib.util.spec_from_file_location("check_bf16_grads", BENCH / "check_bf16_grads.py")
    check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(check)
    torch.manual_seed(0)
    gap, finite = check.grad_repeat_gap(saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False),
                                        CPU_BF16_MIN_INPUT, repeats=2)
    assert finite and gap == 0.0, gap


def test_decoder_only_finetuning_keeps_the_encoder(net):
    frames, targets = _data()
    cfg = FinetuneConfig(iterations=2, batch_size=2, input_size=64, train_layers="decoder")
    tuned, _ = finetune(net, frames, targets, cfg)
    enc0, enc1 = net.encoder.state_dict(), tuned.encoder.state_dict()
    assert all(torch.equal(enc0[k], enc1[k]) for k in enc0)
    assert not torch.equal(net.head.weight, tuned.head.weight)


def test_otsu_splits_a_bimodal_map():
    m = torch.zeros(1, 10, 10)
    m[0, :, 5:] = 0.8
    m[0, :, :5] = 0.1
    t = float(otsu_threshold(m)[0])
    assert 0.1 <= t < 0.8


def test_finetune_rejects_bad_inputs(net):
    frames, targets = _data()
    cfg = FinetuneConfig(iterations=1, input_size=64)
    with pytest.raises(InputError, match="uint8"):
        finetune(net, frames.float(), targets, cfg)
    with pytest.raises(InputError, match="do not match"):
        finetune(net, frames, targets[:, :10], cfg)
    with pytest.raises(InputError, match="multiple of 32"):
        FinetuneConfig(input_size=100)


def test_train_spatial_cli_writes_a_loadable_checkpoint_and_honours_exclude(tmp_path):
    root = tmp_path / "set"
    for seq in ("alpha", "beta"):
        (root / seq / "Imgs").mkdir(parents=True)
        (root / seq / "ground-truth").mkdir(parents=True)
        frames, targets = _data(n=2, h=48, w=64)
        for i in range(2):
            cv2.imwrite(str(root / seq / "Imgs" / f"{seq}_{i}.jpg"), frames[i].permute(1, 2, 0).numpy())
            cv2.imwrite(str(root / seq / "ground-truth" / f"{seq}_{i}.png"), (targets[i].numpy() * 255).astype(np.uint8))
    out = tmp_path / "spatial.pt"
    rc = main(["train", "spatial", "--data", str(root), "--out", str(out), "--iterations", "2", "--batch-size", "2",
               "--input-size", "64", "--exclude", "beta", "--threads", "1"])
    assert rc == 0
    model = load_unet_checkpoint(out, cls_head=False)
    assert model.provenance["sequences"] == ["alpha"] and model.provenance["excluded"] == ["beta"]
    assert model.provenance["frames"] == 2 and model.provenance["iterations"] == 2


def test_auto_autocast_is_bf16_only_where_native_and_large_enough(monkeypatch):
    import importlib

    ft = importlib.import_module("vsodboost.spatial.finetune")  # the module (the package exports the function)

    monkeypatch.setattr(ft, "bf16_native", lambda device: True)
    assert ft.resolve_autocast(FinetuneConfig(input_size=224), "cpu").autocast == "bf16"
    assert ft.resolve_autocast(FinetuneConfig(input_size=64), "cpu").autocast == "off"  # CPU bf16 grads at 2x2
    assert ft.resolve_autocast(FinetuneConfig(input_size=224, autocast="off"), "cpu").autocast == "off"
    monkeypatch.setattr(ft, "bf16_native", lambda device: False)
    assert ft.resolve_autocast(FinetuneConfig(input_size=224), "cpu").autocast == "off"
    assert ft.resolve_autocast(FinetuneConfig(input_size=224, autocast="bf16"), "cpu").autocast == "bf16"  # forced
    # the Booster records what it computes with, so a resume on other hardware is told the maps would differ
    from vsodboost.booster import Booster
    from vsodboost.testing import ArrayTarget

    booster = Booster(ArrayTarget({}), spatial="lite0", config={"finetune": {"input_size": 224}}, device="cpu")
    assert booster.config.finetune.autocast == "off"
    assert booster.provenance()["config"]["finetune"]["autocast"] == "off"


def test_channels_last_changes_speed_not_what_is_learned(net):
    frames, targets = _data()
    kw = dict(iterations=4, batch_size=2, input_size=64, autocast="off")
    tuned_cl, losses_cl = finetune(net, frames, targets, FinetuneConfig(**kw), seed=0)
    tuned, losses = finetune(net, frames, targets, FinetuneConfig(**kw, channels_last=False), seed=0)
    assert next(p for p in tuned_cl.parameters() if p.ndim == 4).is_contiguous(memory_format=torch.channels_last)
    assert np.allclose(losses_cl, losses, rtol=1e-2), (losses_cl, losses)  # float rounding, grown by training
    a = predict_maps(tuned_cl, frames, input_size=64, channels_last=True)
    b = predict_maps(tuned, frames, input_size=64)
    assert float((a - b).abs().max()) < 0.02
