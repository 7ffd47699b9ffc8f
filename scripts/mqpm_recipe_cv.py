"""Choose an MQPM recipe without the evaluation sets: K-fold cross-validation inside DAVIS-TR.

Every recipe is trained K times on the DAVIS-TR sequences outside one fold (sorted names, fold k = positions
k, k+K, ...) and scored on the fold's sequences, which it never saw, against their MQS labels (Eq. 1, Θ = the
recipe's, λ of Eqs. 2–4 from the fold's own training frames): the AUC of the HQ probability, Spearman's ρ between
the probability and MQS (over the fold and, averaged, within each sequence: the Booster ranks
frames within one video), the share predicted HQ (p ≥ 0.5) and the accuracy; and the motion saliency map (Eq. 6)
against the fold's GT (maxF, S, MAE, frame-averaged, pysodmetrics conventions: the map the S-consistency filter and
the ``motion`` fusion use). No DAVIS val or ViSal frame is read.

    OMP_NUM_THREADS=1 python scripts/mqpm_recipe_cv.py --data ~/data/DAVIS2016-train --work /tmp/mqpm-cv \\
        --recipe sum300:reduction=sum --recipe mean300:reduction=mean \\
        --recipe sum600:reduction=sum,iterations=600 --recipe sumf3:reduction=sum,freeze_stages=3 [--json out.json]

A recipe is ``name:field=value,...`` over :class:`vsodboost.mqpm.train.TrainConfig`'s fields (the rest at their
defaults, the shipped recipe). Training resumes: rerunning the command skips finished folds and continues an
interrupted one (``WORK/<name>/fold<k>.pt.train``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np
import torch

from vsodboost.flow import flow_to_color
from vsodboost.metrics import SODMetrics
from vsodboost.mqpm import load_mqpm
from vsodboost.mqpm.data import build_flow_sets
from vsodboost.mqpm.labels import motion_quality_scores
from vsodboost.mqpm.theta import get_theta
from vsodboost.mqpm.train import TrainConfig, train_mqpm


def _ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks, ties averaged (each group of equal values gets the mean of the ranks it spans)."""
    first = np.empty(len(x))
    first[np.argsort(x, kind="mergesort")] = np.arange(1, len(x) + 1)
    _, group, size = np.unique(x, return_inverse=True, return_counts=True)
    return (np.bincount(group, weights=first) / size)[group]


def auc(score: np.ndarray, positive: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney U / n⁺n⁻)."""
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if not n_pos or not n_neg:
        return float("nan")
    return float((_ranks(score)[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(_ranks(a), _ranks(b))[0, 1])


def _recipe(text: str) -> tuple[str, dict]:
    name, _, spec = text.partition(":")
    defaults = TrainConfig().to_dict()
    over: dict = {}
    for item in filter(None, spec.split(",")):
        k, _, v = item.partition("=")
        if k not in defaults:
            raise SystemExit(f"--recipe {text}: {k!r} is not a TrainConfig field ({', '.join(sorted(defaults))})")
        kind = type(defaults[k])
        over[k] = v in ("1", "true", "True") if kind is bool else kind(v) if kind in (int, float) else v
    return name, over


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="DAVIS-TR root (DAVIS layout)")
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--recipe", action="append", required=True, help="name:field=value,...")
    ap.add_argument("--folds", type=int, default=3)
    ap.add_argument("--only-fold", type=int, action="append", default=None, help="train and score this fold only "
                    "(repeatable; default: all)")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    torch.set_num_threads(1)
    sets = build_flow_sets([args.data], "dis", max_side=TrainConfig.cache_max_side)
    names = sorted({fs.sequence for fs in sets})
    held = {k: set(names[k::args.folds]) for k in range(args.folds)}
    report: dict = {"data": str(args.data), "folds": {k: sorted(v) for k, v in held.items()}, "recipes": {}}
    for spec in args.recipe:
        name, over = _recipe(spec)
        rows, pooled = [], {"p": [], "mqs": [], "y": []}
        for k in (args.only_fold if args.only_fold is not None else range(args.folds)):
            out = args.work / name / f"fold{k}.pt"
            cfg = TrainConfig(**{**TrainConfig().to_dict(), **over, "data": [str(args.data)], "out": str(out),
                                 "num_threads": 1, "device": "cpu"})
            if not out.is_file():
                train_mqpm(cfg, flow_sets=[fs for fs in sets if fs.sequence not in held[k]])
            lam = json.loads((cfg.work_path() / "labels.json").read_text())["lambda"]
            mq, theta = load_mqpm(out), get_theta(cfg.theta)
            p, m, within, maps = [], [], [], SODMetrics(weighted_f=False)
            for fs in (fs for fs in sets if fs.sequence in held[k]):
                colour = flow_to_color(torch.from_numpy(fs.flows).float())
                prob, motion = mq.predict(colour)
                ps = prob.numpy().astype(np.float64)
                gt = torch.from_numpy(fs.gt)
                maps.step((motion * 255).round().to(torch.uint8), gt, sequence=fs.sequence)
                ms = motion_quality_scores(colour, gt, theta).numpy().astype(np.float64)
                within.append(spearman(ps, ms))  # the Booster ranks frames within one video
                p += ps.tolist()
                m += ms.tolist()
            p, m = np.array(p), np.array(m)
            y = m >= lam
            map_scores = maps.results()  # one summary of the fold's motion maps (Eq. 6) against the GT
            rows.append({"fold": k, "lambda": lam, "frames": len(p), "auc": auc(p, y), "spearman": spearman(p, m),
                         "spearman_within": float(np.nanmean(within)),
                         "hq_predicted": float((p >= 0.5).mean()), "hq_labels": float(y.mean()),
                         "accuracy": float(((p >= 0.5) == y).mean()),
                         "map": {key: map_scores[key] for key in ("maxF", "S", "MAE")}})
            pooled["p"] += p.tolist(); pooled["mqs"] += m.tolist(); pooled["y"] += y.tolist()
        pp, yy = np.array(pooled["p"]), np.array(pooled["y"], bool)
        mean = {key: float(np.mean([r[key] for r in rows])) for key in ("auc", "spearman", "spearman_within", "hq_predicted",
                                                                  "accuracy")}
        mean["map"] = {key: float(np.mean([r["map"][key] for r in rows])) for key in ("maxF", "S", "MAE")}
        report["recipes"][name] = {"overrides": over, "folds": rows, "mean": mean,
                                   "pooled": {"auc": auc(pp, yy), "spearman": spearman(pp, np.array(pooled["mqs"]))}}
        print(f"{name:10s} AUC " + " ".join(f"{r['auc']:.3f}" for r in rows) + f" (mean {mean['auc']:.3f}, pooled "
              f"{report['recipes'][name]['pooled']['auc']:.3f}) | ρ mean {mean['spearman']:.3f}, within sequences "
              f"{mean['spearman_within']:.3f} | predicted HQ "
              f"{mean['hq_predicted']:.1%} (labels {np.mean([r['hq_labels'] for r in rows]):.1%}) | accuracy "
              f"{mean['accuracy']:.3f} | motion map maxF " + " ".join(f"{r['map']['maxF']:.3f}" for r in rows)
              + f" (mean {mean['map']['maxF']:.3f}), S {mean['map']['S']:.3f}, MAE {mean['map']['MAE']:.4f}",
              flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
