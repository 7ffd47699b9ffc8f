"""Shared fixtures. The default run is CPU-only and offline; `realdata` tests need ../shared/data
(or $VSODBOOST_DATA) and skip with a reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vsodboost.datasets import find_shared_data

# Third-party plugins installed in this environment stay out of the default run (a test that needs one removes the
# variable with monkeypatch, as tests/test_plugins.py does): the registries, and so the contract tests'
# parametrisation, are the package's own wherever the suite runs. Set it yourself to test your plugins here.
os.environ.setdefault("VSODBOOST_LOAD_PLUGINS", "")


@pytest.fixture(autouse=True)
def _offline_home(tmp_path_factory, monkeypatch):
    # never touch the user's cache or the network from tests
    monkeypatch.setenv("VSODBOOST_HOME", str(tmp_path_factory.mktemp("vsodboost_home")))
    monkeypatch.setenv("VSODBOOST_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = find_shared_data()
    if root is None:
        pytest.skip("real data not found: set VSODBOOST_DATA or place the data at ../shared/data beside the checkout")
    return root


def make_clip(tmp_path: Path, seq: str = "seq", n: int = 6, h: int = 48, w: int = 64, ext: str = ".jpg",
              stems: list[str] | None = None) -> tuple[Path, list[np.ndarray]]:
    """Write a small synthetic clip (a bright square moving right over a textured background)."""
    import cv2

    rng = np.random.default_rng(0)
    bg = (rng.random((h, w, 3)) * 80).astype(np.uint8)
    folder = tmp_path / seq
    folder.mkdir(parents=True, exist_ok=True)
    frames = []
    for i in range(n):
        f = bg.copy()
        x = 4 + 2 * i
        f[h // 3: h // 3 + 12, x: x + 12] = (230, 200, 40)
        frames.append(f)
        stem = stems[i] if stems else f"{i:05d}"
        cv2.imwrite(str(folder / f"{stem}{ext}"), f[:, :, ::-1])
    return folder, frames


#: The smallest Booster settings a CLI test runs with (one fine-tuning step at 64², no flow downscale).
TINY_CONFIG = {"flow_max_side": 0, "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64}}


def write_clip_and_maps(tmp_path: Path, frames, target, seq: str = "seq", buffer_size: int = 4
                        ) -> tuple[Path, Path, list[str]]:
    """``frames`` (RGB uint8) as PNGs in ``tmp_path/frames/<seq>``, the target's float maps (by 5-digit stem) in
    ``tmp_path/maps/<seq>`` and :data:`TINY_CONFIG` in ``tmp_path/cfg.json``. Returns the frames folder, the maps
    folder and the CLI options of a tiny run on them (target, spatial model, config, buffer size, device)."""
    import json

    import cv2

    folder, maps = tmp_path / "frames" / seq, tmp_path / "maps" / seq
    folder.mkdir(parents=True)
    maps.mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:05d}.png"), f[:, :, ::-1])
        cv2.imwrite(str(maps / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps(TINY_CONFIG))
    return folder, maps, ["--target", f"precomputed:{tmp_path / 'maps'}", "--spatial", "timm_unet", "--config",
                          str(cfg), "--buffer-size", str(buffer_size), "--device", "cpu"]


@pytest.fixture
def clip_factory(tmp_path):
    def _make(**kw):
        return make_clip(tmp_path, **kw)
    return _make


def resolved_on_cpu(config):
    """``config`` as a Booster on the CPU runs it: ``finetune.autocast="auto"`` resolved for this machine (bf16
    where the CPU computes it natively), as ``Booster.config`` holds it."""
    import dataclasses

    from vsodboost.spatial.finetune import resolve_autocast

    return dataclasses.replace(config, finetune=resolve_autocast(config.finetune, "cpu"))


def truncate(path: Path, keep: float = 0.6) -> None:
    """Cut a file to ``keep`` of its bytes, as a copy killed mid-write leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


# -- stand-ins of the Booster tests (imported as `from conftest import ...`) ---------------------------------
class FlowMagnitudeMQPM:
    """Stand-in MQPM: HQ when the colour-coded flow is saturated enough; motion map = saturation."""

    provenance = {"file": "stub"}

    def __init__(self, threshold: float = 0.0) -> None:
        self.threshold = threshold
        self.calls = 0

    def predict(self, flow_images: Any) -> tuple[Any, Any]:
        self.calls += 1
        x = flow_images.float() / 255.0
        sat = x.max(1).values - x.min(1).values
        prob = (sat.mean((1, 2)) > self.threshold).float() * 0.9
        return prob, sat


_SPATIAL: Any = None


def tiny_spatial() -> Any:
    """One random-weight Lite0 U-Net for the session: the Booster never modifies it (test_booster checks)."""
    global _SPATIAL
    if _SPATIAL is None:
        import torch

        from vsodboost.models import saliency_unet

        torch.manual_seed(0)
        _SPATIAL = saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)
    return _SPATIAL


def tiny_config(**kw: Any) -> Any:
    """The smallest BoostConfig the Booster tests run (one fine-tuning step at 64², no flow downscale)."""
    from vsodboost.config import BoostConfig

    ft = {"iterations": 1, "batch_size": 2, "input_size": 64, "predict_batch": 16}
    ft.update(kw.pop("finetune", {}))
    return BoostConfig(finetune=ft, flow_max_side=0, **kw)


def tiny_booster(target: Any, *, buffer_size: int = 6, **kw: Any) -> Any:
    """A Booster of the stand-ins on the CPU: :func:`tiny_config` with ``buffer_size``-frame buffers (6: two buffers
    on :func:`clip12`'s clip) unless a ``config`` is given; other keywords go to the Booster."""
    from vsodboost.booster import Booster

    return Booster(target, flow=kw.pop("flow", "dis"), mqpm=FlowMagnitudeMQPM(), spatial=kw.pop("spatial", tiny_spatial()),
                   config=kw.pop("config", tiny_config(buffer_size=buffer_size)), device="cpu", **kw)


@pytest.fixture(scope="module")
def clip12():
    """12 synthetic frames (48×64, stacked uint8) and the imperfect target's maps, by 5-digit stem."""
    from vsodboost.testing import synthetic_clip

    frames, _, target = synthetic_clip(12, h=48, w=64, seed=1)
    return np.stack(frames), target


@pytest.fixture(scope="module")
def disk12(tmp_path_factory, clip12):
    """:func:`clip12` on disk: ``frames/seq/<stem>.png``, two identical maps roots ``maps_a/seq`` and
    ``maps_b/seq``, and ``cfg.json`` (6-frame buffers, one fine-tuning step)."""
    import json

    import cv2

    frames, target = clip12
    root = tmp_path_factory.mktemp("disk")
    for sub in ("frames/seq", "maps_a/seq", "maps_b/seq"):
        (root / sub).mkdir(parents=True)
    for i, f in enumerate(frames):
        cv2.imwrite(str(root / "frames/seq" / f"{i:05d}.png"), f[:, :, ::-1])
        for m in ("maps_a", "maps_b"):
            cv2.imwrite(str(root / m / "seq" / f"{i:05d}.png"), (target[f"{i:05d}"] * 255).astype(np.uint8))
    (root / "cfg.json").write_text(json.dumps(
        {"buffer_size": 6, "flow_max_side": 0,
         "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64, "predict_batch": 16}}))
    return root
