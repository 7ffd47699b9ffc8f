"""``vsodboost boost FRAMES --target NAME|NAME:ROOT --out DIR``: boost one video, or every sequence of a folder."""

from __future__ import annotations

import argparse
import inspect
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

from .._steps import STAGES, FrameBar
from ..io import ROUNDS_DIR
from ..errors import InputError, MissingMapsError, NoMatchingMapsError, UsageError, VsodboostError
from ..presets import PRESETS
from .._decode import FRAME_DIRS, IMAGE_EXTS
from ._common import (add_device_argument, add_engine_arguments, add_quiet_argument, add_seed_argument,
                      add_threads_argument, apply_threads, lock_out, positive_int)

METHOD_TARGETS = ("ssav", "mga", "cos", "lsti", "pcsa")


#: Exit status of ``vsodboost boost`` over a folder of sequences when some were skipped (no maps for them).
EXIT_SKIPPED = 3


def parse_target_args(items: list[str] | None) -> dict[str, Any]:
    """``--target-arg KEY=VALUE`` items → keyword arguments; a value is parsed as JSON when it can be
    (``5``, ``true``, ``["png"]``), else kept as a string (``match=order``)."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key.isidentifier():
            raise UsageError(f"--target-arg {item!r}: expected KEY=VALUE with KEY a keyword of the target, e.g. "
                             "--target-arg match=order")
        if key in out:
            raise UsageError(f"--target-arg {key} is given twice; give each option once")
        try:
            out[key] = json.loads(text)
        except json.JSONDecodeError:
            out[key] = text
    return out


_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


def _option_types(factory: Any) -> dict[str, Any]:
    """Keyword → annotation (resolved) of a target factory's parameters; {} when they cannot be read."""
    try:
        sig = inspect.signature(factory, eval_str=True)
    except Exception:  # noqa: BLE001 - a factory without a readable signature: its options go unchecked
        try:
            sig = inspect.signature(factory)
        except (TypeError, ValueError):
            return {}
    return {k: p.annotation for k, p in sig.parameters.items() if p.annotation is not inspect.Parameter.empty}


def _as_type(key: str, value: Any, ann: Any) -> Any:
    """``value`` (from ``--target-arg key=…``) converted to / checked against the annotation ``ann``; a
    :class:`UsageError` saying what the option takes otherwise. Unknown annotations let the value through."""
    import collections.abc
    import os
    import types
    import typing

    origin, args = typing.get_origin(ann), typing.get_args(ann)
    if ann is typing.Any or isinstance(ann, str):
        return value
    if origin in (typing.Union, getattr(types, "UnionType", None)):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in (a for a in args if a is not type(None)):
            try:
                return _as_type(key, value, a)
            except UsageError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]
        return value
    if ann is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower() if isinstance(value, (str, int)) else None
        if text in _TRUE or text in _FALSE:
            return text in _TRUE
        raise UsageError(f"--target-arg {key}={_shown(value)}: {key} is true or false (also yes/no, 1/0)")
    if ann is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise UsageError(f"--target-arg {key}={_shown(value)}: {key} takes an integer")
    if ann is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise UsageError(f"--target-arg {key}={_shown(value)}: {key} takes a number")
    if ann is str or ann is os.PathLike or origin is os.PathLike:
        if isinstance(value, str):
            return value
        raise UsageError(f"--target-arg {key}={_shown(value)}: {key} takes a string, got a JSON "
                         f"{type(value).__name__}; to pass the text itself quote it as JSON: --target-arg "
                         f"'{key}=\"{_shown(value)}\"'")
    seq_origins = (list, tuple, typing.Sequence, collections.abc.Sequence)
    if origin in seq_origins and args and args[0] is str:
        if isinstance(value, str):  # `exts=.png,.jpg`: comma-separated (a str is a sequence of characters)
            return [v.strip() for v in value.split(",") if v.strip()]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
        raise UsageError(f"--target-arg {key}={_shown(value)}: {key} takes a list of strings, e.g. "
                         f"{key}=.png,.jpg or {key}='[\".png\"]'")
    return value


