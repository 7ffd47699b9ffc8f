"""Third-party flow backends through the register_flows hook, with the ptlflow example plugin and a stand-in
ptlflow module (ptlflow itself is not installed in CI)."""

from __future__ import annotations

import importlib.util
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from vsodboost import MissingWeightsError, hookimpl, plugins
from vsodboost.flow import FlowBackend, buffer_flows, create_flow, list_flows

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "ptlflow_plugin" / "vsodboost_ptlflow.py"


def _load_example() -> types.ModuleType:
    spec = importlib.util.spec_from_file_location("vsodboost_ptlflow", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def fake_ptlflow(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """A stand-in for ptlflow: get_model, IOAdapter (list of BGR H×W×3 arrays → (1, 2, 3, H, W)), a model that
    returns a constant flow (u=1.5, v=-2) and records what it saw."""
    seen: dict[str, Any] = {"adapter_inputs": []}

    class Model(torch.nn.Module):
        output_stride = 8

        def forward(self, inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            b, _, _, h, w = inputs["images"].shape
            flows = torch.empty(b, 1, 2, h, w)
            flows[:, :, 0], flows[:, :, 1] = 1.5, -2.0
            return {"flows": flows}

    class IOAdapter:
        def __init__(self, model: Any, size: tuple[int, int]) -> None:
            self.size = size

        def prepare_inputs(self, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
            seen["adapter_inputs"].append(images)
            x = torch.stack([torch.from_numpy(np.ascontiguousarray(i)).permute(2, 0, 1) for i in images]).float()
            return {"images": (x / 255.0)[None]}

        def unpad_and_unscale(self, preds: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
            return preds

    def get_model(name: str, ckpt_path: str | None = None) -> Model:
        if ckpt_path == "missing":
            raise RuntimeError("checkpoint download failed")
        seen["model"] = (name, ckpt_path)
        return Model()

    ptl = types.ModuleType("ptlflow")
    ptl.get_model = get_model  # type: ignore[attr-defined]
    utils = types.ModuleType("ptlflow.utils")
    io = types.ModuleType("ptlflow.utils.io_adapter")
    io.IOAdapter = IOAdapter  # type: ignore[attr-defined]
    for name, mod in [("ptlflow", ptl), ("ptlflow.utils", utils), ("ptlflow.utils.io_adapter", io)]:
        monkeypatch.setitem(sys.modules, name, mod)
    return seen


@pytest.fixture
def example_plugin() -> Any:
    module = _load_example()
    plugins.register_plugin(module, name="vsodboost_ptlflow")
    try:
        yield module
    finally:
        plugins.unregister_plugin("vsodboost_ptlflow")


def test_example_registers_through_hook(example_plugin: Any, fake_ptlflow: dict[str, Any]) -> None:
    assert "ptlflow" in list_flows()
    assert plugins.registry("flow").get("ptlflow").plugin == "vsodboost_ptlflow"
    backend = create_flow("ptlflow", model="gma", ckpt="sintel")
    assert isinstance(backend, FlowBackend) and backend.to("cpu") is backend
    assert fake_ptlflow["model"] == ("gma", "sintel")
    frames = torch.zeros(3, 3, 40, 48, dtype=torch.uint8)
    frames[:, 0] = 255  # pure red RGB
    flows = buffer_flows(backend, frames)
    assert flows.shape == (3, 2, 40, 48) and flows.dtype == torch.float32
    assert torch.all(flows[:2, 0] == 1.5) and torch.all(flows[:2, 1] == -2.0)
    assert torch.all(flows[2, 0] == -1.5)  # backward flow of the last frame, negated
    first = fake_ptlflow["adapter_inputs"][0][0]
    assert first.shape == (40, 48, 3) and first[0, 0].tolist() == [0, 0, 255]  # BGR for ptlflow


def test_example_wraps_checkpoint_failure(example_plugin: Any, fake_ptlflow: dict[str, Any]) -> None:
    with pytest.raises(MissingWeightsError, match="checkpoint download failed"):
        create_flow("ptlflow", ckpt="missing")


def test_registry_unchanged_after_unregister(fake_ptlflow: dict[str, Any]) -> None:
    module = _load_example()
    plugins.register_plugin(module, name="vsodboost_ptlflow")
    plugins.unregister_plugin("vsodboost_ptlflow")
    assert "ptlflow" not in list_flows() and "dis" in list_flows()


def test_third_party_cannot_take_builtin_name() -> None:
    class Plugin:
        @hookimpl
        def register_flows(self, register: Any) -> None:
            register("dis", lambda **kw: None)

    plugins.register_plugin(Plugin(), name="evil")
    try:
        with pytest.warns(plugins.PluginLoadWarning, match="already registered"):
            names = list_flows()
        assert "dis" in names and plugins.registry("flow").get("dis").plugin == "vsodboost.flow._plugin"
    finally:
        plugins.unregister_plugin("evil")
