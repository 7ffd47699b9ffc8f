"""The paper's tables that need more than target vs boosted: Table I (HQ vs LQ frames), Table III (the
component rows and the control), Table VII (training vs all frames) and Fig. 10 (which frames get mined)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch

from ..config import BoostConfig
from ..datasets import SequenceData
from ..errors import InputError
from ..io import read_map
from ..metrics.accumulator import summarize
from ..metrics.evaluate import resize_to
from ._scores import REPORT_KEYS, _maps_in, _pick, evaluate_subset, scored_frames

__all__ = ["TABLE3_ROWS", "TABLE1_DRAWS", "TABLE1_LEVEL", "table1", "table1_gap_text", "table7", "fig10"]


#: Table III rows: key → (label, definition), in the paper's order (Sec. VI-D) and then ours. All rows are scored on
#: every annotated frame unless said otherwise. MS = Θ(OF) of Eq. 1; the MS rows have no fusion (their own maps).
TABLE3_ROWS: dict[str, tuple[str, str]] = {
    "ms": ("MS baseline", "MS = Θ(OF) (Eq. 1): Θ applied to the colour-coded flow of every frame, scored as it is"),
    "ms_random": ("MS−MQPM", "a fresh spatial model fine-tuned with MS as pseudo-GT on frames drawn at random (as many "
                  "per buffer as MS+MQPM keeps), then run on every frame; its own maps, no fusion"),
    "ms_mqpm": ("MS+MQPM", "a fresh spatial model fine-tuned with MS as pseudo-GT on the frames the MQPM marks HQ, one "
                "per T (the one whose MQPM motion map agrees best with MS), then run on every frame; no fusion"),
    "ms_mqpm_target": ("MS+MQPM+target", "the Booster: pseudo-GT = the target's maps on the HQ frames filtered by "
                       "consistency, then the configured fusion (= the boosted row of Table V)"),
    "control": ("control: random frames + target (ours)",
                "as MS+MQPM+target but with frames drawn at random (as many per buffer as the Booster keeps): the "
                "same pseudo-GT source and the same fusion, so MS+MQPM+target − control is what mining adds"),
    "mqpm_map": ("MQPM motion map (ours)", "the MQPM's own motion saliency map of the colour-coded flow"),
    "mqpm_map_hq": ("MQPM motion map, HQ frames only (ours)",
                    "the MQPM's motion saliency map, scored only on the frames the MQPM marks HQ (a subset)"),
}


def _table3(out: Path, cfg: BoostConfig, res_b: Mapping[str, Any], hq: Mapping[str, Mapping[str, float]],
            boost: Callable[..., Any], evaluate: Callable[[Path], Any],
            subset: Callable[[Path, Callable[[str, str], bool]], Any]) -> dict[str, Any]:
    """Table III as the paper defines it (Sec. VI-D), plus our control and MQPM-map rows (:data:`TABLE3_ROWS`).

    MS = Θ(OF) are the Θ maps the main run recorded (``theta/``); they are the pseudo-GT of MS−MQPM and MS+MQPM,
    which run with ``fusion="replace"`` (no fusion). The control row uses the target's maps and ``cfg``'s fusion.
    """
    from ..adapters import PrecomputedTarget

    ms_target = PrecomputedTarget(out / "theta", name="ms-theta")
    no_fusion = BoostConfig.from_dict({**cfg.to_dict(), "fusion": "replace"})
    runs = out / "runs"
    rows: dict[str, Any] = {"ms": _pick(evaluate(out / "theta"))}
    boost("MS-MQPM", runs / "table3_ms_random", target_=ms_target, config_=no_fusion, random_frames=True)
    rows["ms_random"] = _pick(evaluate(runs / "table3_ms_random"))
    boost("MS+MQPM", runs / "table3_ms_mqpm", target_=ms_target, config_=no_fusion)
    rows["ms_mqpm"] = _pick(evaluate(runs / "table3_ms_mqpm"))
    rows["ms_mqpm_target"] = _pick(res_b)
    boost("control", runs / "table3_control", random_frames=True)
    rows["control"] = _pick(evaluate(runs / "table3_control"))
    rows["mqpm_map"] = _pick(evaluate(out / "motion"))
    thr = cfg.hq_threshold
    rows["mqpm_map_hq"] = _pick(subset(out / "motion", lambda s, n: hq[s].get(n, 0.0) >= thr))
    return {"average": "frame", "rows": rows,
            "runs": {"ms_random": str(runs / "table3_ms_random"), "ms_mqpm": str(runs / "table3_ms_mqpm"),
                     "control": str(runs / "table3_control")},
            "pseudo_gt": {"ms_random": "ms-theta", "ms_mqpm": "ms-theta", "ms_mqpm_target": "target",
                          "control": "target"},
            "fusion": {"ms_random": "replace", "ms_mqpm": "replace", "ms_mqpm_target": cfg.fusion,
                       "control": cfg.fusion},
            "mining_gain": {k: rows["ms_mqpm_target"][k] - rows["control"][k] for k in REPORT_KEYS[1:]},
            "definitions": {k: {"label": v[0], "definition": v[1]} for k, v in TABLE3_ROWS.items()}}


def _control(out: Path, res_b: Mapping[str, Any], boost: Callable[..., Any], evaluate: Callable[[Path], Any], *,
             seed: int, draws: int) -> dict[str, Any]:
    """Table III's control over ``draws`` random draws: the Booster (MQPM frames, the main run) against the same
    Booster on frames drawn at random (as many per buffer), same pseudo-GT and fusion. Draw k runs with seed
    ``seed + k`` (the frame draw and the fine-tuning's randomness both change; draw 0 is table3's control run).
    ``mining_gain`` = Booster − mean of the draws; ``verdict`` says whether it exceeds twice the draws' sd."""
    if draws < 1:
        raise InputError(f"draws must be ≥ 1 (got {draws})")
    runs = out / "runs"
    rows = []
    for k in range(draws):
        root = runs / ("table3_control" if k == 0 else f"control_seed{seed + k}")
        boost(f"control draw {k + 1}/{draws}", root, random_frames=True, seed_=seed + k)
        rows.append({**_pick(evaluate(root)), "seed": seed + k, "run": str(root)})
    keys = [k for k in REPORT_KEYS[1:] if all(isinstance(r.get(k), (int, float)) for r in rows)]
    mean = {k: float(np.mean([r[k] for r in rows])) for k in keys}
    sd = {k: float(np.std([r[k] for r in rows], ddof=1)) if draws > 1 else float("nan") for k in keys}
    gain = {k: res_b[k] - mean[k] for k in keys}
    clear = draws > 1 and gain["maxF"] > 2 * sd["maxF"]
    return {"average": "frame", "draws": rows, "random_mean": mean, "random_sd": sd, "mqpm": _pick(res_b),
            "mining_gain": gain,
            "verdict": ("MQPM frames beat random ones by more than twice the draws' sd (maxF)" if clear else
                        "MQPM frames do not beat random ones by more than twice the draws' sd (maxF)"),
            "definition": "Booster (MQPM frames, seed s) vs the same Booster on random frames, seeds s … s+draws−1"}


