"""Frame sources for :meth:`vsodboost.Booster.stream`: a camera, a video file or URL, a folder, or any iterator.

:func:`iter_source` turns each into one iterator of ``(name, frame, timestamp)``: the frame is uint8 RGB H×W×3,
``name`` its stem (a folder's file stems, else the zero-padded index ``00000``, ``00001``… as
:func:`~vsodboost.video.load_video` names them, so maps-mode targets find the same maps), ``timestamp`` seconds or
None. Frames are read one at a time, so a camera or a network stream never has to end.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
import dataclasses
import logging
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Union

import cv2
import numpy as np

from .errors import InputError, NoMatchingMapsError, VsodboostError
from .results import StreamBuffer
from ._decode import IMAGE_EXTS, REENCODE, file_truncation, to_rgb_uint8
from .video import Video, load_video
from .workres import downscale_frame, working_size

if TYPE_CHECKING:
    import torch

    from .booster import Booster  # stream_buffers drives a Booster it is given: a type only, never imported

_log = logging.getLogger("vsodboost.booster")

__all__ = ["StreamSource", "iter_source", "source_name", "stream_buffers"]

#: What :meth:`Booster.stream` reads: a camera index, a video file or URL OpenCV opens, a folder of frames, or an
#: iterable of uint8 RGB H×W×3 arrays.
StreamSource = Union[int, str, os.PathLike, Iterable[np.ndarray]]

Frame = tuple[str, np.ndarray, Union[float, None]]


def _is_url(s: str) -> bool:
    return "://" in s


def source_name(source: Any) -> str:
    """The default sequence name of a source (what a maps-mode target looks up)."""
    if isinstance(source, bool):
        return "stream"
    if isinstance(source, int):
        return f"camera{source}"
    if isinstance(source, Video):
        return source.name
    if isinstance(source, (str, os.PathLike)):
        s = str(source)
        if _is_url(s):
            return Path(s.split("?", 1)[0].rstrip("/")).stem or "stream"
        p = Path(s).expanduser()
        if p.is_dir():
            return load_video(p).name  # same default as run(): `<seq>/Imgs` → seq
        return p.stem
    return "stream"


def _capture(cap: cv2.VideoCapture, where: str, camera: bool, file: Path | None = None) -> Iterator[Frame]:
    """Frames of an open capture; for a local ``file``, an end before the container's frame count is an error
    (raised after the frames that decoded, as a truncated file given to ``run`` is refused)."""
    t0 = time.monotonic()
    reported = cap.get(cv2.CAP_PROP_FRAME_COUNT) if file is not None else 0.0
    i = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                why = file_truncation(file, i, reported) if file is not None else ""
                if why:
                    raise InputError(f"stream source {file}: {why}. The buffers yielded so far are whole; "
                                     f"the frames read since the last one were not boosted — "
                                     + REENCODE.format(p=file, ext=file.suffix))
                return
            if camera:  # webcams rarely report a position: the capture time since the stream opened
                ts: float | None = time.monotonic() - t0
            else:
                ms = cap.get(cv2.CAP_PROP_POS_MSEC)
                ts = ms / 1000.0 if math.isfinite(ms) and ms >= 0 else None
            yield f"{i:05d}", to_rgb_uint8(frame, f"{where} frame {i}", bgr=True), ts
            i += 1
    finally:
        cap.release()


def _iterable(frames: Iterable[Any]) -> Iterator[Frame]:
    for i, f in enumerate(frames):
        if not isinstance(f, np.ndarray):
            raise InputError(f"stream frame {i} is a {type(f).__name__}; expected a numpy array H×W×3 uint8 RGB")
        if f.dtype != np.uint8:
            raise InputError(f"stream frame {i} has dtype {f.dtype}; expected uint8 H×W×3 RGB (for floats in [0, 1]:"
                             " (x * 255).round().astype(np.uint8))")
        if f.ndim != 3 or f.shape[2] != 3:
            raise InputError(f"stream frame {i} has shape {f.shape}; expected H×W×3 RGB")
        yield f"{i:05d}", np.ascontiguousarray(f), None


def _open(source: StreamSource) -> Iterator[Frame]:
    if isinstance(source, bool):
        raise InputError(f"stream source {source!r} is a bool; pass a camera index (int), a video file or URL, a "
                         "folder of frames or an iterable of frames")
    if isinstance(source, int):
        cap = cv2.VideoCapture(source)
        if not cap.isOpened():
            raise InputError(f"cannot open camera {source} with OpenCV; check that it is connected and not in use, "
                             "or pass another index")
        return _capture(cap, f"camera {source}", camera=True)
    if isinstance(source, (str, os.PathLike)):
        s = str(source)
        if not _is_url(s):
            p = Path(s).expanduser()
            if not p.exists():
                raise InputError(f"stream source {p} does not exist; pass a video file, a URL, a folder of frames, "
                                 "a camera index or an iterable of frames")
            if p.is_dir():
                video = load_video(p)  # same frames, names and order as run() on this folder
                return ((n, video[i], None) for i, n in enumerate(video.names))
            if p.suffix.lower() in IMAGE_EXTS:
                raise InputError(f"{p} is a single image; a stream needs a video file, a folder of frames or a "
                                 "camera")
            s = str(p)
        cap = cv2.VideoCapture(s)
        if not cap.isOpened():
            raise InputError(f"cannot open {s} with OpenCV (corrupt file, unsupported codec or unreachable URL)")
        return _capture(cap, s, camera=False, file=None if _is_url(s) else Path(s))
    if isinstance(source, Video):  # keeps its frame names (a folder's stems), decoded lazily
        return ((n, source[i], None) for i, n in enumerate(source.names))
    if isinstance(source, np.ndarray) and source.ndim == 3:
        raise InputError(f"got one frame {source.shape}; a stream needs many: pass a list or iterator of frames")
    if isinstance(source, Iterable):
        return _iterable(source)
    raise InputError(f"cannot stream from a {type(source).__name__}; pass a camera index, a video file or URL, a "
                     "folder of frames or an iterable of uint8 H×W×3 RGB arrays")


def iter_source(source: StreamSource) -> Iterator[Frame]:
    """``(name, frame, timestamp)`` per frame of ``source``, checking that every frame has the first one's size.

    The source is opened now (an unopenable one raises here); frames are read as the iterator is consumed.
    Raises :class:`~vsodboost.errors.InputError` for a source that cannot be opened, that yields no frame, or whose
    frames are not uint8 H×W×3 or change size.
    """
    return _checked(_open(source), source)


def _checked(frames: Iterator[Frame], source: Any) -> Iterator[Frame]:
    size: tuple[int, int] | None = None
    for name, frame, ts in frames:
        if size is None:
            size = frame.shape[:2]
        elif frame.shape[:2] != size:
            raise InputError(f"stream frame {name} is {frame.shape[1]}×{frame.shape[0]} but the first frame is "
                             f"{size[1]}×{size[0]}; every frame of a stream must have the same size (resize them "
                             "first)")
        yield name, frame, ts
    if size is None:
        raise InputError(f"stream source {source!r} gave no frames")


def stream_buffers(booster: "Booster", frames: Iterator[Frame], seq: str, size: int, *, warm_start: bool = False,
                   keep_models: bool = False) -> Iterator["StreamBuffer"]:
    """:meth:`Booster.stream` behind its checks: gather ``size`` frames (smaller: less latency, fewer frames to mine
    from), boost them as buffer ``index`` with :meth:`Booster.run_buffer` with the seed ``run`` gives it
    (``booster.buffer_seed(index)``), so on the same frames ``stream`` and ``run`` give the same maps, and yield.
    Frames longer than ``work_max_side`` are downscaled as they arrive, as ``run`` reads them
    (:func:`~vsodboost.workres.working_clip`): a buffer holds working-size frames, never a buffer of full-size ones,
    and its maps are returned at the frames' own size.

    ``warm_start=True`` fine-tunes each buffer from the previous buffer's tuned model instead of the pretrained one:
    a departure from the paper (and our default), where every buffer starts afresh; the pretrained model is never
    modified. ``keep_models`` keeps each buffer's tuned model in :attr:`StreamBuffer.model`. When the stream ends
    without the target having given a map for any frame, :class:`NoMatchingMapsError` (a :class:`TargetError`) is
    raised, after the last buffer was yielded."""
    init: "torch.nn.Module | None" = None
    start, index, any_target = 0, 0, False
    chunk: list[Frame] = []
    full: tuple[int, int] | None = None
    failure: BaseException | None = None
    for name, frame, ts in _guarded(frames, lambda: (index, start, chunk)):
        if isinstance(name, BaseException):  # the source raised: boost what arrived, then raise (below)
            failure = name
            break
        if full is None:
            full = frame.shape[0], frame.shape[1]
            work = working_size(*full, booster.config.work_max_side)
        if work != full:  # as run() reads a buffer (workres.working_clip): downscaled at once, one frame at a time
            frame = downscale_frame(frame, work)
        chunk.append((name, frame, ts))
        if len(chunk) < size:
            continue
        out = _stream_buffer(booster, seq, chunk, index, start, init, full)
        any_target = any_target or any(m is not None for m in out.target)
        if warm_start and out.model is not None:
            init = out.model
        if not keep_models:
            out.model = None
        yield out
        start, index, chunk = start + len(chunk), index + 1, []
    if chunk:
        out = _stream_buffer(booster, seq, chunk, index, start, init, full)
        any_target = any_target or any(m is not None for m in out.target)
        if not keep_models:
            out.model = None
        yield out
    if failure is not None:
        raise failure
    if not any_target:
        raise NoMatchingMapsError(
            f"target {booster.target.name!r} gave no map for any frame of stream {seq!r}: nothing was boosted. For a "
            "maps-mode target, pass name= the sequence its folder holds, with file stems matching the frame names "
            "(00000, 00001, … for videos and iterators)")


def _guarded(frames: Iterator[Frame], where: Any) -> Iterator[Any]:
    """``frames``, but an exception raised by a user's frame iterator ends it with that exception as the last item,
    wrapped in :class:`InputError` giving the frame and buffer it stopped at (``where()`` → buffer index, its first
    frame, the frames gathered): :func:`stream_buffers` then boosts the partly filled buffer before raising. Our own
    errors (a truncated file: its buffer is not boosted, docs/reliability.md) pass through unchanged."""
    it = iter(frames)
    count = 0
    while True:
        try:
            item = next(it)
        except StopIteration:
            return
        except VsodboostError:
            raise
        except Exception as exc:  # noqa: BLE001 - any error of a user's iterator: keep what arrived, say where
            index, start, chunk = where()
            kept = (f"buffer {index} (frames {start}…{start + len(chunk) - 1}, {len(chunk)} gathered) was boosted and "
                    "yielded as a last, shorter buffer" if chunk else f"no frame of buffer {index} had arrived")
            err = InputError(f"the stream's frame source raised {type(exc).__name__}: {exc} — after {count} "
                             f"frame(s); {kept}; every buffer before it is whole")
            err.__cause__ = exc
            yield err, None, None
            return
        count += 1
        yield item


def _stream_buffer(booster: "Booster", seq: str, chunk: list[Frame], index: int, start: int,
                   init: "torch.nn.Module | None", full_size: tuple[int, int] | None) -> "StreamBuffer":
    n = len(chunk)
    video = booster.load(Video(arrays=[f for _, f, _ in chunk], names=[nm for nm, _, _ in chunk], name=seq,
                               full_size=full_size), check_coverage=False)
    out = booster.run_buffer(video, 0, n, seed=booster.buffer_seed(index), init=init)
    rep = out.report
    if start:  # the buffer ran as frames 0:n of its own video: report it in stream positions, as run() does
        old, new = f"buffer 0:{n}", f"buffer {start}:{start + n}"
        rep = dataclasses.replace(rep, start=start, stop=start + n, mined=[start + i for i in rep.mined],
                                  warnings=[w.replace(old, new) for w in rep.warnings])
    for w in rep.warnings:
        _log.warning(w)
    return StreamBuffer(index=index, start=start, names=list(video.names), timestamps=[t for _, _, t in chunk],
                        boosted=out.boosted, target=out.target, hq_prob=out.hq_prob, consistency=out.consistency,
                        report=rep, model=out.model, frames=[f for _, f, _ in chunk],
                        motion_weight=out.motion_weight)
