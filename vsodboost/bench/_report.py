"""report.md and report.html of ``vsodboost bench``: the tables as text, and the page that gathers them with the
plots, pictures and videos of :mod:`._figures`."""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

from ._tables import table1_gap_text

__all__ = ["render_markdown", "render_html"]

_COLS = ("frames", "maxF", "meanF", "adpF", "S", "MAE", "meanE", "wF")
_LOWER_BETTER = {"MAE"}


def _f(v: Any, key: str = "") -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if key == "frames":
        return str(int(v))
    return f"{v:.4f}" if key == "MAE" else f"{v:.3f}"


def _d(v: Any, key: str) -> str:
    """A signed gain, marked better (▲) or worse (▼) — for MAE lower is better."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    digits = 4 if key == "MAE" else 3
    if round(v, digits) == 0:
        return f"{v:+.{digits}f} ="
    better = (v < 0) if key in _LOWER_BETTER else (v > 0)
    return f"{v:+.{digits}f} {'▲' if better else '▼'}"


def _table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(out)


def _metric_rows(rows: Sequence[tuple[str, Mapping[str, Any]]], cols: Sequence[str] = _COLS) -> str:
    return _table(["", *cols], [[name, *(_f(r.get(k), k) for k in cols)] for name, r in rows])


def _baseline_rows(r: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """Table V's honest baselines: the spatial model with no fine-tuning, alone and fused with the target."""
    b = r.get("baselines")
    if not b:
        return []
    return [("spatial model alone, zero-shot (no fine-tuning)", b["zero_shot"]),
            (f"zero-shot fusion ({b['zero_shot_fusion']['fusion']}, no fine-tuning)", b["zero_shot_fusion"])]


def render_markdown(r: Mapping[str, Any], *, level: int = 1, figures: bool = True) -> str:
    """report.md; ``level`` shifts heading levels (to embed it in another document), ``figures`` adds links."""
    body = _render(r, figures=figures)
    if level > 1:
        body = "\n".join(("#" * (level - 1) + line) if line.startswith("#") else line for line in body.split("\n"))
    return body


