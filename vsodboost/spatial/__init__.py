"""The spatial saliency model of Sec. V-C: pretrained once on saliency data, then, for every buffer, a *fresh copy*
is fine-tuned on the mined frames with the target's maps as pseudo ground truth and run on every frame.

Registry entries (``vsodboost plugins``): ``default`` (= ``u2netp``, the strongest shipped model), ``u2netp``
(U²-Net-p, DUTS-trained by its authors, shipped), ``lite0`` (the paper's model: the MQPM localization branch on RGB,
Lite0 encoder, saliency-pretrained on ECSSD, shipped; the ``fast`` preset), ``lite0_imagenet`` (same network, ImageNet
encoder only), ``vgg16`` (VGG-16 encoder as in the paper, needs its ImageNet weights), ``timm_unet`` (any registered encoder,
``register_encoders``, random or ImageNet init). Third-party models register through
``register_spatial_models``; a factory returns an ``nn.Module`` mapping float RGB [0,1] (B,3,H,W) to logits
(B,1,H,W), with a ``config`` holding ``input_size``.
"""

from .._deprecated import moved_names
from ._plugin import load_spatial, spatial_from_file
from .finetune import finetune, predict_maps

__all__ = ["finetune", "load_spatial", "predict_maps", "spatial_from_file"]

# names whose home is elsewhere (the config, the shared U-Net checkpoint format); these aliases go in the next release
__getattr__ = moved_names(__name__, {"FinetuneConfig": "vsodboost.config",
                                     "save_unet_checkpoint": "vsodboost.models.checkpoint",
                                     "load_unet_checkpoint": "vsodboost.models.checkpoint"})
