"""Table I (:func:`vsodboost.bench.table1`): HQ vs LQ groups scored as the bench scores, and the sequence bootstrap
of the HQ − LQ gap checked against a plain loop over the same draws."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from vsodboost.bench import TABLE1_LEVEL, evaluate_subset, table1
from vsodboost.datasets import read_dataset


def _write(root, seqs: dict[str, int], seed: int = 0):
    """DAVSOD-layout data under ``root/data`` and target maps under ``root/maps``: in each sequence the even frames
    get a near-perfect map, the odd ones a noisy one (worse in the later sequences)."""
    rng = np.random.default_rng(seed)
    for k, (name, n) in enumerate(seqs.items()):
        for d in ("Imgs", "ground-truth"):
            (root / "data" / name / d).mkdir(parents=True)
        (root / "maps" / name).mkdir(parents=True)
        for i in range(n):
            gt = np.zeros((32, 40), np.uint8)
            y, x = 6 + (i + k) % 8, 5 + (2 * i + k) % 12
            gt[y:y + 14, x:x + 18] = 255
            stem = f"{name}_{i:03d}"
            cv2.imwrite(str(root / "data" / name / "Imgs" / f"{stem}.jpg"), np.full((32, 40, 3), 128, np.uint8))
            cv2.imwrite(str(root / "data" / name / "ground-truth" / f"{stem}.png"), gt)
            noise = 0.05 if i % 2 == 0 else 0.5 + 0.1 * k
            m = np.clip(gt / 255.0 * (1 - noise) + rng.uniform(0, noise * 2, gt.shape), 0, 1)
            cv2.imwrite(str(root / "maps" / name / f"{stem}.png"), (m * 255).astype(np.uint8))
    return [s for s in read_dataset(root / "data", "davsod") if s.gt]


def _naive_gap_interval(root, seqs, hq, thr, draws, seed):
    """The interval by brute force: every draw re-scores its resampled frames with evaluate_subset-equivalent sums."""
    by_seq = {s.name: s for s in seqs}
    names = list(by_seq)
    per = {}
    for s in seqs:  # per-frame F-curves and S from the bench's own scorer, frame by frame
        for stem in s.annotated:
            per[(s.name, stem)] = table1(root / "maps", [_only(s, stem)], {s.name: {stem: 1.0}}, 0.5, draws=0)
    picks = np.random.default_rng(seed).integers(len(names), size=(draws, len(names)))
    g_s = []
    for p in picks:
        keys = [(names[i], stem) for i in p for stem in by_seq[names[i]].annotated]
        h = [per[k]["hq"]["S"] for k in keys if hq[k[0]][k[1]] >= thr]
        lo = [per[k]["hq"]["S"] for k in keys if hq[k[0]][k[1]] < thr]
        if h and lo:
            g_s.append(np.mean(h) - np.mean(lo))
    q = [(1 - TABLE1_LEVEL) / 2 * 100, (1 + TABLE1_LEVEL) / 2 * 100]
    return len(g_s), list(np.percentile(g_s, q))


def _only(seq, stem):
    from dataclasses import replace

    return replace(seq, gt={stem: seq.gt[stem]})


@pytest.fixture()
def data(tmp_path):
    seqs = _write(tmp_path, {"a": 6, "b": 6, "c": 4, "d": 6})
    hq = {s.name: {stem: (0.9 if i % 2 == 0 else 0.1) for i, stem in enumerate(s.annotated)} for s in seqs}
    return tmp_path, seqs, hq


def test_groups_match_evaluate_subset(data):
    root, seqs, hq = data
    t = table1(root / "maps", seqs, hq, 0.5)
    is_hq = lambda s, n: hq[s][n] >= 0.5  # noqa: E731
    ref_hq = evaluate_subset(root / "maps", seqs, is_hq)
    ref_lq = evaluate_subset(root / "maps", seqs, lambda s, n: not is_hq(s, n))
    for k in ("frames", "maxF", "meanF", "adpF", "S", "MAE"):
        assert t["hq"][k] == pytest.approx(ref_hq[k], abs=1e-12) and t["lq"][k] == pytest.approx(ref_lq[k], abs=1e-12)
    assert (t["hq"]["frames"], t["lq"]["frames"]) == (11, 11) and t["hq_fraction_annotated"] == pytest.approx(0.5)
    assert t["gap"]["maxF"] == pytest.approx(ref_hq["maxF"] - ref_lq["maxF"])
    assert t["gap"]["S"] == pytest.approx(ref_hq["S"] - ref_lq["S"])


def test_interval_covers_a_separation_every_sequence_shows(data):
    root, seqs, hq = data
    iv = table1(root / "maps", seqs, hq, 0.5)["gap"]["interval"]
    assert iv["unit"] == "sequence" and iv["level"] == TABLE1_LEVEL and iv["used"] == iv["draws"] == 2000
    assert 0 < iv["maxF"][0] <= iv["maxF"][1] and 0 < iv["S"][0] <= iv["S"][1]
    # the sequences differ in how bad their LQ maps are, so resampling them spreads the gap
    assert iv["S"][1] - iv["S"][0] > 1e-3
    # swapping the groups mirrors the interval
    swapped = {s: {n: 1 - p for n, p in v.items()} for s, v in hq.items()}
    iv2 = table1(root / "maps", seqs, swapped, 0.5)["gap"]["interval"]
    assert iv2["S"] == pytest.approx([-iv["S"][1], -iv["S"][0]], abs=1e-9)


def test_interval_equals_a_plain_loop_over_the_same_draws(data):
    root, seqs, hq = data
    iv = table1(root / "maps", seqs, hq, 0.5, draws=300, seed=7)["gap"]["interval"]
    used, s_ci = _naive_gap_interval(root, seqs, hq, 0.5, 300, 7)
    assert iv["used"] == used and iv["S"] == pytest.approx(s_ci, abs=1e-9)


def test_draws_without_both_groups_are_skipped(tmp_path):
    seqs = _write(tmp_path, {"a": 4, "b": 4})
    hq = {"a": dict.fromkeys(seqs[0].annotated, 0.9), "b": dict.fromkeys(seqs[1].annotated, 0.1)}
    iv = table1(tmp_path / "maps", seqs, hq, 0.5)["gap"]["interval"]
    assert 800 < iv["used"] < 1200  # a draw of {a, a} or {b, b} (half of them) has one group only


def test_one_sequence_has_no_interval(tmp_path):
    seqs = _write(tmp_path, {"a": 6})
    hq = {"a": {stem: (0.9 if i % 2 == 0 else 0.1) for i, stem in enumerate(seqs[0].annotated)}}
    t = table1(tmp_path / "maps", seqs, hq, 0.5)
    assert t["gap"]["maxF"] > 0 and t["gap"]["interval"]["maxF"] is None and t["gap"]["interval"]["used"] == 0


def test_every_frame_hq_has_no_gap_and_the_report_says_so(tmp_path):
    """One group empty (the MQPM marks every scored frame HQ): the gap is not a number, in memory (NaN) and after
    report.json (null); the report's sentence says why instead of failing to format it."""
    import json

    from vsodboost.bench import table1_gap_text

    seqs = _write(tmp_path, {"a": 4, "b": 4})
    hq = {s.name: dict.fromkeys(s.annotated, 0.9) for s in seqs}
    t = table1(tmp_path / "maps", seqs, hq, 0.5)
    assert t["hq"]["frames"] == 8 and t["lq"]["frames"] == 0
    written = json.loads(json.dumps(t, default=str).replace("NaN", "null"))
    for t1 in (t, written):
        assert table1_gap_text(t1) == ("HQ − LQ: no gap, one group is empty (every scored frame is HQ, or every "
                                       "one LQ).")
