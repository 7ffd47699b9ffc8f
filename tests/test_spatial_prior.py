"""``vsodboost train spatial --init u2netp``: the shipped U²-Net-p trained further on video frames (Sec. V-C's
video-domain prior), loadable by path wherever a spatial model is taken, recording what it was trained on."""

from __future__ import annotations

import cv2
import numpy as np
import torch

from vsodboost.cli import main as cli_main
from vsodboost.datasets import in_sample, read_dataset, trained_on_of
from vsodboost.nets.u2net import U2Net
from vsodboost.spatial import spatial_from_file
from vsodboost.testing import synthetic_clip


def _davsod(root, names=("alpha", "beta")):
    for k, seq in enumerate(names):
        frames, masks, _ = synthetic_clip(4, h=48, w=64, seed=k)
        for d in ("Imgs", "ground-truth"):
            (root / seq / d).mkdir(parents=True)
        for i, (f, m) in enumerate(zip(frames, masks)):
            cv2.imwrite(str(root / seq / "Imgs" / f"{i:03d}.jpg"), f[:, :, ::-1])
            mask = (m * 255).astype(np.uint8)
            cv2.imwrite(str(root / seq / "ground-truth" / f"{i:03d}.png"), mask if k == 0 else mask[::-1])
    return root


def test_train_spatial_from_u2netp_changes_its_weights_and_records_the_sequences(tmp_path):
    data = _davsod(tmp_path / "video")
    out = tmp_path / "prior.pt"
    assert cli_main(["train", "spatial", "--data", str(data), "--out", str(out), "--init", "u2netp",
                     "--iterations", "2", "--batch-size", "2", "--input-size", "64", "--exclude", "beta",
                     "--threads", "1"]) == 0
    model = spatial_from_file(out)
    assert isinstance(model, U2Net)
    shipped = spatial_from_file(model.provenance["init"]["file"])
    changed = [k for k, v in model.state_dict().items() if not torch.equal(v, shipped.state_dict()[k])]
    assert changed, "training left U²-Net-p's weights unchanged"
    entries, _ = trained_on_of(model.provenance)
    seqs = {s.name: s for s in read_dataset(data, "davsod")}
    assert [e["sequence"] for e in entries] == ["alpha"]
    assert in_sample(entries, seqs["alpha"]) and not in_sample(entries, seqs["beta"])
    assert "DUTS" in model.provenance["init"]["trained_on"]