def table7(boosted_root: Path, target_root: Path, seqs: Sequence[SequenceData],
           mined: Mapping[str, set[str]]) -> dict[str, Any]:
    """Table VII: the boosted maps on all annotated frames ("overall") vs only on the mined (training) frames that
    are annotated ("training"); plus the target's maps on those frames — the pseudo-GT the model was taught."""
    keys = ("frames", "maxF", "meanF", "adpF", "S", "MAE")
    is_mined = lambda s, n: n in mined.get(s, set())  # noqa: E731
    rows = {"overall": _pick(evaluate_subset(boosted_root, seqs, lambda s, n: True), keys),
            "training": _pick(evaluate_subset(boosted_root, seqs, is_mined), keys),
            "target_overall": _pick(evaluate_subset(target_root, seqs, lambda s, n: True), keys),
            "target_training": _pick(evaluate_subset(target_root, seqs, is_mined), keys)}
    return {"average": "frame", "rows": rows, "mined": sum(len(v) for v in mined.values()),
            "mined_annotated": rows["training"]["frames"]}


def _resample(v: np.ndarray, bins: int) -> np.ndarray:
    """Area resampling of a 0/1 vector of any length to ``bins`` values (each value the covered mean)."""
    return np.repeat(v.astype(np.float64), bins).reshape(bins, len(v)).mean(axis=1)