def _render(r: Mapping[str, Any], *, figures: bool) -> str:
    t, b, g = r["target"], r["boosted"], r["gain"]
    ds = r["dataset"]
    n_seq = len(ds["sequences"])
    lines = [f"# vsodboost bench: {t['name']} on {Path(ds['root']).name}", ""]
    if r.get("command"):
        lines += ["```", r["command"], "```", ""]
    dev = r["device"]
    lines += [f"{n_seq} sequence(s), {ds['frames']} frames, {ds['annotated']} annotated (scored). "
              f"Device: {dev['device']}" + (f" ({dev['gpu']})" if dev.get("gpu") else f", {dev['processor']}, "
                                                                      f"{dev['cpu_count']} CPU(s), "
                                                                      f"{dev['torch_threads']} torch thread(s)")
              + f". vsodboost {r['versions']['vsodboost']}, torch {r['versions']['torch']}.", "",
              f"Metrics: {r['conventions']}. ▲ better, ▼ worse (MAE: lower is better).", ""]

    in_s = r.get("in_sample", {})
    if in_s.get("sequences"):
        lines += [f"> **In-sample:** {', '.join(sorted(in_s['sequences']))} — a model of this run was trained on "
                  "these sequences (" + "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(in_s["sequences"].items()))
                  + "), so their rows do not measure generalisation.", ""]
    if in_s.get("unknown"):
        lines += [f"> {', '.join(in_s['unknown'])}: no record of training sequences; in-sample rows cannot be "
                  "detected.", ""]
    lines += ["## Table V — target vs boosted", "",
              f"Frame-averaged over the {t['frames']} annotated frames of {n_seq} sequence(s).", "",
              _metric_rows([(f"{t['name']} (target)", t), *_baseline_rows(r),
                            *([("the paper's output (`replace`: the fine-tuned spatial model alone)", r["replace"])]
                              if "replace" in r and r["config"]["fusion"] != "replace" else []),
                            (f"{t['name']} + vsodboost ({r['config']['fusion']})", b)]),
              "| Δ (boosted − target) | " + " | ".join(["", *(_d(g["overall"][k], k) for k in _COLS[1:])]) + " |",
              *(["| Δ (boosted − zero-shot fusion) | " + " | ".join(
                  ["", *(_d(r["gain_over_zero_shot_fusion"]["overall"][k], k) for k in _COLS[1:])]) + " |"]
                if "gain_over_zero_shot_fusion" in r else []),
              "", f"Video-averaged (each sequence's own summary, then the mean over {n_seq} sequences):", "",
              _metric_rows([(f"{t['name']} (target)", t["video_average"]),
                            (f"{t['name']} + vsodboost", b["video_average"])]),
              "| Δ (boosted − target) | " + " | ".join(["", *(_d(g["video_average"][k], k) for k in _COLS[1:])])
              + " |", ""]
    if r.get("fusions"):
        fu = r["fusions"]
        lines += ["### Fusion rules, from the recorded maps", "",
                  f"Each rule of `fuse_maps` applied to the main run's own spatial maps and the target's (8-bit, as "
                  f"recorded; `motion` with the per-frame weights the run recorded); best: `{fu['best']}`. The run's "
                  f"rule (`{fu['run_fusion']}`) recomputed minus its real output: "
                  + (", ".join(f"{k} {v:+.4f}" for k, v in fu["own_check"].items())
                     if fu.get("own_check") else "not computed") + ".", "",
                  _metric_rows([(f"`{rule}`", row) for rule, row in fu["rows"].items()]), ""]
    lines += ["### Per sequence", "", "Each sequence frame-averaged over its own annotated frames; gains with their "
              "sign, losses included.", ""]
    rows = []
    in_sample = r.get("in_sample", {}).get("sequences", {})
    for s in ds["sequences"]:
        ts, bs, gs = t["per_sequence"].get(s), b["per_sequence"].get(s), g["per_sequence"].get(s)
        if not ts or not bs or gs is None:
            continue
        rows.append([s + (" (in-sample)" if s in in_sample else ""), _f(ts["frames"], "frames"), str(r["mined"].get(s, "–"))]
                    + [x for k in ("maxF", "S", "MAE") for x in (f"{_f(ts[k], k)} → {_f(bs[k], k)}", _d(gs[k], k))])
    lines += [_table(["sequence", "frames", "mined", "maxF", "Δ", "S", "Δ", "MAE", "Δ"], rows), ""]
    wins = {k: sum(1 for v in g["per_sequence"].values() if v[k] is not None and
                   ((v[k] < 0) if k in _LOWER_BETTER else (v[k] > 0))) for k in ("maxF", "S", "MAE")}
    lines += ["Sequences improved: " + ", ".join(f"{k} {wins[k]}/{len(g['per_sequence'])}" for k in wins) + ".", ""]

    if "table1" in r:
        t1 = r["table1"]
        lines += ["## Table I — the target on MQPM high- vs low-quality frames", "",
                  f"The target's maps on the annotated frames the MQPM marks HQ (probability ≥ {t1['threshold']}) "
                  f"vs the others (LQ); frame-averaged within each group. HQ: {t1['hq_fraction']:.1%} of all frames, "
                  f"{t1['hq_fraction_annotated']:.1%} of annotated frames.", "",
                  _metric_rows([("HQ frames", t1["hq"]), ("LQ frames", t1["lq"])],
                               [k for k in ("frames", "maxF", "meanF", "adpF", "S", "MAE") if k in t1["hq"]]),
                  ""]
        if gap := table1_gap_text(t1):
            lines += [gap, ""]
    if "table2" in r:
        t2 = r["table2"]
        rows2 = [("target (baseline)", t2["baseline"])]
        rows2 += [(f"T = 1/{p}" if p != "1" else "T = 1", row) for p, row in t2["rows"].items()]
        lines += ["## Table II — sweep of T (keep one frame per 1/T consecutive HQ frames)", "",
                  "Boosted maps for each T, frame-averaged over all annotated frames.", "",
                  _metric_rows(rows2, ("frames", "maxF", "S", "MAE", "meanE", "wF")), ""]
    if "table3" in r:
        t3 = r["table3"]
        defs = t3["definitions"]
        lines += ["## Table III — components", "",
                  "Frame-averaged over all annotated frames, except the row marked as a subset.", "",
                  _metric_rows([(defs[k]["label"], v) for k, v in t3["rows"].items()],
                               ("frames", "maxF", "S", "MAE", "meanE", "wF")), ""]
        lines += [f"- **{defs[k]['label']}**: {defs[k]['definition']}." for k in t3["rows"]] + [""]
        if "mining_gain" in t3:
            mg = t3["mining_gain"]
            lines += ["What mining adds beyond fusion (MS+MQPM+target − control): "
                      + ", ".join(f"{k} {_d(mg[k], k)}" for k in ("maxF", "S", "MAE")) + ".", ""]
    if "control" in r:
        c = r["control"]
        rows_c = [(f"random frames, seed {d['seed']}", d) for d in c["draws"]]
        rows_c += [(f"random frames, mean of {len(c['draws'])} draw(s)", c["random_mean"]),
                   ("MQPM frames (the Booster)", c["mqpm"])]
        cols_c = ("frames", "maxF", "S", "MAE")
        lines += ["## Control — MQPM-mined frames vs random frames", "",
                  f"{c['definition']}; same pseudo-GT and fusion, frame-averaged over all annotated frames.",
                  "",
                  _metric_rows(rows_c, cols_c),
                  "| mining gain (Booster − mean of draws) | | "
                  + " | ".join(_d(c["mining_gain"].get(k), k) for k in cols_c[1:]) + " |", "",
                  "Spread of the draws (sd): " + ", ".join(f"{k} {_f(c['random_sd'].get(k), k)}"
                                                           for k in cols_c[1:]) + f". {c['verdict']}.", ""]
    if "table7" in r:
        t7 = r["table7"]
        names = {"overall": "boosted, all annotated frames (overall)",
                 "training": "boosted, mined frames only (training)",
                 "target_overall": "target, all annotated frames", "target_training": "target, mined frames only"}
        lines += ["## Table VII — overall vs training (mined) frames", "",
                  f"{t7['mined']} frames were mined, {t7['mined_annotated']} of them annotated (scored). A training "
                  "row far above the overall row would mean the adapted model only fits its own training frames; "
                  "the target rows show how good the pseudo-GT on the mined frames was.", "",
                  _metric_rows([(names[k], v) for k, v in t7["rows"].items()],
                               ("frames", "maxF", "meanF", "adpF", "S", "MAE")), ""]
    if "fig10" in r:
        f10 = r["fig10"]
        lines += ["## Fig. 10 — which frames get mined", "",
                  f"Annotated frames of each sequence ranked by the target's S-measure (best first), mined = 1, "
                  f"resampled to {f10['bins']} bins and averaged over sequences (normalised to a maximum of 1; "
                  f"left = the target's best frames). Mined frames in the better half: "
                  f"{f10['mined_in_better_half']}, in the worse half: {f10['mined_in_worse_half']}.", "",
                  "`" + " ".join(f"{x:.2f}" for x in f10["normalized"]) + "`", ""]
    if "table6" in r:
        t6 = r["table6"]
        rows6 = []
        for f, row in t6["rows"].items():
            if "error" in row:
                rows6.append([f, *(["–"] * 6), f"not run: {row['error'][:80]}"])
                continue
            fl = row.get("timings", {}).get("flow", {}).get("ms_per_frame")
            rows6.append([f, *(_f(row.get(k), k) for k in ("frames", "maxF", "S", "MAE", "meanE", "wF")),
                          f"{fl:.1f} ms/frame flow" if fl is not None else ""])
        lines += ["## Table VI — optical-flow backends", "",
                  f"Boosted maps with each flow backend, frame-averaged. The MQPM was trained on `{t6['mqpm_trained_on']}`"
                  " flow images; other backends change its input distribution.", "",
                  _table(["flow", "frames", "maxF", "S", "MAE", "meanE", "wF", "note"], rows6), ""]
    if "table8" in r:
        t8 = r["table8"]
        rows8 = [[k, f"{v['seconds']:.2f}", f"{v['ms_per_frame']:.1f}"] for k, v in t8["per_stage"].items()]
        rows8.append(["**total**", f"{t8['total_seconds']:.2f}",
                      f"{1000 * t8['total_seconds'] / max(t8['frames'], 1):.1f}"])
        lines += ["## Table VIII — runtime per stage", "",
                  f"{t8['frames']} frames; {t8['fps']} frames per second end to end on {dev['device']}"
                  + (f"; **{t8['inference_fps']} frames per second for inference alone** (the adapted spatial "
                     "model's prediction, the paper's Table VIII measure; fine-tuning is a per-buffer cost)"
                     if t8.get("inference_fps") else "") + ". "
                  f"Evaluation took {t8['evaluation_seconds']:.1f} s. {t8['note']}.", "",
                  _table(["stage", "seconds", "ms / frame"], rows8), ""]

    lines += ["## Weights", ""]
    for kind, entries in r["weights"].items():
        for e in entries:
            p = e["provenance"]
            desc = p.get("file", p) if isinstance(p, Mapping) else p
            sha = p.get("sha256", "")[:12] if isinstance(p, Mapping) else ""
            hq = p.get("hq") if isinstance(p, Mapping) and isinstance(p.get("hq"), Mapping) else None
            lines.append(f"- {kind}: `{desc}`" + (f" (sha256 {sha}…)" if sha else "")
                         + (f", HQ probability from `{hq.get('file')}` (sha256 {str(hq.get('sha256', ''))[:12]}…)"
                            if hq else "") + f" — {len(e['sequences'])} sequence(s)")
    if not figures:
        return "\n".join(lines) + "\n"
    lines += ["", "## Figures", ""]
    for p in r.get("plots", []):
        if p.endswith(".png"):
            lines.append(f"![{Path(p).stem}]({Path(p).relative_to(Path(p).parent.parent)})")
        else:
            lines.append(f"- {p}")
    videos = [f for v in (r.get("videos") or {}).values() for f in v["files"]]
    if videos:
        lines += ["", "Videos per sequence (frame | GT | target | boosted, mined frames framed in green; "
                      "open report.html to watch them): "
                  + ", ".join(f"`{Path(f).relative_to(Path(f).parent.parent)}`" for f in videos)]
    vis = r.get("visualisations", [])
    if vis:
        lines += ["", "Side by side (frame | GT | target | boosted | MQPM motion map; maps min-max normalised as the evaluator "
                      "sees them), the frames of largest S gain "
                      "and largest S loss per sequence:", ""]
        lines += [f"- `{v}`" for v in vis]
    return "\n".join(lines) + "\n"


