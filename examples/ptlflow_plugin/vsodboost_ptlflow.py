"""An optional vsodboost plugin that exposes ptlflow's model zoo (github.com/hmorimitsu/ptlflow) as a flow backend.

Not a dependency of vsodboost: install ptlflow and this plugin yourself (see README.md). Once installed, the
backend is ``create_flow("ptlflow", model="raft", ckpt="things")``.
"""

from __future__ import annotations

from typing import Any, Callable

import torch

from vsodboost import MissingWeightsError, hookimpl
from vsodboost.flow import check_frames


class PtlflowBackend:
    """Wrap one ptlflow model behind the vsodboost FlowBackend contract.

    ptlflow models take ``{"images": (B, 2, 3, H, W)}`` float BGR in [0, 1] (the layout its ``IOAdapter``
    produces from ``cv2.imread`` frames) and return ``{"flows": (B, 1, 2, H, W)}`` in pixels. The IOAdapter pads
    to the model's output stride and ``unpad_and_unscale`` undoes it.
    """

    def __init__(self, model: str = "raft", ckpt: str = "things", *, device: Any = "cpu", batch_size: int = 4):
        try:
            import ptlflow
        except ImportError as exc:
            raise ImportError("the 'ptlflow' backend needs ptlflow: pip install ptlflow") from exc
        try:
            self.model = ptlflow.get_model(model, ckpt_path=ckpt)
        except Exception as exc:  # ptlflow downloads checkpoints on first use
            raise MissingWeightsError(f"ptlflow could not load {model!r} with checkpoint {ckpt!r}: {exc}") from exc
        self.name = "ptlflow"
        self.model_name, self.ckpt = model, ckpt
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.model.to(self.device).eval()

    def to(self, device: Any) -> "PtlflowBackend":
        self.device = torch.device(device)
        self.model.to(self.device)
        return self

    @torch.no_grad()
    def estimate(self, frames: torch.Tensor) -> torch.Tensor:
        from ptlflow.utils.io_adapter import IOAdapter

        frames = check_frames(frames, min_size=32, backend=self.name)
        t, _, h, w = frames.shape
        adapter = IOAdapter(self.model, (h, w))
        # ptlflow's IOAdapter takes a list of H×W×3 BGR uint8 arrays (as read by OpenCV).
        bgr = [f.flip(0).permute(1, 2, 0).cpu().numpy() for f in frames]
        out = []
        for i in range(t - 1):
            inputs = adapter.prepare_inputs([bgr[i], bgr[i + 1]])
            inputs = {k: v.to(self.device) for k, v in inputs.items()}
            preds = adapter.unpad_and_unscale(self.model(inputs))
            out.append(preds["flows"][:, 0].float())
        return torch.cat(out).to(frames.device)


@hookimpl
def register_flows(register: Callable[..., None]) -> None:
    register("ptlflow", PtlflowBackend, description="any model of ptlflow's zoo (optional plugin)",
             needs_weights=True)
