"""Evaluate folders of saliency maps against a dataset's ground truth.

``PRED_ROOT/<seq>/<stem>.png`` (also jpg/bmp) is matched to the GT of ``GT_ROOT`` by sequence and frame stem
(never by position). GT is read with :mod:`vsodboost.datasets` (``davis``: ``Annotations/480p/<seq>``;
``davsod``: ``<seq>/ground-truth``). Maps and masks are read by :func:`vsodboost.io.read_map` (as
``cv2.IMREAD_GRAYSCALE``: 16-bit keeps its high byte). Only annotated frames are evaluated. A GT frame without a map counts as
*missing*: it is reported, never scored as a zero map.
"""

from __future__ import annotations

import logging
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import numpy as np

from ..datasets import read_dataset
from ..errors import InputError
from ..io import MAP_EXTS, folder_sequence, index_maps, read_map
from .._decode import natural_key
from .accumulator import METRIC_KEYS, SODMetrics

__all__ = ["evaluate_folders", "resize_to"]

log = logging.getLogger(__name__)

def resize_to(pred: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Resize a uint8 map to ``shape`` (H, W) with bilinear interpolation, as the evaluation toolkits do."""
    return cv2.resize(pred, (shape[1], shape[0]), interpolation=cv2.INTER_LINEAR)


def _map_index(folder: Path) -> dict[str, Path]:
    return index_maps(folder)


def _single_name(folder: Path) -> str:
    """The sequence a folder of maps holds: the name ``boost`` recorded in its state or summary file
    (:func:`vsodboost.io.folder_sequence`), else the folder's own name."""
    return folder_sequence(folder) or folder.name


def _pred_sequences(pred_root: Path, sequence: str | None = None) -> tuple[dict[str, Path], bool]:
    """Sequence name → its maps folder, and whether ``pred_root`` is one sequence's folder (maps directly
    inside, as ``boost --out DIR`` writes a single clip)."""
    if not pred_root.is_dir():
        raise InputError(f"prediction root {pred_root} does not exist or is not a folder")
    direct = bool(_map_index(pred_root))
    if sequence is not None:
        if not direct and (pred_root / sequence).is_dir():
            return {sequence: pred_root / sequence}, False
        return {sequence: pred_root}, True
    seqs = {d.name: d for d in pred_root.iterdir() if d.is_dir()}
    if not seqs and direct:
        return {_single_name(pred_root): pred_root}, True
    if not seqs:
        raise InputError(f"prediction root {pred_root} has no sequence folders and no maps; expected "
                         "PRED_ROOT/<seq>/<stem>.png, or one sequence's maps directly in it "
                         "(--sequence NAME)")
    return seqs, False


def evaluate_folders(
    pred_root: str | os.PathLike[str],
    gt_root: str | os.PathLike[str],
    *,
    layout: str = "auto",
    average: str = "frame",
    skip_ends: bool = False,
    weighted_f: bool = True,
    sequences: Iterable[str] | None = None,
    sequence: str | None = None,
    batch_size: int = 8,
    workers: int = 2,
    progress: bool | Callable[[int], Any] | None = None,
) -> dict[str, Any]:
    """Evaluate every sequence present in both ``pred_root`` and ``gt_root``.

    Args:
        layout: ``davis``, ``davsod`` or ``auto`` (GT layout).
        average: ``frame`` (pysodmetrics) or ``video`` (mean per sequence, then across sequences).
        skip_ends: drop the first and last annotated frame of each sequence (DAVSOD toolbox).
        weighted_f: compute wF too (the slowest metric).
        sequences: restrict to these sequence names (an unknown name is an error listing the known ones).
        sequence: ``pred_root`` holds this one sequence's maps directly (``boost --out DIR`` on one clip); by
            default a folder with maps and no sub-folders is such a folder, named by its ``vsodboost.json`` or ``summary.json``
            or, without one, by the folder's name.
        progress: show a tqdm bar (None: only on a terminal).

    Returns:
        ``{"frames", "maxF", "meanF", "adpF", "S", "MAE", "maxE", "meanE", "adpE", "wF", "sequences": [...],
        "missing": {...}, "notes": [...], "settings": {...}, "curves": {...}}``; each per-sequence entry has the same
        metric keys plus ``sequence`` and ``missing``.
    """
    if average not in ("frame", "video"):
        raise InputError(f"average: expected 'frame' or 'video', got {average!r}")
    pred_root, gt_root = Path(pred_root), Path(gt_root)
    pred_seqs, single = _pred_sequences(pred_root, sequence)
    data = read_dataset(gt_root, layout)  # type: ignore[arg-type]
    wanted = set(sequences) if sequences is not None else None
    unknown = sorted(wanted - {s.name for s in data}, key=natural_key) if wanted is not None else []
    if unknown:
        raise InputError(f"sequences {unknown} are not in {gt_root}; its sequences: "
                         f"{sorted((s.name for s in data), key=natural_key)[:20]}")
    gt_seqs = [s for s in data if s.gt and (wanted is None or s.name in wanted)]
    if not gt_seqs:
        raise InputError(f"no annotated sequence found in {gt_root} (layout {layout!r})")
    common = [s for s in gt_seqs if s.name in pred_seqs]
    notes: list[str] = []
    if not common and single:
        (name,) = pred_seqs
        raise InputError(
            f"{pred_root} holds one sequence's maps, looked up as {name!r} (its vsodboost.json, "
            f"summary.json or folder name), which is not an annotated sequence of {gt_root} (e.g. {[s.name for s in gt_seqs][:5]}); "
            "name it with --sequence NAME (sequence= in Python)"
        )
    if not common:
        raise InputError(
            f"no sequence of {pred_root} matches the GT of {gt_root}: prediction folders "
            f"{sorted(pred_seqs, key=natural_key)[:5]}..., GT sequences {[s.name for s in gt_seqs][:5]}...; "
            "PRED_ROOT must hold one folder per sequence, named as in the dataset"
        )
    unmatched_gt = [s.name for s in gt_seqs if s.name not in pred_seqs]
    if unmatched_gt:
        notes.append(f"{len(unmatched_gt)} GT sequence(s) have no prediction folder and are not evaluated: "
                     f"{unmatched_gt}")
    extra = sorted(set(pred_seqs) - {s.name for s in data}, key=natural_key)
    if extra:
        notes.append(f"{len(extra)} prediction folder(s) match no GT sequence: {extra}")

    # the work list: (sequence, stem, map path, gt path), in temporal order; missing maps are listed, not scored
    jobs: list[tuple[str, str, Path, Path]] = []
    missing: dict[str, list[str]] = {}
    for seq in common:
        maps = _map_index(pred_seqs[seq.name])
        if not maps:
            notes.append(f"prediction folder {pred_seqs[seq.name]} holds no maps ({', '.join(MAP_EXTS)})")
        for stem in seq.annotated:
            if stem in maps:
                jobs.append((seq.name, stem, maps[stem], seq.gt[stem]))
            else:
                missing.setdefault(seq.name, []).append(stem)
    if not jobs:
        raise InputError(
            f"no map in {pred_root} matches an annotated frame of {gt_root} by stem; e.g. GT stems "
            f"{common[0].annotated[:3]} vs map stems {sorted(_map_index(pred_seqs[common[0].name]))[:3]}"
        )
    n_missing = sum(len(v) for v in missing.values())
    if n_missing:
        log.warning("%d annotated frame(s) have no map and are reported as missing", n_missing)

    def load(job: tuple[str, str, Path, Path]) -> tuple[np.ndarray, np.ndarray, list[str], bool]:
        seq, stem, mp, gp = job
        pred, pnote = read_map(mp)
        gt, gnote = read_map(gp)
        job_notes = [f"{mp}: {pnote}"] if pnote else []
        if gnote:
            job_notes.append(f"{gp}: {gnote}")
        resized = pred.shape != gt.shape
        if resized:
            log.info("%s: map %dx%d resized to the GT's %dx%d (bilinear)", mp, pred.shape[1], pred.shape[0],
                     gt.shape[1], gt.shape[0])
            pred = resize_to(pred, gt.shape)
        return pred, gt, job_notes, resized

    bar = None
    if progress is None:
        progress = bool(getattr(__import__("sys").stderr, "isatty", lambda: False)())
    if progress is True:
        try:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(jobs), unit="frame", desc="eval")
        except ImportError:  # pragma: no cover
            bar = None

    metric = SODMetrics(weighted_f=weighted_f)
    converted: list[str] = []
    resized = 0
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        loaded = pool.map(load, jobs)  # decoding releases the GIL; keeps the metric loop busy
        batch: list[tuple[np.ndarray, np.ndarray]] = []
        batch_names: list[str] = []
        batch_seq = None

        def flush() -> None:
            if batch:
                metric.step(np.stack([b[0] for b in batch]), np.stack([b[1] for b in batch]),
                            sequence=batch_seq or "", names=list(batch_names))
                if callable(progress) and progress is not True:
                    progress(len(batch))
                if bar is not None:
                    bar.update(len(batch))
                batch.clear()
                batch_names.clear()

        for (seq, stem, _, _), (pred, gt, job_notes, was_resized) in zip(jobs, loaded):
            converted.extend(job_notes)
            resized += was_resized
            if batch and (seq != batch_seq or gt.shape != batch[0][1].shape or len(batch) >= batch_size):
                flush()
            batch_seq = seq
            batch.append((pred, gt))
            batch_names.append(stem)
        flush()
    if bar is not None:
        bar.close()

    if resized:
        notes.append(f"{resized} map(s) differ in size from their GT and were resized to it (bilinear)")
        log.warning(notes[-1])
    if converted:
        notes.append(f"{len(converted)} file(s) were not 8-bit grayscale and were converted, e.g. {converted[0]}")
        log.warning(notes[-1])

    summary = metric.results(average=average, skip_ends=skip_ends)  # type: ignore[arg-type]
    per_seq = metric.per_sequence(skip_ends=skip_ends)
    for entry in per_seq:
        entry["missing"] = len(missing.get(entry["sequence"], []))
    for seq_name, stems in missing.items():
        if not any(e["sequence"] == seq_name for e in per_seq):
            per_seq.append({"sequence": seq_name, "frames": 0, **{k: float("nan") for k in METRIC_KEYS},
                            "missing": len(stems)})
    return {
        **summary,
        "sequences": per_seq,
        "missing": {"count": n_missing, "frames": missing},
        "notes": notes,
        "settings": {"pred_root": str(pred_root), "gt_root": str(gt_root), "layout": layout, "average": average,
                     "skip_ends": skip_ends, "weighted_f": weighted_f},
        "curves": metric.curves(skip_ends=skip_ends),
    }
