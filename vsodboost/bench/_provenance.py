"""What a bench report records about its models and machine: weights per sequence (a JSON table for
cross-validated weights), models loaded once, in-sample sequences, versions, the command line."""

from __future__ import annotations

import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..datasets import SequenceData
from ..errors import InputError
from ._scores import _maps_in

__all__ = ["read_weights_table", "machine_info", "versions", "in_sample_check", "main_command_line"]


def read_weights_table(path: str | os.PathLike[str], option: str = "weights map") -> dict[str, str]:
    """A JSON file mapping sequence → weights (``"*"``: the rest), checked: readable UTF-8 JSON, an object of
    strings; :class:`InputError` naming the file and what is wrong otherwise."""
    p = Path(path)
    try:
        table = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        why = f"{exc.msg} at line {exc.lineno} column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else exc
        raise InputError(f"{option} {p}: not a readable JSON file ({why}); expected an object such as "
                         "{\"bear\": \"fold0.pt\", \"*\": \"fold1.pt\"}") from exc
    if not isinstance(table, dict) or not table:
        raise InputError(f"{option} {p}: expected a non-empty JSON object mapping sequence → weights, got "
                         f"{json.dumps(table)[:60]}")
    bad = {k: v for k, v in table.items() if not isinstance(v, str) or not v}
    if bad:
        k = next(iter(bad))
        raise InputError(f"{option} {p}: the weights of {k!r} must be a file path or name (a string), got "
                         f"{json.dumps(bad[k])[:60]}")
    return table


def _weights_for(spec: Any, seq: str) -> Any:
    """``spec`` is a weights file or name, or a JSON file mapping sequence → weights (``"*"``: the default); any
    other object (an MQPM, an ``nn.Module``) is used as it is."""
    if not isinstance(spec, (str, os.PathLike)):
        return spec
    spec = str(spec)
    if spec.endswith(".json") and Path(spec).is_file():
        table = read_weights_table(spec)
        if seq in table:
            return str(table[seq])
        if "*" in table:
            return str(table["*"])
        raise InputError(f"{spec} maps no weights to sequence {seq!r} (and has no '*' entry)")
    return spec


class _Models:
    """Loads each MQPM / spatial weights file once."""

    def __init__(self, device: Any) -> None:
        self.device = device
        self._cache: dict[tuple[str, str], Any] = {}

    def mqpm(self, spec: Any) -> Any:
        if not isinstance(spec, str):
            return spec
        key = ("mqpm", spec)
        if key not in self._cache:
            from ..mqpm import load_mqpm

            self._cache[key] = load_mqpm(spec, device=self.device)
        return self._cache[key]

    def spatial(self, spec: Any) -> Any:
        if not isinstance(spec, str):
            return spec
        key = ("spatial", spec)
        if key not in self._cache:
            from .. import plugins

            if Path(spec).is_file():
                from ..spatial import spatial_from_file

                self._cache[key] = spatial_from_file(spec)
            else:
                self._cache[key] = plugins.spatial_models().create(spec)
        return self._cache[key]


def _short_provenance(p: Any) -> Any:
    if not isinstance(p, Mapping):
        return p
    out = {k: v for k, v in p.items() if k not in ("card", "meta")}
    meta = p.get("meta")
    if isinstance(meta, Mapping):
        out["meta"] = {k: v for k, v in meta.items() if isinstance(v, (str, int, float, bool)) or v is None}
    card = p.get("card")
    if isinstance(card, str) and card.strip():
        out["card"] = card.strip().splitlines()[0]
    if isinstance(p.get("hq"), Mapping):  # an MQPM whose HQ probability comes from a second network
        out["hq"] = _short_provenance(p["hq"])
    return out


def machine_info(device: Any) -> dict[str, Any]:
    import torch

    info = {"device": str(device), "platform": platform.platform(), "processor": platform.processor() or
            platform.machine(), "cpu_count": os.cpu_count(), "torch_threads": torch.get_num_threads()}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def versions() -> dict[str, str]:
    import cv2
    import torch

    from .._version import __version__

    out = {"vsodboost": __version__, "python": platform.python_version(), "torch": torch.__version__,
           "numpy": np.__version__, "opencv": cv2.__version__}
    try:
        import timm

        out["timm"] = timm.__version__
    except ImportError:  # pragma: no cover
        pass
    return out


def in_sample_check(seqs: Sequence[SequenceData], specs: Mapping[str, Any], models: "_Models") -> dict[str, Any]:
    """Which scored sequences a model of the run was trained on (:func:`vsodboost.datasets.in_sample` against the
    ``trained_on`` its checkpoint records): ``{"sequences": {seq: ["mqpm <file>", ...]}, "unknown": [...],
    "models": {"mqpm <file>": description}}``. A model that records nothing is listed under ``unknown``."""
    from ..datasets import in_sample, trained_on_of

    found: dict[str, list[str]] = {}
    unknown: list[str] = []
    described: dict[str, str] = {}
    fps = {s.name: s.fingerprint() for s in seqs}
    for seq in seqs:
        for kind, spec in specs.items():
            w = _weights_for(spec, seq.name)
            model = models.mqpm(w) if kind == "mqpm" else models.spatial(w)
            prov = getattr(model, "provenance", None)
            if isinstance(prov, Mapping) and prov.get("file"):
                label = Path(str(prov["file"])).name
            else:  # a name, or a loaded model without a file (its repr would be its whole layer list)
                label = w if isinstance(w, str) else type(w).__name__
            who = f"{kind} {label}"
            entries, desc = trained_on_of(prov)
            described[who] = desc
            if entries is None:
                if who not in unknown:
                    unknown.append(who)
            elif in_sample(entries, seq, fps[seq.name]):
                found.setdefault(seq.name, []).append(who)
    return {"sequences": found, "unknown": unknown, "models": described}


def _check_recorded(out: Path, seqs: Sequence[SequenceData], main: Mapping[str, Any]) -> None:
    """A resumed sequence must have its recorded maps; a partial copy (deleted by hand) is reported."""
    for seq in seqs:
        motion = out / "motion" / seq.name
        targets = _maps_in(out / "target" / seq.name)
        if not any(s in targets for s in seq.annotated) or not motion.is_dir():
            raise InputError(f"{out}: the recorded maps of {seq.name!r} (target/, motion/) are missing while its "
                             f"boosted maps are complete; delete {out / 'boosted' / seq.name} to redo it")


def _weights_report(main: Mapping[str, Any]) -> dict[str, Any]:
    """Each distinct MQPM / spatial weights file and the sequences that used it."""
    out: dict[str, list[dict[str, Any]]] = {"mqpm": [], "spatial": []}
    for seq, summary in main.items():
        prov = summary["provenance"]
        for kind in ("mqpm", "spatial"):
            p = _short_provenance(prov.get(kind))
            for entry in out[kind]:
                if entry["provenance"] == p:
                    entry["sequences"].append(seq)
                    break
            else:
                out[kind].append({"provenance": p, "sequences": [seq]})
    return out


def main_command_line() -> str:
    return " ".join(["vsodboost", *sys.argv[1:]])
