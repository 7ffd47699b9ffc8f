"""The contract between vsodboost and a target VSOD model.

A target is anything with a ``name`` and a ``predict(video)`` method:

- **receives** a :class:`~vsodboost.video.Video`: the frames of one clip (uint8 RGB H×W×3, all the same size), in
  order, with ``video.names`` (frame stems) and ``video.name`` (the sequence name). The Booster calls ``predict``
  once per buffer of ≤ ``buffer_size`` frames; a buffer is a slice of the same video, names preserved. Frames
  longer than ``BoostConfig.work_max_side`` (1280 px) arrive downscaled to that working size
  (:mod:`vsodboost.workres`); ``video.full_size`` is then their own (H, W).
- **returns** a sequence with exactly one entry per frame, in the same order: a float map H×W (the size of the
  frames it received, or their full size: such maps are checked, then downscaled) with
  values in [0, 1] (``np.ndarray`` or ``torch.Tensor``; H×W×1 is accepted), **or ``None``** when the target has no
  map for that frame (e.g. published maps that cover annotated frames only). A stacked array or tensor
  (T,H,W) or (T,1,H,W) is accepted as one map per frame. Frames without a map are never mined
  as training frames, but they still receive boosted maps.

:func:`check_target_output` enforces this contract and names the adapter in its errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from .errors import NoMatchingMapsError, TargetError, VsodboostError
from .video import Video
from .workres import downscale_map

__all__ = ["TargetModel", "TargetMaps", "TargetStack", "check_target_output", "predict_buffer", "explain_no_match",
           "check_target_coverage", "DEFAULT_TARGET", "RoundTarget"]

#: The target when none is given (``Booster()``, ``vsodboost boost`` without ``--target``): the shipped image
#: salient-object model U²-Net-p, live, frame by frame; boosting its maps makes it a video model.
DEFAULT_TARGET = "u2netp"

TargetMaps = list["np.ndarray | None"]


@dataclass(frozen=True)
class TargetStack:
    """A buffer's target maps in the one form the Booster's steps share (``Booster.run_buffer``): ``maps`` float32
    (T,H,W), zeros where the target gave no map, and ``has`` bool (T,), whether it gave one. Made once from the
    checked maps (:meth:`of`), turned back into one map (or None) per frame once, for the output (:meth:`to_list`)."""

    maps: torch.Tensor
    has: np.ndarray

    @classmethod
    def of(cls, maps: Sequence[np.ndarray | None], size: tuple[int, int] | None = None) -> TargetStack:
        """Stack checked maps (:func:`check_target_output`: float32 H×W or None); ``size`` (H, W) is needed only
        when every entry is None (default: the first map's)."""
        given = [m for m in maps if m is not None]
        hw = tuple(given[0].shape) if given else tuple(size or (1, 1))
        out = torch.zeros((len(maps), *hw), dtype=torch.float32)
        for i, m in enumerate(maps):
            if m is not None:
                out[i] = torch.from_numpy(np.asarray(m, dtype=np.float32))
        return cls(out, np.array([m is not None for m in maps], dtype=bool))

    def to_list(self) -> TargetMaps:
        """One map per frame (views of :attr:`maps`), None where the target gave none."""
        return [self.maps[i].numpy() if h else None for i, h in enumerate(self.has)]


@runtime_checkable
class TargetModel(Protocol):
    """A VSOD model whose maps vsodboost improves (see the module docstring for the full contract)."""

    name: str

    def predict(self, video: Video) -> Sequence[np.ndarray | None]:
        """One saliency map per frame (float H×W in [0, 1]) or ``None`` for frames without a map."""
        ...


def check_target_output(out: Any, video: Video, target: Any, *,
                        full_size: tuple[int, int] | None = None) -> TargetMaps:
    """Validate ``target.predict(video)``'s output and return float32 maps (or None), ``video``'s size each.

    ``full_size``: when ``video`` is a working-size clip (:mod:`vsodboost.workres`), maps at the frames' full size
    (H, W) are accepted too: checked like the others, then downscaled to ``video``'s size, one map at a time."""
    size = (video.height, video.width)
    full = tuple(full_size) if full_size is not None and tuple(full_size) != size else None
    who = f"target {getattr(target, 'name', type(target).__name__)!r} ({type(target).__name__})"
    if isinstance(out, (np.ndarray, torch.Tensor)) and getattr(out, "ndim", 0) in (3, 4):
        out = list(out)  # a stacked (T,H,W) or (T,1,H,W) array is fine too (each entry is checked below)
    if not isinstance(out, Sequence) or isinstance(out, (str, bytes)):
        raise TargetError(f"{who}.predict returned {type(out).__name__}; expected a list with one map (or None) "
                          "per frame")
    if len(out) != len(video):
        raise TargetError(f"{who}.predict returned {len(out)} maps for {len(video)} frames; expected one per frame "
                          "(None for a frame without a map)")
    maps: TargetMaps = []
    for i, m in enumerate(out):
        if m is None:
            maps.append(None)
            continue
        where = f"{who}: map for frame {i} ({video.names[i]!r})"
        if isinstance(m, torch.Tensor):
            m = m.detach().float().cpu().numpy()
        if not isinstance(m, np.ndarray):
            raise TargetError(f"{where} is a {type(m).__name__}; expected a float array H×W")
        if m.ndim == 3 and m.shape[-1] == 1:
            m = m[..., 0]
        if m.ndim == 3 and m.shape[0] == 1:
            m = m[0]
        if m.shape != size and m.shape != full:
            also = f" or the frames' full size {full} (they are processed at work_max_side)" if full else ""
            raise TargetError(f"{where} has shape {m.shape}; expected the frame size {size}{also}")
        if not np.issubdtype(m.dtype, np.floating):
            raise TargetError(f"{where} has dtype {m.dtype}; expected float in [0, 1] (divide uint8 maps by 255)")
        if not np.isfinite(m).all():
            raise TargetError(f"{where} contains NaN or infinite values")
        lo, hi = float(m.min()), float(m.max())
        if lo < 0.0 or hi > 1.0:
            raise TargetError(f"{where} has values in [{lo:.4g}, {hi:.4g}]; expected [0, 1] (apply a sigmoid?)")
        m = m.astype(np.float32, copy=False)
        maps.append(downscale_map(m, size) if m.shape == full else m)
    return maps


def predict_buffer(target: Any, clip: Video, start: int, *, full_size: tuple[int, int] | None = None) -> TargetMaps:
    """The target's checked maps of ``clip``, the buffer of frames ``start:start + len(clip)`` of a sequence; an
    exception inside the target names the buffer, the sequence and its first and last frame (docs/reliability.md,
    "Targets"). ``full_size``: the frames' own (H, W) when ``clip`` is at the working size (maps at that size are
    accepted, then downscaled: :func:`check_target_output`)."""
    where = (f"buffer {start}:{start + len(clip)} of {clip.name!r} "
             f"(frames {clip.names[0]!r}…{clip.names[-1]!r})")
    try:
        out = target.predict(clip)
    except VsodboostError as exc:  # already typed and explained: keep its type, add where it happened
        exc.add_note(f"while target {target.name!r} predicted {where}")
        raise
    except (MemoryError, RecursionError):
        raise
    except Exception as exc:
        raise TargetError(
            f"target {target.name!r} ({type(target).__name__}) raised {type(exc).__name__}: {exc} — "
            f"while predicting {where}; fix the target (the traceback above this error shows where it failed)"
        ) from exc
    return check_target_output(out, clip, target, full_size=full_size)


def explain_no_match(target: Any, video: Video) -> str:
    """Why no map matched: the target's own explanation (``explain_no_match(video)``: counts and example names of
    frames and maps) when it has one, else what to check."""
    explain = getattr(target, "explain_no_match", None)
    if callable(explain):
        try:
            text = explain(video)
        except VsodboostError as exc:
            text = str(exc)
        if text:
            return str(text)
    return (f"For a maps-mode target, check that its folder holds this sequence ({video.name!r}) with file stems "
            f"matching the frames (e.g. {video.names[0]!r})")


def check_target_coverage(target: Any, video: Video) -> None:
    """Before any compute: a target that reports ``coverage(video)`` (maps-mode adapters) but has no map for any
    frame raises :class:`NoMatchingMapsError`, saying how frames and maps are named."""
    coverage = getattr(target, "coverage", None)
    cov = coverage(video) if callable(coverage) else None
    if cov is not None and not any(cov):
        raise NoMatchingMapsError(f"target {target.name!r} has no map for any of the {len(video)} frames of "
                                  f"{video.name!r}: " + explain_no_match(target, video))


class RoundTarget:
    """The maps of boosting round ``k`` as the target of round ``k + 1`` (iterated boosting, ``rounds=``).

    The maps are read back exactly as they were written (8-bit PNG values, then min-max normalised per frame as a
    maps-mode target reads published maps), from memory (:meth:`of_maps`, ``Booster.run(rounds=)``) or from the
    folder a resumable run wrote (:meth:`of_folder`, ``run_to_dir(rounds=)``), so both give the same next round.
    Its identity is the sha256 of those PNG bytes: a resumed round ``k + 1`` is redone when round ``k`` changed.
    """

    def __init__(self, k: int, maps: dict[str, Any], digest: str) -> None:
        self.name = f"round {k}"
        self.round = k
        self._maps = maps  # frame name → uint8 map, or → PNG path (read when asked)
        self.digest = digest

    @staticmethod
    def _digest(shas: dict[str, str]) -> str:
        import hashlib

        return hashlib.sha256("".join(f"{n}\0{shas[n]}\n" for n in sorted(shas)).encode()).hexdigest()

    @classmethod
    def of_maps(cls, k: int, names: Sequence[str], maps: Sequence[np.ndarray]) -> "RoundTarget":
        """Round ``k``'s maps (float [0, 1], frame size) held in memory as the 8-bit maps a writer would save."""
        import cv2

        from .io import encode_map, sha256_bytes

        held: dict[str, Any] = {}
        shas: dict[str, str] = {}
        for n, m in zip(names, maps):
            data = encode_map(np.asarray(m))
            held[n] = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)  # as a reader sees it
            shas[n] = sha256_bytes(data)
        return cls(k, held, cls._digest(shas))

    @classmethod
    def of_folder(cls, k: int, folder: Any, shas: dict[str, str]) -> "RoundTarget":
        """Round ``k``'s maps ``<folder>/<name>.png`` with the sha256 of each file's bytes (the run's record)."""
        from pathlib import Path

        return cls(k, {n: Path(folder) / f"{n}.png" for n in shas}, cls._digest(shas))

    def predict(self, video: Video) -> list[np.ndarray | None]:
        from .io import map_to_unit, read_map

        out: list[np.ndarray | None] = []
        for n in video.names:
            m = self._maps.get(n)
            if m is not None and not isinstance(m, np.ndarray):
                m = read_map(m)[0]
            out.append(None if m is None else map_to_unit(m, video.size))
        return out

    def identity(self) -> dict[str, Any]:
        return {"type": "round", "round": self.round, "maps_sha256": self.digest}

    def __repr__(self) -> str:
        return f"RoundTarget(round={self.round}, frames={len(self._maps)}, maps_sha256={self.digest[:12]!r})"

