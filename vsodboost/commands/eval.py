"""``vsodboost eval``: score folders of saliency maps against a dataset's ground truth (pysodmetrics conventions)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from ..errors import InputError, MissingExtraError, UsageError
from ..io import atomic_write_bytes, check_output_dir, no_nan
from ._common import add_quiet_argument, apply_threads, non_negative_int

_COLS = ("frames", "maxF", "meanF", "adpF", "S", "MAE", "maxE", "meanE", "adpE", "wF")


def _fmt(v: Any, key: str) -> str:
    if key == "frames":
        return str(v)
    if isinstance(v, float) and math.isnan(v):
        return "-"
    return f"{v:.4f}"


def format_table(result: dict[str, Any], *, per_sequence: bool = True) -> str:
    """A fixed-width table: one row per sequence (with its missing maps), then the overall row."""
    rows = []
    if per_sequence:
        for s in result["sequences"]:
            rows.append([s["sequence"]] + [_fmt(s[k], k) for k in _COLS] + [str(s.get("missing", 0))])
    label = f"ALL ({result['settings']['average']}-avg{', skip-ends' if result['settings']['skip_ends'] else ''})"
    rows.append([label] + [_fmt(result[k], k) for k in _COLS] + [str(result["missing"]["count"])])
    head = ["sequence", *_COLS, "missing"]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i]) for i, c in enumerate(r))  # noqa: E731
    out = [line(head), "-" * len(line(head))]
    out += [line(r) for r in rows[:-1]]
    if per_sequence:
        out.append("-" * len(line(head)))
    out.append(line(rows[-1]))
    return "\n".join(out)


def compare_table(results: dict[str, dict[str, Any]]) -> str:
    """One line per method: its frames and sequences beside its overall scores (several --pred)."""
    head = ["method", "frames", "sequences", "maxF", "S", "MAE"]
    rows = [[n, str(r["frames"]), str(len(r["sequences"])), *(_fmt(r[k], k) for k in ("maxF", "S", "MAE"))]
            for n, r in results.items()]
    widths = [max(len(r[i]) for r in rows + [head]) for i in range(len(head))]
    fmt = lambda r: "  ".join(c.ljust(widths[0]) if i == 0 else c.rjust(widths[i])  # noqa: E731
                              for i, c in enumerate(r))
    return "\n".join([fmt(head), *(fmt(r) for r in rows)])


def _method_name(spec: str, gt_root: str) -> tuple[str, str]:
    """``NAME=PATH``, or a plain path named after its folder (after its parent when the folder is named like the
    dataset, as in ``results/PDB/DAVIS2016``)."""
    if "=" in spec and not Path(spec).exists():
        name, _, path = spec.partition("=")
        return name, path
    p = Path(spec).resolve()
    if p.name == Path(gt_root).resolve().name and p.parent.name:
        return p.parent.name, spec
    return p.name, spec


def _frame_sets(results: dict[str, dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Method → (frames scored, sequences scored)."""
    return {name: (int(r["frames"]), len(r["sequences"])) for name, r in results.items()}


def _scored(r: dict[str, Any]) -> tuple[Any, ...]:
    """What a result scored: frames per sequence, and the annotated frames it had no map for."""
    missing = r["missing"]["frames"]
    return (tuple(sorted((s["sequence"], int(s["frames"])) for s in r["sequences"])),
            tuple(sorted((k, tuple(v)) for k, v in missing.items())))


