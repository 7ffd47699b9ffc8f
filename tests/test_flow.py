"""Flow contract, OpenCV backends, buffer_flows and colour coding (CPU, synthetic videos with known motion)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torchvision.utils

from vsodboost import InputError, plugins
from vsodboost.flow import (
    DEFAULT_FLOW,
    DISFlow,
    FarnebackFlow,
    FlowBackend,
    buffer_flows,
    create_flow,
    flow_to_color,
    list_flows,
)

from vsodboost.testing import boundary_band, epe, moving_object, translation

OPENCV = ["dis", "farneback"]
SHIFTS = [(2, 0), (0, 2), (-2, 0), (0, -2), (2, -2), (-2, 1)]


# ---------------------------------------------------------------------------------------------- registry / contract
def test_builtin_backends_registered_and_follow_protocol() -> None:
    names = list_flows()
    for name in OPENCV:
        assert name in names
        backend = create_flow(name)
        assert isinstance(backend, FlowBackend)
        assert backend.name == name
        assert backend.to("cpu") is backend
    assert DEFAULT_FLOW == "dis"
    assert plugins.registry("flow").get("dis").plugin == "vsodboost.flow._plugin"


def test_unknown_backend_lists_available() -> None:
    with pytest.raises(KeyError, match="available: .*dis"):
        create_flow("nope")


def test_factory_kwargs_reach_backend() -> None:
    b = create_flow("dis", preset="fast", workers=2)
    assert isinstance(b, DISFlow) and b.preset == "fast" and b.workers == 2
    with pytest.raises(InputError, match="preset"):
        create_flow("dis", preset="slow")
    with pytest.raises(InputError, match="no parameter"):
        DISFlow(not_a_param=3)


# ---------------------------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize("name", OPENCV)
@pytest.mark.parametrize("dx,dy", SHIFTS)
def test_translation_epe(name: str, dx: int, dy: int) -> None:
    frames, true = translation(3, 72, 96, dx, dy, seed=abs(dx) + 3 * abs(dy))
    pred = create_flow(name).estimate(frames)
    assert pred.shape == true.shape and pred.dtype == torch.float32
    assert epe(pred, true) < 0.5


@pytest.mark.parametrize("name", OPENCV)
@pytest.mark.parametrize("pan", [(0, 0), (-1, 1)], ids=["static_bg", "panning_bg"])
@pytest.mark.parametrize("dx,dy", [(2, 0), (0, -2), (-2, 2)])
def test_moving_object_epe(name: str, pan: tuple[int, int], dx: int, dy: int) -> None:
    frames, true, masks = moving_object(3, 80, 112, dx, dy, pan=pan)
    pred = create_flow(name).estimate(frames)
    assert epe(pred, true, exclude=boundary_band(masks)) < 0.5
    # The object itself (its interior) moves by (dx, dy): sign and axis.
    inner = masks & ~boundary_band(masks)
    obj = pred.permute(1, 0, 2, 3)[:, inner].median(dim=1).values
    assert torch.allclose(obj, torch.tensor([float(dx), float(dy)]), atol=0.5)


@pytest.mark.parametrize("name", OPENCV)
def test_axis_and_sign_convention(name: str) -> None:
    # Content moving right and down by 2 px gives channel 0 = +2 (x) and channel 1 = +2 (y); reversed gives -2.
    frames, _ = translation(2, 64, 64, 2, 0)
    f = create_flow(name).estimate(frames)[0, :, 8:-8, 8:-8].median(dim=-1).values.median(dim=-1).values
    assert f[0] == pytest.approx(2, abs=0.3) and f[1] == pytest.approx(0, abs=0.3)
    frames, _ = translation(2, 64, 64, 0, 2)
    f = create_flow(name).estimate(frames.flip(0))[0, :, 8:-8, 8:-8].median(dim=-1).values.median(dim=-1).values
    assert f[0] == pytest.approx(0, abs=0.3) and f[1] == pytest.approx(-2, abs=0.3)


@pytest.mark.parametrize("workers", [1, 3])
def test_workers_give_same_result(workers: int) -> None:
    frames, _ = translation(5, 48, 64, 1, 2)
    ref = DISFlow(workers=1).estimate(frames)
    assert torch.equal(DISFlow(workers=workers).estimate(frames), ref)
    ref = FarnebackFlow().estimate(frames)
    assert torch.equal(FarnebackFlow(workers=workers).estimate(frames), ref)


def test_accepts_sequence_of_hwc_arrays() -> None:
    frames, _ = translation(3, 48, 64, 2, 0)
    as_list = [f.permute(1, 2, 0).numpy() for f in frames]
    assert torch.equal(create_flow("dis").estimate(as_list), create_flow("dis").estimate(frames))
    as_array = frames.permute(0, 2, 3, 1).numpy()  # (T, H, W, 3), as stacked video frames
    assert torch.equal(create_flow("dis").estimate(as_array), create_flow("dis").estimate(frames))


# ---------------------------------------------------------------------------------------------- buffer_flows
def test_buffer_flows_backward_last_frame() -> None:
    frames, true = translation(4, 64, 80, 2, -1)
    backend = create_flow("dis")
    flows = buffer_flows(backend, frames)
    assert flows.shape == (4, 2, 64, 80)
    assert torch.equal(flows[:3], backend.estimate(frames))
    # Negated backward flow of the last frame ≈ the constant forward motion (+2, -1).
    assert epe(flows[3:], true[:1]) < 0.5


def test_buffer_flows_repeat_and_bad_mode() -> None:
    frames, _ = translation(3, 48, 64, 2, 0)
    flows = buffer_flows(create_flow("farneback"), frames, last="repeat")
    assert flows.shape == (3, 2, 48, 64) and torch.equal(flows[2], flows[1])
    with pytest.raises(InputError, match="last="):
        buffer_flows(create_flow("dis"), frames, last="zero")  # type: ignore[arg-type]


def test_buffer_flows_two_frames_backward() -> None:
    frames, _ = translation(2, 48, 64, 0, 2)
    flows = buffer_flows(create_flow("dis"), frames)
    assert flows.shape == (2, 2, 48, 64)
    assert float(flows[1, 1, 8:-8, 8:-8].median()) == pytest.approx(2, abs=0.3)


def test_buffer_flows_rejects_contract_breaking_backend() -> None:
    class Broken:
        name = "broken"

        def estimate(self, frames: torch.Tensor) -> torch.Tensor:
            return torch.zeros(frames.shape[0], 2, 4, 4)

        def to(self, device: object) -> "Broken":
            return self

    with pytest.raises(Exception, match="FlowBackend contract"):
        buffer_flows(Broken(), torch.zeros(3, 3, 8, 8, dtype=torch.uint8))


# ---------------------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("name", OPENCV)
def test_bad_inputs(name: str) -> None:
    b = create_flow(name)
    with pytest.raises(InputError, match="T >= 2"):
        b.estimate(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))
    with pytest.raises(InputError, match="T >= 2"):
        b.estimate(torch.zeros(3, 32, 32, dtype=torch.uint8))  # a single frame without a time axis
    with pytest.raises(InputError, match="1 channels.*grey"):
        b.estimate(torch.zeros(2, 1, 32, 32, dtype=torch.uint8))
    with pytest.raises(InputError, match="4 channels.*RGBA"):
        b.estimate(torch.zeros(2, 4, 32, 32, dtype=torch.uint8))
    with pytest.raises(InputError, match="dtype torch.float32"):
        b.estimate(torch.zeros(2, 3, 32, 32))
    with pytest.raises(InputError, match="different sizes"):
        b.estimate([torch.zeros(3, 32, 32, dtype=torch.uint8), torch.zeros(3, 32, 40, dtype=torch.uint8)])
    with pytest.raises(InputError, match=r"\(H, W, 3\)"):
        b.estimate([np.zeros((32, 32), np.uint8), np.zeros((32, 32), np.uint8)])
    with pytest.raises(InputError, match="at least"):
        b.estimate(torch.zeros(2, 3, 4, 4, dtype=torch.uint8))
    with pytest.raises(InputError, match="expected a uint8 tensor"):
        b.estimate("frames")


# ---------------------------------------------------------------------------------------------- colour coding
def test_flow_to_color_batch_equals_torchvision() -> None:
    g = torch.Generator().manual_seed(0)
    flow = torch.randn(4, 2, 33, 47, generator=g) * torch.tensor([1.0, 3.0, 0.2, 8.0])[:, None, None, None]
    assert torch.equal(flow_to_color(flow, normalize="batch"), torchvision.utils.flow_to_image(flow))


def test_flow_to_color_frame_normalisation_is_per_frame() -> None:
    g = torch.Generator().manual_seed(1)
    flow = torch.randn(3, 2, 20, 24, generator=g)
    flow[1] *= 10  # a much larger motion must not wash out the other frames
    img = flow_to_color(flow)
    for i in range(3):
        assert torch.equal(img[i], torchvision.utils.flow_to_image(flow[i]))
    # Scaling one frame leaves its per-frame colours unchanged.
    scaled = flow.clone()
    scaled[0] *= 7
    assert torch.equal(flow_to_color(scaled)[0], img[0])
    assert not torch.equal(flow_to_color(flow, "batch")[0], img[0])


def test_flow_to_color_wheel_directions() -> None:
    # Middlebury: rightward motion is red-ish, leftward cyan-ish (its opposite), zero motion white.
    flow = torch.zeros(3, 2, 1, 1)
    flow[0, 0] = 1.0
    flow[1, 0] = -1.0
    img = flow_to_color(flow)[:, :, 0, 0].int()
    r, c, z = img[0], img[1], img[2]
    assert r[0] == 255 and r[2] < 50          # red channel full, no blue
    assert c[0] < 50 and c[1] > 200 and c[2] > 200  # cyan
    assert z.tolist() == [255, 255, 255]


def test_flow_to_color_bad_input() -> None:
    with pytest.raises(InputError, match=r"\(B, 2, H, W\)"):
        flow_to_color(torch.zeros(2, 8, 8))
    with pytest.raises(InputError, match="floating"):
        flow_to_color(torch.zeros(1, 2, 8, 8, dtype=torch.int32))
    with pytest.raises(InputError, match="normalize"):
        flow_to_color(torch.zeros(1, 2, 8, 8), normalize="video")  # type: ignore[arg-type]


def test_the_booster_hands_a_backend_its_frames_on_the_device_it_declares(monkeypatch):
    """A backend with ``device`` (the OpenCV ones: the CPU) gets its frames there, not on the Booster's device:
    on a GPU Booster, DIS is never sent frames on the GPU only to pull them back."""
    import vsodboost.booster as booster_mod
    from conftest import tiny_booster
    from vsodboost.flow.opencv import DISFlow

    assert DISFlow().device == torch.device("cpu")
    seen = []

    def fake_buffer_flows(backend, frames, *, last):
        seen.append(frames.device)
        return torch.zeros(frames.shape[0], 2, *frames.shape[-2:])

    monkeypatch.setattr(booster_mod, "buffer_flows", fake_buffer_flows)
    b = tiny_booster(None)
    b.flow.device = torch.device("meta")  # an instance attribute: where this backend says it computes
    b.motion(torch.zeros(3, 3, 32, 32, dtype=torch.uint8))
    del b.flow.device
    b.motion(torch.zeros(3, 3, 32, 32, dtype=torch.uint8))
    assert seen == [torch.device("meta"), torch.device("cpu")]
