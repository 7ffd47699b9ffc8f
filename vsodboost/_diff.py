"""The one reader of "what changed" between the settings a run was saved with and the settings it is resumed with:
``runner`` (an output folder's resume key), ``mqpm.train`` and ``spatial.pretrain`` (a training checkpoint) all
refuse to continue with ``label: saved → now`` lines from :func:`settings_diff`."""

from __future__ import annotations

import json
from typing import Any, Mapping

__all__ = ["settings_diff"]


def _short(v: Any) -> str:
    if isinstance(v, list) and len(v) > 3:
        return f"{len(v)} items [{v[0]!r}…{v[-1]!r}]"
    text = v if isinstance(v, str) else json.dumps(v, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def settings_diff(old: Any, new: Any, labels: Mapping[str, str] | None = None, path: str = "") -> list[str]:
    """Every difference between two nested settings, one ``label: old → new`` line each (dotted paths, or the name
    ``labels`` gives a path; a missing key reads ``(absent)``; long values are shortened). Empty when equal."""
    labels = labels or {}
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in list(new) + [k for k in old if k not in new]:
            p = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{labels.get(p, p)}: (absent) → {_short(new[k])}")
            elif k not in new:
                out.append(f"{labels.get(p, p)}: {_short(old[k])} → (absent)")
            else:
                out += settings_diff(old[k], new[k], labels, p)
        return out
    return [] if old == new else [f"{labels.get(path, path)}: {_short(old)} → {_short(new)}"]
