"""PR and F-measure-vs-threshold curves of one or several methods (needs matplotlib: ``pip install vsodboost[plot]``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError

__all__ = ["plot_curves"]


def plot_curves(results: Mapping[str, Mapping[str, Any]], out_dir: str | os.PathLike[str],
                title: str = "") -> list[Path]:
    """Draw ``pr_curve.png`` and ``fmeasure_curve.png`` in ``out_dir``, one line per method.

    Args:
        results: method name → an :func:`~vsodboost.metrics.evaluate_folders` result (its ``curves`` entry is used).
    Returns:
        The written files.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise InputError("--plot needs matplotlib: pip install 'vsodboost[plot]' (or pip install matplotlib)") from exc
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    fig, ax = plt.subplots(figsize=(5, 5))
    for name, res in results.items():
        c = res["curves"]
        ax.plot(c["recall"], c["precision"], label=f"{name} (maxF {res['maxF']:.3f})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1), ylim=(0, 1.01), title=title or "precision-recall")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    written.append(out / "pr_curve.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, res in results.items():
        f = res["curves"]["F"]
        ax.plot(range(len(f)), f, label=f"{name} (maxF {res['maxF']:.3f}, meanF {res['meanF']:.3f})")
    ax.set(xlabel="threshold (0-255)", ylabel="F-measure (beta^2 = 0.3)", xlim=(0, 255), ylim=(0, 1.01),
           title=title or "F-measure vs threshold")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower center")
    fig.tight_layout()
    written.append(out / "fmeasure_curve.png")
    fig.savefig(written[-1], dpi=120)
    plt.close(fig)
    return written
