"""Deep flow backends: pure-PyTorch correlation, pre/post-processing, published checkpoint formats, offline weights.

All offline and CPU-only, random or fake weights. A test with the real published weights runs only when they are
already in the cache (``$VSODBOOST_HOME/flow``).
"""

from __future__ import annotations

import urllib.error
from pathlib import Path
from typing import Any

import pytest
import torch

from vsodboost import InputError, MissingWeightsError, UnknownNameError, WeightsError
from vsodboost._weights import home_dir
from vsodboost.flow import FlowBackend, LiteFlowNet, PWCNet, RAFTFlow, SPyNet, correlation, create_flow
from vsodboost.flow._deep import backwarp
from vsodboost.flow.liteflownet import LITEFLOWNET_PUBLISHED_SHAPES
from vsodboost.flow.pwcnet import PWCNET_PUBLISHED_SHAPES
from vsodboost.flow.spynet import SPYNET_PUBLISHED_SHAPES

from vsodboost.testing import epe, translation

NETS = {
    "spynet": (SPyNet, SPYNET_PUBLISHED_SHAPES, 1_440_300),
    "pwcnet": (PWCNet, PWCNET_PUBLISHED_SHAPES, 9_374_274),
    "liteflownet": (LiteFlowNet, LITEFLOWNET_PUBLISHED_SHAPES, 5_381_969),
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test may touch the network: an empty cache, offline mode, and urlopen / torch hub downloads that fail."""
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))

    def no_network(*a: Any, **k: Any) -> Any:
        raise AssertionError("a test tried to access the network")

    monkeypatch.setattr("urllib.request.urlopen", no_network)
    monkeypatch.setattr("torch.hub.download_url_to_file", no_network)


def fake_checkpoint(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=g) * 0.05 for k, s in shapes.items()}


# ---------------------------------------------------------------------------------------------- correlation
def naive_correlation(f1: torch.Tensor, f2: torch.Tensor, d: int, s: int) -> torch.Tensor:
    """The CUDA kernels' definition, one output pixel and one displacement at a time."""
    b, c, h, w = f1.shape
    ho, wo = -(-h // s), -(-w // s)
    out = torch.zeros(b, (2 * d + 1) ** 2, ho, wo, dtype=f1.dtype)
    for i in range(ho):
        for j in range(wo):
            for dy in range(-d, d + 1):
                for dx in range(-d, d + 1):
                    y, x = i * s + dy * s, j * s + dx * s
                    if 0 <= y < h and 0 <= x < w:
                        out[:, (dy + d) * (2 * d + 1) + dx + d, i, j] = (f1[:, :, i * s, j * s] * f2[:, :, y, x]).sum(1) / c
    return out


@pytest.mark.parametrize("d,s,h,w", [(4, 1, 7, 9), (3, 1, 6, 5), (3, 2, 8, 10), (3, 2, 7, 9), (1, 3, 7, 8)])
def test_correlation_equals_naive_loop(d: int, s: int, h: int, w: int) -> None:
    g = torch.Generator().manual_seed(d * 10 + s)
    f1, f2 = torch.randn(2, 5, h, w, generator=g, dtype=torch.float64), torch.randn(2, 5, h, w, generator=g, dtype=torch.float64)
    got = correlation(f1, f2, d, s)
    assert got.shape == (2, (2 * d + 1) ** 2, -(-h // s), -(-w // s))
    torch.testing.assert_close(got, naive_correlation(f1, f2, d, s))


def test_correlation_peaks_at_true_displacement() -> None:
    # f2 is f1 shifted right by 2 and down by 1: the peak is at channel (dy+4)*9 + (dx+4) = 5*9 + 6.
    f1 = torch.randn(1, 256, 20, 20, generator=torch.Generator().manual_seed(0))
    f2 = torch.roll(f1, shifts=(1, 2), dims=(2, 3))
    vol = correlation(f1, f2, 4, 1)[0, :, 5:15, 5:15]
    assert torch.all(vol.argmax(0) == 5 * 9 + 6)


def test_correlation_bad_input() -> None:
    with pytest.raises(InputError, match="one shape"):
        correlation(torch.zeros(1, 2, 4, 4), torch.zeros(1, 2, 4, 5))


# ---------------------------------------------------------------------------------------------- warping convention
def test_backwarp_convention() -> None:
    # Forward flow (u, v) = (+2, +1): pixel (x, y) of frame 1 is at (x+2, y+1) in frame 2, so sampling frame 2 at
    # p + flow reconstructs frame 1 (away from the border).
    frames, _ = translation(2, 32, 40, 2, 1)
    one, two = frames[:1].float(), frames[1:].float()
    flow = torch.zeros(1, 2, 32, 40)
    flow[:, 0], flow[:, 1] = 2.0, 1.0
    rec = backwarp(two, flow)
    assert torch.allclose(rec[..., 2:-4, 2:-4], one[..., 2:-4, 2:-4], atol=1e-3)
    assert not torch.allclose(backwarp(two, flow.flip(1))[..., 4:-4, 4:-4], one[..., 4:-4, 4:-4], atol=1.0)


# ---------------------------------------------------------------------------------------------- architecture
@pytest.mark.parametrize("name", NETS)
def test_random_init_shape_dtype_and_param_count(name: str) -> None:
    cls, shapes, n_params = NETS[name]
    net = create_flow(name, weights="random")
    assert isinstance(net, cls) and isinstance(net, FlowBackend) and net.name == name
    assert net.to("cpu") is net
    assert sum(p.numel() for p in net.parameters()) == n_params == sum(torch.Size(s).numel() for s in shapes.values())
    frames = torch.randint(0, 256, (2, 3, 66, 70), dtype=torch.uint8)  # not a multiple of 32 or 64
    flow = net.estimate(frames)
    assert flow.shape == (1, 2, 66, 70) and flow.dtype == torch.float32 and torch.isfinite(flow).all()


class _Recorder:
    """Replaces a network's forward: records its inputs and returns a constant flow at a chosen resolution."""

    def __init__(self, value: tuple[float, float], factor: int) -> None:
        self.value, self.factor, self.calls = value, factor, []

    def __call__(self, one: torch.Tensor, two: torch.Tensor) -> torch.Tensor:
        self.calls.append((one.clone(), two.clone()))
        b, _, h, w = one.shape
        out = torch.empty(b, 2, h // self.factor, w // self.factor)
        out[:, 0], out[:, 1] = self.value
        return out


@pytest.mark.parametrize("name,multiple,factor", [("spynet", 32, 1), ("pwcnet", 64, 4), ("liteflownet", 32, 2)])
def test_size_multiple_and_output_scaling(name: str, multiple: int, factor: int, monkeypatch: pytest.MonkeyPatch) -> None:
    net = NETS[name][0]()
    assert net.size_multiple == multiple
    rec = _Recorder((6.0, 3.0), factor)
    monkeypatch.setattr(net, "forward", rec)
    h, w = 75, 130
    flow = net.estimate(torch.randint(0, 256, (4, 3, h, w), dtype=torch.uint8))
    hp, wp = -(-h // multiple) * multiple, -(-w // multiple) * multiple
    one, _ = rec.calls[0]
    assert one.shape[-2:] == (hp, wp)
    # The network's flow is in pixels of the resized input: u scales by W/W', v by H/H' (axes not swapped).
    assert torch.allclose(flow[:, 0], torch.full((3, h, w), 6.0 * w / wp))
    assert torch.allclose(flow[:, 1], torch.full((3, h, w), 3.0 * h / hp))


def test_batching_pairs_consecutive_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    net = SPyNet(batch_size=2)
    rec = _Recorder((0.0, 0.0), 1)
    monkeypatch.setattr(net, "forward", rec)
    frames = torch.arange(5, dtype=torch.uint8).mul(40).view(5, 1, 1, 1).expand(5, 3, 32, 32).contiguous()
    assert net.estimate(frames).shape == (4, 2, 32, 32)
    assert [c[0].shape[0] for c in rec.calls] == [2, 2]
    firsts = torch.cat([c[0][:, 0, 0, 0] for c in rec.calls])
    seconds = torch.cat([c[1][:, 0, 0, 0] for c in rec.calls])
    std, mean = net.std[0], net.mean[0]
    assert torch.allclose(firsts * std + mean, torch.tensor([0, 40, 80, 120]) / 255.0, atol=1e-6)
    assert torch.allclose(seconds * std + mean, torch.tensor([40, 80, 120, 160]) / 255.0, atol=1e-6)


def test_colour_preprocessing() -> None:
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 1.0  # RGB red in [0, 1]
    s = SPyNet().prepare(red, 0)  # RGB, ImageNet mean/std
    assert torch.allclose(s[0, :, 0, 0], torch.tensor([(1 - 0.485) / 0.229, -0.456 / 0.224, -0.406 / 0.225]))
    p = PWCNet().prepare(red, 0)  # BGR in [0, 1]
    assert p[0, :, 0, 0].tolist() == [0.0, 0.0, 1.0]
    lf = LiteFlowNet()
    a, b = lf.prepare(red, 0), lf.prepare(red, 1)  # BGR minus the first / second frame's means
    assert torch.allclose(a[0, :, 0, 0], torch.tensor([-0.411618, -0.434631, 1 - 0.454253]))
    assert torch.allclose(b[0, :, 0, 0], torch.tensor([-0.410782, -0.433645, 1 - 0.452793]))


# ---------------------------------------------------------------------------------------------- checkpoints
@pytest.mark.parametrize("name", NETS)
def test_published_format_loads_strictly(name: str, tmp_path: Path) -> None:
    cls, shapes, _ = NETS[name]
    fake = fake_checkpoint(shapes)
    path = tmp_path / "net.pytorch"
    torch.save(fake, path)
    net = cls(weights=path)
    assert net.weights_name == str(path)
    # Every published tensor landed in the model (by the rename table, not by position).
    ours = sorted(t.flatten()[:4].tolist() for t in net.state_dict().values())
    theirs = sorted(t.flatten()[:4].tolist() for t in fake.values())
    assert ours == theirs
    # Containers are unwrapped.
    torch.save({"state_dict": fake}, tmp_path / "wrapped.pth")
    cls(weights=tmp_path / "wrapped.pth")


@pytest.mark.parametrize("name", NETS)
def test_wrong_checkpoint_fails_with_readable_diff(name: str, tmp_path: Path) -> None:
    cls, shapes, _ = NETS[name]
    fake = fake_checkpoint(shapes)
    first, last = sorted(fake)[0], sorted(fake)[-1]
    del fake[first]
    fake["moduleExtra.weight"] = torch.zeros(1)
    fake[last] = torch.zeros(3, 3, 3, 3, 3)
    torch.save(fake, tmp_path / "bad.pytorch")
    with pytest.raises(WeightsError) as info:
        cls(weights=tmp_path / "bad.pytorch")
    msg = str(info.value)
    assert "missing from checkpoint (1)" in msg and "unexpected in checkpoint (1)" in msg and "moduleExtra.weight" in msg
    assert "shape mismatch (1)" in msg and "(3, 3, 3, 3, 3)" in msg


def test_checkpoint_of_another_network_fails(tmp_path: Path) -> None:
    torch.save(fake_checkpoint(SPYNET_PUBLISHED_SHAPES), tmp_path / "spynet.pytorch")
    with pytest.raises(WeightsError, match="missing from checkpoint"):
        PWCNet(weights=tmp_path / "spynet.pytorch")


# ---------------------------------------------------------------------------------------------- weight sources
@pytest.mark.parametrize("name,filename", [("spynet", "spynet-sintel-final.pytorch"),
                                           ("pwcnet", "pwcnet-default.pytorch"),
                                           ("liteflownet", "liteflownet-default.pytorch")])
def test_missing_weights_offline_names_the_file(name: str, filename: str) -> None:
    with pytest.raises(MissingWeightsError) as info:
        create_flow(name)  # default = published weights
    msg = str(info.value)
    assert filename in msg and str(home_dir() / "flow" / filename) in msg and "http://content.sniklaus.com" in msg


def test_failed_download_is_missing_weights(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSODBOOST_OFFLINE", "0")

    def refuse(url: str) -> Any:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr("urllib.request.urlopen", refuse)
    with pytest.raises(MissingWeightsError, match="download failed.*no route to host"):
        create_flow("pwcnet", weights="chairs-things")


def test_cache_is_used_before_download() -> None:
    target = home_dir() / "flow" / "liteflownet-kitti.pytorch"
    target.parent.mkdir(parents=True)
    torch.save(fake_checkpoint(LITEFLOWNET_PUBLISHED_SHAPES), target)
    net = create_flow("liteflownet", weights="kitti")
    assert net.weights_name == "kitti"


def test_unknown_variant_and_missing_path() -> None:
    with pytest.raises(UnknownNameError, match="sintel-final, sintel-clean"):
        SPyNet(weights="sintel")
    with pytest.raises(MissingWeightsError, match="does not exist"):
        SPyNet(weights="/nonexistent/spynet.pytorch")


def test_variants_are_documented() -> None:
    for cls in (SPyNet, PWCNet, LiteFlowNet):
        assert cls.variants, cls
        for spec in cls.variants:
            assert spec.url and spec.url.startswith("http://content.sniklaus.com/github/pytorch-")
            assert "research" in spec.license or "NC" in spec.license
            assert spec.sha256 is None  # unknown: never invented


# ---------------------------------------------------------------------------------------------- RAFT
def test_raft_random_shape_and_padding() -> None:
    net = create_flow("raft_small", weights="random", num_flow_updates=1)
    assert isinstance(net, RAFTFlow) and isinstance(net, FlowBackend) and net.name == "raft_small"
    flow = net.estimate(torch.randint(0, 256, (2, 3, 128, 131), dtype=torch.uint8))  # padded to 128×136
    assert flow.shape == (1, 2, 128, 131) and flow.dtype == torch.float32


def test_raft_missing_weights_offline() -> None:
    with pytest.raises(MissingWeightsError) as info:
        create_flow("raft_large")
    msg = str(info.value)
    assert "raft_large_C_T_SKHT_V2-ff5fadd5.pth" in msg and str(Path(torch.hub.get_dir()) / "checkpoints") in msg


def test_raft_download_failure_is_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VSODBOOST_OFFLINE", "0")

    def refuse(*a: Any, **k: Any) -> Any:
        raise urllib.error.URLError("no route to host")

    monkeypatch.setattr("vsodboost.flow.raft._download", refuse)
    with pytest.raises(MissingWeightsError, match="raft_small_C_T_V2-01064c6d.pth.*no route to host"):
        create_flow("raft_small", weights="C_T_V2")


class _Exploit:
    """A pickle that would create a file when unpickled with weights_only=False."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> Any:
        return (Path.touch, (self.marker,))


def _plant(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(obj, path)


def test_raft_planted_pickle_in_the_hub_cache_never_runs(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The file torchvision's own loader would unpickle with weights_only=False: refused by its hash prefix."""
    from vsodboost.errors import ChecksumError

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    marker = tmp_path / "pwned"
    _plant(tmp_path / "hub" / "checkpoints" / "raft_small_C_T_V2-01064c6d.pth", {"x": _Exploit(marker)})
    with pytest.raises(ChecksumError, match="prefix"):
        create_flow("raft_small", weights="C_T_V2")
    assert not marker.exists()


def test_raft_loads_by_name_with_weights_only_even_when_the_hash_matches(monkeypatch: pytest.MonkeyPatch,
                                                                        tmp_path: Path) -> None:
    """A file whose hash prefix matches still goes through weights_only=True: a pickle is refused, not run, and a
    real state dict loads strictly by name."""
    import hashlib

    from vsodboost.errors import WeightsError
    from vsodboost.flow import raft as raft_mod

    def plant_named(obj: Any) -> Path:
        tmp = tmp_path / "tmp.pth"
        _plant(tmp, obj)
        name = f"raft_small_C_T_V2-{hashlib.sha256(tmp.read_bytes()).hexdigest()[:8]}.pth"
        dst = tmp_path / "hub" / "checkpoints" / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp.replace(dst)
        monkeypatch.setattr(raft_mod, "_hub_file", lambda url, p=dst: p)
        return dst

    marker = tmp_path / "pwned"
    plant_named({"x": _Exploit(marker)})
    with pytest.raises(WeightsError, match="weights_only"):
        create_flow("raft_small", weights="C_T_V2")
    assert not marker.exists()
    torch.manual_seed(0)
    from torchvision.models.optical_flow import raft_small

    ref = raft_small(weights=None)
    plant_named(ref.state_dict())
    net = create_flow("raft_small", weights="C_T_V2")
    assert all(torch.equal(v, net.model.state_dict()[k]) for k, v in ref.state_dict().items())


def test_raft_bad_weights_name() -> None:
    with pytest.raises(InputError, match="C_T_V2"):
        create_flow("raft_small", weights="sintel")


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name,min_size", [("spynet", 32), ("pwcnet", 64), ("liteflownet", 32), ("raft_small", 128)])
def test_too_small_frames_rejected(name: str, min_size: int) -> None:
    net = create_flow(name, weights="random")
    with pytest.raises(InputError, match=f"at least {min_size}×{min_size}"):
        net.estimate(torch.zeros(2, 3, min_size - 1, 200, dtype=torch.uint8))


@pytest.mark.parametrize("name", ["spynet", "pwcnet"])
def test_deep_bad_inputs(name: str) -> None:
    net = create_flow(name, weights="random")
    with pytest.raises(InputError, match="T >= 2"):
        net.estimate(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(InputError, match="channels"):
        net.estimate(torch.zeros(2, 1, 64, 64, dtype=torch.uint8))
    with pytest.raises(InputError, match="different sizes"):
        net.estimate([torch.zeros(3, 64, 64, dtype=torch.uint8), torch.zeros(3, 64, 96, dtype=torch.uint8)])


# ---------------------------------------------------------------------------------------------- real weights
def _cached(filename: str) -> Path | None:
    import os

    p = Path(os.environ.get("VSODBOOST_REAL_HOME", str(Path.home() / ".cache" / "vsodboost"))) / "flow" / filename
    return p if p.is_file() else None


@pytest.mark.parametrize("name,filename", [("spynet", "spynet-sintel-final.pytorch"),
                                           ("pwcnet", "pwcnet-default.pytorch"),
                                           ("liteflownet", "liteflownet-default.pytorch")])
def test_published_weights_translation_convention(name: str, filename: str) -> None:
    path = _cached(filename)
    if path is None:
        pytest.skip(f"published weights {filename} not in the cache (~/.cache/vsodboost/flow or $VSODBOOST_REAL_HOME)")
    net = NETS[name][0](weights=path)
    frames, true = translation(2, 128, 160, 2, -1)
    assert epe(net.estimate(frames), true, border=12) < 0.5
