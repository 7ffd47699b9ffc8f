"""`export` never wastes work (issue 22): every requirement is checked before fine-tuning, TorchScript is
always written, ONNX only with the [onnx] extra, and the files say what the exported model is."""

from __future__ import annotations

import json
import sys

import pytest
import torch
from conftest import write_clip_and_maps

from vsodboost.booster import Booster
from vsodboost.cli import main
from vsodboost.errors import MissingExtraError
from vsodboost.export import available_formats, check_formats, export_spatial
from vsodboost.testing import synthetic_clip


@pytest.fixture
def no_onnx(monkeypatch):
    """A plain install: `import onnx` fails (None in sys.modules makes find_spec and import say so)."""
    monkeypatch.setitem(sys.modules, "onnx", None)


@pytest.fixture
def clip_args(tmp_path):
    frames, _, target = synthetic_clip(8, h=48, w=64, seed=2)
    seq, _, common = write_clip_and_maps(tmp_path, frames, target, seq="clip")
    return [str(seq), *common]


def _tiny():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 1, 3, padding=1))


def test_without_onnx_the_library_refuses_onnx_before_writing_anything(no_onnx, tmp_path):
    assert available_formats() == ["torchscript"]
    with pytest.raises(MissingExtraError, match=r'pip install "vsodboost\[onnx\]"'):
        check_formats(("onnx", "torchscript"))
    with pytest.raises(MissingExtraError, match="onnx"):
        export_spatial(_tiny(), tmp_path / "x", input_size=64)  # the default asks for ONNX: said up front
    assert not (tmp_path / "x").exists()
    export_spatial(_tiny(), tmp_path / "ts", input_size=64, formats=("torchscript",))
    assert sorted(p.name for p in (tmp_path / "ts").iterdir()) == ["preprocessing.json", "spatial.pt"]


def test_torchscript_is_written_even_when_the_onnx_exporter_fails(monkeypatch, tmp_path):
    def broken(*a, **k):
        raise RuntimeError("OnnxExporterError: Module onnx is not installed!")

    monkeypatch.setattr(torch.onnx, "export", broken)
    with pytest.raises(RuntimeError, match="OnnxExporterError"):
        export_spatial(_tiny(), tmp_path, input_size=64)
    assert (tmp_path / "spatial.pt").stat().st_size > 0  # written first: it needs nothing optional


def test_cli_export_asked_for_onnx_without_onnx_fails_before_fine_tuning(no_onnx, clip_args, tmp_path,
                                                                        monkeypatch, capsys):
    def no_compute(*a, **k):
        raise AssertionError("fine-tuning started")

    monkeypatch.setattr(Booster, "run_buffer", no_compute)
    assert main(["export", *clip_args, "--out", str(tmp_path / "e"), "--formats", "onnx"]) == 1
    err = capsys.readouterr().err
    assert 'pip install "vsodboost[onnx]"' in err and "fine-tuning started" not in err
    assert not (tmp_path / "e").exists()


def test_cli_export_by_default_writes_torchscript_and_says_onnx_was_skipped(no_onnx, clip_args, tmp_path,
                                                                           capsys):
    out = tmp_path / "e"
    assert main(["export", *clip_args, "--out", str(out), "--buffer", "1"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["preprocessing.json", "spatial.pt"]
    printed = capsys.readouterr().out
    assert 'ONNX not written' in printed and 'pip install "vsodboost[onnx]"' in printed
    assert "without fusion" in printed
    meta = json.loads((out / "preprocessing.json").read_text())["meta"]
    assert "without the target and without fusion" in meta["exported_model"]
    assert meta["buffer"] == 1 and meta["frames"] == [4, 8]


def test_cli_export_with_onnx_writes_both(clip_args, tmp_path):
    pytest.importorskip("onnx")
    out = tmp_path / "e"
    assert main(["export", *clip_args, "--out", str(out)]) == 0
    assert {"spatial.onnx", "spatial.pt", "preprocessing.json"} <= {p.name for p in out.iterdir()}
