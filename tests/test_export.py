"""Exported spatial models (ONNX, TorchScript) compute what the PyTorch model computes, preprocessing included."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial

from vsodboost.booster import Booster
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.errors import InputError
from vsodboost.export import ExportedSpatial, ExportSpec, export_spatial, load_spec
from vsodboost.models import saliency_unet
from vsodboost.nets.u2net import U2Net, u2netp
from vsodboost.spatial.finetune import predict_maps


def _u2netp():
    torch.manual_seed(1)
    return u2netp()


def _lite0():
    torch.manual_seed(2)
    return saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)


@pytest.mark.parametrize("make", [_u2netp, _lite0], ids=["u2netp", "lite0"])
def test_onnx_and_torchscript_equal_pytorch(make, tmp_path):
    model = make().train()  # exported in eval mode (U²-Net's training forward returns side maps too)
    export_spatial(model, tmp_path, input_size=64)
    assert model.training  # the caller's module is left as it was
    x = torch.rand(3, 3, 64, 64, generator=torch.Generator().manual_seed(7))  # batch 3: the batch axis is free
    with torch.no_grad():
        ref = model.eval()(x)
    ref = (ref[0] if isinstance(ref, tuple) else ref).numpy()
    for backend, tol in (("onnx", 1e-4), ("torchscript", 1e-5)):
        got = ExportedSpatial(tmp_path, backend=backend, threads=1).logits(x)
        assert got.shape == (3, 1, 64, 64)
        diff = float(np.abs(got - ref).max())
        assert diff <= 1e-4, f"{backend}: largest difference {diff:.2e}"
    # U²-Net's divide-by-max normalisation is in the graph: scaling the input changes nothing, as in PyTorch
    if isinstance(model, U2Net):
        sess = ExportedSpatial(tmp_path)
        np.testing.assert_allclose(sess.logits(x * 0.5), sess.logits(x), atol=1e-4)


def test_preprocessing_json_round_trips_and_rejects_foreign_files(tmp_path):
    export_spatial(_lite0(), tmp_path, input_size=64, formats=("torchscript",), meta={"buffer": 2})
    raw = json.loads((tmp_path / "preprocessing.json").read_text())
    spec = load_spec(tmp_path)
    assert spec == ExportSpec.from_dict(spec.to_dict())
    assert (spec.input_size, spec.layout, spec.channels, spec.value_range) == (64, "NCHW", "RGB", (0.0, 1.0))
    assert spec.files == {"torchscript": "spatial.pt"} and spec.opset is None and spec.meta == {"buffer": 2}
    assert "sigmoid" in raw["output"] and "inside the graph" in raw["normalization"]
    assert not (tmp_path / "spatial.onnx").exists()
    with pytest.raises(InputError, match="torchscript"):
        ExportedSpatial(tmp_path, backend="onnx")
    with pytest.raises(InputError, match="unknown keys"):
        ExportSpec.from_dict({**raw, "mean": [0.5] * 3})
    with pytest.raises(InputError, match="format"):
        ExportSpec.from_dict({**raw, "format": "other/1"})


@pytest.mark.parametrize("kw,match", [
    ({"formats": ("tflite",)}, "onnx"),
    ({"input_size": 100}, "multiple of 32"),
])
def test_bad_export_arguments_are_typed_errors(kw, match, tmp_path):
    args = {"input_size": 64, **kw}
    with pytest.raises(InputError, match=match):
        export_spatial(_lite0(), tmp_path, **args)


def test_an_adapted_buffer_exports_and_reproduces_its_boosted_maps(tmp_path):
    frames, _, target = synthetic_clip(10, h=48, w=64, seed=3)
    target = {k: v for k, v in target.items() if k not in ("00008", "00009")}  # buffer 1 has nothing to learn
    booster = Booster(ArrayTarget(target), mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                      config=tiny_config(buffer_size=8, fusion="replace"), device="cpu")  # boosted = the model's maps
    res = booster.run(np.stack(frames), name="clip", keep_models=True)
    out = res.export(tmp_path / "adapted", buffer=0)
    spec = load_spec(out)
    assert spec.meta["buffer"] == 0 and spec.meta["frames"] == [0, 8] and spec.input_size == 64
    assert spec.meta["mined"] == [res.names[i] for i in res.buffers[0].mined]
    x = torch.from_numpy(np.stack(frames[:8])).permute(0, 3, 1, 2).contiguous()
    boosted = np.stack(res.boosted[:8])
    for backend in ("onnx", "torchscript"):
        maps = ExportedSpatial(out, backend=backend, threads=1).predict_frames(x)
        diff = float(np.abs(maps - boosted).max())
        assert diff <= 1e-4, f"{backend}: largest difference {diff:.2e}"
    # the adapted model is not the pretrained one: its maps differ from the pretrained model's
    pre = predict_maps(tiny_spatial(), x, input_size=64).numpy()
    assert np.abs(pre - boosted).max() > 1e-3
    with pytest.raises(InputError, match="no adapted model: no frame was mined"):
        res.export(tmp_path / "b1", buffer=1)
    with pytest.raises(InputError, match="keep_models=True"):
        booster.run(np.stack(frames), name="clip").export(tmp_path / "none")


@pytest.mark.realdata
@pytest.mark.parametrize("spatial", ["u2netp", "u2netp_davis"])
def test_shipped_u2netp_adapted_on_a_real_buffer_exports_within_1e4(shared_data, tmp_path, spatial):
    """DAVIS blackswan, PDB's maps as the target, each shipped U²-Net-p (fusion "replace": the model's maps): ONNX =
    PyTorch, TorchScript = PyTorch. In float32 and the contiguous layout the exported graph computes in: autocast
    "auto" predicts in bf16 on CPUs with native bf16 (those maps differ by bf16 rounding, as WHAT_IS_EXPORTED says),
    and channels-last (the default) sums in another order, up to 1.6e-4 away with the DAVIS-TR weights
    (docs/streams_export.md)."""
    from vsodboost import adapters
    from vsodboost.video import load_video

    video = load_video(shared_data / "DAVIS2016/JPEGImages/480p/blackswan")[:8]
    video.name = "blackswan"
    booster = Booster(adapters.precomputed(shared_data / "results/PDB/DAVIS2016"), device="cpu", spatial=spatial,
                      config={"buffer_size": 8, "period": 2, "fusion": "replace",
                              "finetune": {"iterations": 2, "autocast": "off", "channels_last": False}})
    res = booster.run(video, keep_models=True)
    assert res.models[0] is not None and isinstance(res.models[0], U2Net)
    out = res.export(tmp_path / "adapted")
    for backend in ("onnx", "torchscript"):
        maps = ExportedSpatial(out, backend=backend, threads=1).predict_frames(video.tensor())
        diff = float(np.abs(maps - np.stack(res.boosted)).max())
        print(f"{backend}: largest difference from PyTorch's maps {diff:.2e}")  # docs/streams_export.md
        assert diff <= 1e-4, f"{backend}: largest difference {diff:.2e}"
