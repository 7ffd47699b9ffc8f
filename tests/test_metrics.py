"""vsodboost.metrics against pysodmetrics 1.6.2 (the field's reference) on generated maps, plus API behaviour."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from vsodboost.errors import InputError
from vsodboost.metrics import (
    SODMetrics,
    adaptive_e_measure,
    adaptive_f_measure,
    e_measure_curve,
    f_measure_curve,
    frame_metrics,
    mae,
    s_measure,
    weighted_f_measure,
)

M = pytest.importorskip("py_sod_metrics")
TOL = 1e-6


class _RefSmeasure(M.Smeasure):
    """pysodmetrics' S-measure, except that an empty quadrant scores 0 instead of NaN (our documented choice)."""

    def ssim(self, pred, gt):
        return 0.0 if pred.size == 0 else super().ssim(pred, gt)


def reference(pred: np.ndarray, gt: np.ndarray, normalize: bool = True) -> dict[str, np.ndarray | float]:
    """Every per-frame value pysodmetrics computes for one pair."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out: dict[str, np.ndarray | float] = {}
        m = M.MAE()
        m.step(pred, gt, normalize)
        out["MAE"] = m.maes[-1]
        s = _RefSmeasure()
        s.step(pred, gt, normalize)
        out["S"] = s.sms[-1]
        f = M.Fmeasure()
        f.step(pred, gt, normalize)
        out.update(adpF=f.adaptive_fms[-1], F_curve=f.changeable_fms[-1], P_curve=f.precisions[-1],
                   R_curve=f.recalls[-1])
        e = M.Emeasure()
        e.step(pred, gt, normalize)
        out.update(adpE=e.adaptive_ems[-1], E_curve=e.changeable_ems[-1])
        w = M.WeightedFmeasure()
        w.step(pred, gt, normalize)
        out["wF"] = w.weighted_fms[-1]
    return out


def assert_close(ours: dict[str, torch.Tensor], ref: dict, i: int = 0, keys=None) -> None:
    for k in keys or ref:
        got = ours[k][i].double().numpy()
        want = np.asarray(ref[k], dtype=np.float64)
        assert np.isfinite(got).all(), k
        diff = float(np.abs(got - want).max())
        assert diff <= TOL, f"{k}: |ours - pysodmetrics| = {diff:.3g}"


# ------------------------------------------------------------------------------------------ strategies

LEVELS = np.array([0, 1, 7, 100, 128, 129, 200, 254, 255], dtype=np.uint8)


@st.composite
def pairs(draw) -> tuple[np.ndarray, np.ndarray]:
    h = draw(st.integers(1, 23))
    w = draw(st.integers(1, 23))
    pk = draw(st.sampled_from(["random", "levels", "constant", "binary"]))
    if pk == "random":
        pred = draw(hnp.arrays(np.uint8, (h, w)))
    elif pk == "levels":
        pred = draw(hnp.arrays(np.uint8, (h, w), elements=st.sampled_from(LEVELS.tolist())))
    elif pk == "constant":
        pred = np.full((h, w), draw(st.integers(0, 255)), np.uint8)
    else:
        pred = draw(hnp.arrays(np.uint8, (h, w), elements=st.sampled_from([0, 255])))
    gk = draw(st.sampled_from(["random", "empty", "full", "pixel", "box", "grey"]))
    if gk == "random":
        gt = draw(hnp.arrays(np.uint8, (h, w), elements=st.sampled_from([0, 255])))
    elif gk == "empty":
        gt = np.zeros((h, w), np.uint8)
    elif gk == "full":
        gt = np.full((h, w), 255, np.uint8)
    elif gk == "pixel":
        gt = np.zeros((h, w), np.uint8)
        gt[draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))] = 255
    elif gk == "box":
        gt = np.zeros((h, w), np.uint8)
        r0, c0 = draw(st.integers(0, h - 1)), draw(st.integers(0, w - 1))
        gt[r0:draw(st.integers(r0 + 1, h)), c0:draw(st.integers(c0 + 1, w))] = 255
    else:  # non-binary GT: the > 128 rule decides
        gt = draw(hnp.arrays(np.uint8, (h, w)))
    return pred, gt


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------------------ equality


@SETTINGS
@given(pairs())
def test_uint8_maps_match_pysodmetrics(pair):
    pred, gt = pair
    assert_close(frame_metrics(pred, gt, weighted_f=True), reference(pred, gt))


@SETTINGS
@given(pairs())
def test_float_maps_without_normalisation_match_pysodmetrics(pair):
    pred, gt = pair
    x, g = pred / 255.0, gt > 128
    ours = frame_metrics(torch.from_numpy(x), torch.from_numpy(g), normalize=False, weighted_f=True)
    assert_close(ours, reference(x, g, normalize=False))


@SETTINGS
@given(pairs())
def test_float_path_with_minmax_equals_uint8_path(pair):
    pred, gt = pair
    ours = frame_metrics(torch.from_numpy(pred / 255.0), torch.from_numpy(gt), normalize=True)
    assert_close(ours, reference(pred, gt), keys=["MAE", "S", "adpF", "F_curve", "adpE", "E_curve"])


@settings(max_examples=40, deadline=None)
@given(st.lists(pairs(), min_size=2, max_size=5))
def test_a_batch_equals_its_frames_one_by_one(items):
    h, w = items[0][0].shape
    same = [(p, g) for p, g in items if p.shape == (h, w)]
    preds, gts = np.stack([p for p, _ in same]), np.stack([g for _, g in same])
    batch = frame_metrics(preds, gts, weighted_f=True)
    for i, (p, g) in enumerate(same):
        assert_close(batch, reference(p, g), i=i)


def test_large_batches_are_processed_in_chunks_with_the_same_result(monkeypatch):
    from vsodboost.metrics import functional

    rng = np.random.default_rng(5)
    preds = rng.integers(0, 256, (5, 9, 11), dtype=np.uint8)
    gts = (rng.random((5, 9, 11)) > 0.6).astype(np.uint8) * 255
    whole = frame_metrics(preds, gts, weighted_f=True)
    monkeypatch.setattr(functional, "CHUNK", 2)
    for float_input in (False, True):
        p = preds / 255.0 if float_input else preds
        chunked = frame_metrics(p, gts, weighted_f=True, normalize=True)
        for k in whole:
            assert torch.allclose(whole[k], chunked[k], atol=TOL, rtol=0), k


def test_reference_returns_nan_where_we_return_the_weight_zero_limit():
    # object in the last column: the GT centroid's +1 puts the split at w, so two quadrants are empty
    pred = np.tile(np.arange(0, 250, 50, dtype=np.uint8), (4, 1))
    gt = np.zeros((4, 5), np.uint8)
    gt[1:3, 4] = 255
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = M.Smeasure()
        raw.step(pred, gt)
    assert np.isnan(raw.sms[-1])
    ours = float(s_measure(pred, gt)[0])
    assert abs(ours - reference(pred, gt)["S"]) < TOL and 0 < ours < 1


def test_known_values():
    gt = np.zeros((8, 8), np.uint8)
    gt[2:6, 2:6] = 255
    assert float(s_measure(gt, gt)[0]) == pytest.approx(1.0)
    assert float(mae(gt, gt)[0]) == 0.0
    assert float(mae(255 - gt, gt)[0]) == 1.0
    p, r, f = f_measure_curve(gt, gt)
    assert float(f.max()) == pytest.approx(1.0) and float(r[0, -1]) == 1.0
    assert float(adaptive_f_measure(gt, gt)[0]) == pytest.approx(1.0)
    assert float(e_measure_curve(gt, gt).max()) == pytest.approx(1.0, abs=0.02)  # (n-1+eps) denominator
    assert float(adaptive_e_measure(gt, gt)[0]) == pytest.approx(1.0, abs=0.02)
    # all-zero map on an empty GT: the adaptive threshold is 0, every pixel counts as foreground (reference quirk)
    assert float(adaptive_e_measure(np.zeros_like(gt), np.zeros_like(gt))[0]) == 0.0
    assert float(weighted_f_measure(gt, gt)[0]) == pytest.approx(1.0)
    assert float(weighted_f_measure(gt, np.zeros_like(gt))[0]) == 0.0


# ------------------------------------------------------------------------------------------ pipeline form


def test_s_measure_function_form_on_float_batches():
    g = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 20, 30, generator=g, dtype=torch.float32)
    ref_map = torch.rand(3, 20, 30, generator=g)
    scores = s_measure(pred, ref_map)  # reference map binarised at 0.5, pred used as is
    assert scores.shape == (3,) and scores.dtype == torch.float64
    for i in range(3):
        want = reference(pred[i].double().numpy(), (ref_map[i] > 0.5).numpy(), normalize=False)["S"]
        assert abs(float(scores[i]) - want) < TOL
    # a map against its own binarisation scores higher than against an unrelated map
    assert bool((s_measure(ref_map, ref_map) > scores).all())


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    g = torch.Generator().manual_seed(1)
    pred = (torch.rand(4, 33, 47, generator=g) * 255).to(torch.uint8)
    gt = ((torch.rand(4, 33, 47, generator=g) > 0.6) * 255).to(torch.uint8)
    cpu = frame_metrics(pred, gt, weighted_f=True)
    gpu = frame_metrics(pred.cuda(), gt.cuda(), weighted_f=True)
    for k in cpu:
        assert gpu[k].device.type == "cuda"
        assert torch.allclose(cpu[k], gpu[k].cpu(), atol=TOL, rtol=0), k
    fp = s_measure(pred.cuda().float() / 255, gt.cuda())
    assert torch.allclose(fp.cpu(), s_measure(pred.float() / 255, gt), atol=TOL, rtol=0)


# ------------------------------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    "pred, gt, match",
    [
        (np.zeros((4, 5), np.uint8), np.zeros((5, 4), np.uint8), "differ in shape"),
        (np.full((4, 4), 1.5), np.zeros((4, 4), bool), r"\[0, 1\]"),
        (np.full((4, 4), np.nan), np.zeros((4, 4), bool), "NaN"),
        (np.zeros((4, 4), np.int32), np.zeros((4, 4), np.uint8), "uint8 or float"),
        (np.zeros((1, 3, 4, 4), np.uint8), np.zeros((1, 3, 4, 4), np.uint8), "grayscale"),
        (np.zeros((0, 4), np.uint8), np.zeros((0, 4), np.uint8), "empty"),
        ("map.png", np.zeros((4, 4), np.uint8), "torch.Tensor or numpy"),
    ],
)
def test_bad_input_raises_a_clear_error(pred, gt, match):
    with pytest.raises(InputError, match=match):
        s_measure(pred, gt)


# ------------------------------------------------------------------------------------------ accumulator


def _frames(n: int, seed: int, h: int = 12, w: int = 16):
    rng = np.random.default_rng(seed)
    preds = rng.integers(0, 256, (n, h, w), dtype=np.uint8)
    gts = np.zeros((n, h, w), np.uint8)
    for i in range(n):
        r, c = rng.integers(0, h - 4), rng.integers(0, w - 4)
        gts[i, r:r + 4, c:c + rng.integers(2, 5)] = 255
    return preds, gts


def _pysod_summary(preds, gts) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mae_, sm, fm, em, wfm = M.MAE(), M.Smeasure(), M.Fmeasure(), M.Emeasure(), M.WeightedFmeasure()
        for p, g in zip(preds, gts):
            for m in (mae_, sm, fm, em, wfm):
                m.step(p, g)
    f, e = fm.get_results()["fm"], em.get_results()["em"]
    return {"maxF": f["curve"].max(), "meanF": f["curve"].mean(), "adpF": f["adp"], "S": sm.get_results()["sm"],
            "MAE": mae_.get_results()["mae"], "maxE": e["curve"].max(), "meanE": e["curve"].mean(),
            "adpE": e["adp"], "wF": wfm.get_results()["wfm"]}


def test_accumulator_frame_average_matches_pysodmetrics_and_streams_in_any_batches():
    preds, gts = _frames(7, 0)
    acc = SODMetrics()
    acc.step(preds[:3], gts[:3], sequence="a")
    acc.step(preds[3], gts[3], sequence="a")
    acc.step(preds[4:], gts[4:], sequence="b")
    res = acc.results()
    assert res["frames"] == 7
    for k, v in _pysod_summary(preds, gts).items():
        assert abs(res[k] - v) < TOL, k


def test_video_average_and_skip_ends():
    pa, ga = _frames(6, 1)
    pb, gb = _frames(3, 2)
    acc = SODMetrics()
    acc.step(pa, ga, sequence="long")
    acc.step(pb, gb, sequence="short")
    a, b = _pysod_summary(pa, ga), _pysod_summary(pb, gb)
    video = acc.results(average="video")
    assert video["frames"] == 9
    for k in a:
        assert abs(video[k] - (a[k] + b[k]) / 2) < TOL, k
    frame = acc.results(average="frame")
    assert abs(frame["S"] - video["S"]) > 1e-4  # the long sequence weighs more per frame
    # skip-ends: the DAVSOD toolbox drops the first and last annotated frame of each sequence
    skipped = acc.results(skip_ends=True)
    assert skipped["frames"] == 4 + 1
    want = _pysod_summary(np.concatenate([pa[1:-1], pb[1:-1]]), np.concatenate([ga[1:-1], gb[1:-1]]))
    for k in want:
        assert abs(skipped[k] - want[k]) < TOL, k
    per_seq = acc.per_sequence()
    assert [s["sequence"] for s in per_seq] == ["long", "short"] and per_seq[1]["frames"] == 3
    assert abs(per_seq[0]["maxF"] - a["maxF"]) < TOL


def test_accumulator_refuses_mismatched_names_and_bad_average():
    acc = SODMetrics(weighted_f=False)
    preds, gts = _frames(2, 3)
    with pytest.raises(InputError, match="2 frames"):
        acc.step(preds, gts, names=["only-one"])
    acc.step(preds, gts)
    with pytest.raises(InputError, match="'frame' or 'video'"):
        acc.results(average="sequence")  # type: ignore[arg-type]
    curves = acc.curves()
    # ascending thresholds: at threshold 0 every pixel is foreground, so recall is 1; at 255 it can only drop
    assert len(curves["precision"]) == 256 and curves["recall"][0] == 1.0 and curves["recall"][-1] <= 1.0


def test_separable_blur_equals_matlab_fspecial_gaussian():
    from vsodboost.metrics.wfm import _gaussian_blur, matlab_gaussian

    x = torch.zeros(1, 9, 9, dtype=torch.float64)
    x[0, 4, 4] = 1.0  # the impulse response of the blur is its kernel
    assert torch.allclose(_gaussian_blur(x)[0, 1:8, 1:8], matlab_gaussian(), atol=1e-15, rtol=0)
