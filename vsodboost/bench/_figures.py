"""The pictures of a ``vsodboost bench`` report: PR curves and per-sequence gains, Fig. 10, side-by-side frames
of the largest gains and losses, and one labelled video per sequence."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from ..datasets import SequenceData
from ..io import index_maps, make_subdir, read_map, write_figure_atomic, write_image_atomic
from ..metrics.evaluate import resize_to

__all__ = ["draw_plots", "draw_visualisations", "draw_videos"]


def draw_plots(res_t: Mapping[str, Any], res_b: Mapping[str, Any], report: Mapping[str, Any], out: Path,
               *, label: str) -> list[str]:
    """PR / F curves (target vs boosted) and per-sequence gain bars; a note instead when matplotlib is missing."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return ["plots skipped: matplotlib is not installed (pip install 'vsodboost[plot]')"]
    from ..metrics.plot import plot_curves

    out.mkdir(parents=True, exist_ok=True)
    files = [str(p) for p in plot_curves({f"{label} (target)": res_t, f"{label} + vsodboost": res_b}, out,
                                         title=f"{label}: target vs boosted (frame-averaged)")]
    g = report["gain"]["per_sequence"]
    seqs = list(g)
    fig, axes = plt.subplots(1, 3, figsize=(13, 0.9 + 0.28 * max(len(seqs), 3)), sharey=True)
    for ax, k in zip(axes, ("maxF", "S", "MAE")):
        vals = [g[s][k] if g[s][k] is not None else 0.0 for s in seqs]
        good = [(v < 0) if k == "MAE" else (v > 0) for v in vals]
        ax.barh(range(len(seqs)), vals, color=["tab:green" if ok else "tab:red" for ok in good])
        ax.axvline(0, color="k", lw=0.8)
        ax.set_title(f"Δ{k} (boosted − target){', lower is better' if k == 'MAE' else ''}", fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(range(len(seqs)), seqs, fontsize=8)
    axes[0].invert_yaxis()
    fig.suptitle(f"{label}: per-sequence gains (each sequence frame-averaged); green better, red worse", fontsize=10)
    fig.tight_layout()
    p = out / "gain_per_sequence.png"
    write_figure_atomic(fig, p, dpi=110)
    plt.close(fig)
    files.append(str(p))
    if "fig10" in report:
        files.append(str(_draw_fig10(plt, report["fig10"], out / "fig10_mined_frames.png", label)))
    return files


def _draw_fig10(plt: Any, f10: Mapping[str, Any], path: Path, label: str) -> Path:
    """Fig. 10-style strip: one row per sequence (mined share per quality bin) and the normalised average on top."""
    rows = [("average (normalised)", f10["normalized"])] + list(f10["per_sequence"].items())
    fig, ax = plt.subplots(figsize=(8, 0.9 + 0.26 * len(rows)))
    ax.imshow(np.array([r for _, r in rows]), aspect="auto", cmap="coolwarm", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_yticks(range(len(rows)), [n for n, _ in rows], fontsize=8)
    ax.set_xticks([0, len(rows[0][1]) - 1], ["target's best frames", "worst"], fontsize=8)
    ax.set_title(f"{label}: share of frames mined, by the target's quality rank (Fig. 10)", fontsize=9)
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=110)
    plt.close(fig)
    return path


def _minmax(m: np.ndarray) -> np.ndarray:
    """Maps are shown as the evaluator sees them (per-image min-max)."""
    lo, hi = int(m.min()), int(m.max())
    return m if hi <= lo else ((m.astype(np.float32) - lo) * (255.0 / (hi - lo)) + 0.5).astype(np.uint8)


def _tile(img: np.ndarray, h: int, text: str) -> np.ndarray:
    if img.ndim == 2:
        img = _minmax(img)
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    w = max(1, int(round(img.shape[1] * h / img.shape[0])))
    t = cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)
    cv2.rectangle(t, (0, 0), (w, 16), (0, 0, 0), -1)
    cv2.putText(t, text, (3, 12), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
    return t


def draw_visualisations(out: Path, seqs: Sequence[SequenceData], hq: Mapping[str, Mapping[str, float]],
                        report: Mapping[str, Any], *, per_sequence: int = 2, height: int = 160) -> list[str]:
    """``vis/<seq>_<stem>.jpg``: frame | GT | target | boosted | MQPM motion, the frames of largest S gain and loss."""
    from ..metrics import s_measure

    if per_sequence <= 0:
        return []
    vis = out / "vis"
    vis.mkdir(parents=True, exist_ok=True)
    written = []
    for seq in seqs:
        tdir, bdir, mdir = out / "target" / seq.name, out / "boosted" / seq.name, out / "motion" / seq.name
        scored = []
        for stem in seq.annotated:
            tp = next((tdir / f"{stem}{e}" for e in (".png", ".jpg", ".jpeg", ".bmp") if (tdir / f"{stem}{e}").exists()),
                      None)
            bp = bdir / f"{stem}.png"
            if tp is None or not bp.is_file():
                continue
            gt, _ = read_map(seq.gt[stem])
            tm, bm = read_map(tp)[0], read_map(bp)[0]
            tm = resize_to(tm, gt.shape) if tm.shape != gt.shape else tm
            bm = resize_to(bm, gt.shape) if bm.shape != gt.shape else bm
            s = s_measure(np.stack([tm, bm]), np.stack([gt, gt])).double().numpy()
            scored.append((float(s[1] - s[0]), stem, tp, bp, gt, float(s[0]), float(s[1])))
        if not scored:
            continue
        order = sorted(scored, key=lambda x: x[0])
        chosen = [order[-1], order[0]] + order[1:-1][:: max(1, len(order) // max(per_sequence, 1))]
        seen: set[str] = set()
        for d, stem, tp, bp, gt, s_t, s_b in chosen:
            if len(seen) >= per_sequence or stem in seen:
                continue
            seen.add(stem)
            frame = cv2.imread(str(seq.frames[seq.stems.index(stem)]))
            mp = mdir / f"{stem}.png"
            motion = cv2.imread(str(mp), cv2.IMREAD_GRAYSCALE) if mp.is_file() else np.zeros_like(gt)
            p = hq.get(seq.name, {}).get(stem)
            tiles = [_tile(frame, height, f"{seq.name} {stem}"), _tile(gt, height, "GT"),
                     _tile(read_map(tp)[0], height, f"target S={s_t:.3f}"),
                     _tile(read_map(bp)[0], height, f"boosted S={s_b:.3f} ({d:+.3f})"),
                     _tile(motion, height, f"MQPM motion, HQ p={p:.2f}" if p is not None else "MQPM motion")]
            f = vis / f"{seq.name}_{stem}.jpg"
            write_image_atomic(f, np.concatenate(tiles, axis=1), [cv2.IMWRITE_JPEG_QUALITY, 88])
            written.append(str(f))
    return written


def _gray(m: np.ndarray, size: tuple[int, int], *, mask: bool = False) -> np.ndarray:
    """A uint8 map as [0, 1] at ``size`` (w, h): a GT mask binarised as the evaluator does (> 128), a map
    min-max normalised as the evaluator sees it."""
    m = cv2.resize(m, size, interpolation=cv2.INTER_NEAREST if mask else cv2.INTER_AREA)
    return (m > 128).astype(np.float32) if mask else _minmax(m).astype(np.float32) / 255.0


def draw_videos(out: Path, seqs: Sequence[SequenceData], mined: Mapping[str, set[str]], *, target_label: str,
                fusion: str, height: int = 144, fps: int = 8) -> dict[str, dict[str, Any]]:
    """``videos/<seq>.webm`` (VP8, plays in browsers; ``.mp4`` only where this OpenCV cannot write VP8):
    frame | GT | target | boosted, ``height`` pixels high, the frames the Booster mined framed in green, each
    frame's name in its corner. Frames shown: the annotated ones and the mined ones (a mined frame without GT
    shows a grey GT), so a sparsely annotated dataset gives a short video. Maps as the evaluator sees them
    (min-max). Returns ``{seq: {"files": [...], "frames": shown, "mined": mined among them}}``."""
    from ..report import ALL_CODECS, panel, write_video

    folder: Path | None = None
    written: dict[str, dict[str, Any]] = {}
    h = max(2, height - height % 2)  # VP8 wants even sizes
    for seq in seqs:
        tdir, bdir = out / "target" / seq.name, out / "boosted" / seq.name
        tmaps = index_maps(tdir) if tdir.is_dir() else {}
        bmaps = index_maps(bdir, (".png",)) if bdir.is_dir() else {}
        marked = mined.get(seq.name, set())
        frame_of = dict(zip(seq.stems, seq.frames))
        stems = [s for s in seq.stems if (s in seq.gt or s in marked) and s in tmaps and s in bmaps]
        first = cv2.imread(str(frame_of[stems[0]])) if stems else None
        if first is None:
            continue
        w = max(2, int(round(first.shape[1] * h / first.shape[0] / 2)) * 2)
        chars = max(6, w // 9)  # what fits in a column's header

        def fit(text: str, chars: int = chars) -> str:
            return text if len(text) <= chars else text[: chars - 2] + ".."

        labels = ["ground truth", fit(f"target ({target_label})"), fit(f"boosted ({fusion})")]

        def frame_at(k: int, seq: SequenceData = seq, stems: list[str] = stems, tmaps: dict = tmaps,
                     bmaps: dict = bmaps, marked: set[str] = marked, frame_of: dict = frame_of,
                     w: int = w, labels: list[str] = labels) -> np.ndarray:
            stem = stems[k]
            img = cv2.imread(str(frame_of[stem]))
            rgb = (cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)[:, :, ::-1] if img is not None
                   else np.full((h, w, 3), 128, np.uint8))
            gt = (_gray(read_map(seq.gt[stem])[0], (w, h), mask=True) if stem in seq.gt
                  else np.full((h, w), 0.5, np.float32))
            maps = [[gt], [_gray(read_map(tmaps[stem])[0], (w, h))],
                    [_gray(read_map(bmaps[stem])[0], (w, h))]]
            return panel([rgb], maps, labels, [0], mined=[0] if stem in marked else [], captions=[stem])

        folder = folder or make_subdir(out, "videos")
        files = write_video(folder, seq.name, len(stems), frame_at, fps=fps, codecs=ALL_CODECS,
                            first_only=True)
        written[seq.name] = {"files": [str(f) for f in files], "frames": len(stems),
                             "mined": sum(s in marked for s in stems)}
    return written
