"""Weight files: where they come from, how they are verified and how they load.

Sources are tried in a fixed, logged order: an explicit path → the cache (``$VSODBOOST_HOME``, default
``~/.cache/vsodboost``) → a download from the published URL, checked against its sha256 → a
:class:`MissingWeightsError` naming the file to place in the cache. Loading is always
``torch.load(..., weights_only=True)`` and strict, by name, with a readable diff on mismatch.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import torch
from torch import nn

from .errors import ChecksumError, InputError, MissingWeightsError, OutputError, WeightsError

__all__ = [
    "WeightSpec",
    "home_dir",
    "resolve_weights",
    "sha256_file",
    "load_checkpoint",
    "unwrap_state_dict",
    "rename_keys",
    "load_state_dict_strict",
    "state_dict_diff",
    "export_state_dict",
    "save_checkpoint",
    "offline",
]

_log = logging.getLogger("vsodboost.weights")


@dataclass(frozen=True)
class WeightSpec:
    """A published weight file: what it is, where it lives, how to check it."""

    name: str
    filename: str
    url: str | None = None
    sha256: str | None = None
    license: str = "unknown"
    source: str = ""  # human-readable origin (paper / repository)
    description: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def cache_path(self, subdir: str = "") -> Path:
        return home_dir() / subdir / self.filename


def home_dir() -> Path:
    """``$VSODBOOST_HOME`` or ``~/.cache/vsodboost``."""
    env = os.environ.get("VSODBOOST_HOME")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vsodboost"


def offline() -> bool:
    """``$VSODBOOST_OFFLINE`` is set (1, true, yes): never touch the network for weights."""
    return os.environ.get("VSODBOOST_OFFLINE", "0").strip().lower() in ("1", "true", "yes")


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


class _Unreachable(Exception):
    """The network failed (not an OSError: ``atomic_write`` must not report it as a disk error)."""


def _download(url: str, dest: Path, sha256: str | None, opener: Callable[[str], Any] | None = None) -> None:
    """Fetch ``url`` to ``dest`` atomically (:func:`vsodboost.io.atomic_write`): a partial or mismatching download
    never sits under the final name, and no temporary file is left behind. A network failure raises
    :class:`MissingWeightsError` ("could not reach"), a disk failure :class:`OutputError` (free space)."""
    from .io import atomic_write

    def fetch(out: Any) -> None:
        try:  # URLError, HTTPError, socket timeouts, refused connections: all OSErrors, none about our disk
            resp_cm = (opener or urllib.request.urlopen)(url)
        except OSError as exc:
            raise _Unreachable(exc) from exc
        with resp_cm as resp:
            while True:
                try:
                    block = resp.read(1 << 20)
                except OSError as exc:
                    raise _Unreachable(exc) from exc
                if not block:
                    break
                out.write(block)  # an OSError here is the disk's: atomic_write reports it as OutputError

    def check(tmp: Path) -> None:
        got = sha256_file(tmp)
        if got != sha256:
            raise ChecksumError(f"download of {url} has sha256 {got}, expected {sha256}; the file was discarded "
                                "(a changed upload or a broken transfer): fetch it by hand and verify it")

    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(dest, fetch, verify=check if sha256 is not None else None)
    except _Unreachable as exc:
        cause = exc.__cause__
        raise MissingWeightsError(
            f"could not reach {url} ({type(cause).__name__}: {cause}); offline? set VSODBOOST_OFFLINE=1 and "
            f"put the file at {dest}") from cause
    except OSError as exc:
        if isinstance(exc, MissingWeightsError):
            raise
        cause = exc.__cause__ if isinstance(exc, OutputError) and exc.__cause__ is not None else exc
        raise OutputError(f"cannot save the download of {url} to {dest} ({type(cause).__name__}: {cause}); "
                          "free space there or set VSODBOOST_HOME to a writable folder") from exc


def resolve_weights(
    spec: WeightSpec,
    path: str | os.PathLike[str] | None = None,
    *,
    subdir: str = "",
    download: bool | None = None,
    opener: Callable[[str], Any] | None = None,
) -> Path:
    """Find ``spec``'s file: explicit ``path`` → cache → download (checksum) → :class:`MissingWeightsError`.

    ``download=None`` follows ``$VSODBOOST_OFFLINE`` (set to 1 to never touch the network). ``opener`` replaces
    ``urllib.request.urlopen`` (tests use a ``file://`` opener).
    """
    if path is not None:
        p = Path(path).expanduser()
        if not p.is_file():
            raise MissingWeightsError(f"weights file {p} for {spec.name!r} does not exist")
        _log.info("weights %s: explicit path %s", spec.name, p)
        return p
    cached = spec.cache_path(subdir)
    if cached.is_file():
        if spec.sha256 is not None and sha256_file(cached) != spec.sha256:
            raise ChecksumError(
                f"cached weights {cached} for {spec.name!r} do not match the published sha256 {spec.sha256}; "
                "delete the file and fetch it again"
            )
        _log.info("weights %s: cache %s", spec.name, cached)
        return cached
    if download is None:
        download = not offline()
    where = f"Download {spec.url} by hand and place it at {cached}" if spec.url else f"Place the file at {cached}"
    if download and spec.url:
        try:
            _log.info("weights %s: downloading %s", spec.name, spec.url)
            _download(spec.url, cached, spec.sha256, opener)
            return cached
        except ChecksumError:
            raise
        except (MissingWeightsError, OutputError) as exc:  # our own message says network or disk
            raise MissingWeightsError(
                f"weights {spec.name!r} ({spec.filename}) are not cached and the download failed: {exc}. "
                f"{where}, or pass the file's path explicitly.") from exc
        except Exception as exc:
            raise MissingWeightsError(
                f"weights {spec.name!r} ({spec.filename}) are not cached and the download failed "
                f"({type(exc).__name__}: {exc}). {where}, or pass the file's path explicitly."
            ) from exc
    raise MissingWeightsError(
        f"weights {spec.name!r} ({spec.filename}) are not available offline. {where}, or pass the file's path "
        "explicitly."
    )


def load_checkpoint(path: str | os.PathLike[str], map_location: str | torch.device = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True`` and a readable error for files that are not checkpoints."""
    p = Path(path)
    if not p.is_file():
        raise MissingWeightsError(f"checkpoint {p} does not exist")
    try:
        return torch.load(p, map_location=map_location, weights_only=True)
    except Exception as exc:
        raise WeightsError(
            f"{p} is not a loadable PyTorch checkpoint with weights_only=True ({type(exc).__name__}: {exc})"
        ) from exc


def unwrap_state_dict(obj: Any, containers: tuple[str, ...] = ("state_dict", "model", "net")) -> dict[str, Any]:
    """Return the tensor dict of a checkpoint: a plain state dict or one nested under a known container key."""
    for _ in range(3):
        if isinstance(obj, Mapping) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return dict(obj)
        if isinstance(obj, Mapping):
            key = next((k for k in containers if k in obj), None)
            if key is None:
                break
            obj = obj[key]
        else:
            break
    keys = list(obj.keys())[:10] if isinstance(obj, Mapping) else type(obj).__name__
    raise WeightsError(f"checkpoint holds no state dict (top-level: {keys}); expected tensors or one of {containers}")


def rename_keys(
    state: Mapping[str, Any],
    *,
    strip_prefixes: tuple[str, ...] = (),
    table: Mapping[str, str] | None = None,
    fn: Callable[[str], str] | None = None,
) -> dict[str, Any]:
    """Rename checkpoint keys explicitly: strip prefixes (e.g. ``module.``), then a substring table, then ``fn``."""
    out: dict[str, Any] = {}
    for k, v in state.items():
        nk = k
        for pre in strip_prefixes:
            if nk.startswith(pre):
                nk = nk[len(pre):]
        for old, new in (table or {}).items():
            nk = nk.replace(old, new)
        if fn is not None:
            nk = fn(nk)
        if nk in out:
            raise WeightsError(f"renaming maps two checkpoint keys onto {nk!r} (second: {k!r})")
        out[nk] = v
    return out


def state_dict_diff(expected: Mapping[str, torch.Tensor], got: Mapping[str, Any], limit: int = 20) -> str:
    """A readable diff: missing keys, unexpected keys, shape mismatches. Empty string when they match."""
    exp, have = set(expected), set(got)
    lines: list[str] = []

    def block(title: str, items: list[str]) -> None:
        if items:
            lines.append(f"{title} ({len(items)}):")
            lines.extend(f"  {s}" for s in items[:limit])
            if len(items) > limit:
                lines.append(f"  ... and {len(items) - limit} more")

    block("missing from checkpoint", sorted(exp - have))
    block("unexpected in checkpoint", sorted(have - exp))
    shapes = [
        f"{k}: model {tuple(expected[k].shape)} vs checkpoint {tuple(getattr(got[k], 'shape', ()))}"
        for k in sorted(exp & have)
        if tuple(expected[k].shape) != tuple(getattr(got[k], "shape", ()))
    ]
    block("shape mismatch", shapes)
    return "\n".join(lines)


def load_state_dict_strict(model: nn.Module, state: Mapping[str, Any], *, source: str = "checkpoint") -> None:
    """Load ``state`` into ``model`` by name, all keys and shapes required; dtype is cast to the model's."""
    if not isinstance(state, Mapping):
        raise InputError(f"{source}: expected a mapping of tensors, got {type(state).__name__}")
    expected = model.state_dict()
    diff = state_dict_diff(expected, state)
    if diff:
        raise WeightsError(f"{source} does not match {type(model).__name__}:\n{diff}")
    cast = {k: v.to(dtype=expected[k].dtype) if torch.is_tensor(v) else v for k, v in state.items()}
    model.load_state_dict(cast, strict=True)


def export_state_dict(model: nn.Module, *, half: bool = True) -> dict[str, torch.Tensor]:
    """A detached CPU copy of ``model``'s state dict for a checkpoint; ``half`` stores floating tensors in fp16
    (halves the file; :func:`load_state_dict_strict` casts them back to the model's dtype)."""
    return {k: (v.half() if half and v.is_floating_point() else v).detach().cpu().clone()
            for k, v in model.state_dict().items()}


def save_checkpoint(path: str | os.PathLike[str], *, format: str, config: Mapping[str, Any],
                    state_dict: Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None = None) -> Path:
    """Write ``{"format", "config", "state_dict", "meta"}`` atomically (:func:`vsodboost.io.atomic_write`),
    loadable with ``weights_only=True``: ``meta`` is reduced to plain JSON types (e.g. torch's ``TorchVersion``
    would not load back)."""
    from .io import atomic_write

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    obj = {"format": format, "config": dict(config), "state_dict": dict(state_dict),
           "meta": json.loads(json.dumps(dict(meta or {}), default=str))}
    atomic_write(p, lambda f: torch.save(obj, f))
    return p
