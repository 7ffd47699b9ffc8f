"""vsodboost.results: what a run gives — BoostResult's maps, summary and save (maps + summary.json, never over
existing maps unless asked)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial
from vsodboost.booster import Booster
from vsodboost.errors import InputError
from vsodboost.testing import ArrayTarget, synthetic_clip


@pytest.fixture(scope="module")
def clip():
    frames, masks, target = synthetic_clip(12, h=48, w=64, seed=1)
    return np.stack(frames), masks, target


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(), config=tiny_config(),
                   device="cpu", **kw)


def test_summary_describes_the_run_and_save_writes_it_beside_one_map_per_frame(clip, tmp_path):
    frames, _, target = clip
    res = _booster(ArrayTarget(target)).run(frames[:6], name="demo")
    summary = res.summary()
    assert summary["sequence"] == "demo" and summary["frames"] == 6
    assert summary["mined"] == [res.names[i] for i in res.mined] and len(summary["hq_prob"]) == 6
    assert [b["start"] for b in summary["buffers"]] == [0]
    res.save(tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert sorted(p.name for p in tmp_path.glob("*.png")) == [f"{n}.png" for n in res.names]


def test_save_never_overwrites_without_permission(clip, tmp_path):
    frames, _, target = clip
    res = _booster(ArrayTarget(target)).run(frames[:4], name="demo")
    res.save(tmp_path)
    with pytest.raises(InputError, match="already holds"):
        res.save(tmp_path)
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["frames"] == 4 and summary["config"]["period"] == 5
    assert not (tmp_path / "vsodboost.json").exists()  # that name is a resumable run's state (run_to_dir) alone
