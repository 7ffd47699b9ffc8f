"""Test helpers for vsodboost and its plugins: synthetic clips with known motion and saliency, an in-memory target,
fake checkpoints, and the contract every registered component must keep.

- **clips**: :func:`synthetic_clip` (the demo's clip: frames, GT masks, an imperfect target's maps),
  :func:`moving_square`, :func:`translation` / :func:`moving_object` (known forward flow) with :func:`epe` and
  :func:`boundary_band` to score a flow;
- **targets**: :class:`ArrayTarget` (maps already in memory, by frame name);
- **checkpoints**: :func:`fake_state` / :func:`save_fake_checkpoint` (tiny files with the official key names and
  shapes), :func:`read_manifest`;
- **contracts**: :func:`check_flow_backend`, :func:`check_spatial_model`, :func:`check_target`,
  :func:`check_encoder`, :func:`check_theta` — what ``tests/test_contracts.py`` runs on every registered flow
  backend, spatial model, target, encoder and Θ (yours included once your plugin is installed);
  :func:`build_for_contract` makes a registered component the way those tests do.

Example (in a plugin's own tests)::

    from vsodboost.testing import check_target, synthetic_clip
    check_target(MyTarget())
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import cv2
import numpy as np
import torch

from .errors import PluginError, TargetError
from .video import Video

__all__ = ["ArrayTarget", "synthetic_clip", "moving_square", "texture", "translation", "moving_object", "epe",
           "boundary_band", "read_manifest", "fake_state", "save_fake_checkpoint", "check_flow_backend",
           "check_spatial_model", "check_target", "check_encoder", "check_theta", "synthetic_flow_images",
           "build_for_contract", "write_maps"]


# -- targets and clips -----------------------------------------------------------------------------------------
@dataclass
class ArrayTarget:
    """A target whose maps are already in memory, looked up by frame name (None where absent)."""

    maps: dict[str, np.ndarray]
    name: str = "arrays"

    def predict(self, video: Video) -> list[np.ndarray | None]:
        return [self.maps.get(n) for n in video.names]

    def identity(self) -> dict[str, str]:
        """A digest of the maps (the Booster's resume key records it instead of a long repr)."""
        h = hashlib.sha256()
        for k in sorted(self.maps):
            m = np.ascontiguousarray(self.maps[k])
            h.update(f"{k}|{m.dtype}|{m.shape}|".encode())
            h.update(m.tobytes())
        return {"type": "arrays", "maps_sha256": h.hexdigest()}


def _texture(rng: np.random.Generator, h: int, w: int, scale: int, colours: int = 3) -> np.ndarray:
    small = rng.random((max(2, h // scale), max(2, w // scale), colours)).astype(np.float32)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)


def synthetic_clip(n: int = 40, h: int = 240, w: int = 320, seed: int = 0
                   ) -> tuple[list[np.ndarray], list[np.ndarray], dict[str, np.ndarray]]:
    """Frames (uint8 RGB), GT masks (float {0,1}) and the imperfect target's maps (float [0,1]) of a demo clip."""
    rng = np.random.default_rng(seed)
    pad = 4 * n
    bg = _texture(rng, h + 8, w + pad, 12) * 0.55 + _texture(rng, h + 8, w + pad, 3) * 0.25
    obj_tex = np.clip(_texture(rng, h, w, 6) * 0.5 + np.array([0.9, 0.35, 0.1], np.float32) * 0.6, 0, 1)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    frames, masks, target = [], [], {}
    for i in range(n):
        off = int(round(1.5 * i))  # the camera pans right: the background moves left
        frame = bg[4: 4 + h, off: off + w].copy()
        cx = w * 0.25 + w * 0.5 * i / max(n - 1, 1)
        cy = h * 0.5 + h * 0.15 * np.sin(i / 5.0)
        ax, ay = w * 0.11, h * 0.17
        mask = (((xx - cx) / ax) ** 2 + ((yy - cy) / ay) ** 2 <= 1.0).astype(np.float32)
        frame = frame * (1 - mask[..., None]) + obj_tex * mask[..., None]
        frames.append(np.clip(frame * 255 + 0.5, 0, 255).astype(np.uint8))
        masks.append(mask)
        # the imperfect target: blurred, and on ~45% of frames a typical failure
        t = cv2.GaussianBlur(mask, (0, 0), 4.0) * 0.9
        kind = rng.random()
        if kind < 0.2:  # fires on a background blob
            bx, by = rng.uniform(0.1, 0.9) * w, rng.uniform(0.1, 0.9) * h
            t = np.maximum(t, 0.85 * np.exp(-(((xx - bx) / (w * 0.09)) ** 2 + ((yy - by) / (h * 0.12)) ** 2)))
        elif kind < 0.35:  # misses the object's half
            t = t * ((xx < cx) if rng.random() < 0.5 else (xx >= cx)).astype(np.float32)
        elif kind < 0.45:  # drifts off the object
            t = np.roll(t, int(w * 0.08), axis=1)
        t = np.clip(t + rng.normal(0, 0.03, t.shape).astype(np.float32), 0, 1)
        target[f"{i:05d}"] = t.astype(np.float32)
    return frames, masks, target


# -- checkpoints and clips with known motion ---------------------------------------------------------------------
def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A key manifest: ``{"keys": {name: shape}, ...}`` recorded from the authors' model definition."""
    return json.loads(Path(path).read_text())


def fake_state(keys: Mapping[str, Sequence[int]], value: float = 0.5) -> dict[str, torch.Tensor]:
    out: dict[str, torch.Tensor] = {}
    for k, shape in keys.items():
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(0, dtype=torch.long)
        else:
            out[k] = torch.full((1,), value).expand(*shape) if shape else torch.tensor(value)
    return out


def save_fake_checkpoint(path: str | os.PathLike[str], keys: Mapping[str, Sequence[int]],
                         wrap: Callable[[dict[str, torch.Tensor]], Any] | None = None) -> Path:
    """Write ``wrap(fake_state(keys))`` (default: the plain state dict) with ``torch.save``."""
    state = fake_state(keys)
    torch.save(wrap(state) if wrap else state, path)
    return Path(path)


def moving_square(n: int, h: int = 48, w: int = 64, side: int = 12, step: int = 3) -> list[np.ndarray]:
    """``n`` uint8 RGB frames: a bright square moving right over a dark textured background."""
    rng = np.random.default_rng(0)
    bg = rng.integers(0, 60, size=(h, w, 3), dtype=np.uint8)
    frames = []
    for i in range(n):
        f = bg.copy()
        x = (4 + i * step) % max(1, w - side)
        f[h // 2 - side // 2 : h // 2 + side // 2, x : x + side] = (230, 200, 40)
        frames.append(f)
    return frames


def texture(h: int, w: int, seed: int = 0, blur: float = 1.5) -> np.ndarray:
    """A smooth random RGB texture (uint8 H×W×3): enough gradient everywhere for flow to be well posed."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(0, 255, (h, w, 3)).astype(np.float32)
    img = cv2.GaussianBlur(img, (0, 0), blur)
    img = (img - img.min()) / (img.max() - img.min()) * 255
    return img.round().astype(np.uint8)


def translation(t: int, h: int, w: int, dx: int, dy: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A window panning over a larger texture: every pixel moves by (dx, dy) between frames.

    Returns frames uint8 (T, 3, H, W) and the true forward flow float32 (T-1, 2, H, W).
    """
    m = 2 + abs(dx) * t + abs(dy) * t
    big = texture(h + 2 * m, w + 2 * m, seed)
    frames = []
    for i in range(t):
        # Content moves by +dx means the window moves by -dx.
        y0, x0 = m - dy * i, m - dx * i
        frames.append(big[y0 : y0 + h, x0 : x0 + w])
    flow = torch.zeros(t - 1, 2, h, w)
    flow[:, 0], flow[:, 1] = dx, dy
    return _to_tensor(frames), flow


def moving_object(
    t: int, h: int, w: int, dx: int, dy: int, *, pan: tuple[int, int] = (0, 0), size: int = 24, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A textured square moving by (dx, dy) over a background that is static (``pan=(0, 0)``) or panning.

    Returns frames (T, 3, H, W) uint8, the true forward flow (T-1, 2, H, W) and the object masks (T-1, H, W) of
    the source frames.
    """
    px, py = pan
    bg_frames, _ = translation(t, h, w, px, py, seed)
    obj = texture(size, size, seed + 1, blur=1.0)
    y, x = h // 2 - size // 2 - dy * t // 2, w // 2 - size // 2 - dx * t // 2
    frames, flows, masks = [], [], []
    for i in range(t):
        f = bg_frames[i].permute(1, 2, 0).numpy().copy()
        yy, xx = y + dy * i, x + dx * i
        f[yy : yy + size, xx : xx + size] = obj
        frames.append(f)
        if i < t - 1:
            fl = torch.zeros(2, h, w)
            fl[0], fl[1] = px, py
            fl[0, yy : yy + size, xx : xx + size] = dx
            fl[1, yy : yy + size, xx : xx + size] = dy
            mk = torch.zeros(h, w, dtype=torch.bool)
            mk[yy : yy + size, xx : xx + size] = True
            flows.append(fl)
            masks.append(mk)
    return _to_tensor(frames), torch.stack(flows), torch.stack(masks)


def epe(pred: torch.Tensor, true: torch.Tensor, border: int = 6, exclude: torch.Tensor | None = None) -> float:
    """Mean end-point error over the interior (``border`` px off the image edges, where content enters/leaves),
    optionally excluding a boolean mask (occlusion bands)."""
    e = (pred - true).pow(2).sum(1).sqrt()
    keep = torch.zeros_like(e, dtype=torch.bool)
    keep[:, border:-border, border:-border] = True
    if exclude is not None:
        keep &= ~exclude
    return float(e[keep].mean())


def boundary_band(masks: torch.Tensor, width: int = 4) -> torch.Tensor:
    """Pixels within ``width`` of an object boundary (occluded/disoccluded regions have no defined flow)."""
    k = 2 * width + 1
    m = masks.float()[:, None]
    dil = torch.nn.functional.max_pool2d(m, k, 1, width)
    ero = -torch.nn.functional.max_pool2d(-m, k, 1, width)
    return (dil - ero)[:, 0] > 0


def _to_tensor(frames: list) -> torch.Tensor:
    return torch.stack([torch.as_tensor(np.ascontiguousarray(f)) for f in frames]).permute(0, 3, 1, 2).contiguous()


# -- contracts -------------------------------------------------------------------------------------------------
def check_flow_backend(backend: Any, *, size: int = 64) -> None:
    """The FlowBackend contract (:mod:`vsodboost.flow`): a ``name``, ``to(device)``, and ``estimate`` of uint8
    (T,3,H,W) frames → float32 (T-1,2,H,W) finite forward flow; :func:`~vsodboost.flow.buffer_flows` gives T flows.
    Raises :class:`AssertionError` saying what broke."""
    from .flow import buffer_flows

    name = getattr(backend, "name", None)
    assert isinstance(name, str) and name, f"flow backend {backend!r} has no `name`"
    assert callable(getattr(backend, "to", None)), f"flow backend {name!r} has no `to(device)`"
    backend = backend.to("cpu")
    side = max(size, int(getattr(backend, "min_size", 1) or 1))
    frames = torch.from_numpy(np.stack(moving_square(3, h=side, w=side + 16))).permute(0, 3, 1, 2).contiguous()
    flows = backend.estimate(frames)
    assert isinstance(flows, torch.Tensor), f"{name}.estimate returned {type(flows).__name__}, not a tensor"
    assert tuple(flows.shape) == (2, 2, side, side + 16), f"{name}.estimate gave {tuple(flows.shape)} for 3 frames " \
        f"of {side}×{side + 16}; expected (2, 2, {side}, {side + 16})"
    assert flows.dtype == torch.float32 and bool(torch.isfinite(flows).all()), f"{name}: flow not finite float32"
    assert tuple(buffer_flows(backend, frames).shape) == (3, 2, side, side + 16), f"{name}: buffer_flows broke"


def check_spatial_model(model: Any, *, size: int = 64) -> None:
    """The spatial-model contract (Sec. V-C): an ``nn.Module`` that maps float RGB [0,1] (B,3,H,W) to logits
    (B,1,H,W) in eval mode and fine-tunes with the Booster's loop (:func:`vsodboost.spatial.finetune`), leaving
    the model it was given unchanged."""
    from .config import FinetuneConfig
    from .spatial.finetune import finetune, predict_maps

    assert isinstance(model, torch.nn.Module), f"spatial model {type(model).__name__} is not a torch.nn.Module"
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, size, size))
    got = getattr(out, "shape", type(out).__name__)
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (2, 1, size, size), \
        f"{type(model).__name__} gave {got} in eval; expected (2, 1, {size}, {size})"
    assert bool(torch.isfinite(out).all()), f"{type(model).__name__}: non-finite logits"
    frames = torch.from_numpy(np.stack(moving_square(2, h=size, w=size))).permute(0, 3, 1, 2).contiguous()
    maps = torch.zeros(2, size, size)
    maps[:, size // 3: 2 * size // 3, size // 3: 2 * size // 3] = 1.0
    cfg = FinetuneConfig(iterations=1, batch_size=2, input_size=size)
    tuned, losses = finetune(model, frames, maps, cfg, seed=0)
    assert len(losses) == 1 and all(np.isfinite(losses)), f"{type(model).__name__}: fine-tuning losses {losses}"
    pred = predict_maps(tuned, frames, input_size=size)
    assert tuple(pred.shape) == (2, size, size) and float(pred.min()) >= 0 and float(pred.max()) <= 1
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items()), \
        f"fine-tuning changed the pretrained {type(model).__name__}: it must work on a copy"


def check_target(target: Any, video: Video | None = None) -> None:
    """The TargetModel contract (:mod:`vsodboost.target`): a ``name``, ``predict(video)`` with one float map H×W in
    [0, 1] (or None) per frame, and an ``identity()`` (when defined) that is a JSON-serialisable dict or None."""
    from .target import TargetModel, check_target_output

    assert isinstance(target, TargetModel), f"{target!r} lacks `name` or `predict(video)`"
    if video is None:
        frames, _, _ = synthetic_clip(4, h=48, w=64, seed=0)
        video = Video(arrays=frames, name="clip")
    try:
        maps = check_target_output(target.predict(video), video, target)
    except TargetError as exc:
        raise AssertionError(str(exc)) from exc
    assert len(maps) == len(video)
    ident = getattr(target, "identity", None)
    if callable(ident):
        got = ident()
        assert got is None or isinstance(got, Mapping), f"{target.name}.identity() returned {type(got).__name__}"
        json.dumps(got)


def check_encoder(spec: Any, *, size: int = 64) -> None:
    """The encoder contract of the shared U-Net (Fig. 6, :mod:`vsodboost.models.encoders`): an
    :class:`~vsodboost.models.EncoderSpec` with an RGB mean/std, which builds an ``nn.Module`` whose
    ``feature_info`` declares 5 stages at strides 2, 4, 8, 16, 32; in eval, normalised RGB (B,3,H,W) gives 5 finite
    feature maps with exactly the declared channels at H/stride × W/stride, the same on a second call."""
    from .models.encoders import EncoderSpec

    assert isinstance(spec, EncoderSpec), f"encoder {spec!r} is a {type(spec).__name__}, not an EncoderSpec"
    name = spec.name
    assert len(spec.mean) == len(spec.std) == 3 and all(s > 0 for s in spec.std), \
        f"encoder {name!r}: mean/std must be 3 values with std > 0; got {spec.mean}, {spec.std}"
    enc = spec()
    assert isinstance(enc, torch.nn.Module), f"encoder {name!r} built a {type(enc).__name__}, not an nn.Module"
    info = getattr(enc, "feature_info", None)
    assert callable(getattr(info, "channels", None)) and callable(getattr(info, "reduction", None)), \
        f"encoder {name!r} has no feature_info.channels()/.reduction() declaring its stages"
    channels, strides = list(info.channels()), list(info.reduction())
    assert strides == [2, 4, 8, 16, 32], f"encoder {name!r} declares strides {strides}; the U-Net needs " \
        "[2, 4, 8, 16, 32] (pick out_indices accordingly)"
    x = (torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(0)) - 0.5) / 0.25
    enc.eval()
    with torch.no_grad():
        feats, again = enc(x), enc(x)
    got = [tuple(f.shape) for f in feats] if isinstance(feats, (list, tuple)) else type(feats).__name__
    want = [(2, c, size // s, size // s) for c, s in zip(channels, strides)]
    assert got == want, f"encoder {name!r} gave features {got} for {size}×{size}; it declares {want}"
    assert all(bool(torch.isfinite(f).all()) for f in feats), f"encoder {name!r}: non-finite features"
    assert all(torch.equal(a, b) for a, b in zip(feats, again)), f"encoder {name!r}: not deterministic in eval"


def synthetic_flow_images(n: int = 2, h: int = 48, w: int = 64, *,
                          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Colour-coded flow images uint8 (n,3,h,w) of a square moving (+4, +1) px over a background panning (-1, 0)
    px with a little noise, and the square's masks bool (n,h,w): what a Θ sees (Eq. 1)."""
    from .flow import flow_to_color

    rng = np.random.default_rng(seed)
    flow = torch.zeros(n, 2, h, w)
    flow[:, 0] = -1.0
    masks = torch.zeros(n, h, w, dtype=torch.bool)
    side = max(4, min(h, w) // 3)
    for i in range(n):
        y, x = h // 3, (w // 4 + 2 * i) % max(1, w - side)
        flow[i, 0, y:y + side, x:x + side], flow[i, 1, y:y + side, x:x + side] = 4.0, 1.0
        masks[i, y:y + side, x:x + side] = True
    flow += 0.2 * torch.from_numpy(rng.standard_normal(flow.shape)).float()
    return flow_to_color(flow), masks


def check_theta(theta: Any, *, h: int = 48, w: int = 64) -> None:
    """The Θ contract of Eq. 1 (:mod:`vsodboost.mqpm.theta`): a callable mapping colour-coded flow images uint8
    (B,3,H,W) to a finite floating saliency map (B,H,W) in [0, 1], deterministic, per frame (a frame's map does
    not depend on the rest of the batch), leaving its input unchanged."""
    assert callable(theta), f"Θ {theta!r} is not callable"
    name = getattr(theta, "__name__", type(theta).__name__)
    images, _ = synthetic_flow_images(3, h, w)
    before = images.clone()
    out = theta(images)
    got = f"{out.dtype} {tuple(out.shape)}" if isinstance(out, torch.Tensor) else type(out).__name__
    assert isinstance(out, torch.Tensor) and tuple(out.shape) == (3, h, w) and out.is_floating_point(), \
        f"Θ {name} gave {got} for flow images uint8 (3, 3, {h}, {w}); expected float (3, {h}, {w})"
    assert bool(torch.isfinite(out).all()) and float(out.min()) >= 0 and float(out.max()) <= 1, \
        f"Θ {name}: values in [{float(out.min())}, {float(out.max())}], expected finite in [0, 1]"
    assert torch.equal(images, before), f"Θ {name} changed its input in place"
    assert torch.equal(theta(images), out), f"Θ {name}: a second call on the same images gave other maps"
    assert torch.allclose(theta(images[1:2]), out[1:2], atol=1e-4), \
        f"Θ {name}: frame 1's map changes with the rest of the batch"


def write_maps(root: str | os.PathLike[str], sequence: str, maps: Mapping[str, np.ndarray]) -> Path:
    """Write float maps as ``<root>/<sequence>/<stem>.png`` (8-bit), the layout maps-mode targets read."""
    folder = Path(root) / sequence
    folder.mkdir(parents=True, exist_ok=True)
    for stem, m in maps.items():
        cv2.imwrite(str(folder / f"{stem}.png"), np.clip(m * 255 + 0.5, 0, 255).astype(np.uint8))
    return Path(root)


def build_for_contract(kind: str, name: str, maps_root: str | os.PathLike[str] | None = None) -> Any:
    """Build registered component ``name`` of ``kind`` (``"flow"``, ``"spatial"``, ``"target"``, ``"theta"``;
    ``"encoder"`` gives its :class:`~vsodboost.models.EncoderSpec`) for the contract tests: deep flow backends
    with random weights (``weights="random"``), a target whose factory takes a ``maps`` or ``root`` folder on
    ``maps_root``. Raises :class:`MissingWeightsError` when it needs weights that are not
    here (the tests skip it)."""
    from . import plugins

    if kind == "encoder":  # the registered EncoderSpec: check_encoder builds the module and needs mean/std too
        from .models.encoders import encoder_spec

        return encoder_spec(name)
    reg = plugins.registry(kind)
    entry = reg.get(name)
    kwargs: dict[str, Any] = {}
    if kind == "flow" and entry.meta.get("needs_weights"):
        kwargs["weights"] = "random"
    if kind == "target" and maps_root is not None:
        params = inspect.signature(entry.factory).parameters
        key = next((k for k in ("maps", "root") if k in params), None)
        if key is not None:
            kwargs[key] = str(maps_root)
    try:
        return reg.create(name, **kwargs)
    except TypeError as exc:
        raise PluginError(f"{kind} {name!r} cannot be built for the contract tests ({exc}); give its factory "
                          "defaults, or a `maps`/`root` parameter for a maps-mode target") from exc