def run(args: argparse.Namespace) -> int:
    from ..metrics.evaluate import evaluate_folders

    if args.plot:  # before scoring: a missing matplotlib or a bad --plot folder must not cost the evaluation
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            raise MissingExtraError('--plot needs matplotlib: pip install "vsodboost[plot]" (or drop --plot)')
        check_output_dir(args.plot)
    sequences = [s for arg in args.sequences or [] for s in arg.split(",") if s] or None
    if args.json:  # before scoring: a bad --json path must not cost the whole evaluation
        if Path(args.json).is_dir():
            raise UsageError(f"--json {args.json} is a folder; give a file path, e.g. "
                             f"{Path(args.json) / 'scores.json'}")
        check_output_dir(Path(args.json).parent)
    apply_threads(args.threads)
    results: dict[str, dict[str, Any]] = {}
    for spec in args.pred:
        name, path = _method_name(spec, args.gt)
        if name in results:
            raise InputError(f"two prediction roots are both named {name!r}; name them with NAME=PATH")
        res = evaluate_folders(path, args.gt, layout=args.layout, average=args.average, skip_ends=args.skip_ends,
                               weighted_f=not args.no_wf, progress=None if not args.quiet else False,
                               sequences=sequences, sequence=args.sequence)
        res["method"] = name
        results[name] = res
        print(f"== {name}: {path}")
        for note in res["notes"]:
            print(f"note: {note}", file=sys.stderr)
        if res["missing"]["count"]:
            shown = {k: v[:5] for k, v in list(res["missing"]["frames"].items())[:5]}
            print(f"warning: {res['missing']['count']} annotated frame(s) have no map (not scored): {shown}",
                  file=sys.stderr)
        print(format_table(res, per_sequence=not args.summary))
    same_frames = len({_scored(r) for r in results.values()}) == 1
    if not same_frames:
        # rows over different frames are not a comparison: say so beside the numbers, with the frame counts
        sets = ", ".join(f"{n}: {f} frames in {k} sequence(s)" for n, (f, k) in _frame_sets(results).items())
        print(f"warning: the methods were scored on different frames ({sets}); their ALL rows are not "
              "comparable — score the same sequences (--sequences) with maps for the same frames",
              file=sys.stderr)
        print(compare_table(results))
    if args.json:
        payload: Any = next(iter(results.values())) if len(results) == 1 else {
            "methods": list(results.values()), "same_frames": same_frames}
        atomic_write_bytes(args.json, json.dumps(no_nan(payload), indent=2, allow_nan=False).encode())
        print(f"wrote {args.json}")
    if args.plot:
        from ..metrics.plot import plot_curves

        for f in plot_curves(results, args.plot):
            print(f"wrote {f}")
    return 0


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--pred", required=True, nargs="+", metavar="PRED_ROOT",
                   help="folder(s) of maps, one sub-folder per sequence (or one sequence's maps, see "
                        "--sequence); several (or NAME=PATH) compare methods")
    p.add_argument("--gt", required=True, metavar="GT_ROOT", help="dataset root (DAVIS root or DAVSOD-layout root)")
    p.add_argument("--layout", choices=("davis", "davsod", "auto"), default="auto", help="GT layout (default: auto)")
    p.add_argument("--average", choices=("frame", "video"), default="frame",
                   help="frame: every frame weighs the same (pysodmetrics); video: mean per sequence, then across")
    p.add_argument("--skip-ends", action="store_true",
                   help="drop the first and last annotated frame of each sequence (DAVSOD toolbox convention)")
    p.add_argument("--json", metavar="FILE", help="write the results (overall, per sequence, curves) as JSON")
    p.add_argument("--plot", metavar="DIR", help="draw PR and F-measure-vs-threshold curves (needs matplotlib)")
    p.add_argument("--no-wf", action="store_true", help="skip the weighted F-measure (the slowest metric)")
    p.add_argument("--summary", action="store_true", help="print only the overall row")
    p.add_argument("--sequences", action="append", metavar="A,B",
                   help="score only these sequences (comma-separated, repeatable); an unknown name is an "
                        "error")
    p.add_argument("--sequence", metavar="NAME",
                   help="PRED_ROOT holds this one sequence's maps directly (as `boost --out DIR` writes one "
                        "clip); default: a folder of maps without sub-folders is scored as the sequence its "
                        "vsodboost.json names, else as the folder's name")
    p.add_argument("--threads", type=non_negative_int, default=1,
                   help="torch CPU threads (default 1: fastest on busy machines; 0 keeps torch's default)")
    add_quiet_argument(p)
