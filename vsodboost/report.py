"""One HTML page a person opens in a browser: headings, tables, pictures and videos, by relative path.

No JavaScript and no assets beyond the files the page names (written beside it), so the folder can be copied,
zipped or served as it is. ``vsodboost demo`` and ``vsodboost bench`` write one (``report.html``); the
labelled side-by-side videos both show (frame | ground truth | maps…, mined frames framed in green) are drawn
here.
"""

from __future__ import annotations

import html
import os
import re
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import quote

import cv2
import numpy as np

from .io import atomic_write_bytes, out_path, publish, temp_sibling

__all__ = ["table", "video", "image", "write_report", "markdown_html", "panel", "write_video",
           "write_side_by_side", "MINED", "BROWSER_CODECS", "ALL_CODECS"]

MINED = (0, 200, 0)  # BGR green: the border and tag of a frame the Booster mined
#: (extension, fourcc): VP8 WebM plays in browsers; MPEG-4 Part 2 (what OpenCV's wheels write) in most desktop
#: players, not browsers.
BROWSER_CODECS: tuple[tuple[str, str], ...] = ((".webm", "VP80"),)
ALL_CODECS: tuple[tuple[str, str], ...] = ((".webm", "VP80"), (".mp4", "mp4v"))

_STYLE = """body{font-family:system-ui,sans-serif;max-width:1700px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
td:first-child,th:first-child{text-align:left}td+td{white-space:nowrap}
tr.best td{font-weight:600;background:#eef7ee}
video,img{max-width:100%;border:1px solid #ccc}p.note{color:#555}blockquote{border-left:4px solid #e0b000;
margin:.5em 0;padding:.2em .8em;background:#fffbea}pre{background:#f4f4f4;padding:.5em;overflow-x:auto}"""


def table(head: Sequence[str], rows: Sequence[Sequence[Any]], *, highlight: int | None = None) -> str:
    """An HTML table; floats as ``.3f``; row ``highlight`` (0-based) is marked (the default's row)."""
    def cell(v: Any) -> str:
        return html.escape(f"{v:.3f}" if isinstance(v, float) else str(v))

    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    for k, row in enumerate(rows):
        cls = ' class="best"' if k == highlight else ""
        out.append(f"<tr{cls}>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>")
    return "\n".join(out + ["</table>"])


def _src(path: str) -> str:
    """A relative path as a URL attribute value (``#``, ``?`` or a space in a sequence name stays part of the
    path)."""
    return html.escape(quote(path.replace(os.sep, "/")))


def video(sources: Sequence[str], *, caption: str = "") -> str:
    """A looping, muted (so browsers let it autoplay) ``<video>`` trying ``sources`` in order."""
    types = {".webm": "video/webm", ".mp4": "video/mp4"}
    src = "".join(f'<source src="{_src(s)}" type="{types.get(Path(s).suffix, "")}">' for s in sources)
    fig = f"<figure><video controls autoplay loop muted playsinline>{src}</video>"
    return fig + (f"<figcaption>{html.escape(caption)}</figcaption>" if caption else "") + "</figure>"


def image(src: str, *, alt: str) -> str:
    return f'<figure><img src="{_src(src)}" alt="{html.escape(alt)}"></figure>'


def write_report(path: str | os.PathLike[str], title: str, sections: Sequence[tuple[str, str]]) -> Path:
    """Write ``path``: ``title`` and each ``(heading, html)`` section (html from :func:`table`, :func:`video`,
    :func:`image`, :func:`markdown_html` or escaped text; an empty heading adds none), atomically."""
    body = "".join((f"<h2>{html.escape(h)}</h2>\n" if h else "") + f"{content}\n" for h, content in sections)
    page = (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
            f"<body><h1>{html.escape(title)}</h1>\n{body}</body></html>\n")
    atomic_write_bytes(path, page.encode("utf-8"))
    return Path(path)


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", out)


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.strip().strip("|").split("|")]


def markdown_html(md: str) -> str:
    """HTML for the Markdown subset vsodboost's reports use: ``#`` headings, pipe tables (first row the
    header), fenced code, ``>`` quotes, ``-`` lists, paragraphs, inline ``code`` and **bold** — one source for
    report.md's tables and report.html's."""
    out: list[str] = []
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            i += 1
        elif line.startswith("```"):
            j = i + 1
            while j < len(lines) and not lines[j].startswith("```"):
                j += 1
            out.append("<pre>" + html.escape("\n".join(lines[i + 1:j])) + "</pre>")
            i = j + 1
        elif m := re.match(r"(#{1,6}) (.*)", line):
            out.append(f"<h{len(m.group(1))}>{_inline(m.group(2))}</h{len(m.group(1))}>")
            i += 1
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                if not re.fullmatch(r"\|[\s:|-]+\|", lines[i].strip()):  # not the |---|---:| separator
                    rows.append(_cells(lines[i]))
                i += 1
            cells = [("th" if k == 0 else "td", r) for k, r in enumerate(rows)]
            body = ["<tr>" + "".join(f"<{t}>{_inline(c)}</{t}>" for c in r) + "</tr>" for t, r in cells]
            out.append("<table>\n" + "\n".join(body) + "\n</table>")
        elif line.startswith(">"):
            block = []
            while i < len(lines) and lines[i].strip():  # up to a blank line (Markdown's lazy continuation)
                block.append(lines[i][1:].strip() if lines[i].startswith(">") else lines[i].strip())
                i += 1
            out.append("<blockquote>" + _inline(" ".join(block)) + "</blockquote>")
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not re.match(r"(#{1,6} |\||>|- |```)", lines[i]):
                para.append(lines[i])
                i += 1
            out.append("<p>" + _inline(" ".join(para)) + "</p>")
    return "\n".join(out)


