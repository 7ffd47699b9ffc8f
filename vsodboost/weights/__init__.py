"""Weights: the public API for finding, checking and loading them (what a plugin uses), beside the files we ship.

This folder holds the weights vsodboost ships, each with a model card (``*.md``: data, command, numbers). The
functions below are the library's own (``vsodboost._weights``), made public for plugins:

- :class:`WeightSpec` names a published file (url, sha256, licence); :func:`resolve_weights` finds it: explicit path
  → cache (``$VSODBOOST_HOME``) → download with sha256 check (unless :func:`offline`) →
  :class:`~vsodboost.errors.MissingWeightsError` saying where to put it;
- :func:`load_checkpoint` is ``torch.load(..., weights_only=True)`` with a readable error;
  :func:`unwrap_state_dict` finds the tensors in a container; :func:`rename_keys` renames keys explicitly;
- :func:`load_state_dict_strict` loads by name, every key and shape required, and raises
  :class:`~vsodboost.errors.WeightsError` with :func:`state_dict_diff` otherwise — never by position;
- :func:`save_checkpoint` writes ``{"format", "config", "state_dict", "meta"}`` atomically.

Example (a plugin's own network)::

    from vsodboost.weights import load_checkpoint, load_state_dict_strict, unwrap_state_dict
    load_state_dict_strict(net, unwrap_state_dict(load_checkpoint("my.pth")), source="my.pth")
"""

from __future__ import annotations

from pathlib import Path

from .._weights import (WeightSpec, export_state_dict, home_dir, load_checkpoint, load_state_dict_strict, offline,
                        rename_keys, resolve_weights, save_checkpoint, sha256_file, state_dict_diff,
                        unwrap_state_dict)

__all__ = ["SHIPPED", "WeightSpec", "export_state_dict", "home_dir", "load_checkpoint", "load_state_dict_strict",
           "offline", "rename_keys", "resolve_weights", "save_checkpoint", "sha256_file", "state_dict_diff",
           "unwrap_state_dict"]

#: The folder of the weights shipped in the package (``mqpm_lite0_dis.pt``, ``spatial_lite0.pt``, ``u2netp.pt``,
#: ``u2netp_davistr.pt``).
SHIPPED = Path(__file__).parent