def fig10(target_root: Path, seqs: Sequence[SequenceData], mined: Mapping[str, set[str]],
           bins: int = 20) -> dict[str, Any]:
    """Fig. 10 (Sec. VI-F): per sequence, rank the annotated frames by the target's quality (S-measure against the GT,
    best first), mark the mined ones with 1, resample that 0/1 vector to ``bins`` values; the dataset row is the mean
    over sequences, normalised to a maximum of 1. Warm first bins = mining picks the frames the target got right."""
    from ..metrics import s_measure

    per_seq: dict[str, list[float]] = {}
    top, bottom = [], []
    for seq in seqs:
        scored, maps = [], _maps_in(target_root / seq.name)
        for stem in seq.annotated:
            p = maps.get(stem)
            if p is None:
                continue
            gt, _ = read_map(seq.gt[stem])
            pred, _ = read_map(p)
            pred = resize_to(pred, gt.shape) if pred.shape != gt.shape else pred
            scored.append((float(s_measure(pred[None], gt[None]).double()[0]), stem))
        if not scored:
            continue
        scored.sort(key=lambda x: -x[0])
        v = np.array([stem in mined.get(seq.name, set()) for _, stem in scored], dtype=np.float64)
        per_seq[seq.name] = [round(float(x), 4) for x in _resample(v, bins)]
        half = len(v) // 2
        top.append(v[:half].sum())
        bottom.append(v[len(v) - half:].sum())
    avg = np.mean(list(per_seq.values()), axis=0) if per_seq else np.zeros(bins)
    norm = avg / avg.max() if avg.max() > 0 else avg
    return {"bins": bins, "order": "annotated frames ranked by the target's S-measure, best first",
            "average": [round(float(x), 4) for x in avg], "normalized": [round(float(x), 4) for x in norm],
            "per_sequence": per_seq, "mined_in_better_half": int(sum(top)), "mined_in_worse_half": int(sum(bottom))}


#: Table I's interval: a percentile bootstrap over sequences with this many resamples...
TABLE1_DRAWS = 2000
#: ...at this level.
TABLE1_LEVEL = 0.9


def table1(target_root: Path, seqs: Sequence[SequenceData], hq: Mapping[str, Mapping[str, float]],
           thr: float, *, draws: int = TABLE1_DRAWS, level: float = TABLE1_LEVEL, seed: int = 0) -> dict[str, Any]:
    """Table I: the target's maps (``target_root/<seq>/<stem>``) on the annotated frames whose MQPM HQ probability
    ``hq[seq][stem]`` is ≥ ``thr`` vs the others, frame-averaged within each group, with the paper's five metrics.

    ``gap`` is HQ − LQ in maxF and S with a ``level`` percentile-bootstrap interval over *sequences*: ``draws``
    resamples of the scored sequences with replacement (``seed``), each scored as the table is (frame-averaged,
    maxF the max of the mean F-curve). Sequences are the unit because the frames of one video share its
    difficulty; resampling frames would understate the spread. Draws that leave HQ or LQ empty are skipped
    (``interval.used`` counts the others)."""
    keys = ("frames", "maxF", "meanF", "adpF", "S", "MAE")  # the paper's five metrics
    hq_at = lambda s, n: hq.get(s, {}).get(n, 0.0) >= thr  # noqa: E731
    metric = scored_frames(target_root, seqs)
    vals, scored = metric.frame_values(), metric.frame_keys
    is_hq = np.array([hq_at(s, n) for s, n in scored], dtype=bool)
    r_hq = summarize({k: v[torch.from_numpy(is_hq)] for k, v in vals.items()})
    r_lq = summarize({k: v[torch.from_numpy(~is_hq)] for k, v in vals.items()})
    n_all = sum(len(v) for v in hq.values())
    n_hq = sum(sum(p >= thr for p in v.values()) for v in hq.values())
    ann = [(s.name, n) for s in seqs for n in s.annotated]
    gap = {"maxF": r_hq["maxF"] - r_lq["maxF"], "S": r_hq["S"] - r_lq["S"],
           "interval": _gap_interval(vals, [s for s, _ in scored], is_hq, draws, level, seed)}
    return {"average": "frame", "threshold": thr, "hq": _pick(r_hq, keys), "lq": _pick(r_lq, keys), "gap": gap,
            "hq_fraction": n_hq / n_all if n_all else float("nan"),
            "hq_fraction_annotated": (sum(hq_at(s, n) for s, n in ann) / len(ann)) if ann else float("nan")}


