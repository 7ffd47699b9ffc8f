"""Working resolution: bounded memory for large frames (issue 12, docs/reliability.md).

The Booster's steps never need more than a few hundred pixels: flow runs at ≤ ``flow_max_side`` (480), the MQPM at
128², consistency at ``consistency_size`` (128) and the spatial model at ``finetune.input_size`` (224). Only the
buffer's frames, the target's maps and the boosted maps were held at the frame's own size, 100 of each per buffer:
about 0.4 GB a frame at 4000×3000, 40 GB a buffer.

So frames longer than ``BoostConfig.work_max_side`` (default 1280: DAVIS 854×480, ViSal ≤ 512×288 and 720p keep
their size and give the same bytes as before) are handled at a working size:

- each frame is decoded and at once downscaled with area interpolation (antialiased), one frame at a time
  (:func:`working_clip`), so a buffer never holds more than one full-size frame;
- the target receives that working-size clip; maps it returns at the working size are used as they are, maps at
  the full frame size are checked and then downscaled the same way (:func:`downscale_map`,
  :func:`vsodboost.target.check_target_output`);
- mining, fine-tuning, prediction and fusion run at the working size; the boosted and target maps stay there, in a
  :class:`FullSizeMaps` sequence that upsamples (bilinear) one map at a time when it is read or written.

Memory is then bounded by the buffer at working size whatever the input: measured by
``benchmarks/bench_memory.py`` (docs/reliability.md).
"""

from __future__ import annotations

from typing import Iterator, Sequence, overload

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from .video import Video

__all__ = ["working_size", "downscale_frame", "working_clip", "downscale_map", "upscale_map", "FullSizeMaps",
           "full_size_maps", "working_maps", "area_resize_frames"]


def working_size(h: int, w: int, max_side: int) -> tuple[int, int]:
    """(H, W) of a frame at the working resolution: unchanged when ``max_side`` is 0 or the longest side already
    fits, else scaled so the longest side is ``max_side`` (aspect kept, each side ≥ 1)."""
    if not max_side or max(h, w) <= max_side:
        return h, w
    s = max_side / max(h, w)
    return max(1, int(round(h * s))), max(1, int(round(w * s)))


def downscale_frame(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A uint8 frame H×W×3 brought to the working ``size`` = (h, w) by area interpolation (an average over the source
    pixels, antialiased): how :func:`working_clip` and :meth:`Booster.stream` read a frame larger than the working
    size."""
    return cv2.resize(frame, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def working_clip(video: Video, start: int, stop: int, max_side: int) -> Video:
    """Frames ``start:stop`` of ``video`` at the working size.

    Each frame is decoded and downscaled (area interpolation: an average over the source pixels, antialiased) before
    the next is read, so only one full-size frame is in memory at a time. When no frame needs it, this is
    ``video[start:stop]`` itself (same arrays, same bytes). The clip keeps the names; ``clip.full_size`` is the
    frames' own (H, W) (``video.full_size``: a video already held at the working size keeps its original size).
    """
    h, w = working_size(video.height, video.width, max_side)
    if (h, w) == (video.height, video.width):
        clip = video[start:stop]
    else:
        frames = [downscale_frame(video[i], (h, w)) for i in range(start, stop)]
        clip = Video(arrays=frames, names=video.names[start:stop], name=video.name, full_size=video.full_size)
        clip.sequence_names = getattr(video, "sequence_names", video.names)  # as video[start:stop] does
    return clip


def downscale_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float32 map H×W brought to ``size`` = (h, w) with area interpolation (an average: stays in [0, 1])."""
    if m.shape == tuple(size):
        return m
    return cv2.resize(m, (size[1], size[0]), interpolation=cv2.INTER_AREA)


def upscale_map(m: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """A float32 map h×w brought to the frame's ``size`` = (H, W), bilinear (no overshoot: stays in [0, 1]).

    The same interpolation the spatial model's prediction gets on its way back from ``input_size`` to frame size
    (:func:`vsodboost.spatial.finetune.predict_maps`)."""
    if m.shape == tuple(size):
        return m
    return cv2.resize(np.ascontiguousarray(m, dtype=np.float32), (size[1], size[0]), interpolation=cv2.INTER_LINEAR)


class FullSizeMaps(Sequence["np.ndarray | None"]):
    """Maps held at the working size, returned at the frame's size: ``maps[i]`` upsamples map ``i`` (bilinear,
    float32 in [0, 1]) each time it is read; ``None`` entries (frames without a target map) stay ``None``.

    Read-only. 100 maps at 4000×3000 in float32 would take 4.8 GB; held at 1280×960 they take 0.5 GB, and a
    writer (``BoostResult.save``, ``run_to_dir``) upsamples and quantises them to 8-bit PNG one at a time.
    ``list(maps)`` materialises every map at full size; ``maps.working`` is the working-size list.
    """

    def __init__(self, maps: Sequence[np.ndarray | None], size: tuple[int, int]) -> None:
        self.working: list[np.ndarray | None] = list(maps)
        self.size = (int(size[0]), int(size[1]))

    def __len__(self) -> int:
        return len(self.working)

    @overload
    def __getitem__(self, i: int) -> np.ndarray | None: ...
    @overload
    def __getitem__(self, i: slice) -> "FullSizeMaps": ...

    def __getitem__(self, i: int | slice) -> "np.ndarray | None | FullSizeMaps":
        if isinstance(i, slice):
            return FullSizeMaps(self.working[i], self.size)
        m = self.working[i]
        return None if m is None else upscale_map(m, self.size)

    def __iter__(self) -> Iterator[np.ndarray | None]:
        for m in self.working:
            yield None if m is None else upscale_map(m, self.size)

    def __repr__(self) -> str:
        shapes = {tuple(m.shape) for m in self.working if m is not None}
        held = f"held at {sorted(shapes)[0][1]}×{sorted(shapes)[0][0]}" if len(shapes) == 1 else "held"
        return f"FullSizeMaps({len(self)} maps {held}, returned at {self.size[1]}×{self.size[0]})"


def full_size_maps(maps: Sequence[np.ndarray | None], size: tuple[int, int]) -> Sequence[np.ndarray | None]:
    """``maps`` as they are (the same list) when every map already has the frame's ``size``, else a
    :class:`FullSizeMaps` over them: results for frames that fit the working size are unchanged in type and bytes."""
    if isinstance(maps, FullSizeMaps):
        return maps if maps.size == tuple(size) else FullSizeMaps(maps.working, size)
    if all(m is None or m.shape == tuple(size) for m in maps):
        return maps if isinstance(maps, list) else list(maps)
    return FullSizeMaps(maps, size)


def working_maps(maps: Sequence[np.ndarray | None]) -> list[np.ndarray | None]:
    """The working-size maps behind ``maps`` (a :class:`FullSizeMaps`), or ``maps`` as a list: lets a caller gather
    several buffers without upsampling them."""
    return maps.working if isinstance(maps, FullSizeMaps) else list(maps)


def area_resize_frames(frames: torch.Tensor, size: tuple[int, int], chunk: int = 8) -> torch.Tensor:
    """uint8 frames (T,3,H,W) → uint8 (T,3,h,w) by area interpolation, ``chunk`` frames at a time.

    The same values as one ``F.interpolate(frames.float(), mode="area")`` over the whole buffer (each frame is
    resized on its own), without its float copy of every frame: 1.5 GB for 100 frames at 1280×960."""
    out = [F.interpolate(frames[s: s + chunk].float(), size=size, mode="area").round().clamp(0, 255).to(torch.uint8)
           for s in range(0, frames.shape[0], chunk)]
    return torch.cat(out)
