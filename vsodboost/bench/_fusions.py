"""Protocol ``fusions``: every fusion rule scored from the maps one run recorded, without boosting again.

The last step of a buffer (:func:`vsodboost.fusion.fuse_maps`) combines, frame by frame, the fine-tuned spatial
model's own map (recorded in ``spatial/``) with the target's map (``target/``). Both are on disk after the main run,
so each rule is recomputed here from them and scored. Where the Booster kept the target's maps (a flat target or a
collapsed fine-tuning), the recorded spatial maps are those target maps, and every rule gives them back, as the run
did. The ``motion`` rule's per-frame weights are the ones the run recorded (``buffers_done[…].motion_weight`` of each
sequence's ``vsodboost.json``); a run made before they were recorded has its other rules scored, not this one. The
recorded maps are 8-bit, so a recomputed map may differ from a run's by one grey level; the report shows the run's
own fusion recomputed beside its real output as the check.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..fusion import FUSIONS, fuse_maps
from ..io import index_maps, read_unit_map, write_map_atomic
from ._scores import recorded_per_frame

__all__ = ["fuse_recorded", "fusions_report", "recorded_weights", "FUSION_RULES"]

#: The rules :func:`vsodboost.fusion.fuse_maps` knows, in the order the report lists them.
FUSION_RULES: tuple[str, ...] = FUSIONS


def recorded_weights(summaries: Mapping[str, Any], seqs: Sequence[Any]) -> dict[str, dict[str, float]] | None:
    """Sequence → frame stem → the ``motion`` fusion weight its run recorded; None when a buffer has none (a run
    made before they were recorded)."""
    out = {s.name: recorded_per_frame(summaries[s.name], s.stems, "motion_weight") for s in seqs}
    return out if all(len(out[s.name]) == len(s.stems) for s in seqs) else None


def fuse_recorded(out: Path, seqs: Sequence[Any], rules: Sequence[str] = FUSION_RULES, *,
                  normalize_target: bool = False,
                  weights: Mapping[str, Mapping[str, float]] | None = None) -> dict[str, Path]:
    """Write ``out/fused/<rule>/<seq>/<stem>.png`` for each rule from ``out/spatial`` and ``out/target``
    (annotated frames only: the ones scored); returns rule → folder. ``normalize_target``: the target's files are
    published maps the Booster read min-max normalised (a maps-mode target's default); otherwise they are the
    8-bit maps the Booster was given. ``weights``: the ``motion`` rule's (:func:`recorded_weights`); without them
    that rule is left out."""
    folders = {}
    for rule in rules:
        if rule == "motion" and weights is None:
            continue
        root = out / "fused" / rule
        for s in seqs:
            targets = index_maps(out / "target" / s.name)
            dst = root / s.name
            dst.mkdir(parents=True, exist_ok=True)
            for stem in s.annotated:
                own = read_unit_map(out / "spatial" / s.name / f"{stem}.png", normalize=False)
                t = read_unit_map(targets[stem], own.shape, normalize=normalize_target) if stem in targets else None
                w = weights[s.name][stem] if rule == "motion" and weights is not None else 0.5
                write_map_atomic(dst / f"{stem}.png", fuse_maps(own, t, rule, w), sync_dir=False)
        folders[rule] = root
    return folders


def fusions_report(out: Path, seqs: Sequence[Any], own: str,
                   boosted: Mapping[str, Any], evaluate: Callable[[Path], Any],
                   block_of: Callable[[Any], dict[str, Any]], *, normalize_target: bool = False,
                   summaries: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``fusions`` block of a bench report: each rule's scores, the best by (maxF, S), and the check that the
    run's own rule recomputed from the recorded maps scores as its real output (``own_check``: the differences).
    ``summaries``: each sequence's run state (``vsodboost.json``), whose recorded weights the ``motion`` rule needs."""
    weights = recorded_weights(summaries, seqs) if summaries is not None else None
    rows = {rule: {"maps": str(d), **block_of(evaluate(d))}
            for rule, d in fuse_recorded(out, seqs, normalize_target=normalize_target, weights=weights).items()}
    best = max(rows, key=lambda r: (rows[r]["maxF"], rows[r]["S"]))
    check = {k: round(rows[own][k] - boosted[k], 5) for k in ("maxF", "S", "MAE")} if own in rows else None
    return {"rows": rows, "best": best, "run_fusion": own, "own_check": check,
            "definition": "each rule of vsodboost.fusion.fuse_maps applied to the recorded 8-bit maps of the main "
                          "run (spatial/ and target/); own_check: the run's own rule recomputed minus its real output"}
