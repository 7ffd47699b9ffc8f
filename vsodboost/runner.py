"""Boost a video into a folder, buffer by buffer, resumably (docs/reliability.md, "Resume").

:func:`run_to_dir` drives :meth:`Booster.run_buffer` and writes each buffer's maps as it completes; a rerun with the
same settings — the *resume key*: sequence, frames, config, target identity, flow, weights, seed,
frame selector, torch CPU threads —
skips the buffers already written. The key's parts (:func:`vsodboost.identity.target_identity`,
:func:`vsodboost.identity.weights_identity`, :func:`selector_identity`) are public so a target can be checked against
them.
"""

from __future__ import annotations

import copy
import inspect
import json
import logging
import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from . import identity as ident
from ._checks import check_int
from ._deprecated import moved_names
from ._diff import settings_diff
from ._steps import OnStage, SequenceProgress, effective_threads
from .errors import InputError, NoMatchingMapsError, ResumeError
from .identity import flow_identity, jsonable, stable_repr
from .io import (LOCK_FILE, ROUNDS_DIR, STATE_FILE, check_file_name, check_output_dir, clean_partials, fsync_dir,
                 map_is_complete, out_path, output_lock, write_json_atomic, write_map_atomic)
from .mining import mqpm_selector
from .target import RoundTarget, explain_no_match
from .video import Video, VideoLike

if TYPE_CHECKING:
    from .booster import Booster

__all__ = ["run_to_dir", "open_run", "run_buffer_to_dir", "SequenceRun", "selector_identity", "KEY_FORMAT"]

#: moved to vsodboost.identity (shared with the target cache); served here for one release
__getattr__ = moved_names(__name__, {"target_identity": "vsodboost.identity",
                                     "weights_identity": "vsodboost.identity"})

_log = logging.getLogger("vsodboost.booster")

#: Version of the resume key's layout; a folder written with another version is refused (it cannot be compared).
KEY_FORMAT = 2

_LABELS = {"format": "resume-key format", "sequence": "sequence name", "frames": "frames", "config": "config",
           "target": "target", "target.root": "target maps root", "flow": "flow backend", "seed": "seed",
           "mqpm": "MQPM weights", "spatial": "spatial model weights", "selector": "frame selector",
           "threads": "torch CPU threads (maps differ between thread counts; --threads, Booster(threads=))"}


def _key_diff(old: Any, new: Any) -> list[str]:
    """Human-readable differences between two resume keys: ``label: old → new``."""
    return settings_diff(old, new, _LABELS)


#: Config fields added after KEY_FORMAT 2 was introduced, each with the rule under which its value gives the maps a
#: key without it gave: a folder written before the field existed then resumes instead of being refused.
_ADDED_FIELDS: dict[str, Callable[[Any, Video], bool]] = {
    # working resolution (vsodboost/workres.py): no frame is resized when it fits, so the maps are byte-identical
    "work_max_side": lambda v, video: v == 0 or max(video.height, video.width) <= v,
    # bfloat16 autocast of the spatial model: "off" is the float32 every earlier run used
    "finetune.autocast": lambda v, video: v == "off",
    # prediction size: 0 is "at input_size", what every earlier run did
    "finetune.predict_size": lambda v, video: v == 0,
    # channels-last memory format: off is the contiguous layout every earlier run used
    "finetune.channels_last": lambda v, video: v is False,
}