def table1_gap_text(t1: Mapping[str, Any]) -> str:
    """One sentence for reports: Table I's HQ − LQ gaps with their sequence-bootstrap interval ("" for a report
    written before the interval existed)."""
    g = t1.get("gap")
    if not g:
        return ""
    if not all(isinstance(g.get(k), (int, float)) and math.isfinite(g[k]) for k in ("maxF", "S")):
        # NaN in memory, null once written to report.json
        return "HQ − LQ: no gap, one group is empty (every scored frame is HQ, or every one LQ)."
    iv = g["interval"]
    part = lambda k: f"{k} {g[k]:+.3f}" + (f" [{iv[k][0]:+.3f}, {iv[k][1]:+.3f}]" if iv.get(k) else "")  # noqa: E731
    how = (f"{iv['level']:.0%} interval from {iv['used']:,} resamples of the sequences" if iv.get("maxF")
           else "no interval: fewer than 2 sequences or no resample with both groups")
    return f"HQ − LQ: {part('maxF')}, {part('S')} ({how})."


def _gap_interval(vals: Mapping[str, torch.Tensor], seq_of: Sequence[str], is_hq: np.ndarray, draws: int,
                  level: float, seed: int) -> dict[str, Any]:
    """Percentile bootstrap of Table I's HQ − LQ gaps over sequences (:func:`table1`). A draw is a vector of
    counts, one per sequence; each group's mean curve is then a count-weighted sum of per-sequence sums."""
    names = list(dict.fromkeys(seq_of))
    out: dict[str, Any] = {"level": level, "unit": "sequence", "draws": draws, "used": 0, "maxF": None, "S": None}
    if len(names) < 2 or draws < 1:
        return out
    index = {s: i for i, s in enumerate(names)}
    row = np.array([index[s] for s in seq_of])
    f, sm = vals["F_curve"].double().numpy(), vals["S"].double().numpy()
    sums = {}
    for g, m in (("hq", is_hq), ("lq", ~is_hq)):
        onehot = np.zeros((len(names), len(seq_of)))
        onehot[row[m], np.flatnonzero(m)] = 1.0
        sums[g] = (onehot @ f, onehot @ sm, onehot.sum(1))  # per sequence: F-curve sum, S sum, frames
    picks = np.random.default_rng(seed).integers(len(names), size=(draws, len(names)))
    counts = np.stack([np.bincount(p, minlength=len(names)) for p in picks]).astype(np.float64)
    n_hq, n_lq = counts @ sums["hq"][2], counts @ sums["lq"][2]
    ok = (n_hq > 0) & (n_lq > 0)
    if not ok.any():
        return out
    c, n_hq, n_lq = counts[ok], n_hq[ok, None], n_lq[ok, None]
    g_f = (c @ sums["hq"][0] / n_hq).max(1) - (c @ sums["lq"][0] / n_lq).max(1)
    g_s = (c @ sums["hq"][1] / n_hq[:, 0]) - (c @ sums["lq"][1] / n_lq[:, 0])
    q = [(1 - level) / 2 * 100, (1 + level) / 2 * 100]
    out.update(used=int(ok.sum()), maxF=[float(x) for x in np.percentile(g_f, q)],
               S=[float(x) for x in np.percentile(g_s, q)])
    return out
