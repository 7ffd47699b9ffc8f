"""The README names what the project implements and builds on; CONTRIBUTING stands alone (issue 22)."""

from __future__ import annotations

import re
from pathlib import Path

from vsodboost.adapters import METHODS

ROOT = Path(__file__).resolve().parent.parent


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}\n")
    nxt = text.find("\n## ", start + 1)
    return text[start: nxt if nxt != -1 else None]


def test_readme_cites_the_paper_with_bibtex_and_every_method_adapter():
    cite = _section((ROOT / "README.md").read_text(encoding="utf-8"), "Citation")
    assert "Motion Quality Perception" in cite and "Chenglizhao Chen" in cite and "2008.02966" in cite
    bib = re.search(r"```bibtex\n(@\w+\{[^`]+\})\n```", cite)
    assert bib and all(f"{k} = " in bib.group(1) for k in ("title", "author", "year"))
    for name, spec in METHODS.items():  # every built-in method adapter, with the reference its spec gives
        assert f"`{name}()`" in cite, name
        who = spec.title.split("(", 1)[1].rstrip(")")  # e.g. "Fan et al., CVPR 2019"
        assert who.split(",")[0] in cite and who.split(",")[1].strip() in cite, (name, who)


def test_contributing_is_self_contained():
    text = (ROOT / "CONTRIBUTING.md").read_text(encoding="utf-8")
    assert "../shared" not in _section(text, "Style") and "STYLE.md" not in text
    for rule in ("weights_only=True", "vsodboost.errors", "exit 2"):
        assert rule in text
