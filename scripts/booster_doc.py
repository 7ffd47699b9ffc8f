"""Render the Booster evidence tables of docs/booster.md from the report.json files of scripts/booster_cv.py.

    python scripts/booster_doc.py --report /tmp/vsodboost-boost/v1/report.json [--variant NAME=REPORT ...] \
        [--spatial-only /tmp/vsodboost-spatial/report.json] > /tmp/tables.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

METRICS = ("maxF", "S", "MAE", "meanE", "wF")
ROWS = (("boosted", "boosted, `replace` (the paper)"), ("boosted_mean", "boosted, `mean` fusion (default)"),
        ("boosted_geometric", "boosted, `geometric` fusion"))


def _fmt(v: float, m: str) -> str:
    return f"{v:.4f}" if m == "MAE" else f"{v:.3f}"


def _gain(b: float, t: float, m: str) -> str:
    d = b - t
    better = d < 0 if m == "MAE" else d > 0
    return f"{d:+.4f}" + (" ▲" if better and abs(d) >= 5e-4 else " ▼" if not better and abs(d) >= 5e-4 else "")


def overall(report: dict, spatial: dict | None) -> str:
    out = []
    for folder, s in report["sets"].items():
        t = s["target"]
        out.append(f"\n**{folder}** — target {s['method']}, {t['frames']} annotated frames, frame-averaged\n")
        out.append("| maps | " + " | ".join(METRICS) + " |")
        out.append("|---" * (len(METRICS) + 1) + "|")
        out.append(f"| target ({s['method']}, published) | " + " | ".join(_fmt(t[m], m) for m in METRICS) + " |")
        if spatial and folder in spatial:
            sp = spatial[folder]
            out.append("| pretrained spatial model alone (zero-shot, no fine-tuning) | "
                       + " | ".join(_fmt(sp[m], m) for m in METRICS) + " |")
            zf = spatial.get(f"{folder}__geometric_{s['method']}")
            if zf:
                out.append(f"| zero-shot fusion √(spatial · {s['method']}), no fine-tuning | "
                           + " | ".join(f"{_fmt(zf[m], m)} ({_gain(zf[m], t[m], m)})" for m in METRICS) + " |")
        for key, label in ROWS:
            if key in s:
                b = s[key]
                out.append(f"| {label} | " + " | ".join(f"{_fmt(b[m], m)} ({_gain(b[m], t[m], m)})" for m in METRICS)
                           + " |")
    return "\n".join(out)


def per_sequence(report: dict, key: str = "boosted_mean") -> str:
    out = []
    for folder, s in report["sets"].items():
        t, b = s["target"]["per_sequence"], s[key]["per_sequence"]
        how = "replace" if key == "boosted" else key.replace("boosted_", "")
        out.append(f"\n**{folder}** ({s['method']} → `{how}`), per sequence\n")
        out.append("| sequence | frames | mined | maxF | S | MAE |")
        out.append("|---|---|---|---|---|---|")
        for seq in t:
            tm = s["timing"].get(seq, {})
            out.append(f"| {seq} | {t[seq]['frames']} | {tm.get('mined', '')} | "
                       + " | ".join(f"{_fmt(t[seq][m], m)} → {_fmt(b[seq][m], m)} ({_gain(b[seq][m], t[seq][m], m)})"
                                    for m in ("maxF", "S", "MAE")) + " |")
        gains = [b[q]["maxF"] - t[q]["maxF"] for q in t]
        out.append(f"\nmaxF improved on {sum(g > 0 for g in gains)}/{len(gains)} sequences; worst {min(gains):+.4f}, "
                   f"best {max(gains):+.4f}.")
    return "\n".join(out)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--report", type=Path, required=True)
    ap.add_argument("--spatial-only", type=Path)
    args = ap.parse_args()
    report = json.loads(args.report.read_text())
    spatial = json.loads(args.spatial_only.read_text()) if args.spatial_only else None
    print("## Target vs boosted (Table V protocol, cross-validated)")
    print(overall(report, spatial))
    print("\n## Per sequence (`mean` fusion, the default)")
    print(per_sequence(report))
    print("\n## Per sequence (`replace`, the paper)")
    print(per_sequence(report, "boosted"))


if __name__ == "__main__":
    main()
