"""``vsodboost train spatial --init u2netp``: the shipped U²-Net-p trained further on video frames (Sec. V-C's
video-domain prior), loadable by path wherever a spatial model is taken, recording what it was trained on."""

from __future__ import annotations

import cv2
import pytest
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


class _Interrupted(Exception):
    pass


def _interrupt_after_first_state(monkeypatch):
    """Make the next pretraining stop right after it saved its first training state (a killed run)."""
    import vsodboost.spatial.pretrain as pretrain

    real = pretrain.atomic_write

    def write_then_die(path, write, **kw):
        real(path, write, **kw)
        raise _Interrupted(path)

    monkeypatch.setattr(pretrain, "atomic_write", write_then_die)
    return lambda: monkeypatch.setattr(pretrain, "atomic_write", real)


def test_interrupted_pretraining_resumes_to_the_weights_of_an_uninterrupted_run(tmp_path, monkeypatch):
    from vsodboost.spatial.pretrain import pretrain_spatial

    data = [(str(_davsod(tmp_path / "video")), "davsod")]
    kw = dict(iterations=4, batch_size=2, input_size=64, init="u2netp", ckpt_every=2)
    whole = pretrain_spatial(data, tmp_path / "whole.pt", **kw)
    assert not (tmp_path / "whole.pt.train").exists(), "the saved state outlived the finished run"

    restore = _interrupt_after_first_state(monkeypatch)
    with pytest.raises(_Interrupted):
        pretrain_spatial(data, tmp_path / "resumed.pt", **kw)
    assert (tmp_path / "resumed.pt.train" / "state.pt").is_file() and not (tmp_path / "resumed.pt").exists()
    restore()
    resumed = pretrain_spatial(data, tmp_path / "resumed.pt", **kw)
    a, b = whole.state_dict(), resumed.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a), "resuming changed what was learned"
    assert torch.equal(spatial_from_file(tmp_path / "resumed.pt").state_dict()["side1.weight"],
                       spatial_from_file(tmp_path / "whole.pt").state_dict()["side1.weight"])


def test_a_saved_state_of_another_recipe_is_refused_and_restart_starts_over(tmp_path, monkeypatch, capsys):
    from vsodboost.errors import InputError
    from vsodboost.spatial.pretrain import pretrain_spatial

    data = _davsod(tmp_path / "video")
    out = tmp_path / "prior.pt"
    restore = _interrupt_after_first_state(monkeypatch)
    with pytest.raises(_Interrupted):
        pretrain_spatial([(str(data), "davsod")], out, iterations=4, batch_size=2, input_size=64, init="u2netp",
                         ckpt_every=2)
    restore()
    with pytest.raises(InputError, match=r"another training recipe \(lr: 0\.0003 → 0\.001; saved → now\).*--restart"):
        pretrain_spatial([(str(data), "davsod")], out, iterations=4, batch_size=2, input_size=64, init="u2netp",
                         ckpt_every=2, lr=1e-3)
    assert not out.exists()
    args = ["train", "spatial", "--data", str(data), "--out", str(out), "--init", "u2netp", "--iterations", "4",
            "--batch-size", "2", "--input-size", "64", "--lr", "1e-3", "--threads", "1"]
    assert cli_main(args) != 0
    assert "another training recipe" in capsys.readouterr().err
    assert cli_main(args + ["--restart"]) == 0
    assert out.is_file() and not (tmp_path / "prior.pt.train").exists()


def test_pretraining_is_float32_unless_asked_and_records_its_precision(tmp_path):
    """The shipped checkpoints were trained in float32: their cards' commands must train in float32 again, whatever
    the Booster's own default precision is."""
    data = _davsod(tmp_path / "video")
    common = ["train", "spatial", "--data", str(data), "--init", "u2netp", "--iterations", "1", "--batch-size", "2",
              "--input-size", "64", "--threads", "1"]
    assert cli_main(common + ["--out", str(tmp_path / "f32.pt")]) == 0
    meta = spatial_from_file(tmp_path / "f32.pt").provenance
    assert (meta["autocast"], meta["channels_last"]) == ("off", False)
    assert cli_main(common + ["--out", str(tmp_path / "fast.pt"), "--autocast", "auto"]) == 0
    meta = spatial_from_file(tmp_path / "fast.pt").provenance
    assert meta["channels_last"] is True and meta["autocast"] in ("off", "bf16")  # resolved: off below 96² on a CPU
