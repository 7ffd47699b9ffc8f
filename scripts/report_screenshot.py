"""docs/report.jpg: a screenshot of the report.html `vsodboost bench` writes, rendered by headless Chromium.

A synthetic dataset (two 24-frame clips from ``vsodboost.testing.synthetic_clip``, every frame annotated, the
clip's imperfect target as precomputed maps) is benched with the CLI (quality preset, CPU, Tables I, V, VII);
the page is rendered with ``chromium --headless --screenshot``, its videos stopped on chosen frames by a
script added to a copy of the page (``drift`` on 00007, a mined frame; ``swerve`` on 00008, where the target
misses half the object), cropped to the headline tables and the videos, scaled to 800 px and saved as JPEG.
That the videos play is tested in tests/test_bench.py. Needs chromium (Debian: ``apt-get install
chromium``); about 4 minutes on 2 CPU cores.

    python scripts/report_screenshot.py WORKDIR        # writes docs/report.jpg
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np

from vsodboost.testing import synthetic_clip

DOCS = Path(__file__).resolve().parent.parent / "docs"
STOP = [7, 8]  # the frame each video shows: drift 00007 (mined), swerve 00008 (the target misses half)


def main(work: Path) -> None:
    data, maps, out = work / "data", work / "maps", work / "out"
    for k, seq in enumerate(("drift", "swerve")):
        frames, masks, target = synthetic_clip(24, h=120, w=160, seed=k + 3)
        for d in (data / seq / "Imgs", data / seq / "ground-truth", maps / seq):
            d.mkdir(parents=True, exist_ok=True)
        for i, (f, m) in enumerate(zip(frames, masks)):
            stem = f"{i:05d}"
            cv2.imwrite(str(data / seq / "Imgs" / f"{stem}.jpg"), f[:, :, ::-1])
            cv2.imwrite(str(data / seq / "ground-truth" / f"{stem}.png"), (m * 255).astype(np.uint8))
            t = np.clip(target[stem] * 255 + 0.5, 0, 255).astype(np.uint8)
            cv2.imwrite(str(maps / seq / f"{stem}.png"), t)
    subprocess.run(["vsodboost", "bench", "--data", "data", "--layout", "davsod", "--target",
                    "precomputed:maps", "--target-label", "synthetic-target", "--out", "out",
                    "--device", "cpu", "--threads", "1", "--protocol", "table1,table5,table7"],
                   cwd=work, check=True)
    names = ("chromium", "chromium-browser", "google-chrome")
    browser = next(shutil.which(n) for n in names if shutil.which(n))
    # a copy of the page whose videos stop on chosen frames: headless playback is not frame-exact under load
    page = (out / "report.html").read_text(encoding="utf-8")
    stop = ("<script>window.addEventListener('DOMContentLoaded',()=>{const t=" + json.dumps(STOP) + ";"
            "document.querySelectorAll('video').forEach((v,k)=>{v.removeAttribute('autoplay');"
            "v.removeAttribute('controls');v.pause();v.currentTime=(t[k]+0.5)/8;});});</script>")
    (out / ".shot.html").write_text(page.replace("</body>", stop + "</body>"), encoding="utf-8")
    shot = work / "shot.png"
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--user-data-dir={work / 'profile'}", "--virtual-time-budget=3000",
                    f"--screenshot={shot}", "--window-size=1180,1800",
                    (out / ".shot.html").resolve().as_uri()], check=True, capture_output=True)
    (out / ".shot.html").unlink()
    img = cv2.imread(str(shot))[:1600]  # title, Table V, per sequence, the two videos
    small = cv2.resize(img, (800, round(img.shape[0] * 800 / img.shape[1])), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, 65])
    (DOCS / "report.jpg").write_bytes(buf.tobytes())
    print(f"wrote {DOCS / 'report.jpg'} ({len(buf) // 1024} KiB)")


if __name__ == "__main__":
    main(Path(sys.argv[1]).resolve())