def _upgraded(old: Any, new: Mapping[str, Any], video: Video) -> Any:
    """``old`` with every config field of :data:`_ADDED_FIELDS` it lacks filled in from ``new`` when that value
    reproduces the old behaviour on ``video``, and without a ``selector`` (keys written before it was recorded)
    the default selector's when ``new`` uses the default; otherwise ``old`` unchanged (the difference is reported)."""
    if not isinstance(old, dict) or not isinstance(old.get("config"), dict):
        return old
    cfg = json.loads(json.dumps(old["config"]))  # a deep copy: nested sections are filled in too
    for name, same in _ADDED_FIELDS.items():
        *path, leaf = name.split(".")
        have, want = cfg, new["config"]
        for part in path:
            have, want = have.get(part), want.get(part) if isinstance(want, dict) else None
            if not isinstance(have, dict):
                break
        else:
            if isinstance(want, dict) and leaf not in have and leaf in want and same(want[leaf], video):
                have[leaf] = want[leaf]
    old = {**old, "config": cfg}
    if "selector" not in old and new.get("selector") == _DEFAULT_SELECTOR:
        old["selector"] = _DEFAULT_SELECTOR
    if "threads" not in old and new.get("threads") == _THREADS_BEFORE_KEY:
        old["threads"] = _THREADS_BEFORE_KEY
    return old


def selector_identity(selector: Any) -> str:
    """What identifies a frame selector in the resume key: a function's module and name, else its repr."""
    if inspect.isfunction(selector) or inspect.isbuiltin(selector):
        return f"{selector.__module__}.{selector.__qualname__}"
    return stable_repr(selector)


_DEFAULT_SELECTOR = selector_identity(mqpm_selector)

#: A folder written before the thread count was part of the key is taken as made on 1 thread, the command
#: line's default then (the Python default was torch's own setting: such a folder resumes only on 1 thread).
_THREADS_BEFORE_KEY = 1


def _settings_key(booster: "Booster", video: Video) -> dict[str, Any]:
    """What must match for a rerun to resume into an existing output folder."""
    return jsonable({
        "format": KEY_FORMAT, "sequence": video.name, "frames": list(video.names),
        "config": booster.config.to_dict(), "target": ident.target_identity(booster.target),
        "flow": flow_identity(booster.flow), "seed": booster.seed,
        "mqpm": ident.weights_identity(booster.mqpm), "spatial": ident.weights_identity(booster.spatial),
        "selector": selector_identity(booster.selector),  # which frames are mined changes the maps
        # torch's CPU kernels split their sums by thread: maps on 1 and 2 threads differ (docs/threads.md)
        "threads": effective_threads(booster.threads),
    })


def _state_problem(prev: Any) -> str:
    """What is wrong with a state file's content ('' when it has the layout :class:`SequenceRun` writes): the
    types of the fields a resume reads, so a hand-edited file is refused here, not as an AttributeError later."""
    if not isinstance(prev, dict):
        return f"a JSON {type(prev).__name__}, not an object"
    if "settings" in prev and not isinstance(prev["settings"], dict):
        return "'settings' is not an object"
    done = prev.get("buffers_done", {})
    if not isinstance(done, dict):
        return "'buffers_done' is not an object"
    for tag, entry in done.items():
        if not re.fullmatch(r"\d+:\d+", tag):
            return f"buffers_done key {tag!r} is not START:STOP"
        if not isinstance(entry, dict):
            return f"buffers_done[{tag!r}] is a {type(entry).__name__}, not an object"
        checks = {"warnings": lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
                  "has_target": lambda v: isinstance(v, bool),
                  "mined": lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
                  "sha256": lambda v: isinstance(v, dict) and all(isinstance(k, str) and isinstance(h, str)
                                                                  for k, h in v.items())}
        for key, ok in checks.items():
            if key in entry and not ok(entry[key]):
                return f"buffers_done[{tag!r}].{key} has the wrong type ({type(entry[key]).__name__})"
    return ""


