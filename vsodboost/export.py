"""Export a (fine-tuned) spatial model as ONNX and TorchScript, with its preprocessing written beside it.

Adapt on one buffer, then run the adapted model fast on the rest of the scene, anywhere ONNX Runtime or LibTorch runs:

>>> result = Booster(target).run(frames[:100], keep_models=True)
>>> result.export("adapted/")                    # spatial.onnx, spatial.pt, preprocessing.json
>>> maps = ExportedSpatial("adapted/").predict_frames(more_frames)   # uint8 (N,3,H,W) → (N,H,W) in [0,1]

The graph takes float32 RGB in [0, 1], NCHW, at ``input_size``² (the batch size is free) and returns logits
(N,1,S,S); the model's own normalisation (ImageNet mean/std, U²-Net's divide-by-max) is inside the graph. To get a
map: resize the frame to S×S (bilinear, align_corners=False), divide by 255, run, sigmoid, resize back to the frame
size (bilinear, align_corners=False) — exactly :func:`vsodboost.spatial.finetune.predict_maps`, which
:class:`ExportedSpatial` follows.
"""

from __future__ import annotations

import copy
import io
import json
import os
import warnings
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._version import __version__
from .errors import InputError, MissingExtraError
from .io import atomic_write_bytes, check_file_name, check_output_dir, out_path, output_lock

__all__ = ["EXPORT_FORMAT", "FORMATS", "ExportSpec", "export_spatial", "load_spec", "ExportedSpatial",
           "available_formats", "check_formats", "WHAT_IS_EXPORTED"]

EXPORT_FORMAT = "vsodboost.spatial-export/1"
FORMATS = {"onnx": "spatial.onnx", "torchscript": "spatial.pt"}
SPEC_FILE = "preprocessing.json"
ONNX_EXTRA = 'pip install "vsodboost[onnx]"'
# recorded as meta["exported_model"] by BoostResult.export and `vsodboost export`: what the file holds, lacks
WHAT_IS_EXPORTED = ("the spatial model fine-tuned on this buffer's mined frames (the target's maps as "
                    "pseudo-GT); it runs alone: without the target and without fusion, so its maps are the "
                    "'replace' output, not the fused maps boost writes by default, and on later frames it "
                    "can score below the target; it computes in float32, so where the Booster predicted in "
                    "bfloat16 (finetune.autocast) its maps differ from the Booster's by bf16 rounding")


def available_formats() -> list[str]:
    """The export formats this installation can write: TorchScript always, ONNX when the ``onnx`` package (the
    ``[onnx]`` extra) is importable."""
    import importlib.util

    return ["torchscript"] + (["onnx"] if importlib.util.find_spec("onnx") is not None else [])


def check_formats(formats: Sequence[str]) -> tuple[str, ...]:
    """``formats`` checked before any compute: known names (:class:`InputError`) whose exporter is installed
    (:class:`MissingExtraError` naming ``pip install "vsodboost[onnx]"``)."""
    formats = tuple(formats)
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(f"export formats {list(formats)}: choose one or more of {sorted(FORMATS)}")
    if "onnx" in formats and "onnx" not in available_formats():
        raise MissingExtraError(f"ONNX export needs the onnx package: {ONNX_EXTRA} (or export TorchScript "
                                "only: formats=('torchscript',), --formats torchscript)")
    return formats


@dataclass(frozen=True)
class ExportSpec:
    """What ``preprocessing.json`` records: how to feed the exported graph and read its output."""

    input_size: int  # the graph's spatial size S (square)
    model: str  # class of the exported module
    files: dict[str, str]  # format → file name in the export folder
    opset: int | None = None  # ONNX opset (None: no ONNX file)
    input_name: str = "image"
    output_name: str = "logits"
    layout: str = "NCHW"  # (N, 3, S, S), N free
    dtype: str = "float32"
    channels: str = "RGB"
    value_range: tuple[float, float] = (0.0, 1.0)  # uint8 / 255
    normalization: str = "inside the graph (the model's own mean/std and scaling): feed RGB in [0, 1] as is"
    resize: str = "frame → S×S, bilinear, align_corners=False"
    output: str = "logits (N, 1, S, S) → sigmoid → bilinear (align_corners=False) back to the frame size"
    meta: dict[str, Any] = field(default_factory=dict)  # where it came from (sequence, buffer, mined frames, …)
    format: str = EXPORT_FORMAT
    vsodboost_version: str = __version__
    torch_version: str = torch.__version__

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ExportSpec":
        """Check ``d`` (types, ranges, required keys; file names inside the export folder) and build the spec;
        :class:`InputError` naming the key otherwise."""
        if not isinstance(d, Mapping):
            raise InputError(f"an export spec must be a JSON object, got a {type(d).__name__}; re-export the model")
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise InputError(f"unknown keys {sorted(unknown)} in an export spec; known: {sorted(known)}")
        if d.get("format") != EXPORT_FORMAT:
            raise InputError(f"export spec format {d.get('format')!r} is not {EXPORT_FORMAT!r}; re-export the model "
                             "with this vsodboost")
        missing = [k for k in ("input_size", "model", "files") if k not in d]
        if missing:
            raise InputError(f"export spec lacks {', '.join(missing)}; re-export the model")
        d = dict(d)
        _check_spec(d)
        d["value_range"] = tuple(float(v) for v in d.get("value_range", (0.0, 1.0)))
        return cls(**d)


