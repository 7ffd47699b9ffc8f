"""The flow-backend contract, input checks and the whole-buffer helper.

A backend turns a buffer of T uint8 RGB frames into the T−1 forward flows between consecutive frames, in pixels
at frame resolution. The Booster also needs one flow per frame, including the last: :func:`buffer_flows` adds it.
"""

from __future__ import annotations

from typing import Any, Callable, Literal, Protocol, Sequence, runtime_checkable

import numpy as np
import torch

from ..errors import InputError, PluginError

__all__ = ["FlowBackend", "as_frames", "check_frames", "buffer_flows", "LAST_FRAME_MODES"]


@runtime_checkable
class FlowBackend(Protocol):
    """What every optical-flow backend provides.

    Attributes:
        name: the registry name (``"dis"``, ``"spynet"``...).

    ``estimate(frames)`` takes uint8 RGB frames ``(T, 3, H, W)``, T ≥ 2, on any device, and returns float32
    ``(T-1, 2, H, W)`` forward flows in pixels on the same device: ``flow[i]`` maps frame ``i`` to frame ``i+1``,
    channel 0 is the horizontal displacement (positive = right), channel 1 the vertical one (positive = down),
    so that pixel ``(x, y)`` of frame ``i`` is found at ``(x + u, y + v)`` in frame ``i+1``.
    ``to(device)`` moves the backend's computation (a no-op for CPU-only backends) and returns the backend.
    Optional ``device``: where a backend always computes (the OpenCV backends: the CPU); the Booster then hands it
    frames there instead of on its own device, so frames on a GPU are never sent there to be pulled back.
    """

    name: str

    def estimate(self, frames: torch.Tensor) -> torch.Tensor: ...

    def to(self, device: Any) -> "FlowBackend": ...


def as_frames(frames: Any, *, what: str = "frames") -> torch.Tensor:
    """Turn ``frames`` into a uint8 ``(T, 3, H, W)`` tensor, or raise :class:`InputError` saying what is wrong.

    Accepts a tensor ``(T, 3, H, W)`` or a sequence of frames, each a ``(3, H, W)`` tensor or an ``(H, W, 3)``
    numpy array (the layout of :class:`vsodboost.video.Video` frames). The tensor keeps its device.
    """
    if isinstance(frames, np.ndarray):
        if frames.ndim == 4 and frames.shape[-1] == 3 and frames.shape[1] != 3:
            frames = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)
        else:
            frames = torch.from_numpy(np.ascontiguousarray(frames))
    elif isinstance(frames, Sequence) and not isinstance(frames, (str, bytes)):
        items = []
        for i, f in enumerate(frames):
            if isinstance(f, np.ndarray):
                if f.ndim != 3 or f.shape[-1] != 3:
                    raise InputError(
                        f"{what}[{i}] is a numpy array of shape {f.shape}; expected an RGB frame (H, W, 3). "
                        "Convert grey or RGBA frames to RGB first (e.g. cv2.cvtColor)."
                    )
                f = torch.from_numpy(np.ascontiguousarray(f)).permute(2, 0, 1)
            if not isinstance(f, torch.Tensor):
                raise InputError(f"{what}[{i}] is a {type(f).__name__}; expected a torch tensor or numpy array")
            items.append(f)
        if not items:
            raise InputError(f"{what} is empty; expected at least 2 frames")
        shapes = {tuple(f.shape) for f in items}
        if len(shapes) > 1:
            raise InputError(
                f"{what} have different sizes {sorted(shapes)}; all frames of a buffer must share one size "
                "(resize them to a common H×W first)"
            )
        frames = torch.stack(items)
    if not isinstance(frames, torch.Tensor):
        raise InputError(f"{what} is a {type(frames).__name__}; expected a uint8 tensor (T, 3, H, W)")
    return frames


def check_frames(frames: Any, *, min_size: int = 1, backend: str = "flow", what: str = "frames") -> torch.Tensor:
    """Validate a buffer for :meth:`FlowBackend.estimate` and return it as a uint8 ``(T, 3, H, W)`` tensor.

    Args:
        frames: see :func:`as_frames`.
        min_size: the smallest H and W the backend can handle (deep backends need several pyramid levels).
        backend: name used in error messages.
    """
    frames = as_frames(frames, what=what)
    if frames.ndim != 4:
        raise InputError(
            f"{backend}: {what} has shape {tuple(frames.shape)}; expected (T, 3, H, W) with T >= 2 "
            "(a single frame has no motion: pass at least two consecutive frames)"
        )
    if frames.shape[1] != 3:
        hint = " (grey: repeat the channel 3 times; RGBA: drop alpha)" if frames.shape[1] in (1, 4) else ""
        raise InputError(
            f"{backend}: {what} has {frames.shape[1]} channels (shape {tuple(frames.shape)}); expected RGB "
            f"(T, 3, H, W){hint}"
        )
    if frames.dtype != torch.uint8:
        raise InputError(
            f"{backend}: {what} has dtype {frames.dtype}; expected uint8 RGB 0–255 "
            "(for floats in [0, 1] use (x * 255).round().to(torch.uint8))"
        )
    if frames.shape[0] < 2:
        raise InputError(
            f"{backend}: got {frames.shape[0]} frame(s); optical flow needs T >= 2 consecutive frames"
        )
    h, w = frames.shape[-2:]
    if h < min_size or w < min_size:
        raise InputError(
            f"{backend}: frames are {h}×{w} (H×W); this backend needs at least {min_size}×{min_size} "
            "(upsample the frames or use the 'dis' backend)"
        )
    return frames