def _read_state(state_file: Path) -> dict[str, Any]:
    try:
        prev = json.loads(state_file.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{state_file} is unreadable ({exc}); remove it or choose another --out (or pass "
                         "--overwrite)") from exc
    why = _state_problem(prev)
    if why:
        raise InputError(f"{state_file} is not a vsodboost run state ({why}; expected the JSON object with "
                         "'settings' and 'buffers_done' a run writes); remove it or choose another --out (or pass "
                         "--overwrite)")
    return prev


def _maps_intact(out: Path, names: list[str], entry: Mapping[str, Any], size: tuple[int, int]) -> bool:
    """A recorded buffer's maps are the ones written: each a whole PNG of the frame size, no symlink, and — when the
    record holds checksums (runs since checksums were recorded) — the same bytes (sha256) as written. Records
    without checksums (older folders) fall back to the whole-PNG check alone."""
    sums = entry.get("sha256")
    return all(map_is_complete(out / f"{n}.png", size, sha256=sums.get(n, "") if isinstance(sums, dict) else None)
               for n in names)  # each map read once: whole, of the frame size, and the bytes recorded


def _unreadable(state_file: Path) -> bool:
    """The state file cannot be used (not JSON, wrong layout): with ``overwrite`` it is replaced, not refused."""
    try:
        _read_state(state_file)
    except InputError:
        return True
    return False


@dataclass
class SequenceRun:
    """One sequence's output folder, opened by :func:`open_run`: the settings checked against what the folder holds,
    the state file written, and the buffers left to run (``todo``, indices into ``spans``).

    Picklable, so the Ray engine (docs/engines.md) opens it in a worker, runs its buffers in any worker
    (:func:`run_buffer_to_dir`), records each in the driver (:meth:`record`) and finishes it in a worker
    (:meth:`finish`); :func:`run_to_dir` does the same in one process.
    """

    out: Path
    spans: list[tuple[int, int]]
    todo: list[int]
    summary: dict[str, Any]

    @property
    def state_file(self) -> Path:
        return self.out / STATE_FILE

    def tag(self, b: int) -> str:
        return f"{self.spans[b][0]}:{self.spans[b][1]}"

    def _warnings(self) -> list[str]:  # in buffer order, so a rerun keeps every buffer's warnings
        done = self.summary["buffers_done"]
        return [w for b in range(len(self.spans)) for w in done.get(self.tag(b), {}).get("warnings", [])]

    def record(self, b: int, entry: Mapping[str, Any]) -> None:
        """Buffer ``b`` is done: its maps are written (:func:`run_buffer_to_dir`); say so in the state file."""
        self.summary["buffers_done"][self.tag(b)] = dict(entry)
        self.summary["buffers_run"] += 1
        self.summary["warnings"] = self._warnings()
        write_json_atomic(self.state_file, self.summary)  # after the maps: a buffer counts as done only once written

    def finish(self, booster: "Booster", video: Video) -> dict[str, Any]:
        """Mark the run complete and return its summary; :class:`NoMatchingMapsError` when the target gave no map
        for any frame (the maps then come from the pretrained spatial model only)."""
        done = self.summary["buffers_done"]
        if not any(done.get(self.tag(b), {}).get("has_target", True) for b in range(len(self.spans))):
            raise NoMatchingMapsError(f"target {booster.target.name!r} gave no map for any frame of {video.name!r}; "
                                      f"the maps in {self.out} come from the pretrained spatial model only. "
                                      + explain_no_match(booster.target, video))
        self.summary["complete"] = True
        write_json_atomic(self.state_file, self.summary)
        return self.summary


def open_run(booster: "Booster", video: Video, out_dir: str | os.PathLike[str], *,
             overwrite: bool = False) -> SequenceRun:
    """Check ``out_dir`` against ``booster``'s settings for ``video`` and write its state file (before any map).

    A folder holding results made with other settings raises :class:`ResumeError` naming what differs, one holding
    files that are not ours :class:`InputError`, both unless ``overwrite``; an unwritable folder
    :class:`OutputError`. Buffers recorded as done whose maps are all complete PNGs are kept; the others are to do.
    """
    out = Path(out_dir)
    state_file = out / STATE_FILE
    for n in video.names:  # before any compute: a name such as '../x' would write outside out_dir
        check_file_name(n, "frame name")
    key = _settings_key(booster, video)
    done: dict[str, Any] = {}
    if out.is_dir() and any(f.name != LOCK_FILE for f in out.iterdir()):
        if state_file.is_file() and not (overwrite and _unreadable(state_file)):
            prev = _read_state(state_file)
            prev["settings"] = _upgraded(prev.get("settings"), key, video)
            if prev.get("settings") == key:
                done = prev.get("buffers_done", {})
            elif not overwrite:
                diff = _key_diff(prev.get("settings"), key) or ["(the recorded settings are unreadable)"]
                more = f" (and {len(diff) - 5} more)" if len(diff) > 5 else ""
                raise ResumeError(f"{out} holds results made with other settings — " + "; ".join(diff[:5]) + more
                                  + "; pass --overwrite (overwrite=True) to replace them or choose another --out")
        elif any(f.name not in (state_file.name, LOCK_FILE) and not f.name.endswith(".vsodboost-tmp")
                 and not (f.name == ROUNDS_DIR and f.is_dir()) for f in out.iterdir()) \
                and not overwrite:
            raise InputError(f"{out} exists and is not a vsodboost output folder; choose another --out or pass "
                             "--overwrite")
    check_output_dir(out)
    removed = clean_partials(out, video.names)
    if removed:
        _log.info("removed %d temporary file(s) a killed run left in %s", len(removed), out)
    size = video.full_size  # the maps are written at the frames' own size
    spans = list(video.buffers(booster.config.buffer_size))
    run = SequenceRun(out, spans, [], {"settings": key, "buffers_done": {}, "provenance": booster.provenance(),
                                       "warnings": [], "complete": False, "buffers_run": 0})
    for b, (start, stop) in enumerate(spans):
        tag = run.tag(b)
        if tag in done and _maps_intact(out, video.names[start:stop], done[tag], size):
            run.summary["buffers_done"][tag] = done[tag]
        else:
            run.todo.append(b)
    run.summary["warnings"] = run._warnings()
    write_json_atomic(state_file, run.summary)  # before the first map: a run killed mid-buffer is resumable
    return run


def run_buffer_to_dir(booster: "Booster", video: Video, run: SequenceRun, b: int, *,
                      on_iteration: Callable[[int, float], None] | None = None,
                      on_stage: OnStage | None = None) -> dict[str, Any]:
    """Boost buffer ``b`` of ``run`` (seed ``booster.buffer_seed(b)``, whichever process runs it) and write its maps;
    returns the record :meth:`SequenceRun.record` stores. The state file is not touched here."""
    start, stop = run.spans[b]
    res = booster.run_buffer(video, start, stop, seed=booster.buffer_seed(b), on_iteration=on_iteration,
                             on_stage=on_stage)
    sums = {}
    for n, m in zip(video.names[start:stop], res.boosted):
        sums[n] = write_map_atomic(out_path(run.out, f"{n}.png", what="frame name"), m, sync_dir=False)
    fsync_dir(run.out)  # the maps' renames are durable before the state says the buffer is done
    rep = res.report
    for w in rep.warnings:
        _log.warning(w)
    return {
        **asdict(rep), "mined": [video.names[i] for i in rep.mined],
        "has_target": any(m is not None for m in res.target),
        "hq_prob": [round(float(p), 4) for p in res.hq_prob],
        "consistency": [None if not np.isfinite(c) else round(float(c), 4) for c in res.consistency],
        "motion_weight": [round(float(w), 4) for w in res.motion_weight],
        "sha256": sums,  # what was written: a resume recomputes the buffer when a map's bytes differ
    }


def run_to_dir(
    booster: "Booster",
    frames: VideoLike,
    out_dir: str | os.PathLike[str],
    *,
    name: str | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | bool | None = None,
    iteration_progress: Callable[[int, int], None] | None = None,
    on_stage: OnStage | None = None,
    rounds: int = 1,
) -> dict[str, Any]:
    """Boost ``frames`` buffer by buffer, writing ``<out_dir>/<stem>.png`` as each buffer completes.

    Resumable (docs/reliability.md): ``<out_dir>/vsodboost.json`` is written before the first map and records the
    settings (target identity, weights, config, seed, frames) and the completed buffers. A rerun with the same
    settings skips buffers whose maps are all complete PNGs and removes temporary files a killed run left. A folder
    holding results made with other settings is refused with :class:`ResumeError` naming what differs; a folder
    holding files that are not ours is refused with :class:`InputError`; both unless ``overwrite``. The folder is
    proved writable before any compute (:class:`OutputError` otherwise). ``progress(frames_done, frames_total)``
    is called after each buffer, ``iteration_progress(done, total)`` after each fine-tuning iteration,
    ``on_stage(stage, done, total)`` at each stage (see :meth:`Booster.run`); ``progress=True`` draws the bar
    of :meth:`Booster.run` on stderr, or prints ``already done`` when no buffer is left; None: silent.
    ``rounds`` > 1: iterated boosting, round k + 1 boosting round k's maps
    (:class:`~vsodboost.target.RoundTarget`); rounds 1 … N-1 are resumable folders ``<out_dir>/rounds/<k>/`` and
    round N writes ``<out_dir>``, as :meth:`Booster.run` with the same ``rounds`` (same maps).
    Returns the summary written; its ``buffers_run`` counts the buffers this call computed
    (0 when every buffer was done earlier). The steps are :func:`open_run`, :func:`run_buffer_to_dir` per buffer
    left, :meth:`SequenceRun.record` and :meth:`SequenceRun.finish` (the Ray engine runs them in several processes).
    """
    rounds = check_int("rounds", rounds, lo=1, hint=" (1: boost once; 2: boost the boosted maps again)")
    video = booster.load(frames, name=name)
    for n in video.names:  # before the folder is made or locked
        check_file_name(n, "frame name")
    if rounds > 1:
        return _run_rounds_to_dir(booster, video, Path(out_dir), rounds, overwrite=overwrite, progress=progress,
                                  iteration_progress=iteration_progress, on_stage=on_stage)
    with output_lock(out_dir):  # a second run on this folder is refused at once (another process)
        run = open_run(booster, video, out_dir, overwrite=overwrite)
        with SequenceProgress(video.name, len(video), len(run.spans), progress, on_stage, iteration_progress,
                              booster.config.finetune.iterations, bar=progress is True) as tell:
            if not run.todo:
                tell.done_note = f"{video.name}: already done ({len(video)} frames in {run.out})"
            for b, (start, stop) in enumerate(run.spans):
                if b in run.todo:
                    run.record(b, run_buffer_to_dir(booster, video, run, b, **tell.buffer(b, start)))
                tell.done(b, stop)
        return run.finish(booster, video)


def _run_rounds_to_dir(booster: "Booster", video: Video, out: Path, rounds: int, **kw: Any) -> dict[str, Any]:
    """:func:`run_to_dir` ``rounds`` times, each round's maps (as written, by their recorded sha256) the next
    round's target; the folder ``out`` is locked throughout. Returns the last round's summary with ``rounds``
    (the earlier rounds' folders and summaries)."""
    earlier = []
    with output_lock(out):
        current = booster
        for k in range(1, rounds):
            folder = out / ROUNDS_DIR / str(k)
            summary = run_to_dir(current, video, folder, **kw)
            earlier.append(summary)
            shas = {n: sha for entry in summary["buffers_done"].values() for n, sha in entry["sha256"].items()}
            current = copy.copy(booster)
            current.target = RoundTarget.of_folder(k, folder, shas)
        summary = run_to_dir(current, video, out, **kw)
    return {**summary, "rounds": {"rounds": rounds, "first_target": booster.target.name,
                                  "earlier": [str(out / ROUNDS_DIR / str(k)) for k in range(1, rounds)],
                                  "earlier_summaries": earlier}}
