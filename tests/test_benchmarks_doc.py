"""scripts/make_benchmarks_doc.py names a shipped weights file by its package path, wherever the runs came from."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _script(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "scripts"))  # its sibling modules, as when it runs as a script
    spec = importlib.util.spec_from_file_location("make_benchmarks_doc", ROOT / "scripts" / "make_benchmarks_doc.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_shipped_weights_are_named_by_package_path_and_the_report_is_not_changed(monkeypatch):
    report = {"weights": {
        "mqpm": [{"provenance": {"file": "/tmp/snapQ/vsodboost/weights/mqpm_lite0_dis.pt", "sha256": "ab"},
                  "sequences": ["bear"]}],
        "spatial": [{"provenance": {"file": "/home/me/runs/my_weights/u2netp.pt", "sha256": "cd"}, "sequences": []},
                    {"provenance": "u2netp", "sequences": []}]}}
    shown = _script(monkeypatch)._shipped_paths(report)
    assert shown["weights"]["mqpm"][0]["provenance"] == {"file": "vsodboost/weights/mqpm_lite0_dis.pt", "sha256": "ab"}
    assert shown["weights"]["spatial"][0]["provenance"]["file"] == "/home/me/runs/my_weights/u2netp.pt"  # not shipped
    assert shown["weights"]["spatial"][1]["provenance"] == "u2netp"
    assert report["weights"]["mqpm"][0]["provenance"]["file"].startswith("/tmp/snapQ/")  # the input is left as it was
