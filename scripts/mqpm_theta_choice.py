"""Which Θ for Eq. 1? For each weight-free candidate: MQS of every annotated frame of ../shared/data, global λ
(Eqs. 2–4), and how well the resulting oracle labels separate the target's quality (PDB on DAVIS, MGA on ViSal).

    /work/venv/bin/python scripts/mqpm_theta_choice.py
"""
import time

import numpy as np

from _mqpm_eval import flow_images, flow_sets, s_measure_np, setup_logging, spearman, subset_metrics, target_metrics
from vsodboost.mqpm.labels import mqs_labels
from vsodboost.mqpm.theta import get_theta

setup_logging()
sets = flow_sets()
tm = target_metrics(sets)
print(f"{sum(len(s) for s in sets)} annotated frames, {len(tm)} with a target map")
rows = []
for name in ["border-contrast", "saturation", "center"]:
    t = time.time()
    theta = get_theta(name)
    keys, mqs = [], []
    for fs in sets:
        sal = theta(flow_images(fs)).numpy()
        for i, stem in enumerate(fs.stems):
            keys.append((fs.dataset, fs.sequence, stem)); mqs.append(s_measure_np(sal[i], fs.gt[i]))
    mqs = np.array(mqs)
    labels, lam = mqs_labels(mqs)
    line = [f"Θ={name:16s} mean MQS {mqs.mean():.3f} λ={lam:.3f} HQ {labels.mean():.0%}"]
    for ds in ["DAVIS2016", "ViSal"]:
        sel = [i for i, k in enumerate(keys) if k[0] == ds and k in tm]
        hq = subset_metrics(tm, [keys[i] for i in sel if labels[i]])
        lq = subset_metrics(tm, [keys[i] for i in sel if not labels[i]])
        rho = spearman(mqs[sel], [tm[keys[i]]["S"] for i in sel])
        line.append(f"{ds}: HQ {hq['n']} maxF {hq['maxF']:.3f} S {hq['S']:.3f} | LQ {lq['n']} maxF {lq['maxF']:.3f} "
                    f"S {lq['S']:.3f} | gap {hq['maxF'] - lq['maxF']:+.3f} | ρ(MQS, target S) {rho:+.2f}")
    print("\n   ".join(line) + f"\n   ({time.time() - t:.0f} s)", flush=True)
    np.save(f"/tmp/vsodboost-cache/mqs_{name}.npy", mqs)