# ------------------------------------------------------------------------------------------------- videos

def panel(frames: Sequence[np.ndarray], rows: Sequence[Sequence[np.ndarray]], labels: Sequence[str],
          idx: Sequence[int], mined: Sequence[int] = (), captions: Sequence[str] | None = None) -> np.ndarray:
    """BGR picture: frame (RGB) | one [0, 1] map per row, for the frames ``idx``, under a header naming each
    column; a frame in ``mined`` gets a green border and a "mined" tag; ``captions[i]`` (e.g. the frame's
    name) is written in the frame's top-left corner. Every map is the frame's size."""
    tiles = []
    for i in idx:
        frame = np.ascontiguousarray(frames[i][:, :, ::-1])
        if captions is not None:
            cv2.rectangle(frame, (0, 0), (8 + 7 * len(captions[i]), 15), (0, 0, 0), -1)
            cv2.putText(frame, captions[i], (3, 11), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (255, 255, 255), 1,
                        cv2.LINE_AA)
        if i in mined:
            cv2.rectangle(frame, (1, 1), (frame.shape[1] - 2, frame.shape[0] - 2), MINED, 3)
            cv2.rectangle(frame, (3, frame.shape[0] - 24), (60, frame.shape[0] - 4), MINED, -1)  # tag
            cv2.putText(frame, "mined", (8, frame.shape[0] - 9), cv2.FONT_HERSHEY_SIMPLEX, 0.5,
                        (255, 255, 255), 1, cv2.LINE_AA)
        cols = [frame] + [cv2.cvtColor(np.clip(r[i] * 255 + 0.5, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2BGR)
                          for r in rows]
        tiles.append(np.concatenate(cols, axis=1))
    grid = np.concatenate(tiles, axis=0)
    header = np.full((28, grid.shape[1], 3), 255, np.uint8)
    w = frames[idx[0]].shape[1]
    for k, lab in enumerate(["frame", *labels]):
        cv2.putText(header, lab, (k * w + 6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.concatenate([header, grid], axis=0)


def write_video(folder: str | os.PathLike[str], name: str, count: int, frame_at: Callable[[int], np.ndarray],
                *, fps: int = 10, codecs: Sequence[tuple[str, str]] = ALL_CODECS, first_only: bool = False
                ) -> list[Path]:
    """``folder/name<ext>`` for each ``(ext, fourcc)`` of ``codecs`` this OpenCV can write, from the ``count``
    BGR pictures ``frame_at(0…count−1)`` (all of one size), each written beside and renamed into place (never
    through a symlink, never outside ``folder``). ``first_only``: stop after the first codec that worked.
    Returns the files written."""
    if count <= 0:
        return []
    first = frame_at(0)
    size = (first.shape[1], first.shape[0])
    written: list[Path] = []
    for ext, fourcc in codecs:
        path = out_path(folder, name + ext)
        tmp = temp_sibling(path)
        writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*fourcc), fps, size)
        if not writer.isOpened():
            tmp.unlink(missing_ok=True)
            continue
        try:
            for i in range(count):
                writer.write(first if i == 0 else frame_at(i))
        except BaseException:
            writer.release()
            tmp.unlink(missing_ok=True)
            raise
        writer.release()
        publish(tmp, path)
        written.append(path)
        if first_only:
            break
    return written


def write_side_by_side(out: Path, frames: Sequence[np.ndarray], rows: Sequence[Sequence[np.ndarray]],
                       labels: Sequence[str], mined: Sequence[int], fps: int = 10) -> list[Path]:
    """The labelled side-by-side video of every frame (:func:`panel`): ``side_by_side.webm`` (VP8: plays in
    browsers) and ``side_by_side.mp4`` (MPEG-4 Part 2; most desktop players, not browsers). Returns the files
    written (a codec this OpenCV lacks is skipped)."""
    return write_video(out, "side_by_side", len(frames), lambda i: panel(frames, rows, labels, [i], mined),
                       fps=fps)
