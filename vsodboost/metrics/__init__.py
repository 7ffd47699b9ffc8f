"""Saliency metrics with pysodmetrics' conventions, in torch: per-frame functions and a streaming accumulator.

See ``docs/metrics.md`` for the conventions, the averaging modes and the measured speed.
"""

from __future__ import annotations

from .functional import (
    adaptive_e_measure,
    adaptive_f_measure,
    e_measure_curve,
    f_measure_curve,
    frame_metrics,
    frame_stats,
    mae,
    s_measure,
    weighted_f_measure,
)

from .functional import __all__ as _functional  # noqa: E402

__all__ = list(_functional)

from .accumulator import METRIC_KEYS, SODMetrics  # noqa: E402
from .evaluate import evaluate_folders, resize_to  # noqa: E402
from .._deprecated import moved_names  # noqa: E402

__all__ += ["SODMetrics", "METRIC_KEYS", "evaluate_folders", "resize_to"]

# maps are read by vsodboost.io alone; this alias goes in the next release
__getattr__ = moved_names(__name__, {"read_map": "vsodboost.io"})
