"""One checkpoint format for the shared U-Net, MQPM and spatial model alike (vsodboost.models.checkpoint); files
written before it — the shipped weights among them — still load, strictly, with weights_only=True."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import vsodboost
from vsodboost.errors import WeightsError
from vsodboost.models import SaliencyUNet, UNetConfig
from vsodboost.models.checkpoint import UNET_FORMAT, load_unet_checkpoint, read_unet_checkpoint, unet_checkpoint
from vsodboost.mqpm import load_mqpm, mqpm_checkpoint

SHIPPED = Path(vsodboost.__file__).parent / "weights"


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return SaliencyUNet(UNetConfig(cls_head=True), pretrained=False)


def test_the_shipped_unet_files_load_strictly_and_keep_their_bytes():
    mqpm_obj = torch.load(SHIPPED / "mqpm_lite0_dis.pt", weights_only=True)
    assert mqpm_obj["format"] == UNET_FORMAT  # the DAVIS-TR MQPM is written in the shared format
    m = load_mqpm("default")
    assert m.config.cls_head and len(m.provenance["sha256"]) == 64
    for k, v in mqpm_obj["state_dict"].items():
        assert torch.equal(m.net.state_dict()[k], v.to(m.net.state_dict()[k].dtype)), k
    spatial = load_unet_checkpoint(SHIPPED / "spatial_lite0.pt", cls_head=False)
    assert not spatial.config.cls_head
    for k, v in torch.load(SHIPPED / "spatial_lite0.pt", weights_only=True)["state_dict"].items():
        assert torch.equal(spatial.state_dict()[k], v.to(spatial.state_dict()[k].dtype)), k


def test_mqpm_and_spatial_write_the_same_format_and_read_each_other(tiny, tmp_path):
    ck = mqpm_checkpoint(tiny, {"note": "x"})
    assert ck["format"] == UNET_FORMAT and set(ck) == set(unet_checkpoint(tiny))
    torch.save(ck, tmp_path / "m.pt")
    net, meta = read_unet_checkpoint(tmp_path / "m.pt")
    assert net.config.cls_head and meta == {"note": "x"}
    assert load_mqpm(tmp_path / "m.pt").provenance["meta"] == {"note": "x"}
    legacy = {**ck, "format": "vsodboost.mqpm", "version": 1}  # an MQPM file of an earlier release
    torch.save(legacy, tmp_path / "old.pt")
    assert load_mqpm(tmp_path / "old.pt").config == tiny.config


def test_mismatches_say_what_differs(tiny, tmp_path):
    ck = mqpm_checkpoint(tiny)
    ck["state_dict"]["extra.weight"] = torch.zeros(1)
    torch.save(ck, tmp_path / "extra.pt")
    with pytest.raises(WeightsError, match=r"unexpected in checkpoint \(1\):\n  extra.weight"):
        load_mqpm(tmp_path / "extra.pt")
    torch.save(mqpm_checkpoint(tiny), tmp_path / "m.pt")
    with pytest.raises(WeightsError, match="with the classification head; expected one without"):
        load_unet_checkpoint(tmp_path / "m.pt", cls_head=False)
    torch.save({"config": {}, "step": 3, "optimizer": {}, "model": tiny.state_dict()}, tmp_path / "last.pt")
    with pytest.raises(WeightsError, match="not an MQPM checkpoint .*training state .*--out"):
        load_mqpm(tmp_path / "last.pt")
    torch.save({**mqpm_checkpoint(tiny), "config": {"encoder": 3}}, tmp_path / "cfg.pt")
    with pytest.raises(WeightsError, match="unreadable U-Net config"):
        load_mqpm(tmp_path / "cfg.pt")
