"""``vsodboost eval`` and ``evaluate_folders``: matching by sequence and stem, missing maps, bad files, outputs."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from vsodboost.cli import main
from vsodboost.errors import InputError
from vsodboost.metrics import evaluate_folders

M = pytest.importorskip("py_sod_metrics")


def _write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def make_davsod(tmp_path: Path, seqs=(("cat", 6), ("dog", 4)), annotate_every: int = 1, h: int = 24, w: int = 32):
    """A DAVSOD-layout dataset plus a prediction folder; returns (gt_root, pred_root, {(seq, stem): (pred, gt)})."""
    rng = np.random.default_rng(0)
    gt_root, pred_root = tmp_path / "gt", tmp_path / "pred"
    pairs = {}
    for seq, n in seqs:
        for i in range(n):
            stem = f"{seq}_frame{i:04d}"
            _write(gt_root / seq / "Imgs" / f"{stem}.jpg", rng.integers(0, 255, (h, w, 3), dtype=np.uint8))
            if i % annotate_every:
                continue
            gt = np.zeros((h, w), np.uint8)
            r, c = rng.integers(2, h - 10), rng.integers(2, w - 12)
            gt[r:r + 8, c:c + 10] = 255
            pred = np.clip(gt * 0.8 + rng.normal(0, 30, (h, w)), 0, 255).astype(np.uint8)
            _write(gt_root / seq / "ground-truth" / f"{stem}.png", gt)
            _write(pred_root / seq / f"{stem}.png", pred)
            pairs[(seq, stem)] = (pred, gt)
    return gt_root, pred_root, pairs


def pysod(pairs) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ms = {"MAE": M.MAE(), "S": M.Smeasure(), "F": M.Fmeasure(), "E": M.Emeasure(), "wF": M.WeightedFmeasure()}
        for p, g in pairs:
            for m in ms.values():
                m.step(p, g)
    f, e = ms["F"].get_results()["fm"], ms["E"].get_results()["em"]
    return {"maxF": f["curve"].max(), "meanF": f["curve"].mean(), "adpF": f["adp"], "S": ms["S"].get_results()["sm"],
            "MAE": ms["MAE"].get_results()["mae"], "maxE": e["curve"].max(), "meanE": e["curve"].mean(),
            "adpE": e["adp"], "wF": ms["wF"].get_results()["wfm"]}


KEYS = ("frames", "maxF", "meanF", "adpF", "S", "MAE", "maxE", "meanE", "adpE", "wF")


def test_cli_json_matches_pysodmetrics_and_reports_missing_maps(tmp_path, capsys):
    gt_root, pred_root, pairs = make_davsod(tmp_path)
    (pred_root / "cat" / "cat_frame0003.png").unlink()  # a missing map
    del pairs[("cat", "cat_frame0003")]
    (pred_root / "dog" / "dog_frame9999.png").write_bytes(b"")  # no GT with that stem: ignored, never read
    out = tmp_path / "res.json"
    rc = main(["eval", "--pred", str(pred_root), "--gt", str(gt_root), "--layout", "davsod", "--json", str(out),
               "-q"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert set(KEYS) <= set(res) and isinstance(res["sequences"], list)
    assert res["frames"] == 9 and res["missing"]["count"] == 1
    assert res["missing"]["frames"] == {"cat": ["cat_frame0003"]}
    want = pysod(pairs.values())
    for k, v in want.items():
        assert abs(res[k] - v) < 1e-6, k
    cat = next(s for s in res["sequences"] if s["sequence"] == "cat")
    assert cat["frames"] == 5 and cat["missing"] == 1
    cat_want = pysod([v for (s, _), v in pairs.items() if s == "cat"])
    assert abs(cat["S"] - cat_want["S"]) < 1e-6
    printed = capsys.readouterr()
    assert "cat" in printed.out and "ALL (frame-avg)" in printed.out
    assert "1 annotated frame(s) have no map" in printed.err


def test_only_annotated_frames_are_scored_and_video_average(tmp_path):
    gt_root, pred_root, pairs = make_davsod(tmp_path, seqs=(("a", 11), ("b", 6)), annotate_every=5)
    res = evaluate_folders(pred_root, gt_root, layout="davsod", average="video", progress=False)
    assert res["frames"] == 3 + 2 and res["missing"]["count"] == 0
    a = pysod([v for (s, _), v in pairs.items() if s == "a"])
    b = pysod([v for (s, _), v in pairs.items() if s == "b"])
    for k in a:
        assert abs(res[k] - (a[k] + b[k]) / 2) < 1e-6, k
    skip = evaluate_folders(pred_root, gt_root, layout="davsod", skip_ends=True, weighted_f=False, progress=False)
    assert skip["frames"] == 1 + 0  # a keeps its middle annotated frame; b has only two
    assert np.isnan(skip["wF"])


def test_davis_layout_resized_and_colour_maps_are_converted_and_said(tmp_path):
    rng = np.random.default_rng(1)
    root, preds = tmp_path / "DAVIS", tmp_path / "maps"
    gts, maps = [], []
    for i in range(3):
        _write(root / "JPEGImages" / "480p" / "bmx" / f"{i:05d}.jpg", rng.integers(0, 255, (20, 30, 3), np.uint8))
        gt = np.zeros((20, 30), np.uint8)
        gt[5:15, 8:20] = 255
        _write(root / "Annotations" / "480p" / "bmx" / f"{i:05d}.png", gt)
        gts.append(gt)
    small = cv2.resize(gts[0], (15, 10), interpolation=cv2.INTER_AREA)  # half-size map
    _write(preds / "bmx" / "00000.png", small)
    colour = np.dstack([gts[1], gts[1] // 2, gts[1] // 3])  # a colour (BGR) map
    _write(preds / "bmx" / "00001.png", colour)
    _write(preds / "bmx" / "00002.jpg", gts[2])
    res = evaluate_folders(preds, root, layout="davis", progress=False)
    assert res["frames"] == 3
    notes = " ".join(res["notes"])
    assert "resized" in notes and "converted to 8-bit grayscale" in notes
    want = pysod([
        (cv2.resize(small, (30, 20), interpolation=cv2.INTER_LINEAR), gts[0]),
        (cv2.imread(str(preds / "bmx" / "00001.png"), cv2.IMREAD_GRAYSCALE), gts[1]),
        (cv2.imread(str(preds / "bmx" / "00002.jpg"), cv2.IMREAD_GRAYSCALE), gts[2]),
    ])
    for k, v in want.items():
        assert abs(res[k] - v) < 1e-6, k


@pytest.mark.parametrize("case, match", [
    ("unreadable", "cannot read"),
    ("empty_root", "no sequence folders"),
    ("no_common_sequence", "no sequence of"),
    ("no_common_stem", "matches an annotated frame"),
    ("missing_root", "does not exist"),
])
def test_bad_folders_give_clear_errors(tmp_path, capsys, case, match):
    gt_root, pred_root, _ = make_davsod(tmp_path, seqs=(("cat", 3),))
    if case == "unreadable":
        (pred_root / "cat" / "cat_frame0001.png").write_bytes(b"not a png")
    elif case == "empty_root":
        for f in (pred_root / "cat").iterdir():
            f.unlink()
        (pred_root / "cat").rmdir()
    elif case == "no_common_sequence":
        (pred_root / "cat").rename(pred_root / "cow")
    elif case == "no_common_stem":
        for f in (pred_root / "cat").iterdir():
            f.rename(f.with_name("x" + f.name))
    elif case == "missing_root":
        pred_root = tmp_path / "nope"
    with pytest.raises(InputError, match=match):
        evaluate_folders(pred_root, gt_root, layout="davsod", progress=False)
    # the CLI turns the same error into a message and exit code 1, no traceback
    rc = main(["eval", "--pred", str(pred_root), "--gt", str(gt_root), "-q"])
    assert rc == 1 and "error:" in capsys.readouterr().err


def test_plot_several_methods(tmp_path):
    pytest.importorskip("matplotlib")
    gt_root, pred_root, _ = make_davsod(tmp_path, seqs=(("cat", 3),))
    other = tmp_path / "other"
    for f in (pred_root / "cat").iterdir():
        _write(other / "cat" / f.name, 255 - cv2.imread(str(f), cv2.IMREAD_GRAYSCALE))
    out = tmp_path / "plots"
    js = tmp_path / "both.json"
    rc = main(["eval", "--pred", f"good={pred_root}", f"inverted={other}", "--gt", str(gt_root), "--plot", str(out),
               "--json", str(js), "--no-wf", "-q"])
    assert rc == 0
    assert (out / "pr_curve.png").stat().st_size > 1000 and (out / "fmeasure_curve.png").stat().st_size > 1000
    methods = json.loads(js.read_text())["methods"]
    assert [m["method"] for m in methods] == ["good", "inverted"]
    assert methods[0]["maxF"] > methods[1]["maxF"]
    assert methods[0]["wF"] is None  # not computed (--no-wf): JSON null, never NaN


@pytest.mark.realdata
@pytest.mark.parametrize("maps, gt, layout, frames, expected", [
    ("results/PDB/DAVIS2016", "DAVIS2016", "davis", 645,
     {"maxF": .8836, "meanF": .8806, "adpF": .8836, "S": .8887, "MAE": .0193, "meanE": .9527}),
    ("results/MGA/ViSal", "ViSal", "davsod", 193,
     {"maxF": .9423, "meanF": .9143, "adpF": .8973, "S": .9444, "MAE": .0153, "meanE": .9636}),
])
def test_cli_reproduces_the_reference_numbers(shared_data, tmp_path, maps, gt, layout, frames, expected):
    out = tmp_path / "r.json"
    rc = main(["eval", "--pred", str(shared_data / maps), "--gt", str(shared_data / gt), "--layout", layout,
               "--json", str(out), "--no-wf", "-q", "--summary"])
    assert rc == 0
    res = json.loads(out.read_text())
    assert res["frames"] == frames and res["missing"]["count"] == 0
    for k, v in expected.items():
        assert round(res[k], 4) == v, (k, res[k])