def _rel(path: str, out: Path) -> str:
    return os.path.relpath(path, out)


def render_html(r: Mapping[str, Any], out: Path) -> Path:
    """``out/report.html``: report.md's text and tables (same rendering), the PR curves and gain bars, one
    labelled video per sequence and the side-by-side pictures; every file named by its path relative to
    ``out``."""
    from ..report import image, markdown_html, video, write_report

    title, _, md = render_markdown(r, figures=False).partition("\n")
    chunks: list[tuple[str, list[str]]] = [("", [])]
    for line in md.split("\n"):
        if line.startswith("## "):
            chunks.append((line[3:], []))
        else:
            chunks[-1][1].append(line)
    sections = [(head, markdown_html("\n".join(body))) for head, body in chunks]

    plots = [p for p in r.get("plots", []) if p.endswith(".png")]
    notes = [p for p in r.get("plots", []) if not p.endswith(".png")]
    figs = "".join(image(_rel(p, out), alt=Path(p).stem) for p in plots)
    figs += "".join(f'<p class="note">{html.escape(n)}</p>' for n in notes) or ("" if plots else
                                                                        '<p class="note">No plots drawn.</p>')
    videos = r.get("videos")
    t, b = r["target"]["per_sequence"], r["boosted"]["per_sequence"]
    if videos is None:
        vids = '<p class="note">Videos skipped (vis_frames = 0, <code>--vis-frames 0</code>).</p>'
    elif not any(v["files"] for v in videos.values()):
        vids = '<p class="note">No videos: no sequence had target and boosted maps, or this OpenCV writes ' \
               'neither VP8 nor mp4v.</p>'
    else:
        vids = ('<p class="note">Columns: frame | ground truth | target | boosted; the frames the Booster '
                'mined (fine-tuned on) are framed in green and tagged “mined”; each frame’s name is in its '
                'corner. Shown: the annotated frames and the mined ones, in order (a mined frame without '
                'annotation has a grey GT); maps min-max normalised as the evaluator sees them.</p>')
        for seq, v in videos.items():
            s_t, s_b = (t.get(seq) or {}).get("S"), (b.get(seq) or {}).get("S")
            cap = (f"{seq}: {v['frames']} frames shown, {v['mined']} of them mined (of "
                   f"{r.get('mined', {}).get(seq, '–')} mined in all); S {_f(s_t, 'S')} → {_f(s_b, 'S')}")
            vids += video([_rel(f, out) for f in v["files"]], caption=cap) if v["files"] else \
                f'<p class="note">{html.escape(seq)}: no video (this OpenCV writes neither VP8 nor mp4v)</p>'
    vis = "".join(image(_rel(p, out), alt=Path(p).stem) for p in r.get("visualisations", []))
    head = [s for s in sections if s[0].startswith("Table V ")]
    rest = [s for s in sections[1:] if s not in head]
    ordered = [sections[0], *head, ("PR curves and per-sequence gains", figs),
               ("Every sequence: frame | GT | target | boosted", vids), *rest]
    if vis:
        ordered.append(("Largest S gain and loss frames (frame | GT | target | boosted | MQPM motion)", vis))
    return write_report(out / "report.html", title.lstrip("# "), ordered)
