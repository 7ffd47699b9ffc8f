"""Every metric of every real frame (PDB on DAVIS-2016 val: 645, MGA on ViSal: 193) equals pysodmetrics to 1e-6."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from vsodboost.datasets import read_dataset
from vsodboost.io import read_map
from vsodboost.metrics import SODMetrics

M = pytest.importorskip("py_sod_metrics")

CASES = [("results/PDB/DAVIS2016", "DAVIS2016", "davis", 645), ("results/MGA/ViSal", "ViSal", "davsod", 193)]


@pytest.mark.realdata
@pytest.mark.parametrize("maps, gt, layout, n_frames", CASES)
def test_every_frame_and_metric_matches_pysodmetrics(shared_data, maps, gt, layout, n_frames):
    root = shared_data / maps
    ours = SODMetrics(weighted_f=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = {"MAE": M.MAE(), "S": M.Smeasure(), "F": M.Fmeasure(), "E": M.Emeasure(), "wF": M.WeightedFmeasure()}
        for seq in read_dataset(shared_data / gt, layout):
            if not (root / seq.name).is_dir():
                continue
            stems = seq.annotated
            preds = [read_map(root / seq.name / f"{s}.png")[0] for s in stems]
            gts = [read_map(seq.gt[s])[0] for s in stems]
            for p, g in zip(preds, gts):
                for m in ref.values():
                    m.step(p, g)
            for i in range(0, len(stems), 8):
                ours.step(np.stack(preds[i:i + 8]), np.stack(gts[i:i + 8]), sequence=seq.name)
    vals = {k: v.numpy() for k, v in ours.frame_values().items()}
    assert len(vals["S"]) == n_frames
    want = {
        "MAE": np.array(ref["MAE"].maes), "S": np.array(ref["S"].sms), "wF": np.array(ref["wF"].weighted_fms),
        "adpF": np.array(ref["F"].adaptive_fms), "F_curve": np.array(ref["F"].changeable_fms),
        "P_curve": np.array(ref["F"].precisions), "R_curve": np.array(ref["F"].recalls),
        "adpE": np.array(ref["E"].adaptive_ems), "E_curve": np.array(ref["E"].changeable_ems),
    }
    for k, w in want.items():
        assert np.isfinite(w).all(), k
        diff = np.abs(vals[k] - w).max()
        assert diff <= 1e-6, f"{k}: largest per-frame difference {diff:.3g}"
    res = ours.results()
    assert abs(res["maxF"] - ref["F"].get_results()["fm"]["curve"].max()) <= 1e-6
    assert abs(res["meanE"] - ref["E"].get_results()["em"]["curve"].mean()) <= 1e-6
