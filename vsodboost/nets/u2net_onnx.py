"""Read U²-Net(-p) weights out of a BN-folded ONNX export (rembg's ``u2netp.onnx`` / ``u2net.onnx``) by graph
structure, verified layer by layer. Needs the ``onnx`` package (``pip install "vsodboost[onnx]"``); the shipped
``u2netp`` weights were made with it once (``python scripts/convert_u2net.py``) and load without it.

Why not by name: the export names only ``side*`` and ``outconv``; the 112 folded convolutions carry numbers. The
converter therefore *derives* every name from the data flow: it runs our :class:`~vsodboost.nets.u2net.U2Net` and
records the order in which its convolutions execute, walks the ONNX graph's ``Conv`` nodes in topological order, and
pairs them only if kernel, dilation, padding, stride, groups and weight shape agree, and the named ones
(``side*``, ``outconv``) land on their own names. :func:`verify_against_onnx` then checks every converted layer's
output against onnxruntime's, which is what proves the pairing.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import InputError, WeightsError
from .u2net import U2Net, U2NetConfig

__all__ = ["convert_onnx", "conv_execution_order", "verify_against_onnx"]


def _need(module: str, extra: str = "onnx") -> Any:
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise InputError(f"reading U²-Net ONNX weights needs the '{module}' package: pip install "
                         f"\"vsodboost[{extra}]\"") from exc


def conv_execution_order(model: nn.Module, size: int = 64) -> list[str]:
    """Names of ``model``'s ``Conv2d`` modules in the order a forward pass runs them (each must run once)."""
    order: list[str] = []
    handles = [m.register_forward_hook(lambda mod, inp, out, n=n: order.append(n))
               for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            model.eval()(torch.rand(1, 3, size, size))
    finally:
        for h in handles:
            h.remove()
    if len(order) != len(set(order)):
        raise WeightsError("a convolution ran twice in one forward pass; the execution order is ambiguous")
    return order


def _conv_nodes(graph: Any) -> list[Any]:
    return [n for n in graph.node if n.op_type == "Conv"]


def _attrs(node: Any) -> dict[str, Any]:
    onnx = _need("onnx")
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def convert_onnx(path: str | os.PathLike[str], variant: str = "u2netp") -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """State dict of :class:`U2Net` (``variant``) from a BN-folded ONNX export, and the ONNX-tensor → name map.

    Raises :class:`WeightsError` naming the first convolution whose structure differs.
    """
    onnx = _need("onnx")
    from onnx import numpy_helper

    model = U2Net(U2NetConfig(variant=variant))
    order = conv_execution_order(model)
    modules = dict(model.named_modules())
    proto = onnx.load(str(path))
    inits = {t.name: t for t in proto.graph.initializer}
    nodes = _conv_nodes(proto.graph)
    if len(nodes) != len(order):
        raise WeightsError(f"{path}: {len(nodes)} convolutions in the ONNX graph, {len(order)} in {variant}; "
                           "is it a U²-Net export of that variant?")
    state: dict[str, torch.Tensor] = {}
    names: dict[str, str] = {}
    for node, name in zip(nodes, order):
        conv: nn.Conv2d = modules[name]  # type: ignore[assignment]
        a = _attrs(node)
        want = {"kernel_shape": list(conv.kernel_size), "dilations": list(conv.dilation),
                "strides": list(conv.stride), "group": conv.groups, "pads": list(conv.padding) * 2}
        got = {k: a.get(k, [1, 1] if k in ("dilations", "strides") else 1 if k == "group" else None) for k in want}
        w_name, b_name = node.input[1], node.input[2] if len(node.input) > 2 else None
        if got != want:
            raise WeightsError(f"{path}: ONNX conv {node.name} {got} does not match {name} {want}")
        for onnx_name, key in ((w_name, f"{name}.weight"), (b_name, f"{name}.bias")):
            if onnx_name is None or onnx_name not in inits:
                raise WeightsError(f"{path}: ONNX conv {node.name} has no initializer for {key}")
            if not onnx_name.isdigit() and onnx_name != key:
                raise WeightsError(f"{path}: ONNX tensor {onnx_name!r} would become {key!r}; the graph order "
                                   "differs from the network's")
            t = torch.from_numpy(numpy_helper.to_array(inits[onnx_name]).copy())
            if tuple(t.shape) != tuple(getattr(conv, key.rsplit(".", 1)[1]).shape):
                raise WeightsError(f"{path}: {onnx_name} has shape {tuple(t.shape)}, {key} needs "
                                   f"{tuple(getattr(conv, key.rsplit('.', 1)[1]).shape)}")
            state[key] = t
            names[onnx_name] = key
    missing = set(model.state_dict()) - set(state)
    if missing:
        raise WeightsError(f"{path}: no ONNX tensor for {sorted(missing)[:5]}")
    return state, names


@torch.no_grad()
def verify_against_onnx(model: U2Net, path: str | os.PathLike[str], images: torch.Tensor) -> dict[str, float]:
    """Run ``images`` (float RGB [0,1], (B,3,H,W)) through ``model`` and through onnxruntime on the same
    preprocessed input; return the largest absolute difference of every convolution's output (by our name) and of
    the seven sigmoid outputs (``"d0"`` … ``"d6"``)."""
    onnx = _need("onnx")
    ort = _need("onnxruntime")
    proto = onnx.load(str(path))
    nodes = _conv_nodes(proto.graph)
    order = conv_execution_order(model)
    extra = [onnx.helper.make_tensor_value_info(n.output[0], onnx.TensorProto.FLOAT, None) for n in nodes]
    proto.graph.output.extend(extra)
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    modules = dict(model.named_modules())
    got: dict[str, torch.Tensor] = {}
    handles = [modules[n].register_forward_hook(lambda m, i, o, n=n: got.__setitem__(n, o)) for n in order]
    try:
        model.eval()
        x = model.preprocess(images.float())
        fused, sides = model(images.float(), sides=True)
    finally:
        for h in handles:
            h.remove()
    diffs: dict[str, float] = {}
    for b in range(x.shape[0]):
        outs = sess.run(None, {proto.graph.input[0].name: x[b: b + 1].numpy().astype(np.float32)})
        finals = outs[:7]
        mine = [fused] + list(sides)
        for k in range(7):
            d = float(np.abs(finals[k] - torch.sigmoid(mine[k][b: b + 1]).numpy()).max())
            diffs[f"d{k}"] = max(diffs.get(f"d{k}", 0.0), d)
        for node, name, out in zip(nodes, order, outs[7:]):
            d = float(np.abs(out - got[name][b: b + 1].numpy()).max())
            diffs[name] = max(diffs.get(name, 0.0), d)
    return diffs


def onnx_file_in_distribution(dist: str, member: str) -> Path | None:
    """Path of ``member`` (e.g. ``rembg/u2netp.onnx``) inside the installed distribution ``dist``, found through its
    file list (its code is never imported), or None."""
    from importlib import metadata

    try:
        files = metadata.distribution(dist).files or []
    except metadata.PackageNotFoundError:
        return None
    for f in files:
        if str(f).replace("\\", "/") == member:
            p = Path(str(f.locate()))
            return p if p.is_file() else None
    return None