LAST_FRAME_MODES = ("backward", "repeat")


def module_device(module: torch.nn.Module) -> torch.device:
    """Where a network backend runs: the device of its first parameter."""
    return next(module.parameters()).device


def flow_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(h, w) at which flow is computed for frames of ``height``×``width``: the longest side scaled down to
    ``max_side`` (``BoostConfig.flow_max_side``; 0 keeps full resolution), never below 16 px."""
    if max_side and max(height, width) > max_side:
        s = max_side / max(height, width)
        return max(16, int(round(height * s))), max(16, int(round(width * s)))
    return height, width


def check_flow_size(backend: Any, height: int, width: int, max_side: int, *, video: str = "video",
                    frame_size: tuple[int, int] | None = None) -> None:
    """Refuse, before any compute, frames of ``height``×``width`` (the size the pipeline holds them at) smaller than
    ``backend.min_size`` once scaled by :func:`flow_size`; ``frame_size`` (H, W), the frames' own, is what the
    error shows."""
    h, w = flow_size(height, width, max_side)
    need = int(getattr(backend, "min_size", 1) or 1)
    if h < need or w < need:
        fh, fw = frame_size or (height, width)
        raise InputError(f"frames of {video!r} are {fw}×{fh} (W×H); flow backend "
                         f"{getattr(backend, 'name', type(backend).__name__)!r} needs at least {need}×{need} px. "
                         "Upscale the frames or choose another flow backend")


def buffer_flows(
    backend: FlowBackend,
    frames: Any,
    *,
    last: Literal["backward", "repeat"] = "backward",
) -> torch.Tensor:
    """One flow per frame of the buffer: ``(T, 2, H, W)`` float32, on the frames' device.

    ``flow[i]`` for ``i < T-1`` is the forward flow frame ``i`` → ``i+1`` from ``backend.estimate``. The last frame
    has no successor; its flow is chosen by ``last``:

    - ``"backward"`` (default): the negated backward flow, ``-flow(T-1 → T-2)``. Under constant velocity this is
      the forward motion of the last frame *on the last frame's own pixel grid*, so the moving object in its
      colour-coded flow image lines up with the object in frame T-1 and keeps the colours (directions) of its
      predecessors. It costs one extra frame pair, estimated in the same batched call.
    - ``"repeat"``: a copy of ``flow[T-2]`` (free, but aligned with frame T-2, so a fast object is displaced).

    Args:
        backend: any :class:`FlowBackend`.
        frames: uint8 RGB ``(T, 3, H, W)``, T >= 2 (see :func:`as_frames` for other accepted forms).
        last: ``"backward"`` or ``"repeat"``.

    Example:
        >>> from vsodboost.flow import create_flow, buffer_flows
        >>> flows = buffer_flows(create_flow("dis"), torch.zeros(3, 3, 32, 32, dtype=torch.uint8))
        >>> tuple(flows.shape)
        (3, 2, 32, 32)
    """
    if last not in LAST_FRAME_MODES:
        raise InputError(f"last={last!r} is not a last-frame mode; expected one of {LAST_FRAME_MODES}")
    name = getattr(backend, "name", type(backend).__name__)
    frames = check_frames(frames, backend=str(name))

    def estimate(x: torch.Tensor) -> torch.Tensor:
        flows = backend.estimate(x)
        _check_output(flows, x, name)
        return flows

    if last == "repeat":
        flows = estimate(frames)
        return torch.cat([flows, flows[-1:]], dim=0)
    return flows_with_backward_last(estimate, frames)


def flows_with_backward_last(estimate: Callable[[torch.Tensor], torch.Tensor], frames: torch.Tensor) -> torch.Tensor:
    """T flows for T ≥ 2 frames: forward flow i → i+1, and for the last frame the negated backward flow
    ``-flow(T-1 → T-2)`` (see :func:`buffer_flows`, ``last="backward"``). Frame T-2 is appended after frame T-1, so
    one batched ``estimate`` call (T frames → T-1 flows) also yields flow(T-1 → T-2)."""
    t = frames.shape[0]
    flows = estimate(torch.cat([frames, frames[t - 2 : t - 1]], dim=0)).clone()
    flows[-1].neg_()
    return flows


def _check_output(flows: Any, frames: torch.Tensor, name: Any) -> None:
    t, _, h, w = frames.shape
    if not isinstance(flows, torch.Tensor) or tuple(flows.shape) != (t - 1, 2, h, w):
        got = tuple(flows.shape) if isinstance(flows, torch.Tensor) else type(flows).__name__
        raise PluginError(
            f"flow backend {name!r} returned {got} for {t} frames of {h}×{w}; the FlowBackend contract requires "
            f"({t - 1}, 2, {h}, {w}) float32"
        )
