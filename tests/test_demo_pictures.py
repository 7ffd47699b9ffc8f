"""The demo's pictures (issue 22): the PNG shows the default (fused) output, every column is labelled, mined
frames are marked, and the side-by-side video has a browser-playable WebM beside the mp4."""

from __future__ import annotations

import types
from html.parser import HTMLParser

import cv2
import numpy as np
import pytest
from headless import needs_browser, screenshot, video_states

import vsodboost.booster as booster_mod
from vsodboost import demo
from vsodboost.report import panel, write_side_by_side
from vsodboost.report import MINED


def _tiny(n=3, h=32, w=40):
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (h, w, 3), dtype=np.uint8) for _ in range(n)]
    rows = [[np.full((h, w), v, np.float32) for _ in range(n)] for v in (0.0, 0.5, 1.0)]
    return frames, rows


def test_panel_labels_every_column_and_frames_mined_frames():
    frames, rows = _tiny(w=120)
    img = panel(frames, rows, ["a", "b", "c"], [0, 1], mined=[1])
    assert img.shape == (28 + 2 * 32, 4 * 120, 3)
    header = img[:28]
    for k in range(4):  # some dark text in each column's header cell
        assert (header[:, k * 120:(k + 1) * 120] < 128).any(), k
    plain, marked = img[28:60, :120], img[60:92, :120]
    assert (plain == frames[0][:, :, ::-1]).all()  # an unmined frame is shown as it is
    assert (marked[1, 40] == MINED).all() and not (frames[1][:, :, ::-1] == marked).all()


def test_side_by_side_video_is_written_as_webm_and_mp4_with_the_header(tmp_path):
    frames, rows = _tiny(n=4, w=64, h=48)
    files = write_side_by_side(tmp_path, frames, rows, ["a", "b", "c"], mined=[2])
    if not files:
        pytest.skip("this OpenCV build writes neither VP8 nor mp4v")
    for f in files:
        cap = cv2.VideoCapture(str(f))
        ok, first = cap.read()
        count = 1
        while cap.read()[0]:
            count += 1
        cap.release()
        assert ok and count == 4 and first.shape[:2] == (28 + 48, 4 * 64), f
        assert first[:28].mean() > 200  # the white, labelled header is in every video frame


def test_demo_png_shows_the_default_fused_output_beside_the_spatial_models(tmp_path, monkeypatch):
    """A stand-in run: boosted (replace) maps all 1 and motion weights ¾, so the default's motion fusion is
    ¾ + ¼ · target."""

    def fake_run(self, frames, name=None, progress=False):
        n = len(frames)
        target = [self.target.predict_one(i) for i in range(n)]
        return types.SimpleNamespace(boosted=[np.ones_like(t) for t in target], target=target, mined=[1],
                                     motion_weight=np.full(n, 0.75),
                                     names=[f"{i:05d}" for i in range(n)], timings={},
                                     save=lambda *a, **k: None)

    clip, masks, target = demo.synthetic_clip(4, seed=0)
    monkeypatch.setattr(booster_mod.Booster, "run", fake_run)
    monkeypatch.setattr(demo.ArrayTarget, "predict_one", lambda self, i: target[f"{i:05d}"], raising=False)
    demo.run_demo(tmp_path, frames=4, device="cpu", quiet=True)
    png = cv2.imread(str(tmp_path / "side_by_side.png"), cv2.IMREAD_GRAYSCALE)
    h, w = clip[0].shape[:2]
    assert png.shape == (28 + 4 * h, 5 * w)
    tile = png[28: 28 + h]  # frame 0's row: frame | GT | target | default | replace
    want = np.clip((0.75 + 0.25 * target["00000"]) * 255 + 0.5, 0, 255)
    assert np.abs(tile[:, 3 * w: 4 * w] - want).max() <= 1  # the default (motion) column
    assert (tile[:, 4 * w:] == 255).all()  # the spatial model alone (replace)


class _Page(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)
            self._in_td = False


def _demo_with_stub(tmp_path, monkeypatch):
    test_demo_png_shows_the_default_fused_output_beside_the_spatial_models(tmp_path, monkeypatch)
    return tmp_path / "report.html"


def test_demo_report_html_names_only_files_that_exist_and_holds_the_scores(tmp_path, monkeypatch):
    page_path = _demo_with_stub(tmp_path, monkeypatch)
    page = _Page()
    page.feed(page_path.read_text(encoding="utf-8"))
    sources = [a["src"] for t, a in page.tags if t in ("source", "img")]
    assert "side_by_side.png" in sources and any(s.endswith(".webm") for s in sources)
    for src in sources:  # relative paths, beside the page
        assert (tmp_path / src).is_file(), src
    video = next(a for t, a in page.tags if t == "video")
    assert {"autoplay", "loop", "muted", "controls"} <= set(video)
    assert page.cells[:1] == ["target"] and "boosted (default: motion fusion)" in page.cells
    assert 'class="best"' in page_path.read_text(encoding="utf-8")  # the default's row is marked


@needs_browser
def test_demo_report_renders_in_a_headless_browser_with_its_video_playing(tmp_path, monkeypatch):
    page_path = _demo_with_stub(tmp_path, monkeypatch)
    shot = tmp_path / "shot.png"
    screenshot(page_path, shot, tmp_path)
    img = cv2.imread(str(shot))
    assert img is not None and img.std() > 5  # something was drawn, not a blank page
    states = video_states(page_path, tmp_path)
    assert len(states) == 1, states
    v = states[0]  # the WebM (VP8) source was chosen and decoded: 4 frames at 10 fps
    assert v["src"].endswith("side_by_side.webm") and v["error"] == 0, v
    assert v["readyState"] >= 1 and v["duration"] == pytest.approx(0.4, abs=0.05), v
    assert (v["width"], v["height"]) == (5 * 320, 28 + 240), v
    assert not v["paused"] and v["played"] > 0, v  # it autoplays (muted)


def test_markdown_html_renders_the_report_subset_and_escapes_text():
    from vsodboost.report import markdown_html

    md = ("## Table <V>\n\nA `code` and **bold** & more\non two lines.\n\n| | maxF |\n|---|---:|\n"
          "| **total** | 0.5 |\n\n> quoted\nlazily continued\n\n- one\n- two\n\n"
          "```\nvsodboost bench <x>\n```\n")
    out = markdown_html(md)
    assert "<h2>Table &lt;V&gt;</h2>" in out
    assert "<p>A <code>code</code> and <strong>bold</strong> &amp; more on two lines.</p>" in out
    assert "<tr><th></th><th>maxF</th></tr>\n<tr><td><strong>total</strong></td><td>0.5</td></tr>" in out
    assert "---" not in out  # the separator row is no row
    assert "<blockquote>quoted lazily continued</blockquote>" in out
    assert "<ul><li>one</li><li>two</li></ul>" in out and "<pre>vsodboost bench &lt;x&gt;</pre>" in out


def test_readme_shows_a_small_screenshot_of_bench_report_html():
    """The docs' picture of report.html (scripts/report_screenshot.py) is there, referenced and small."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    assert "](docs/report.jpg)" in (root / "README.md").read_text(encoding="utf-8")
    jpg = root / "docs" / "report.jpg"
    assert jpg.read_bytes()[:3] == b"\xff\xd8\xff" and jpg.stat().st_size <= 150_000