def _spec_error(key: str, value: Any, expected: str) -> InputError:
    return InputError(f"export spec {key} is {value!r} ({type(value).__name__}); expected {expected}. Re-export "
                      "the model rather than editing preprocessing.json")


def _check_spec(d: Mapping[str, Any]) -> None:
    """The types and ranges :class:`ExportedSpatial` relies on (a hand-edited or foreign ``preprocessing.json``)."""
    size = d["input_size"]
    if isinstance(size, bool) or not isinstance(size, int) or size < 32 or size % 32:
        raise _spec_error("input_size", size, "an integer multiple of 32, ≥ 32")
    files = d["files"]
    if not isinstance(files, dict) or not files:
        raise _spec_error("files", files, f"an object mapping formats ({', '.join(sorted(FORMATS))}) to file names")
    for fmt, name in files.items():
        if fmt not in FORMATS:
            raise _spec_error("files", files, f"formats among {sorted(FORMATS)}")
        if not isinstance(name, str):
            raise _spec_error(f"files.{fmt}", name, "a file name")
        try:
            check_file_name(name, f"export spec files.{fmt}")
        except InputError as exc:
            raise InputError(f"{exc}: an export folder names only files inside itself") from None
    strings = ("model", "input_name", "output_name", "normalization", "resize", "output", "vsodboost_version",
               "torch_version")
    for key in strings:
        if key in d and not isinstance(d[key], str):
            raise _spec_error(key, d[key], "a string")
    fixed = {"layout": "NCHW", "dtype": "float32", "channels": "RGB"}
    for key, want in fixed.items():
        if key in d and d[key] != want:
            raise _spec_error(key, d[key], repr(want) + " (the only one exported)")
    opset = d.get("opset")
    if opset is not None and (isinstance(opset, bool) or not isinstance(opset, int) or opset < 1):
        raise _spec_error("opset", opset, "a positive integer or null")
    vr = d.get("value_range", (0.0, 1.0))
    ok = (isinstance(vr, (list, tuple)) and len(vr) == 2
          and all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v) for v in vr)
          and vr[0] < vr[1])
    if not ok:
        raise _spec_error("value_range", vr, "[low, high], two finite numbers with low < high")
    if "meta" in d and not isinstance(d["meta"], dict):
        raise _spec_error("meta", d["meta"], "an object")


