"""PR and F-measure-vs-threshold curves of one or several methods (needs matplotlib: ``pip install vsodboost[plot]``)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from ..errors import InputError
from ..io import write_figure_atomic

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
    pr = [(res["curves"]["recall"], res["curves"]["precision"], f"{name} (maxF {res['maxF']:.3f})")
          for name, res in results.items()]
    fm = [(range(len(res["curves"]["F"])), res["curves"]["F"],
           f"{name} (maxF {res['maxF']:.3f}, meanF {res['meanF']:.3f})") for name, res in results.items()]
    return [
        _draw(plt, out / "pr_curve.png", pr, (5, 5), "lower left", xlabel="recall", ylabel="precision",
              xlim=(0, 1), ylim=(0, 1.01), title=title or "precision-recall"),
        _draw(plt, out / "fmeasure_curve.png", fm, (6, 4), "lower center", xlabel="threshold (0-255)",
              ylabel="F-measure (beta^2 = 0.3)", xlim=(0, 255), ylim=(0, 1.01),
              title=title or "F-measure vs threshold"),
    ]


def _draw(plt: Any, path: Path, lines: list[tuple[Any, Any, str]], figsize: tuple[float, float], legend: str,
          **axes: Any) -> Path:
    """One figure: a line per ``(x, y, label)``, axes set from ``axes``, a grid and a legend at ``legend``."""
    fig, ax = plt.subplots(figsize=figsize)
    for x, y, label in lines:
        ax.plot(x, y, label=label)
    ax.set(**axes)
    ax.grid(alpha=0.3)
    ax.legend(loc=legend)
    fig.tight_layout()
    write_figure_atomic(fig, path, dpi=120)
    plt.close(fig)
    return path
