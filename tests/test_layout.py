"""The shape issue 13 gave the package, kept: the Booster module stays orchestration only, and nothing outside it
reaches into a Booster private (extension goes through run_buffer, selector=, observers=)."""

from __future__ import annotations

import ast
from pathlib import Path

import vsodboost
from vsodboost.booster import Booster

ROOT = Path(vsodboost.__file__).resolve().parent.parent
BOOSTER = ROOT / "vsodboost" / "booster.py"


def test_booster_module_is_orchestration_sized():
    assert len(BOOSTER.read_text().splitlines()) <= 250


def test_no_module_outside_booster_py_touches_a_booster_private():
    private = {n for n in vars(Booster) if n.startswith("_") and not n.startswith("__")}
    private |= {"_run_buffer", "_iterations", "_on_iteration", "_stream", "_stream_buffer", "_predict_target"}
    assert {"_mine", "_tune_and_predict"} <= private  # the scan below would catch them
    offenders = []
    for folder in ("vsodboost", "adapters", "scripts", "benchmarks", "examples", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path in (BOOSTER, Path(__file__).resolve()):
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
                if isinstance(node, ast.Constant) and node.value in private:  # monkeypatch.setattr(b, "_x", ...)
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
    assert not offenders, "Booster privates used outside booster.py: " + ", ".join(offenders)
