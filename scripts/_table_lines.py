"""Console lines the scripts print for the bench's tables (the numbers come from :mod:`vsodboost.bench`)."""

from __future__ import annotations

from typing import Any, Mapping


def table1_lines(t: Mapping[str, Any], label: str = "", frames: str = " frames") -> list[str]:
    """Table I (:func:`vsodboost.bench.table1`): one line for the HQ and one for the LQ frames, the paper's five
    metrics; ``label`` goes before HQ/LQ, ``frames`` after the frame count."""
    return [f"  {label}{row.upper()} {t[row]['frames']:4d}{frames}  maxF {t[row]['maxF']:.3f} "
            f"meanF {t[row]['meanF']:.3f} adpF {t[row]['adpF']:.3f} S {t[row]['S']:.3f} MAE {t[row]['MAE']:.4f}"
            for row in ("hq", "lq")]
