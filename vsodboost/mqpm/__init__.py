"""Motion quality: scores (Eq. 1), labels (Eqs. 2–4) and the motion quality prediction module (Fig. 6).

>>> from vsodboost.mqpm import load_mqpm
>>> mqpm = load_mqpm("default", device="cpu")              # shipped weights (two networks), strict, offline
>>> hq_prob, motion_map = mqpm.predict(flow_images)        # uint8 (T,3,H,W) → (T,), (T,H,W)
"""

from .labels import motion_quality_scores, mqs_labels
from .model import DEFAULT_HQ_WEIGHTS, DEFAULT_WEIGHTS, MQPM, Provenance, load_mqpm, mqpm_checkpoint
from .theta import DEFAULT_THETA, get_theta, list_thetas, register_theta

__all__ = ["mqs_labels", "motion_quality_scores", "MQPM", "Provenance", "load_mqpm", "mqpm_checkpoint",
           "DEFAULT_WEIGHTS", "DEFAULT_HQ_WEIGHTS", "DEFAULT_THETA", "get_theta", "list_thetas", "register_theta"]