class _Logits(nn.Module):
    """The fused logits only (U²-Net returns side maps too when asked; a head with a class logit returns a tuple)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.model(x)
        return y[0] if isinstance(y, (tuple, list)) else y


def export_spatial(model: nn.Module, out_dir: str | os.PathLike[str], *, input_size: int,
                   formats: Sequence[str] = ("onnx", "torchscript"), meta: Mapping[str, Any] | None = None,
                   opset: int = 17) -> Path:
    """Write ``model`` (float RGB [0,1] NCHW → logits) to ``out_dir`` as ``spatial.onnx`` (legacy TorchScript-based
    exporter: no onnxscript needed) and/or ``spatial.pt`` (``torch.jit.trace``), plus ``preprocessing.json``
    (:class:`ExportSpec`). The model is copied to the CPU in eval mode; the module passed in is not changed.

    Args:
        input_size: square side S the graph is traced at (a multiple of 32: the Booster fine-tunes and predicts at
            ``config.finetune.input_size``).
        formats: any of ``"onnx"``, ``"torchscript"``.
        meta: recorded in ``preprocessing.json`` (e.g. the buffer the model was adapted on).
    Returns:
        ``out_dir``.
    """
    formats = check_formats(formats)
    if not isinstance(input_size, int) or input_size < 32 or input_size % 32:
        raise InputError(f"input_size must be a multiple of 32 and ≥ 32, got {input_size!r} (the Booster uses "
                         "config.finetune.input_size)")
    if not isinstance(model, nn.Module):
        raise InputError(f"export_spatial needs an nn.Module, got {type(model).__name__}")
    out = check_output_dir(out_dir)  # an existing file, or a path under one: OutputError naming it
    net = _Logits(copy.deepcopy(model).cpu().float().to(memory_format=torch.contiguous_format).eval()).eval()
    x = torch.rand(1, 3, input_size, input_size, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():
        # shape checks in forward() become constants in a traced graph: expected, the input size is fixed
        warnings.simplefilter("ignore", torch.jit.TracerWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        # each file is built in memory and written by the atomic writer (never through a symlink under its name)
        blobs: dict[str, bytes] = {}
        if "torchscript" in formats:  # first: it needs nothing optional, so it is written whatever ONNX does
            with torch.no_grad():
                traced = torch.jit.trace(net, x)
            buf = io.BytesIO()
            torch.jit.save(traced, buf)
            blobs[FORMATS["torchscript"]] = buf.getvalue()
        if "onnx" in formats:
            buf = io.BytesIO()
            try:
                torch.onnx.export(net, (x,), buf, dynamo=False, opset_version=opset,
                                  input_names=["image"], output_names=["logits"],
                                  dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
            except Exception:
                with output_lock(out):  # the TorchScript file is not lost with the ONNX one
                    for name, data in blobs.items():
                        atomic_write_bytes(out_path(out, name), data)
                raise
            blobs[FORMATS["onnx"]] = buf.getvalue()
    spec = ExportSpec(input_size=input_size, model=type(model).__name__, files={f: FORMATS[f] for f in formats},
                      opset=opset if "onnx" in formats else None, meta=json.loads(json.dumps(dict(meta or {}),
                                                                                              default=str)))
    with output_lock(out):
        for name, data in blobs.items():
            atomic_write_bytes(out_path(out, name), data)
        atomic_write_bytes(out_path(out, SPEC_FILE), json.dumps(spec.to_dict(), indent=2).encode())
    return out


def load_spec(export_dir: str | os.PathLike[str]) -> ExportSpec:
    """Read ``<export_dir>/preprocessing.json``."""
    p = Path(export_dir) / SPEC_FILE
    if not p.is_file():
        raise InputError(f"{p} does not exist; point at a folder written by export_spatial / `vsodboost export`")
    try:
        data = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{p} is not valid JSON ({exc}); re-export the model") from exc
    try:
        return ExportSpec.from_dict(data)
    except InputError as exc:
        raise InputError(f"{p}: {exc}") from None


def _model_file(folder: Path, name: str) -> Path:
    """The model file ``name`` of an export folder: a regular file inside it (a symlink out of it is refused)."""
    path = folder / name
    if not path.is_file():
        raise InputError(f"{path} (named by {folder / SPEC_FILE}) does not exist; re-export the model")
    try:
        inside = path.resolve().parent == folder.resolve()
    except OSError:  # pragma: no cover - a symlink loop
        inside = False
    if path.is_symlink() and not inside:
        raise InputError(f"{path} is a symlink to a file outside {folder}; an export folder loads only its own "
                         "files: copy the model file in or re-export")
    return path


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]


class ExportedSpatial:
    """An exported spatial model, run as :func:`~vsodboost.spatial.finetune.predict_maps` runs the PyTorch one.

    Args:
        export_dir: a folder written by :func:`export_spatial`.
        backend: ``"onnx"`` (ONNX Runtime, CPU) or ``"torchscript"``.
        threads: ONNX Runtime intra-op threads (None: its default).
    """

    def __init__(self, export_dir: str | os.PathLike[str], *, backend: str = "onnx", threads: int | None = None,
                 batch: int = 8) -> None:
        self.dir = Path(export_dir)
        self.spec = load_spec(self.dir)
        if backend not in FORMATS:
            raise InputError(f"backend {backend!r}: choose one of {sorted(FORMATS)}")
        if backend not in self.spec.files:
            raise InputError(f"{self.dir} holds {sorted(self.spec.files)}, not {backend!r}; export with "
                             f"formats=({backend!r},) or choose backend from those")
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise InputError(f"batch must be an integer ≥ 1, got {batch!r}")
        if threads is not None and (isinstance(threads, bool) or not isinstance(threads, int) or threads < 0):
            raise InputError(f"threads must be None or an integer ≥ 0, got {threads!r}")
        self.backend, self.batch = backend, batch
        path = _model_file(self.dir, self.spec.files[backend])
        if backend == "onnx":
            try:
                import onnxruntime as ort
            except ImportError as exc:  # pragma: no cover - in the test extra
                raise InputError("backend='onnx' needs onnxruntime: pip install 'vsodboost[onnx]'") from exc
            opts = ort.SessionOptions()
            if threads:
                opts.intra_op_num_threads = threads
                opts.inter_op_num_threads = 1
            try:
                self._session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
            except Exception as exc:  # onnxruntime raises its own exception types for a corrupt or foreign file
                raise InputError(f"cannot load {path} with ONNX Runtime ({_first_line(exc)}); re-export the model"
                                 ) from exc
            inputs = self._session.get_inputs()
            names = [i.name for i in inputs]
            if self.spec.input_name not in names:
                raise InputError(f"{path} has inputs {names}, but {self.dir / SPEC_FILE} says "
                                 f"{self.spec.input_name!r}; re-export the model")
            shape = next(i.shape for i in inputs if i.name == self.spec.input_name)
            s = self.spec.input_size
            if len(shape) != 4 or any(isinstance(d, int) and d != want for d, want in zip(shape[1:], (3, s, s))):
                raise InputError(f"{path} takes input {shape}, but {self.dir / SPEC_FILE} says (N, 3, {s}, {s}); "
                                 "the spec does not belong to this model: re-export it")
        else:
            try:
                with warnings.catch_warnings():  # torch ≥ 2.9 marks TorchScript deprecated; the format still loads
                    warnings.simplefilter("ignore", FutureWarning)
                    self._module = torch.jit.load(str(path), map_location="cpu").eval()
            except Exception as exc:  # torch.jit raises RuntimeError (and others) for a corrupt or foreign file
                raise InputError(f"cannot load {path} as TorchScript ({_first_line(exc)}); re-export the model"
                                 ) from exc
        self.name = f"exported:{self.dir.name}"

    def logits(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """The graph on float32 RGB [0,1] (N,3,S,S) → logits (N,1,S,S)."""
        try:
            if self.backend == "onnx":
                arr = x.numpy() if isinstance(x, torch.Tensor) else x
                y = self._session.run(None, {self.spec.input_name: np.ascontiguousarray(arr, np.float32)})[0]
            else:
                with torch.no_grad():
                    y = self._module(torch.as_tensor(x, dtype=torch.float32)).numpy()
        except Exception as exc:  # a graph that does not take what preprocessing.json says
            raise InputError(f"{self.dir}: the {self.backend} model failed on input {tuple(x.shape)} as "
                             f"{SPEC_FILE} describes it ({_first_line(exc)}); the spec does not match the model: "
                             "re-export it") from exc
        if y.ndim != 4 or y.shape[1] != 1:
            raise InputError(f"{self.dir}: the {self.backend} model returned shape {tuple(y.shape)}, not logits "
                             "(N, 1, S, S); re-export the model")
        return y

    def predict_frames(self, frames: np.ndarray | torch.Tensor) -> np.ndarray:
        """uint8 frames (N,3,H,W) (or (N,H,W,3)) → float32 maps (N,H,W) in [0,1], following ``preprocessing.json``."""
        t = torch.as_tensor(frames)
        if t.ndim == 4 and t.shape[1] != 3 and t.shape[-1] == 3:
            t = t.permute(0, 3, 1, 2)
        if t.ndim != 4 or t.shape[1] != 3 or t.dtype != torch.uint8:
            raise InputError(f"predict_frames expects uint8 frames (N,3,H,W) or (N,H,W,3), got {t.dtype} "
                             f"{tuple(t.shape)}")
        t = t.contiguous()
        h, w = t.shape[-2:]
        s = self.spec.input_size
        out = []
        for i in range(0, t.shape[0], self.batch):
            x = F.interpolate(t[i: i + self.batch].float() / 255.0, size=(s, s), mode="bilinear", align_corners=False)
            y = torch.from_numpy(self.logits(x))
            out.append(F.interpolate(torch.sigmoid(y), size=(h, w), mode="bilinear", align_corners=False)[:, 0])
        return torch.cat(out).numpy()

    def predict(self, video: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One map per frame of a :class:`~vsodboost.video.Video` (uint8 RGB H×W×3): usable as a target."""
        frames = np.stack(list(video))
        return list(self.predict_frames(frames))

    def __repr__(self) -> str:
        return f"ExportedSpatial({str(self.dir)!r}, backend={self.backend!r}, input_size={self.spec.input_size})"
