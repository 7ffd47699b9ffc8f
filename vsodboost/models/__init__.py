"""The shared saliency network (paper Fig. 6) and its encoders.

>>> from vsodboost.models import saliency_unet
>>> net = saliency_unet("tf_efficientnet_lite0", pretrained=True, cls_head=True)   # the MQPM architecture
>>> logits, hq_logit = net(torch.rand(2, 3, 256, 256))                              # (2,1,256,256), (2,)
"""

from .encoders import ENCODERS, EncoderSpec, create_encoder, encoder_spec, load_imagenet_weights, lite0_to_timm
from .unet import MSDA, SaliencyUNet, UNetConfig, saliency_unet
from .checkpoint import UNET_FORMAT, load_unet_checkpoint, save_unet_checkpoint, unet_checkpoint  # noqa: E402

__all__ = ["ENCODERS", "EncoderSpec", "create_encoder", "encoder_spec", "load_imagenet_weights", "lite0_to_timm",
           "MSDA", "SaliencyUNet", "UNetConfig", "saliency_unet", "UNET_FORMAT", "load_unet_checkpoint",
           "save_unet_checkpoint", "unet_checkpoint"]
