"""``run_bench``: every protocol's boosting runs on an engine, scored, written as the report."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..config import BoostConfig
from ..datasets import read_dataset
from ..errors import InputError
from ..io import atomic_write_bytes, no_nan, write_json_atomic
from ..metrics.evaluate import evaluate_folders
from ..presets import get_preset, merge_config
from ._baselines import BASELINE_FUSIONS, _zero_shot_baselines
from ._provenance import (_check_recorded, _Models, _weights_for, _weights_report, in_sample_check, machine_info,
                          versions)
from ._runs import BenchRuns
from ._scores import _pick, _timings, block_of, evaluate_subset, gain_of, hq_of, mined_of
from ._tables import _control, _table3, fig10, table1, table7

__all__ = ["run_bench", "PROTOCOLS", "DEFAULT_PERIODS", "DEFAULT_FLOWS"]

_log = logging.getLogger("vsodboost.bench")


PROTOCOLS: tuple[str, ...] = ("table1", "table2", "table3", "control", "table5", "table6", "table7", "table8",
                               "fig10", "fusions")


DEFAULT_PERIODS: tuple[int, ...] = (1, 2, 3, 4, 5, 10)


DEFAULT_FLOWS: tuple[str, ...] = ("dis", "farneback")


def run_bench(
    data: str | os.PathLike[str],
    *,
    layout: str,
    target: Any,
    out: str | os.PathLike[str],
    split: str | None = None,
    sequences: Iterable[str] | None = None,
    mqpm: Any = "default",
    spatial: Any = None,
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
        preset: a name of :data:`vsodboost.presets.PRESETS`, applied as ``Booster(preset=...)`` applies it: a
            ``config`` mapping (or None) is laid over the preset's, a :class:`BoostConfig` wins whole, and
            ``spatial=None`` is the preset's model; recorded in the provenance. None: ``config`` as given and
            ``spatial=None`` is the ``"default"`` registry model.
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
    if preset is not None:  # as the Booster applies a preset: its config under the caller's fields, its model
        chosen = get_preset(preset)
        if not isinstance(config, BoostConfig):
            config = merge_config(chosen.config, dict(config or {}))
        spatial = chosen.spatial if spatial is None else spatial
    spatial = "default" if spatial is None else spatial
    cfg = config if isinstance(config, BoostConfig) else BoostConfig.from_dict(config or {})
    dev = resolve_device(device)
    seqs = [s for s in read_dataset(data, layout, split=split, sequences=sequences) if s.gt]  # type: ignore[arg-type]
    if not seqs:
        raise InputError(f"no annotated sequence in {data} (layout {layout!r}, split {split!r})")
    names = [s.name for s in seqs]
    label = target_label or getattr(target, "name", "target")
    models = _Models(dev)
    out.mkdir(parents=True, exist_ok=True)

    boost = BenchRuns(runner, seqs, out, target=target, mqpm=mqpm, spatial=spatial, flow=flow, config=cfg,
                      preset=preset, theta=theta, device=dev, seed=seed, threads=threads, overwrite=overwrite,
                      models=models, log=log)

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
    if "fusions" in protos:  # every fusion rule from the recorded maps, no boosting again
        from ._fusions import fusions_report

        report["fusions"] = fusions_report(out, seqs, cfg.fusion, bb, evaluate, block_of,
                                           normalize_target=bool(getattr(target, "normalize", False)), summaries=main)
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

    from ._figures import draw_plots, draw_videos, draw_visualisations
    from ._report import render_html, render_markdown

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
