"""Weight files: resolve order (explicit path → cache → download → MissingWeightsError), sha256 checks, strict
loading with a readable diff. The downloader is an injected opener on a local file: no network."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import torch
from torch import nn

from vsodboost._weights import (
    WeightSpec,
    home_dir,
    load_checkpoint,
    load_state_dict_strict,
    rename_keys,
    resolve_weights,
    sha256_file,
    state_dict_diff,
    unwrap_state_dict,
)
from vsodboost.errors import ChecksumError, InputError, MissingWeightsError, WeightsError


class Net(nn.Module):
    def __init__(self, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, width, 3)
        self.bn = nn.BatchNorm2d(width)
        self.head = nn.Linear(width, 2)


@pytest.fixture
def published(tmp_path):
    """A 'remote' weight file (served by a local opener) and its spec."""
    remote = tmp_path / "remote" / "net-1234.pth"
    remote.parent.mkdir()
    torch.save(Net().state_dict(), remote)
    digest = hashlib.sha256(remote.read_bytes()).hexdigest()
    spec = WeightSpec(name="net.default", filename="net-1234.pth", url="https://example.org/net-1234.pth",
                      sha256=digest)
    return spec, remote


def _opener(remote: Path, calls: list[str]):
    def opener(url):
        calls.append(url)
        return open(remote, "rb")
    return opener


def _failing_opener(url):
    raise OSError("network is unreachable")


def test_home_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path / "h"))
    assert home_dir() == tmp_path / "h"
    spec = WeightSpec(name="x", filename="x.pth")
    assert spec.cache_path() == tmp_path / "h" / "x.pth"
    assert spec.cache_path("flow") == tmp_path / "h" / "flow" / "x.pth"
    monkeypatch.delenv("VSODBOOST_HOME")
    assert home_dir() == Path.home() / ".cache" / "vsodboost"


def test_sha256_file(tmp_path):
    f = tmp_path / "f.bin"
    f.write_bytes(b"abc" * 1000)
    assert sha256_file(f, chunk=7) == hashlib.sha256(b"abc" * 1000).hexdigest()


# -- resolve order ---------------------------------------------------------------------------------------------
def test_explicit_path_wins_over_cache_and_download(published, tmp_path, caplog):
    spec, remote = published
    cached = spec.cache_path()
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(remote.read_bytes())
    explicit = tmp_path / "mine.pth"
    explicit.write_bytes(b"anything: explicit files are the caller's responsibility")
    calls: list[str] = []
    with caplog.at_level(logging.INFO, logger="vsodboost.weights"):
        got = resolve_weights(spec, explicit, download=True, opener=_opener(remote, calls))
    assert got == explicit and calls == []
    assert "explicit path" in caplog.text


def test_explicit_path_missing(published, tmp_path):
    spec, _ = published
    with pytest.raises(MissingWeightsError, match=r"nope\.pth for 'net.default' does not exist"):
        resolve_weights(spec, tmp_path / "nope.pth")


def test_cache_is_used_before_download(published, caplog):
    spec, remote = published
    cached = spec.cache_path("nets")
    cached.parent.mkdir(parents=True)
    cached.write_bytes(remote.read_bytes())
    calls: list[str] = []
    with caplog.at_level(logging.INFO, logger="vsodboost.weights"):
        assert resolve_weights(spec, subdir="nets", download=True, opener=_opener(remote, calls)) == cached
    assert calls == [] and "cache" in caplog.text


def test_corrupt_cache_is_refused(published):
    spec, _ = published
    cached = spec.cache_path()
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_bytes(b"truncated")
    with pytest.raises(ChecksumError, match=r"do not match the published sha256.*delete the file"):
        resolve_weights(spec, download=True, opener=_failing_opener)


def test_download_into_cache_with_checksum(published, caplog):
    spec, remote = published
    calls: list[str] = []
    with caplog.at_level(logging.INFO, logger="vsodboost.weights"):
        got = resolve_weights(spec, subdir="nets", download=True, opener=_opener(remote, calls))
    assert calls == [spec.url] and "downloading" in caplog.text
    assert got == spec.cache_path("nets") and got.read_bytes() == remote.read_bytes()
    assert [p.name for p in got.parent.iterdir()] == [spec.filename]  # no temporary file left behind
    # second call: served from the cache, no download
    assert resolve_weights(spec, subdir="nets", download=True, opener=_opener(remote, calls)) == got
    assert len(calls) == 1


def test_download_with_wrong_checksum_leaves_nothing(published):
    spec, remote = published
    bad = WeightSpec(name=spec.name, filename=spec.filename, url=spec.url, sha256="0" * 64)
    with pytest.raises(ChecksumError, match=r"has sha256 [0-9a-f]{64}, expected 0{64}"):
        resolve_weights(bad, download=True, opener=_opener(remote, []))
    folder = bad.cache_path().parent
    assert not folder.exists() or list(folder.iterdir()) == []


def test_download_without_published_checksum(published):
    spec, remote = published
    unpinned = WeightSpec(name=spec.name, filename=spec.filename, url=spec.url)
    assert resolve_weights(unpinned, download=True, opener=_opener(remote, [])).is_file()


def test_failed_download_names_file_and_cache(published):
    spec, _ = published
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(spec, download=True, opener=_failing_opener)
    msg = str(info.value)
    assert "download failed" in msg and "network is unreachable" in msg
    assert spec.url in msg and str(spec.cache_path()) in msg
    folder = spec.cache_path().parent
    assert not folder.exists() or list(folder.iterdir()) == []  # no partial file under any name


def test_offline_names_the_file_and_never_calls_the_opener(published, monkeypatch):
    spec, remote = published
    calls: list[str] = []
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")  # (conftest sets it too; be explicit)
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(spec, opener=_opener(remote, calls))
    msg = str(info.value)
    assert "not available offline" in msg and spec.filename in msg and str(spec.cache_path()) in msg
    assert spec.url in msg and calls == []
    assert isinstance(info.value, FileNotFoundError)
    with pytest.raises(MissingWeightsError):
        resolve_weights(spec, download=False, opener=_opener(remote, calls))
    assert calls == []
    monkeypatch.setenv("VSODBOOST_OFFLINE", "0")
    assert resolve_weights(spec, opener=_opener(remote, calls)).is_file() and calls == [spec.url]


def test_spec_without_url(published):
    spec = WeightSpec(name="local.only", filename="local.pth")
    with pytest.raises(MissingWeightsError, match=r"Place the file at .*local\.pth"):
        resolve_weights(spec, download=True, opener=_failing_opener)


# -- loading ---------------------------------------------------------------------------------------------------
def test_load_checkpoint_and_unwrap(tmp_path):
    sd = Net().state_dict()
    for i, wrapped in enumerate([sd, {"state_dict": sd}, {"model": sd, "epoch": 3}, {"net": {"state_dict": sd}}]):
        p = tmp_path / f"c{i}.pth"
        torch.save(wrapped, p)
        out = unwrap_state_dict(load_checkpoint(p))
        assert set(out) == set(sd) and all(torch.equal(out[k], sd[k]) for k in sd)


def test_unwrap_refuses_non_state_dicts():
    with pytest.raises(WeightsError, match=r"no state dict.*\['epoch', 'optimizer'\]"):
        unwrap_state_dict({"epoch": 3, "optimizer": {}})
    with pytest.raises(WeightsError, match="top-level: list"):
        unwrap_state_dict([1, 2])


def test_load_checkpoint_errors(tmp_path):
    with pytest.raises(MissingWeightsError):
        load_checkpoint(tmp_path / "absent.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a zip or pickle")
    with pytest.raises(WeightsError, match=r"junk\.pth is not a loadable PyTorch checkpoint"):
        load_checkpoint(junk)


class _Arbitrary:
    pass


def test_load_checkpoint_is_weights_only(tmp_path):
    p = tmp_path / "pickled.pth"
    torch.save({"obj": _Arbitrary()}, p)  # arbitrary pickled objects must not be executed/loaded
    with pytest.raises(WeightsError, match="weights_only=True"):
        load_checkpoint(p)


def test_rename_keys_prefixes_table_fn_and_collisions():
    state = {"module.conv.weight": 1, "module._orig_mod.bn.bias": 2, "head.fc.weight": 3}
    out = rename_keys(state, strip_prefixes=("module.", "_orig_mod."), table={"fc.": ""}, fn=str.upper)
    assert out == {"CONV.WEIGHT": 1, "BN.BIAS": 2, "HEAD.WEIGHT": 3}
    assert rename_keys({"a.module.b": 1}, strip_prefixes=("module.",)) == {"a.module.b": 1}  # prefixes only
    with pytest.raises(WeightsError, match="two checkpoint keys onto 'conv.weight'.*'conv.weight'"):
        rename_keys({"module.conv.weight": 1, "conv.weight": 2}, strip_prefixes=("module.",))


def test_strict_load_round_trip_and_dtype_cast():
    src, dst = Net(), Net()
    state = {k: v.double() if v.is_floating_point() else v for k, v in src.state_dict().items()}
    load_state_dict_strict(dst, state)
    assert dst.conv.weight.dtype == torch.float32
    assert torch.equal(dst.conv.weight, src.conv.weight) and torch.equal(dst.head.bias, src.head.bias)


def test_strict_load_diff_text(tmp_path):
    model = Net(width=4)
    state = Net(width=8).state_dict()  # every conv/bn/head tensor has the wrong shape
    del state["head.bias"]
    state["extra.weight"] = torch.zeros(1)
    with pytest.raises(WeightsError) as info:
        load_state_dict_strict(model, state, source="ckpt.pth")
    msg = str(info.value)
    assert msg.startswith("ckpt.pth does not match Net:")
    assert "missing from checkpoint (1):\n  head.bias" in msg
    assert "unexpected in checkpoint (1):\n  extra.weight" in msg
    assert "conv.weight: model (4, 3, 3, 3) vs checkpoint (8, 3, 3, 3)" in msg
    assert "head.weight: model (2, 4) vs checkpoint (2, 8)" in msg
    # nothing was loaded: the model keeps its own weights
    assert model.conv.weight.shape == (4, 3, 3, 3)


def test_state_dict_diff_limits_and_empty():
    expected = {f"k{i}": torch.zeros(1) for i in range(30)}
    assert state_dict_diff(expected, dict(expected)) == ""
    text = state_dict_diff(expected, {}, limit=5)
    assert text.startswith("missing from checkpoint (30):") and "... and 25 more" in text
    assert text.count("\n  k") == 5
    assert "model (1,) vs checkpoint ()" in state_dict_diff({"a": torch.zeros(1)}, {"a": "not a tensor"})


def test_strict_load_rejects_non_mappings():
    with pytest.raises(InputError, match="expected a mapping of tensors, got list"):
        load_state_dict_strict(Net(), [1, 2])
