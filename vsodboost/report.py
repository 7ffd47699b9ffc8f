"""One HTML page a person opens in a browser: headings, tables, pictures and videos, by relative path.

No JavaScript and no assets beyond the files the page names (written beside it), so the folder can be copied,
zipped or served as it is. ``vsodboost demo`` writes one (``report.html``).
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Any, Sequence

from .io import atomic_write_bytes

__all__ = ["table", "video", "image", "write_report"]

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1700px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}tr.best td{font-weight:600;background:#eef7ee}
video,img{max-width:100%;border:1px solid #ccc}p.note{color:#555}"""


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, highlight: int | None = None) -> str:
    """An HTML table; floats as ``.3f``; row ``highlight`` (0-based) is marked (the default's row)."""
    def cell(v: Any) -> str:
        return html.escape(f"{v:.3f}" if isinstance(v, float) else str(v))

    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for k, row in enumerate(rows):
        cls = ' class="best"' if k == highlight else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    return "\n".join(out + ["</table>"])


def video(sources: Sequence[str], *, caption: str = "") -> str:
    """A looping, muted (so browsers let it autoplay) ``<video>`` trying ``sources`` in order."""
    types = {".webm": "video/webm", ".mp4": "video/mp4"}
    src = "".join(f'<source src="{html.escape(s)}" type="{types.get(Path(s).suffix, "")}">' for s in sources)
    fig = f"<figure><video controls autoplay loop muted playsinline>{src}</video>"
    return fig + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "") + "</figure>"


def image(src: str, *, alt: str) -> str:
    return f'<figure><img src="{html.escape(src)}" alt="{html.escape(alt)}"></figure>'


def write_report(path: str | os.PathLike[str], title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write ``path``: ``title`` and each ``(heading, html)`` section (html from :func:`table`, :func:`video`,
    :func:`image` or escaped text), atomically."""
    body = "".join(f"<h2>{html.escape(h)}</h2>\n{content}\n" for h, content in sections)
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n")
    atomic_write_bytes(path, page.encode("utf-8"))
    return Path(path)
