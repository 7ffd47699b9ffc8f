"""Conventional flow backends from OpenCV: DIS (Kroeger et al., ECCV 2016) and Farnebäck (SCIA 2003).

Both run on CPU on greyscale uint8 frames, one frame pair at a time; the buffer is moved to the CPU once and the
result is moved back to the frames' device. ``dis`` needs no weights and is the embedded default backend
(see docs/flow.md for the preset measurement behind ``preset="medium"``).
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable

import cv2
import numpy as np
import torch

from ..errors import InputError
from ._base import check_frames

__all__ = ["OpenCVFlow", "DISFlow", "FarnebackFlow", "DIS_PRESETS"]

DIS_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}


class OpenCVFlow:
    """Base of the OpenCV backends: greyscale conversion, the pair loop, an optional thread pool.

    Args:
        workers: frame pairs estimated concurrently (OpenCV releases the GIL). 1 = a plain loop. Each worker
            thread keeps its own OpenCV estimator object (they are not thread-safe).
    """

    name = "opencv"
    min_size = 8
    #: Where the backend computes: the Booster hands it frames there (never a GPU: OpenCV reads host memory).
    device = torch.device("cpu")

    def __init__(self, *, workers: int = 1) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise InputError(f"workers={workers!r}; expected an integer >= 1")
        self.workers = workers
        self._local = threading.local()

    # -- what subclasses provide -------------------------------------------------------------------
    def _make(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """Return ``f(grey0, grey1) -> (H, W, 2) float32`` (built once per thread)."""
        raise NotImplementedError

    # -- contract ----------------------------------------------------------------------------------
    def _pair_fn(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        fn = getattr(self._local, "fn", None)
        if fn is None:
            fn = self._local.fn = self._make()
        return fn

    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        frames = check_frames(frames, min_size=self.min_size, backend=self.name)
        device = frames.device
        t, _, h, w = frames.shape
        planes = frames.contiguous().cpu().numpy()  # (T, 3, H, W), no copy for a contiguous CPU tensor
        # Planar → interleaved with cv2.merge (SIMD; ~10× faster than a torch permute-copy), then OpenCV's own
        # greyscale so the result is bit-identical to calling OpenCV on H×W×3 frames.
        grey = [cv2.cvtColor(cv2.merge([f[0], f[1], f[2]]), cv2.COLOR_RGB2GRAY) for f in planes]
        out = np.empty((t - 1, 2, h, w), dtype=np.float32)

        def job(i: int) -> None:
            flow = self._pair_fn()(grey[i], grey[i + 1])  # (H, W, 2)
            # De-interleave straight into the channel-first result (cheaper than a final transposing copy).
            cv2.extractChannel(flow, 0, out[i, 0])
            cv2.extractChannel(flow, 1, out[i, 1])

        if self.workers == 1 or t == 2:
            for i in range(t - 1):
                job(i)
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, t - 1)) as pool:
                list(pool.map(job, range(t - 1)))
        return torch.from_numpy(out).to(device)

    def to(self, device: Any) -> "OpenCVFlow":
        """OpenCV runs on the CPU; results always come back on the frames' device. Returns self."""
        return self

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._args()})"

    def _args(self) -> str:
        return f"workers={self.workers}"


class DISFlow(OpenCVFlow):
    """Dense Inverse Search flow (``cv2.DISOpticalFlow``).

    Args:
        preset: ``"ultrafast"``, ``"fast"`` or ``"medium"`` (default; best accuracy per docs/flow.md measurement).
        workers: see :class:`OpenCVFlow`.
        **overrides: DIS setters applied after the preset, e.g. ``finest_scale=1``, ``patch_size=8``,
            ``variational_refinement_iterations=5`` (each maps to ``setFinestScale`` etc.).

    Example:
        >>> flow = DISFlow().estimate(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))
        >>> tuple(flow.shape)
        (1, 2, 32, 32)
    """

    name = "dis"
    # DIS refuses frames under 12 px and crashes (segfault, OpenCV 4.14) on some strips such as 15×64; 16 is safe
    min_size = 16

    def __init__(self, preset: str = "medium", *, workers: int = 1, **overrides: Any) -> None:
        super().__init__(workers=workers)
        if preset not in DIS_PRESETS:
            raise InputError(f"DIS preset {preset!r} is unknown; expected one of {sorted(DIS_PRESETS)}")
        probe = cv2.DISOpticalFlow_create(DIS_PRESETS[preset])
        for key in overrides:
            if not hasattr(probe, "set" + _camel(key)):
                raise InputError(f"DIS has no parameter {key!r} (no cv2.DISOpticalFlow.set{_camel(key)})")
        self.preset = preset
        self.overrides = dict(overrides)

    def _make(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        dis = cv2.DISOpticalFlow_create(DIS_PRESETS[self.preset])
        for key, value in self.overrides.items():
            getattr(dis, "set" + _camel(key))(value)
        return lambda a, b: dis.calc(a, b, None)

    def _args(self) -> str:
        extra = "".join(f", {k}={v!r}" for k, v in self.overrides.items())
        return f"preset={self.preset!r}{extra}, workers={self.workers}"


class FarnebackFlow(OpenCVFlow):
    """Farnebäck polynomial-expansion flow (``cv2.calcOpticalFlowFarneback``) with the customary parameters.

    Args: the OpenCV parameters (defaults 0.5, 3, 15, 3, 5, 1.2, 0 — the values of OpenCV's own samples),
        ``workers`` as in :class:`OpenCVFlow`.
    """

    name = "farneback"

    def __init__(
        self,
        *,
        pyr_scale: float = 0.5,
        levels: int = 3,
        winsize: int = 15,
        iterations: int = 3,
        poly_n: int = 5,
        poly_sigma: float = 1.2,
        flags: int = 0,
        workers: int = 1,
    ) -> None:
        super().__init__(workers=workers)
        if not 0 < pyr_scale < 1:
            raise InputError(f"pyr_scale={pyr_scale}; expected 0 < pyr_scale < 1")
        if poly_n not in (5, 7):
            raise InputError(f"poly_n={poly_n}; OpenCV supports 5 or 7")
        self.params = (float(pyr_scale), int(levels), int(winsize), int(iterations), int(poly_n),
                       float(poly_sigma), int(flags))

    def _make(self) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        params = self.params
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, *params)

    def _args(self) -> str:
        return f"params={self.params}, workers={self.workers}"


def _camel(key: str) -> str:
    return "".join(p.capitalize() for p in key.split("_"))
