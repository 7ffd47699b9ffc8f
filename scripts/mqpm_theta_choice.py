"""Which Θ for Eq. 1? For each weight-free candidate, on every annotated frame of ../shared/data:

1. validity: does MQS respond to the flow's quality? MQS with the DIS flow vs with the same flow degraded
   (Gaussian noise of 0.5× the frame's flow RMS, then a 9×9 blur-free colour coding): mean drop and the fraction of
   frames whose MQS drops;
2. usefulness: global λ (Eqs. 2–4) and how well the oracle labels (GT-based MQS) separate the target's quality
   (PDB on DAVIS, MGA on ViSal), and the rank correlation of MQS with the target's per-frame S-measure.

    OMP_NUM_THREADS=1 /work/venv/bin/python scripts/mqpm_theta_choice.py [THETA ...]
"""
import sys
import time

import numpy as np
import torch

from _mqpm_eval import CACHE, flow_sets, setup_logging, spearman, subset_metrics, target_metrics
from vsodboost.flow import flow_to_color
from vsodboost.mqpm.labels import motion_quality_scores, mqs_labels

torch.set_num_threads(1)
setup_logging()
sets = flow_sets()
tm = target_metrics(sets)
print(f"{sum(len(s) for s in sets)} annotated frames, {len(tm)} with a target map")
names = sys.argv[1:] or ["border-contrast", "border-contrast-center", "saturation", "center"]
g = torch.Generator().manual_seed(0)
for name in names:
    t = time.time()
    keys, mqs, mqs_noisy = [], [], []
    for fs in sets:
        f = torch.from_numpy(fs.flows).float()
        gt = torch.from_numpy(fs.gt)
        rms = f.pow(2).sum(1).mean(dim=(1, 2)).sqrt().view(-1, 1, 1, 1)
        noisy = f + 0.5 * rms * torch.randn(f.shape, generator=g)
        mqs.append(motion_quality_scores(flow_to_color(f), gt, name).numpy())
        mqs_noisy.append(motion_quality_scores(flow_to_color(noisy), gt, name).numpy())
        keys += [(fs.dataset, fs.sequence, s) for s in fs.stems]
    mqs, mqs_noisy = np.concatenate(mqs), np.concatenate(mqs_noisy)
    labels, lam = mqs_labels(mqs)
    line = [f"Θ={name:22s} mean MQS {mqs.mean():.3f} λ={lam:.3f} HQ {labels.mean():.0%} | noisy flow: "
            f"mean MQS {mqs_noisy.mean():.3f} (drop {mqs.mean() - mqs_noisy.mean():+.3f}, "
            f"lower on {(mqs_noisy < mqs - 1e-6).mean():.0%} of frames)"]
    for ds in ["DAVIS2016", "ViSal"]:
        sel = [i for i, k in enumerate(keys) if k[0] == ds and k in tm]
        hq = subset_metrics(tm, [keys[i] for i in sel if labels[i]])
        lq = subset_metrics(tm, [keys[i] for i in sel if not labels[i]])
        rho = spearman(mqs[sel], [tm[keys[i]]["S"] for i in sel])
        line.append(f"{ds}: HQ {hq['n']} maxF {hq['maxF']:.3f} S {hq['S']:.3f} | LQ {lq['n']} maxF {lq['maxF']:.3f} "
                    f"S {lq['S']:.3f} | gap {hq['maxF'] - lq['maxF']:+.3f} | ρ(MQS, target S) {rho:+.2f}")
    print("\n   ".join(line) + f"\n   ({time.time() - t:.0f} s)", flush=True)
    np.save(CACHE / f"mqs_{name}.npy", mqs)
