"""Scoring for ``vsodboost bench``: report blocks and gains from :func:`vsodboost.metrics.evaluate_folders`
results, metrics of a subset of the annotated frames, and the seconds per stage a run recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..datasets import SequenceData
from ..io import index_maps, read_map
from ..metrics.accumulator import SODMetrics
from ..metrics.evaluate import resize_to

__all__ = ["REPORT_KEYS", "block_of", "gain_of", "evaluate_subset", "scored_frames", "hq_of", "mined_of"]


#: Metric keys of every block of report.json, in table order.
REPORT_KEYS: tuple[str, ...] = ("frames", "maxF", "meanF", "adpF", "S", "MAE", "meanE", "wF")


_STAGES = ("read", "target", "flow", "mqpm+filter", "finetune", "predict")


def _pick(d: Mapping[str, Any], keys: Sequence[str] = REPORT_KEYS) -> dict[str, Any]:
    return {k: d[k] for k in keys}


def block_of(res: Mapping[str, Any]) -> dict[str, Any]:
    """A report block from an :func:`evaluate_folders` result: frame-averaged overall values, the video average
    (mean of the per-sequence summaries) and ``per_sequence``."""
    seqs = [s for s in res["sequences"] if s["frames"] > 0]
    video = {"frames": sum(s["frames"] for s in seqs)}
    for k in REPORT_KEYS[1:]:
        vals = [s[k] for s in seqs]
        video[k] = float(np.mean(vals)) if vals else float("nan")
    return {**_pick(res), "average": "frame", "video_average": video,
            "per_sequence": {s["sequence"]: _pick(s) for s in res["sequences"]},
            "missing": res["missing"]["count"]}


def gain_of(target: Mapping[str, Any], boosted: Mapping[str, Any]) -> dict[str, Any]:
    """Signed differences boosted − target (for MAE a negative gain is an improvement)."""
    keys = REPORT_KEYS[1:]
    d = lambda a, b: {k: b[k] - a[k] for k in keys}  # noqa: E731
    return {"overall": d(target, boosted), "video_average": d(target["video_average"], boosted["video_average"]),
            "per_sequence": {s: d(target["per_sequence"][s], boosted["per_sequence"][s])
                             for s in boosted["per_sequence"] if s in target["per_sequence"]}}


def _maps_in(folder: Path) -> dict[str, Path]:
    """Stem → map file of ``folder`` (the one map index of :mod:`vsodboost.io`; empty when it does not exist), read
    once per folder."""
    return index_maps(folder) if folder.is_dir() else {}


def scored_frames(pred_root: Path, seqs: Iterable[SequenceData], keep: Callable[[str, str], bool] | None = None,
                  *, weighted_f: bool = False) -> SODMetrics:
    """The metric accumulator of the annotated frames for which ``keep(sequence, stem)`` holds (all when None),
    maps read and resized exactly as :func:`evaluate_folders` does; its ``frame_keys`` name every row."""
    metric = SODMetrics(weighted_f=weighted_f)
    for seq in seqs:
        maps = _maps_in(pred_root / seq.name)
        for stem in seq.annotated:
            if keep is not None and not keep(seq.name, stem):
                continue
            p = maps.get(stem)
            if p is None:
                continue
            pred, _ = read_map(p)
            gt, _ = read_map(seq.gt[stem])
            if pred.shape != gt.shape:
                pred = resize_to(pred, gt.shape)
            metric.step(pred, gt, sequence=seq.name, names=[stem])
    return metric


def evaluate_subset(pred_root: Path, seqs: Iterable[SequenceData], keep: Callable[[str, str], bool],
                    *, weighted_f: bool = False) -> dict[str, Any]:
    """Frame-averaged metrics of the annotated frames for which ``keep(sequence, stem)`` holds (maps read and
    resized exactly as :func:`evaluate_folders` does)."""
    return scored_frames(pred_root, seqs, keep, weighted_f=weighted_f).results(average="frame")


def recorded_per_frame(summary: Mapping[str, Any], names: Sequence[str], key: str) -> dict[str, float]:
    """Frame name → the per-frame value ``key`` run_to_dir recorded (``buffers_done[start:stop][key]``); frames of
    a buffer that did not record it are absent."""
    out: dict[str, float] = {}
    for tag, b in summary["buffers_done"].items():
        start, stop = (int(x) for x in tag.split(":"))
        for n, p in zip(names[start:stop], b.get(key) or []):
            out[n] = float(p)
    return out


def hq_of(summary: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """Per-frame HQ probability recorded by run_to_dir (``buffers_done[start:stop].hq_prob``)."""
    return recorded_per_frame(summary, names, "hq_prob")


def mined_of(main: Mapping[str, Any]) -> dict[str, set[str]]:
    """Sequence → the stems of the frames the main run fine-tuned on (every buffer)."""
    return {s: {n for b in m["buffers_done"].values() for n in b["mined"]} for s, m in main.items()}


def _timings(summaries: Mapping[str, Any], seqs: Sequence[SequenceData], eval_seconds: float) -> dict[str, Any]:
    stages: dict[str, float] = {}
    per_seq = {}
    for s in seqs:
        t: dict[str, float] = {}
        for b in summaries[s.name]["buffers_done"].values():
            for k, v in b["timings"].items():
                t[k] = t.get(k, 0.0) + v
        per_seq[s.name] = {"frames": len(s.frames), **{k: round(v, 3) for k, v in t.items()}}
        for k, v in t.items():
            stages[k] = stages.get(k, 0.0) + v
    frames = sum(len(s.frames) for s in seqs)
    total = sum(stages.values())
    order = [k for k in _STAGES if k in stages] + [k for k in stages if k not in _STAGES]
    return {
        "frames": frames,
        "per_stage": {k: {"seconds": round(stages[k], 3), "ms_per_frame": round(1000 * stages[k] / frames, 2)}
                      for k in order},
        "total_seconds": round(total, 3),
        "fps": round(frames / total, 3) if total else None,
        # the paper's Table VIII FPS: the adapted spatial model's prediction alone (every frame of every buffer)
        "inference_fps": round(frames / stages["predict"], 3) if stages.get("predict") else None,
        "evaluation_seconds": round(eval_seconds, 3),
        "per_sequence": per_seq,
        "note": "seconds measured when each buffer was boosted (a resumed buffer keeps its first run's time)",
    }
