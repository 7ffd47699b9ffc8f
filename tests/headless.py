"""Render an HTML page in a headless Chromium/Chrome and read back the state of its ``<video>`` elements.

Tests that use it skip with a reason where no browser is installed (e.g. ``.ci/run``: it stays light); to run
them, install one (Debian: ``apt-get install chromium``)."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Appended to a copy of the page: every 100 ms (virtual time) writes each video's state into the DOM.
_PROBE = """<script>
function vsodboostProbe(){var out=[];for(const v of document.querySelectorAll('video')){out.push({
readyState:v.readyState,duration:v.duration,src:v.currentSrc,width:v.videoWidth,height:v.videoHeight,
error:v.error?v.error.code:0,currentTime:v.currentTime,paused:v.paused,
played:Array.from({length:v.played.length},(_,i)=>v.played.end(i)-v.played.start(i)).reduce((a,b)=>a+b,0)});}
document.getElementById('vsodboost-probe').textContent=JSON.stringify(out);}
setInterval(vsodboostProbe,100);window.addEventListener('load',vsodboostProbe);
</script><pre id="vsodboost-probe"></pre>"""


def browser() -> str | None:
    return next((shutil.which(n) for n in NAMES if shutil.which(n)), None)


needs_browser = pytest.mark.skipif(
    browser() is None,
    reason="no headless browser (chromium, chromium-browser or google-chrome) on PATH to render report.html; "
           "apt-get install chromium")


def _run(args: list[str], page: Path, profile: Path) -> subprocess.CompletedProcess:
    cmd = [str(browser()), "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--autoplay-policy=no-user-gesture-required", f"--user-data-dir={profile}", *args,
           page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def video_states(page: Path, work: Path, budget_ms: int = 5000) -> list[dict]:
    """Load a copy of ``page`` (beside it, so its relative paths resolve) with a probe script, let it run for
    ``budget_ms`` of virtual time, and return each ``<video>``'s readyState, duration, currentSrc, size, error
    code, currentTime, paused flag and seconds played (summed ``played`` ranges) as the browser saw them."""
    probe = page.with_name(".probe-" + page.name)
    text = page.read_text(encoding="utf-8")
    probe.write_text(text.replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    try:
        proc = _run([f"--virtual-time-budget={budget_ms}", "--dump-dom"], probe, work / "profile")
    finally:
        probe.unlink()
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="vsodboost-probe">(.*?)</pre>', proc.stdout, re.S)
    assert found and found.group(1), f"the probe wrote nothing: {proc.stdout[-1000:]}"
    return json.loads(html.unescape(found.group(1)))


def screenshot(page: Path, shot: Path, work: Path, size: str = "1600,1400", budget_ms: int = 2000) -> None:
    proc = _run([f"--virtual-time-budget={budget_ms}", f"--screenshot={shot}", f"--window-size={size}"], page,
                work / "profile")
    assert proc.returncode == 0 and shot.is_file(), proc.stderr[-2000:]
