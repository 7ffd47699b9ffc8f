"""``vsodboost bench``: boost every sequence of a dataset, score target and boosted maps, write a report.

Layout of ``out``::

    boosted/<seq>/<stem>.png + vsodboost.json   the Booster's maps (resumable state per sequence)
    target/<seq>/<stem>.png                     the target's maps (published files mirrored byte for byte)
    motion/<seq>/, theta/<seq>/                 MQPM and Θ motion saliency maps (flow resolution)
    spatial/<seq>/                              the fine-tuned spatial model's own maps (= fusion "replace")
    runs/<variant>/<seq>/                       Table II (T sweep), III (MS rows, control), VI (flow backends)
    plots/, vis/, videos/                       PR curves, per-sequence gains, side-by-side frames and videos
    report.json, report.md, report.html         report.html: the tables, plots and videos on one page

Every score comes from :func:`vsodboost.metrics.evaluate_folders` (pysodmetrics conventions; the same code as
``vsodboost eval``), on annotated frames only; "frame-averaged" means every annotated frame weighs the same,
"video-averaged" means per-sequence summaries averaged over sequences. The protocols:

- ``table1``: the target's metrics (maxF, meanF, adpF, S, MAE) on frames the MQPM marks HQ vs LQ (annotated frames,
  frame-averaged).
- ``table2``: boosted metrics for each T = 1/period (``periods``).
- ``table3``: the paper's component rows — MS = Θ(OF), MS−MQPM and MS+MQPM (MS as pseudo-GT, no fusion),
  MS+MQPM+target — and ours: the control (random frames, target pseudo-GT, same fusion) and the MQPM's own map
  (rows defined in :data:`TABLE3_ROWS`).
- ``table5``: target vs boosted, overall and per sequence, with signed gains; the paper's output (``replace``: the
  fine-tuned spatial model alone, recorded by the same run) beside the configured fusion; plus the honest baselines
  (unless ``baselines=False``): the pretrained spatial model alone with no fine-tuning ("zero-shot"), and that
  zero-shot map fused with the target's ("zero-shot fusion" — plain ensembling; by the Booster's fusion, or
  ``geometric`` when the Booster replaces the target's map). Fine-tuning is only worth its time where the boosted
  row beats the zero-shot fusion row.
- ``table6``: boosted metrics for each flow backend (``flows``).
- ``table7``: the boosted maps on the mined (training) frames vs all frames, and the target's on both (Sec. VI-I).
- ``table8``: seconds per stage, end-to-end frames per second and the inference-only FPS of the paper.
- ``fig10``: which frames get mined, by the target's quality rank (Sec. VI-F), per sequence and averaged.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..booster import Booster
from ..config import BoostConfig
from ..io import write_json_atomic
from ..datasets import SequenceData, read_dataset
from ..errors import InputError
from ..metrics.accumulator import SODMetrics
from ..io import atomic_write_bytes, index_maps, no_nan
from ..io import read_map
from ..metrics.evaluate import evaluate_folders, resize_to
from ._runs import RandomFramesBooster, RecordingBooster

__all__ = ["run_bench", "table1", "table7", "fig10", "block_of", "gain_of", "mined_of", "hq_of", "PROTOCOLS",
           "REPORT_KEYS", "TABLE3_ROWS", "DEFAULT_PERIODS", "DEFAULT_FLOWS"]

_log = logging.getLogger("vsodboost.bench")

PROTOCOLS: tuple[str, ...] = ("table1", "table2", "table3", "control", "table5", "table6", "table7", "table8",
                               "fig10")
#: Metric keys of every block of report.json, in table order.
REPORT_KEYS: tuple[str, ...] = ("frames", "maxF", "meanF", "adpF", "S", "MAE", "meanE", "wF")
DEFAULT_PERIODS: tuple[int, ...] = (1, 2, 3, 4, 5, 10)
DEFAULT_FLOWS: tuple[str, ...] = ("dis", "farneback")

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
_STAGES = ("read", "target", "flow", "mqpm+filter", "finetune", "predict")


# ------------------------------------------------------------------------------------------------- helpers

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


def evaluate_subset(pred_root: Path, seqs: Iterable[SequenceData], keep: Callable[[str, str], bool],
                    *, weighted_f: bool = False) -> dict[str, Any]:
    """Frame-averaged metrics of the annotated frames for which ``keep(sequence, stem)`` holds (maps read and
    resized exactly as :func:`evaluate_folders` does)."""
    metric = SODMetrics(weighted_f=weighted_f)
    for seq in seqs:
        maps = _maps_in(pred_root / seq.name)
        for stem in seq.annotated:
            if not keep(seq.name, stem):
                continue
            p = maps.get(stem)
            if p is None:
                continue
            pred, _ = read_map(p)
            gt, _ = read_map(seq.gt[stem])
            if pred.shape != gt.shape:
                pred = resize_to(pred, gt.shape)
            metric.step(pred, gt, sequence=seq.name, names=[stem])
    return metric.results(average="frame")


def _run_booster(target: Any, *, kind: str, models: "_Models | None" = None, record: Path | None = None,
                 theta: Any = "default", mqpm: Any, spatial: Any, device: str, **kw: Any) -> Booster:
    """The Booster of one bench run: ``kind`` ``"main"`` (records target, motion, Θ and spatial maps under
    ``record``), ``"random"`` (random frames, Table III's control rows) or ``"mqpm"`` (the Booster as it is).
    ``models`` caches loaded weights in this process; without it (a Ray worker) they load from names or paths."""
    from .._device import resolve_device

    models = models or _Models(resolve_device(device))
    kw.update(mqpm=models.mqpm(mqpm), spatial=models.spatial(spatial), device=device)
    if kind == "main":
        return RecordingBooster(target, record=record, theta=theta, **kw)
    return RandomFramesBooster(target, **kw) if kind == "random" else Booster(target, **kw)


def read_weights_table(path: str | os.PathLike[str], option: str = "weights map") -> dict[str, str]:
    """A JSON file mapping sequence → weights (``"*"``: the rest), checked: readable UTF-8 JSON, an object of
    strings; :class:`InputError` naming the file and what is wrong otherwise."""
    p = Path(path)
    try:
        table = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
        raise InputError(f"{option} {p}: not a readable JSON file ({why}); expected an object such as "
                         "{\"bear\": \"fold0.pt\", \"*\": \"fold1.pt\"}") from exc
    if not isinstance(table, dict) or not table:
        raise InputError(f"{option} {p}: expected a non-empty JSON object mapping sequence → weights, got "
                         f"{json.dumps(table)[:60]}")
    bad = {k: v for k, v in table.items() if not isinstance(v, str) or not v}
    if bad:
        k = next(iter(bad))
        raise InputError(f"{option} {p}: the weights of {k!r} must be a file path or name (a string), got "
                         f"{json.dumps(bad[k])[:60]}")
    return table


def _weights_for(spec: Any, seq: str) -> Any:
    """``spec`` is a weights file or name, or a JSON file mapping sequence → weights (``"*"``: the default); any
    other object (an MQPM, an ``nn.Module``) is used as it is."""
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    spec = str(spec)
    if spec.endswith(".json") and Path(spec).is_file():
        table = read_weights_table(spec)
        if seq in table:
            return str(table[seq])
        if "*" in table:
            return str(table["*"])
        raise InputError(f"{spec} maps no weights to sequence {seq!r} (and has no '*' entry)")
    return spec


class _Models:
    """Loads each MQPM / spatial weights file once."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self._cache: dict[tuple[str, str], Any] = {}

    def mqpm(self, spec: Any) -> Any:
        if not isinstance(spec, str):
            return spec
        key = ("mqpm", spec)
        if key not in self._cache:
            from ..mqpm import load_mqpm

            self._cache[key] = load_mqpm(spec, device=self.device)
        return self._cache[key]

    def spatial(self, spec: Any) -> Any:
        if not isinstance(spec, str):
            return spec
        key = ("spatial", spec)
        if key not in self._cache:
            from .. import plugins

            if Path(spec).is_file():
                from ..spatial import spatial_from_file

                self._cache[key] = spatial_from_file(spec)
            else:
                self._cache[key] = plugins.spatial_models().create(spec)
        return self._cache[key]


def _short_provenance(p: Any) -> Any:
    if not isinstance(p, Mapping):
        return p
    out = {k: v for k, v in p.items() if k not in ("card", "meta")}
    meta = p.get("meta")
    if isinstance(meta, Mapping):
        out["meta"] = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None}
    card = p.get("card")
    if isinstance(card, str) and card.strip():
        out["card"] = card.strip().splitlines()[0]
    return out