def _shown(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def check_target_args(factory: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
    """``--target-arg`` values converted to the target factory's annotated types (``normalize=no`` → False,
    ``exts=.png,.jpg`` → a list) and checked (``prefix=5`` for a string option, ``normalize=maybe``): a
    :class:`UsageError` (exit 2) naming the option, instead of a truthy string silently doing the opposite."""
    types = _option_types(factory)
    return {k: (_as_type(k, v, types[k]) if k in types else v) for k, v in kwargs.items()}


def _maps_keyword(factory: Any) -> str | None:
    """The keyword a target factory takes its maps folder with (``root`` or ``maps``), None when it takes none."""
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return "maps"
    for key in ("root", "maps"):
        if key in params:
            return key
    return "maps" if any(p.kind is p.VAR_KEYWORD for p in params.values()) else None


def cli_wording(exc: VsodboostError, name: str) -> VsodboostError:
    """``exc`` with its Python hints (``pass maps=ROOT``, ``weights=FILE``) in command-line form."""
    text = str(exc)
    new = (text.replace("pass maps=ROOT", f"pass --target {name}:ROOT")
           .replace("maps=ROOT", f"--target {name}:ROOT").replace("weights=FILE", "--target-arg weights=FILE")
           .replace("pass root=<one of them>", f"pass --target {name}:<one of them>")
           .replace("with match='order'", "with --target-arg match=order")
           .replace("use match='stem'", "drop --target-arg match=order")
           .replace("(or set prefix=/suffix=)", "(or pass --target-arg prefix=… / suffix=…)"))
    if new == text:
        return exc
    try:
        out = type(exc)(new)
    except Exception:  # an error class with another constructor: keep it as it is
        return exc
    for note in getattr(exc, "__notes__", []):
        out.add_note(note)
    return out


def parse_target(spec: str, target_args: dict[str, Any] | None = None) -> Any:
    """``NAME`` (a registered target), ``precomputed:ROOT`` or ``<method>:ROOT`` (published maps), with the
    options of ``--target-arg`` as keyword arguments."""
    from .. import plugins

    name, sep, root = spec.partition(":")
    reg = plugins.targets()
    entry = reg.get(name)  # raises UnknownNameError listing the available targets
    kwargs = dict(target_args or {})
    if sep:
        if not root:
            raise UsageError(f"--target {spec!r}: give the maps folder after the colon, e.g. {name}:/path/to/maps")
        key = _maps_keyword(entry.factory)
        if key is None:
            raise UsageError(f"--target {spec!r}: target {name!r} takes no maps folder; use --target {name} and pass "
                             "its options with --target-arg KEY=VALUE")
        if key in kwargs:
            raise UsageError(f"--target {spec!r} and --target-arg {key}=… both give the maps folder; give it once")
        kwargs[key] = root
    kwargs = check_target_args(entry.factory, kwargs)
    try:
        return reg.create(name, **kwargs)
    except TypeError as exc:  # missing or unknown keyword of the factory
        if not sep and _maps_keyword(entry.factory) == "root" and "root" not in kwargs:
            raise UsageError(f"--target {spec!r}: {name} needs a maps folder: --target {name}:/path/to/maps "
                             f"({exc})") from exc
        raise UsageError(f"--target {spec!r}: target {name!r} cannot be built with options "
                         f"{sorted(kwargs) or '(none)'}: {exc}; pass its options with --target-arg KEY=VALUE"
                         ) from exc
    except VsodboostError as exc:
        raise cli_wording(exc, name) from exc


def cached_target(spec: str, target_args: dict[str, Any] | None, cache: str | None) -> Any:
    """:func:`parse_target`, its maps kept under ``cache`` (``--target-cache``) when given."""
    target = parse_target(spec, target_args)
    if cache is None:
        return target
    from ..target_cache import CachedTarget

    return CachedTarget(target, cache)


def target_of(args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """``--target`` and ``--target-arg`` as ``(spec, options)``; without ``--target``, the default target
    (the shipped U²-Net-p, ``vsodboost.target.DEFAULT_TARGET``) on ``--device``, said on stderr unless -q."""
    from ..target import DEFAULT_TARGET

    options = parse_target_args(args.target_arg)
    if args.target:
        return args.target, options
    if not getattr(args, "quiet", False):
        print("no --target: boosting the maps of the shipped image model U²-Net-p "
              f"(--target {DEFAULT_TARGET}), run on every frame", file=sys.stderr, flush=True)
    return DEFAULT_TARGET, {"device": args.device, **options}


def sequences_of(frames: Path) -> list[tuple[str, Path]]:
    """A folder of frames → one sequence; a folder of sequence folders (or of ``<seq>/Imgs``) → each of them."""
    if not frames.is_dir():
        return [(frames.stem, frames)]
    if any(f.suffix.lower() in IMAGE_EXTS for f in frames.iterdir() if f.is_file()):
        return [(frames.parent.name if frames.name.lower() in map(str.lower, FRAME_DIRS) else frames.name, frames)]
    out = []
    for d in sorted(p for p in frames.iterdir() if p.is_dir()):
        img = next((d / s for s in FRAME_DIRS if (d / s).is_dir()), d)
        if any(f.suffix.lower() in IMAGE_EXTS for f in img.iterdir() if f.is_file()):
            out.append((d.name, img))
    if not out:
        raise InputError(f"{frames} holds neither frames nor sequence folders with frames")
    return out


def load_config(path: str | None, buffer_size: int | None) -> dict[str, Any]:
    """``--config`` JSON (+ ``--buffer-size``) → the BoostConfig fields given, checked now; every problem is a
    :class:`UsageError` (exit 2). Returns the dict, so the Booster can lay it over its defaults."""
    from ..config import BoostConfig

    fields: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise UsageError(f"--config {p}: no such file; give a JSON file of BoostConfig fields") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--config {p}: cannot read it ({exc}); give a readable JSON file") from exc
        try:
            fields = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"--config {p}: invalid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                             "expected an object such as {\"period\": 5}") from exc
        if not isinstance(fields, dict):
            raise UsageError(f"--config {p}: expected a JSON object of BoostConfig fields, got a JSON "
                             f"{type(fields).__name__}")
    if buffer_size is not None:
        fields = {**fields, "buffer_size": buffer_size}
    try:
        BoostConfig.from_dict(fields)  # each field is checked on its own, so checking the partial dict is enough
    except InputError as exc:
        raise UsageError(f"--config {path}: {exc}" if path else str(exc)) from exc
    return fields


def pick_sequences(seqs: list[tuple[str, Path]], wanted: str | None) -> list[tuple[str, Path]]:
    """``--sequences a,b``: those sequences, in the order given; an unknown name is a :class:`UsageError`."""
    if not wanted:
        return seqs
    names = [w.strip() for w in wanted.split(",") if w.strip()]
    by_name = dict(seqs)
    unknown = [n for n in names if n not in by_name]
    if unknown:
        shown = ", ".join(list(by_name)[:10]) + (" …" if len(by_name) > 10 else "")
        raise UsageError(f"--sequences: no sequence {', '.join(unknown)} in the input; it holds: {shown}")
    return [(n, by_name[n]) for n in dict.fromkeys(names)]


def stage_seconds(summary: dict[str, Any]) -> str:
    """``target 3.1, flow 1.0, …``: each stage's mean seconds over the buffers recorded in ``summary`` (the
    live target's own time beside the boost's)."""
    recs = [b.get("timings", {}) for b in summary["buffers_done"].values()]
    keys = list(dict.fromkeys(k for r in recs for k in r))
    return ", ".join(f"{STAGES.get(k, k)} {sum(r.get(k, 0.0) for r in recs) / max(len(recs), 1):.1f}"
                     for k in keys)


def _one_line(exc: BaseException) -> str:
    return "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())


def run(args: argparse.Namespace) -> int:
    import functools

    from ..engines import BoostSpec, Job, get_engine
    from ..io import check_output_dir

    engine_name = getattr(args, "engine", "local")
    if getattr(args, "rounds", 1) > 1 and engine_name != "local":
        raise UsageError("--rounds > 1 runs with --engine local only: each round needs the whole previous round's "
                         "maps")
    # the engine first: a missing extra or a bad --address/--workers fails before any model is loaded
    engine = get_engine(engine_name, address=getattr(args, "address", None), workers=getattr(args, "workers", None),
                        threads=args.threads)
    apply_threads(args.threads)
    config = load_config(args.config, args.buffer_size)
    target_spec, target_args = target_of(args)
    target_name = target_spec.partition(":")[0]
    cache = getattr(args, "target_cache", None)
    target = cached_target(target_spec, target_args, cache)  # a bad --target fails here, with CLI wording
    check_output_dir(args.out)  # a read-only or misplaced --out fails now, not after a buffer of compute
    lock_out(args, args.out)  # a second run on this --out is refused now, before any model loads
    found = sequences_of(Path(args.frames))
    multi = len(found) > 1
    seqs = pick_sequences(found, args.sequences)
    # picklable settings: a Ray worker rebuilds the Booster from them (the local engine builds it here, once)
    spec = BoostSpec(target=functools.partial(cached_target, target_spec, target_args, cache), flow=args.flow,
                     mqpm=args.mqpm, spatial=args.spatial, config=config, preset=args.preset, device=args.device,
                     seed=args.seed, threads=args.threads)
    jobs = [Job(seq, str(path), str(Path(args.out) / seq if multi else Path(args.out)), args.name or seq,
                rounds=getattr(args, "rounds", 1)) for seq, path in seqs]
    labels = {job: (f"sequence {k}/{len(jobs)} {job.sequence}" if multi else job.sequence)
              for k, job in enumerate(jobs, 1)}
    existed = {job: Path(job.out).exists() for job in jobs}
    bars: dict[Job, FrameBar] = {}
    t_start = time.perf_counter()

    def progress(job: Job) -> tuple[Any, Any, Any]:
        """Locally, a bar per sequence in frames naming the stage (drawn once a buffer is computed); on Ray, a
        line from this driver each time one of the sequence's buffers is written."""
        if engine.name == "local":
            bar = bars[job] = FrameBar(labels[job], enabled=not args.quiet)
            return bar.frames_done, None, bar.stage

        def line(done: int, total: int) -> None:
            if not args.quiet:
                print(f"{labels[job]}: {done}/{total} frames written ({time.perf_counter() - t_start:.0f} s "
                      "since the start)", file=sys.stderr, flush=True)

        return line, None, None

    if engine.name != "local" and not args.quiet:
        print(f"{len(jobs)} sequence(s) on {engine.name} ({engine.workers or 'all'} worker(s), "
              f"{args.threads or 'default'} thread(s) each); each is reported when done", file=sys.stderr, flush=True)
    skipped: list[str] = []
    if engine.name == "local":  # one Booster, built here from the target already parsed
        from ..booster import Booster

        work: Any = Booster(target, flow=args.flow, mqpm=args.mqpm, spatial=args.spatial, config=config,
                            preset=args.preset, device=args.device, seed=args.seed, threads=args.threads)
    else:
        work = spec
    for job, outcome in engine.run(work, jobs, overwrite=args.overwrite, progress=progress):
        bar = bars.pop(job, None)
        if bar is not None:
            bar.close()  # no bar was drawn for a folder already done: its line below says so
        label, out = labels[job], Path(job.out)
        if isinstance(outcome, VsodboostError):
            exc = outcome
            worded = cli_wording(exc, target_name)
            if not (multi and isinstance(exc, (MissingMapsError, NoMatchingMapsError))):
                if worded is exc:
                    raise exc
                raise worded from exc
            if not existed[job] and out.is_dir():
                shutil.rmtree(out)  # made by this run for a sequence it could not boost: leave nothing behind
            skipped.append(job.sequence)
            print(f"warning: skipped {label}: {_one_line(worded)}", file=sys.stderr, flush=True)
            continue
        summary = outcome
        mined = sum(len(b["mined"]) for b in summary["buffers_done"].values())
        done = "already done — " if summary["buffers_run"] == 0 else ""  # a finished folder: nothing run
        rounds = summary.get("rounds")
        last = f" (round {rounds['rounds']} of {rounds['rounds']}; earlier rounds in {out / ROUNDS_DIR})" \
            if rounds else ""
        print(f"{label}: {done}{len(summary['settings']['frames'])} frames, {mined} mined, maps in {out}{last}")
        for k, earlier in enumerate(rounds["earlier_summaries"] if rounds else [], 1):
            if earlier["buffers_run"]:
                print(f"  round {k}, seconds per buffer: {stage_seconds(earlier)}")
        if not done:
            print(f"  {'round ' + str(rounds['rounds']) + ', ' if rounds else ''}seconds per buffer: "
                  f"{stage_seconds(summary)}")
        for w in summary["warnings"]:
            print(f"  warning: {w}")
    if skipped:
        print(f"boosted {len(seqs) - len(skipped)} of {len(seqs)} sequences; skipped {len(skipped)} without target "
              f"maps: {', '.join(skipped)} (exit status {EXIT_SKIPPED})", file=sys.stderr)
        return EXIT_SKIPPED
    if multi:
        print(f"boosted {len(seqs)} of {len(seqs)} sequences")
    return 0


TARGET_HELP = "registered target name, `precomputed:ROOT`, or `<method>:ROOT` for published maps"


def add_target_arguments(p: argparse.ArgumentParser, *, required: bool = False) -> None:
    """``--target`` and ``--target-arg`` (read back with :func:`target_of` or :func:`parse_target`); shared by
    ``boost``, ``stream``, ``export`` and ``bench`` (where a target is required: there is no default to boost)."""
    if required:
        p.add_argument("--target", required=True, help=TARGET_HELP)
    else:
        p.add_argument("--target", default=None,
                       help=f"{TARGET_HELP}; default: u2netp, the shipped image model U²-Net-p run on every frame "
                            "(self-boosting: video saliency from an image model, no maps of your own needed)")
    p.add_argument("--target-arg", action="append", metavar="KEY=VALUE", default=None,
                   help="option passed to the target (repeatable; VALUE parsed as JSON when it can be, else a "
                        "string), e.g. --target-arg match=order --target-arg prefix=bird_")


def add_target_cache_argument(p: argparse.ArgumentParser) -> None:
    """``--target-cache DIR`` (read back with :func:`cached_target`), shared by ``boost`` and ``bench``."""
    p.add_argument("--target-cache", metavar="DIR",
                   help="keep the target's maps in DIR (16-bit PNGs per sequence) and read them on a rerun with other "
                        "settings instead of running a live target again")


def add_model_arguments(p: argparse.ArgumentParser, *, mqpm_help: str | None = None,
                        spatial_help: str | None = None) -> None:
    """``--flow``, ``--mqpm``, ``--preset`` and ``--spatial``: the Booster's components (``bench`` words
    ``--mqpm`` / ``--spatial`` for its per-sequence weights tables)."""
    p.add_argument("--flow", default="dis", help="flow backend (see `vsodboost plugins`; default: dis)")
    p.add_argument("--mqpm", default="default",
                   help=mqpm_help or "MQPM weights: 'default' (shipped) or a checkpoint path")
    p.add_argument("--preset", default="quality", choices=sorted(PRESETS),
                   help="spatial model + fine-tuning recipe: quality (default: U²-Net-p + DAVIS-TR, motion fusion), "
                        "fast (Lite0 U-Net, geometric fusion, ~4x cheaper on CPU), paper (U²-Net-p + DAVIS-TR, replace, BCE) — "
                        "docs/booster.md")
    p.add_argument("--spatial", default=None,
                   help=spatial_help or "spatial model name (see `vsodboost plugins`; default: the preset's)")


def add_config_arguments(p: argparse.ArgumentParser) -> None:
    """``--config`` and ``--buffer-size`` (read back with :func:`load_config`)."""
    p.add_argument("--config", help="JSON file with BoostConfig fields laid over the preset's "
                                    "(e.g. {\"period\": 5, \"finetune\": {...}})")
    p.add_argument("--buffer-size", type=positive_int, help="frames per buffer (default: the config's, 100)")


def add_booster_arguments(p: argparse.ArgumentParser) -> None:
    """The Booster's options, shared by ``boost``, ``stream`` and ``export``: target, flow, MQPM, preset, spatial model,
    config, buffer size, name, device, seed, threads."""
    add_target_arguments(p)
    add_model_arguments(p)
    add_config_arguments(p)
    p.add_argument("--name", help="sequence name a maps-mode target looks up (default: from the source, e.g. its folder or file name)")
    add_device_argument(p)
    add_seed_argument(p)
    add_threads_argument(p)


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.epilog = (f"exit status: 0 all done; {EXIT_SKIPPED} some sequences skipped (no target maps for them, listed "
                "at the end); 2 invalid option or --config; 1 any other error. Reruns resume finished buffers.")
    p.add_argument("frames", help="folder of frames, video file, or folder of sequence folders")
    p.add_argument("--sequences", metavar="A,B", help="only these sequences of a folder of sequences (comma-separated)")
    p.add_argument("--out", required=True, help="output folder (per-sequence subfolders for several sequences)")
    add_booster_arguments(p)
    add_target_cache_argument(p)
    p.add_argument("--rounds", type=positive_int, default=1,
                   help="iterated boosting: round k+1 boosts round k's maps (default 1, the paper's method; 2 gained "
                        "+.010 maxF on DAVIS when self-boosting, docs/booster.md); earlier rounds are kept in "
                        "OUT/rounds/<k>/, the last round's maps are in OUT")
    add_engine_arguments(p)
    p.add_argument("--overwrite", action="store_true", help="replace results made with other settings")
    add_quiet_argument(p)