def machine_info(device: Any) -> dict[str, Any]:
    import torch

    info = {"device": str(device), "platform": platform.platform(), "processor": platform.processor() or
            platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def versions() -> dict[str, str]:
    import cv2
    import torch

    from .._version import __version__

    out = {"vsodboost": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "opencv": cv2.__version__}
    try:
        import timm

        out["timm"] = timm.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def hq_of(summary: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    """Per-frame HQ probability recorded by run_to_dir (``buffers_done[start:stop].hq_prob``)."""
    out: dict[str, float] = {}
    for tag, b in summary["buffers_done"].items():
        start, stop = (int(x) for x in tag.split(":"))
        for n, p in zip(names[start:stop], b.get("hq_prob", [])):
            out[n] = float(p)
    return out


# ------------------------------------------------------------------------------------------------- runner

def run_bench(
    data: str | os.PathLike[str],
    *,
    layout: str,
    target: Any,
    out: str | os.PathLike[str],
    split: str | None = None,
    sequences: Iterable[str] | None = None,
    mqpm: Any = "default",
    spatial: Any = "default",
    flow: str = "dis",
    config: BoostConfig | Mapping[str, Any] | None = None,
    preset: str | None = None,
    protocols: Iterable[str] = ("table5",),
    periods: Sequence[int] = DEFAULT_PERIODS,
    flows: Sequence[str] = DEFAULT_FLOWS,
    device: str = "cpu",
    seed: int = 0,
    overwrite: bool = False,
    vis_frames: int = 2,
    baselines: bool = True,
    theta: Any = "default",
    target_label: str | None = None,
    command: str | None = None,
    log: Callable[[str], None] = print,
    engine: str = "local",
    address: str | None = None,
    workers: int | None = None,
    threads: int = 1,
    draws: int = 5,
) -> dict[str, Any]:
    """Boost every sequence of ``data``, score the maps against its GT, write ``out/report.{json,md,html}``.

    Args:
        target: a TargetModel (see :func:`vsodboost.commands.boost.parse_target` for the CLI forms).
        mqpm, spatial: weights file or name, or a JSON file mapping sequence → weights (``"*"`` default): the way
            to bench with cross-validated weights in one report; or a loaded MQPM / spatial ``nn.Module``.
        preset: recorded in the provenance (the spatial model and ``config`` are used as given).
        protocols: any of :data:`PROTOCOLS`; ``table5`` (target vs boosted) is always computed. ``control`` is
            Table III's control alone, over ``draws`` random draws (seeds ``seed`` … ``seed + draws − 1``): what
            mining adds over random frames with the same pseudo-GT and fusion, with the draws' spread.
        vis_frames: side-by-side images per sequence (the frames of largest S gain and largest S loss first);
            0 also skips report.html's videos (``videos/<seq>.webm``).
        baselines: also score the zero-shot spatial model and its fusion with the target (Table V rows).
        theta: the Θ of Eq. 1 whose maps of the flow are recorded as MS (``theta/``): Table III's baseline and the
            pseudo-GT of its MS rows; a registered name (:func:`vsodboost.mqpm.list_thetas`) or a callable.
        engine, address, workers, threads: where the boosting runs of every protocol run —
            :func:`vsodboost.engines.get_engine`; with ``"ray"`` the buffers of each run are Ray tasks that rebuild
            the Booster from ``mqpm``/``spatial`` names or paths (loaded models are refused) with ``threads`` torch
            threads per worker (docs/engines.md). Scoring and the zero-shot baselines run in this process.
    Returns:
        The report (also written to ``out/report.json``).
    """
    from .._device import resolve_device
    from ..engines import get_engine

    runner = get_engine(engine, address=address, workers=workers, threads=threads)  # bad options fail first
    protos = list(dict.fromkeys(["table5", *protocols]))
    bad = [p for p in protos if p not in PROTOCOLS]
    if bad:
        raise InputError(f"unknown protocol(s) {bad}; choose from {list(PROTOCOLS)}")
    data, out = Path(data), Path(out)
    cfg = config if isinstance(config, BoostConfig) else BoostConfig.from_dict(config or {})
    dev = resolve_device(device)
    seqs = [s for s in read_dataset(data, layout, split=split, sequences=sequences) if s.gt]  # type: ignore[arg-type]
    if not seqs:
        raise InputError(f"no annotated sequence in {data} (layout {layout!r}, split {split!r})")
    names = [s.name for s in seqs]
    label = target_label or getattr(target, "name", "target")
    models = _Models(dev)
    out.mkdir(parents=True, exist_ok=True)

    def boost(kind: str, root: Path, *, flow_name: str = flow, config_: BoostConfig = cfg,
              target_: Any = target, random_frames: bool = False, seed_: int | None = None
              ) -> dict[str, dict[str, Any]]:
        """One run of every sequence into ``root/<seq>``, on the engine: one job per sequence, whose Booster is
        built where the job runs (Ray: from names and paths, so loaded models are refused)."""
        from ..engines import Job

        how = "main" if kind == "main" else "random" if random_frames else "mqpm"
        jobs = []
        for seq in seqs:
            weights = {"mqpm": _weights_for(mqpm, seq.name), "spatial": _weights_for(spatial, seq.name)}
            loaded = [k for k, w in weights.items() if not isinstance(w, str)]
            if loaded and runner.name != "local":
                raise InputError(f"--engine {runner.name} rebuilds the models in each worker: give "
                                 f"{' and '.join(loaded)} as a name or a weights path, not a loaded model")
            builder = functools.partial(_run_booster, target_, kind=how, record=out, theta=theta, flow=flow_name,
                                        config=config_, preset=preset, device=str(dev),
                                        seed=seed if seed_ is None else seed_, threads=threads, **weights,
                                        models=models if runner.name == "local" else None)
            jobs.append(Job(seq.name, seq.video(), str(root / seq.name), seq.name, spec=builder))
        summaries: dict[str, dict[str, Any]] = {}
        t0 = time.perf_counter()
        for job, outcome in runner.run(None, jobs, overwrite=overwrite):
            if isinstance(outcome, Exception):
                raise outcome
            summaries[job.sequence] = outcome
            n_buf, n_run = len(outcome["buffers_done"]), outcome["buffers_run"]
            state = "done earlier, skipped" if n_run == 0 else f"{n_run}/{n_buf} buffer(s) run"
            log(f"[{kind}{'' if runner.name == 'local' else ' on ' + runner.name}] {job.sequence}: "
                f"{len(outcome['settings']['frames'])} frames, {state} ({time.perf_counter() - t0:.1f} s since start)")
        return summaries

    def evaluate(root: Path) -> dict[str, Any]:
        return evaluate_folders(root, data, layout=layout, sequences=names, progress=False)

    in_sample = in_sample_check(seqs, {"mqpm": mqpm, "spatial": spatial}, models)
    for name, who in in_sample["sequences"].items():
        msg = (f"WARNING: {name} is in-sample: {' and '.join(who)} trained on it, so its rows do not measure "
               "generalisation (docs/mqpm.md)")
        log(msg)
        _log.warning(msg)
    for who in in_sample["unknown"]:
        log(f"note: {who} does not record its training sequences; in-sample rows cannot be detected")
    # Table V: the main run (also records target, motion, Θ and the spatial model's own maps)
    main = boost("main", out / "boosted")
    _check_recorded(out, seqs, main)
    t0 = time.perf_counter()
    res_t, res_b = evaluate(out / "target"), evaluate(out / "boosted")
    eval_seconds = time.perf_counter() - t0
    tb, bb = block_of(res_t), block_of(res_b)
    report: dict[str, Any] = {
        "format": "vsodboost.bench/1",
        "command": command,
        "dataset": {"root": str(data), "layout": layout, "split": split, "sequences": names,
                    "frames": sum(len(s.frames) for s in seqs), "annotated": sum(len(s.annotated) for s in seqs)},
        "conventions": "pysodmetrics 1.6.2 (vsodboost.metrics.evaluate_folders, as `vsodboost eval`): uint8 maps, "
                       "gt > 128, per-image min-max, beta^2 = 0.3, S alpha = 0.5; annotated frames only; blocks are "
                       "frame-averaged, `video_average` = per-sequence summaries averaged over sequences",
        "protocols": protos,
        "target": {"name": label, "maps": str(out / "target"), **tb},
        "boosted": {"maps": str(out / "boosted"), **bb},
        "gain": gain_of(tb, bb),
        "mined": {s: sum(len(b["mined"]) for b in m["buffers_done"].values()) for s, m in main.items()},
        "config": cfg.to_dict(),
        "flow": flow,
        "theta": theta if isinstance(theta, str) else repr(theta),
        "device": machine_info(dev),
        "versions": versions(),
        "weights": _weights_report(main),
        "in_sample": in_sample,
        "timings": _timings(main, seqs, eval_seconds),
    }
    # the paper's output (fusion "replace": the fine-tuned spatial model alone) beside ours, from the same run
    if all((out / "spatial" / s.name).is_dir() for s in seqs):
        rep = block_of(evaluate(out / "spatial"))
        report["replace"] = {"maps": str(out / "spatial"), **rep, "gain": gain_of(tb, rep)["overall"],
                             "definition": "the fine-tuned spatial model's own maps (fusion 'replace', the paper's "
                                           "output), recorded by the same run as the boosted maps"}
    else:
        log("[replace] not scored: spatial/ maps missing (main run made by an older vsodboost); rerun with --overwrite")
    if baselines:
        t0 = time.perf_counter()
        zs, zs_fused, size, n_pred = _zero_shot_baselines(
            out, seqs, lambda n: models.spatial(_weights_for(spatial, n)), cfg)
        fusions = {f: {"maps": str(d), "fusion": f, **block_of(evaluate(d))} for f, d in zs_fused.items()}
        best = max(fusions, key=lambda f: (fusions[f]["maxF"], fusions[f]["S"]))
        report["baselines"] = {
            "zero_shot": {"maps": str(zs), "input_size": size, **block_of(evaluate(zs))},
            "zero_shot_fusion": fusions[best],
            "zero_shot_fusions": fusions,
            "seconds": round(time.perf_counter() - t0, 2),
            "definitions": {
                "zero_shot": f"the pretrained spatial model on every annotated frame at its native input size "
                             f"({size}²), no fine-tuning",
                "zero_shot_fusion": f"zero_shot fused with the target's map by the plain ensemble that scores best "
                                    f"here (maxF, of {', '.join(BASELINE_FUSIONS)}): {best!r}",
            },
        }
        bz = report["baselines"]["zero_shot_fusion"]
        report["gain_over_zero_shot_fusion"] = gain_of(bz, bb)
        state = f"{n_pred} frame(s) predicted" if n_pred else "done earlier, skipped"
        log(f"[baselines] zero-shot fusion maxF {bz['maxF']:.4f} vs boosted {bb['maxF']:.4f} ({state})")
    hq = {s.name: hq_of(main[s.name], s.stems) for s in seqs}
    thr = cfg.hq_threshold
    if "table1" in protos:
        report["table1"] = table1(out / "target", seqs, hq, thr)
    if "table2" in protos:
        rows = {}
        for p in periods:
            if p == cfg.period:
                rows[str(p)] = {**_pick(res_b), "run": str(out / "boosted")}
                continue
            c = BoostConfig.from_dict({**cfg.to_dict(), "period": p})
            root = out / "runs" / f"period{p}"
            boost(f"T=1/{p}", root, config_=c)
            rows[str(p)] = {**_pick(evaluate(root)), "run": str(root)}
        report["table2"] = {"average": "frame", "baseline": _pick(res_t), "rows": rows}
    if "table3" in protos:
        report["table3"] = _table3(out, cfg, res_b, hq, boost, evaluate, lambda root, keep: evaluate_subset(
            root, seqs, keep, weighted_f=True))
    if "control" in protos:
        report["control"] = _control(out, res_b, boost, evaluate, seed=seed, draws=draws)
        c = report["control"]
        log(f"control: mining gain maxF {c['mining_gain']['maxF']:+.4f} over {draws} random draws "
            f"(sd {c['random_sd']['maxF']:.4f}): {c['verdict']}")
    if "table6" in protos:
        rows = {}
        for f in flows:
            if f == flow:
                rows[f] = {**_pick(res_b), "run": str(out / "boosted"), "timings": report["timings"]["per_stage"]}
                continue
            root = out / "runs" / f"flow-{f}"
            try:
                sm = boost(f"flow {f}", root, flow_name=f)
            except Exception as exc:  # noqa: BLE001 - a backend without weights offline must not sink the report
                rows[f] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"[flow {f}] skipped: {exc}")
                continue
            rows[f] = {**_pick(evaluate(root)), "run": str(root), "timings": _timings(sm, seqs, 0.0)["per_stage"]}
        report["table6"] = {"average": "frame", "mqpm_trained_on": flow, "rows": rows}
    if "table8" in protos:
        report["table8"] = report["timings"]
    mined = mined_of(main)
    if "table7" in protos:
        report["table7"] = table7(out / "boosted", out / "target", seqs, mined)
    if "fig10" in protos:
        report["fig10"] = fig10(out / "target", seqs, mined)

    from ._report import draw_plots, draw_videos, draw_visualisations, render_html, render_markdown

    report["plots"] = draw_plots(res_t, res_b, report, out / "plots", label=label)
    report["visualisations"] = draw_visualisations(out, seqs, hq, report, per_sequence=vis_frames)
    # one labelled video per sequence for report.html; None = not drawn (vis_frames 0)
    report["videos"] = (draw_videos(out, seqs, mined, target_label=label, fusion=cfg.fusion)
                        if vis_frames > 0 else None)
    report = no_nan(report)
    write_json_atomic(out / "report.json", report)
    atomic_write_bytes(out / "report.md", render_markdown(report).encode())
    render_html(report, out)
    log(f"wrote {out / 'report.json'}, {out / 'report.md'} and {out / 'report.html'} (open it in a browser)")
    return report


#: The plain ensembles the zero-shot baseline tries; the best-scoring one is Table V's zero-shot fusion row.
BASELINE_FUSIONS: tuple[str, ...] = ("mean", "geometric")


def native_input_size(model: Any, fallback: int) -> int:
    """The square input size a spatial model was trained at (``model.config.input_size``: U²-Net-p 320, the
    Lite0 U-Net 224), ``fallback`` when it does not say."""
    size = getattr(getattr(model, "config", None), "input_size", None)
    if isinstance(size, (tuple, list)) and size:
        size = size[0]
    return int(size) if isinstance(size, int) and size > 0 else fallback


def _zero_shot_baselines(out: Path, seqs: Sequence[SequenceData], spatial_of: Callable[[str], Any],
                         cfg: BoostConfig) -> tuple[Path, dict[str, Path], int, int]:
    """Write ``runs/zero_shot_<size>/<seq>/`` (the pretrained spatial model at its native input size, no
    fine-tuning, annotated frames) and ``runs/zero_shot_<size>_<fusion>/<seq>/`` (those maps fused with the
    recorded target maps, for each of :data:`BASELINE_FUSIONS`): the strongest plain ensemble, not one weakened by
    the Booster's fine-tuning size. Resumable: a frame whose fused maps are there is not predicted again. Returns
    the zero-shot folder, the fused folder of each fusion, the input size and the number of frames predicted now."""
    import torch

    from ..io import read_unit_map as read_target_map
    from ..fusion import fuse_maps
    from ..io import write_map_atomic
    from ..spatial import predict_maps

    size = native_input_size(spatial_of(seqs[0].name), cfg.finetune.input_size) if seqs else 0
    zs = out / "runs" / f"zero_shot_{size}"
    fused = {f: out / "runs" / f"zero_shot_{size}_{f}" for f in BASELINE_FUSIONS}
    n_pred = 0
    for seq in seqs:
        for d in (zs, *fused.values()):
            (d / seq.name).mkdir(parents=True, exist_ok=True)
        video = seq.video()
        stems = set(seq.annotated)
        todo = [i for i, n in enumerate(video.names) if n in stems
                and not all((d / seq.name / f"{n}.png").is_file() for d in fused.values())]
        if not todo:
            continue
        model = spatial_of(seq.name)
        model_size = native_input_size(model, cfg.finetune.input_size)
        n_pred += len(todo)
        targets = _maps_in(out / "target" / seq.name)
        for s in range(0, len(todo), cfg.finetune.predict_batch):
            idx = todo[s: s + cfg.finetune.predict_batch]
            frames = torch.stack([video.tensor(i, i + 1)[0] for i in idx])
            maps = predict_maps(model, frames, input_size=model_size, autocast_mode=cfg.finetune.autocast)
            for i, m in zip(idx, maps.numpy()):
                n = video.names[i]
                write_map_atomic(zs / seq.name / f"{n}.png", m)
                t_file = targets.get(n)
                # the target's map as the Booster sees it (float, min-max normalised, frame size)
                t = read_target_map(t_file, m.shape) if t_file is not None else None
                for f, d in fused.items():
                    write_map_atomic(d / seq.name / f"{n}.png", fuse_maps(m, t, f))
    return zs, fused, size, n_pred


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


def mined_of(main: Mapping[str, Any]) -> dict[str, set[str]]:
    """Sequence → the stems of the frames the main run fine-tuned on (every buffer)."""
    return {s: {n for b in m["buffers_done"].values() for n in b["mined"]} for s, m in main.items()}


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


def in_sample_check(seqs: Sequence[SequenceData], specs: Mapping[str, Any], models: "_Models") -> dict[str, Any]:
    """Which scored sequences a model of the run was trained on (:func:`vsodboost.datasets.in_sample` against the
    ``trained_on`` its checkpoint records): ``{"sequences": {seq: ["mqpm <file>", ...]}, "unknown": [...],
    "models": {"mqpm <file>": description}}``. A model that records nothing is listed under ``unknown``."""
    from ..datasets import in_sample, trained_on_of

    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    described: dict[str, str] = {}
    fps = {s.name: s.fingerprint() for s in seqs}
    for seq in seqs:
        for kind, spec in specs.items():
            w = _weights_for(spec, seq.name)
            model = models.mqpm(w) if kind == "mqpm" else models.spatial(w)
            prov = getattr(model, "provenance", None)
            if isinstance(prov, Mapping) and prov.get("file"):
                label = Path(str(prov["file"])).name
            else:  # a name, or a loaded model without a file (its repr would be its whole layer list)
                label = w if isinstance(w, str) else type(w).__name__
            who = f"{kind} {label}"
            entries, desc = trained_on_of(prov)
            described[who] = desc
            if entries is None:
                if who not in unknown:
                    unknown.append(who)
            elif in_sample(entries, seq, fps[seq.name]):
                found.setdefault(seq.name, []).append(who)
    return {"sequences": found, "unknown": unknown, "models": described}


def _check_recorded(out: Path, seqs: Sequence[SequenceData], main: Mapping[str, Any]) -> None:
    """A resumed sequence must have its recorded maps; a partial copy (deleted by hand) is reported."""
    for seq in seqs:
        motion = out / "motion" / seq.name
        targets = _maps_in(out / "target" / seq.name)
        if not any(s in targets for s in seq.annotated) or not motion.is_dir():
            raise InputError(f"{out}: the recorded maps of {seq.name!r} (target/, motion/) are missing while its "
                             f"boosted maps are complete; delete {out / 'boosted' / seq.name} to redo it")


def _weights_report(main: Mapping[str, Any]) -> dict[str, Any]:
    """Each distinct MQPM / spatial weights file and the sequences that used it."""
    out: dict[str, list[dict[str, Any]]] = {"mqpm": [], "spatial": []}
    for seq, summary in main.items():
        prov = summary["provenance"]
        for kind in ("mqpm", "spatial"):
            p = _short_provenance(prov.get(kind))
            for entry in out[kind]:
                if entry["provenance"] == p:
                    entry["sequences"].append(seq)
                    break
            else:
                out[kind].append({"provenance": p, "sequences": [seq]})
    return out


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


def table1(target_root: Path, seqs: Sequence[SequenceData], hq: Mapping[str, Mapping[str, float]],
           thr: float) -> dict[str, Any]:
    """Table I: the target's maps (``target_root/<seq>/<stem>``) on the annotated frames whose MQPM HQ probability
    ``hq[seq][stem]`` is ≥ ``thr`` vs the others, frame-averaged within each group, with the paper's five metrics."""
    keys = ("frames", "maxF", "meanF", "adpF", "S", "MAE")  # the paper's five metrics
    is_hq = lambda s, n: hq[s].get(n, 0.0) >= thr  # noqa: E731
    r_hq = evaluate_subset(target_root, seqs, is_hq)
    r_lq = evaluate_subset(target_root, seqs, lambda s, n: not is_hq(s, n))
    n_all = sum(len(v) for v in hq.values())
    n_hq = sum(sum(p >= thr for p in v.values()) for v in hq.values())
    ann = [(s.name, n) for s in seqs for n in s.annotated]
    return {"average": "frame", "threshold": thr, "hq": _pick(r_hq, keys), "lq": _pick(r_lq, keys),
            "hq_fraction": n_hq / n_all if n_all else float("nan"),
            "hq_fraction_annotated": (sum(is_hq(s, n) for s, n in ann) / len(ann)) if ann else float("nan")}


def main_command_line() -> str:
    return " ".join(["vsodboost", *sys.argv[1:]])
