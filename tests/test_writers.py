"""Issue 24: no command or API writes outside its output folder or through a symlink it did not make; resume trusts
a map only when its bytes are the ones written (docs/reliability.md, "Atomic, durable output").

Each writer gets a symlink planted under every name it writes, pointing at a file outside the folder: afterwards
that file must hold exactly what it held, and the name must be a real file (the link replaced) or the write refused.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from conftest import write_clip_and_maps
from conftest import FlowMagnitudeMQPM, tiny_config, tiny_spatial

import vsodboost.io as vio
from vsodboost.booster import Booster
from vsodboost.runner import run_to_dir
from vsodboost.cli import main
from vsodboost.errors import InputError, OutputError
from vsodboost.export import ExportedSpatial, export_spatial
from vsodboost.models import saliency_unet
from vsodboost.testing import ArrayTarget, synthetic_clip
from vsodboost.video import load_video

N, H, W = 8, 48, 64
VICTIM = b"precious: must never be overwritten\n"


@pytest.fixture(scope="module")
def clip():
    frames, _, target = synthetic_clip(N, h=H, w=W, seed=3)
    return np.stack(frames), target


def _booster(target, **kw):
    return Booster(target, flow="dis", mqpm=FlowMagnitudeMQPM(), spatial=tiny_spatial(),
                   config=kw.pop("config", tiny_config(buffer_size=4)), device="cpu", **kw)


def _plant(folder: Path, names: list[str], outside: Path) -> dict[str, Path]:
    """A symlink ``folder/<name>`` → ``outside/<name>`` (holding VICTIM) for each name."""
    folder.mkdir(parents=True, exist_ok=True)
    outside.mkdir(parents=True, exist_ok=True)
    victims = {}
    for n in names:
        v = outside / n
        v.write_bytes(VICTIM)
        os.symlink(v, folder / n)
        victims[n] = v
    return victims


def _untouched(victims: dict[str, Path], folder: Path, *, replaced: bool = True) -> None:
    for n, v in victims.items():
        assert v.read_bytes() == VICTIM, f"{v} was written through the symlink {folder / n}"
        if replaced:
            assert not (folder / n).is_symlink() and (folder / n).is_file(), f"{folder / n} is still a link"


def test_run_to_dir_never_writes_through_a_planted_symlink(clip, tmp_path):
    frames, target = clip
    out = tmp_path / "out"
    names = [f"{i:05d}.png" for i in range(N)] + ["vsodboost.json"]
    victims = _plant(out, ["vsodboost.json"], tmp_path / "outside")
    # the folder holds only a state-file name: a link there is replaced, the links of maps written next
    with pytest.raises(InputError, match="vsodboost.json is unreadable|is not a vsodboost run state"):
        run_to_dir(_booster(ArrayTarget(target)), frames, out, name="demo")  # VICTIM is no state: refused
    _untouched(victims, out, replaced=False)
    os.unlink(out / "vsodboost.json")
    victims = _plant(out, names[:-1], tmp_path / "outside2")
    (out / "vsodboost.json").write_text("{}")  # a state with nothing done: the maps' names are ours to write
    summary = run_to_dir(_booster(ArrayTarget(target)), frames, out, name="demo", overwrite=True)
    assert summary["complete"]
    _untouched(victims, out)
    assert all(vio.map_is_complete(out / n, (H, W)) for n in names[:-1])


def test_boost_result_save_replaces_planted_links_and_never_follows_them(clip, tmp_path):
    frames, target = clip
    res = _booster(ArrayTarget(target)).run(frames, name="demo")
    out = tmp_path / "saved"
    victims = _plant(out, [f"{n}.png" for n in res.names] + ["summary.json"], tmp_path / "outside")
    with pytest.raises(InputError, match="already holds maps"):  # a link under a map's name counts as a map
        res.save(out)
    res.save(out, overwrite=True)
    _untouched(victims, out)


def test_export_spatial_writes_every_file_atomically_never_through_a_link(tmp_path):
    torch.manual_seed(2)
    model = saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)
    out = tmp_path / "exp"
    victims = _plant(out, ["spatial.onnx", "spatial.pt", "preprocessing.json"], tmp_path / "outside")
    export_spatial(model, out, input_size=64)
    _untouched(victims, out)
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    a = ExportedSpatial(out, threads=1).logits(x)
    b = ExportedSpatial(out, backend="torchscript").logits(x)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert not list(out.glob("*" + vio.TMP_SUFFIX)) and not (out / vio.LOCK_FILE).exists()


def test_export_to_an_existing_file_is_a_clear_error(clip, tmp_path):
    f = tmp_path / "model.onnx"
    f.write_bytes(b"x")
    with pytest.raises(OutputError, match=r"model.onnx is a file; choose a folder"):
        export_spatial(torch.nn.Conv2d(3, 1, 1), f, input_size=64)
    frames, target = clip
    res = _booster(ArrayTarget(target)).run(frames, name="demo", keep_models=True)
    tuned = next(i for i, m in enumerate(res.models) if m is not None)
    with pytest.raises(OutputError, match=r"model.onnx is a file; choose a folder"):  # was FileExistsError
        res.export(f, buffer=tuned, formats=("torchscript",))
    assert f.read_bytes() == b"x"


@pytest.mark.parametrize("name", ["../../escape0", "/tmp/abs_escape", "a/b", "..", ".", "", "a\\b", "nul\0"])
def test_frame_names_that_leave_the_folder_are_refused_before_any_write(clip, tmp_path, name):
    frames, target = clip
    names = [f"{i:05d}" for i in range(N)]
    names[3] = name
    video = load_video(frames, names=names, name="demo")
    out = tmp_path / "a" / "b" / "out"
    b = _booster(ArrayTarget({(name if i == 3 else f"{i:05d}"): m for i, m in enumerate(target.values())}))
    with pytest.raises(InputError, match="not a plain file name"):
        run_to_dir(b, video, out)
    assert not out.exists()  # refused before the folder was made, before any compute
    assert not list(tmp_path.rglob("escape0*")) and not Path("/tmp/abs_escape.png").exists()


def test_boost_result_save_refuses_an_escaping_name(clip, tmp_path):
    frames, target = clip
    res = _booster(ArrayTarget(target)).run(frames, name="demo")
    res.names[0] = "../../escape0"
    with pytest.raises(InputError, match="'../../escape0' is not a plain file name"):
        res.save(tmp_path / "x" / "y" / "out")
    assert not list(tmp_path.rglob("escape0*")) and not (tmp_path / "x" / "y" / "out").exists()


def test_writer_helpers_replace_links_and_refuse_linked_subfolders(tmp_path):
    out = tmp_path / "out"
    victims = _plant(out, ["a.jpg", "b.png", "report.md", "fig.png"], tmp_path / "outside")
    vio.write_image_atomic(out / "a.jpg", np.zeros((4, 4, 3), np.uint8))
    vio.write_map_atomic(out / "b.png", np.zeros((4, 4), np.float32))
    vio.atomic_write_bytes(out / "report.md", b"# report\n")


    class Figure:  # matplotlib's savefig protocol (matplotlib is an optional extra)
        def savefig(self, f, format, **kw):
            f.write(f"{format} figure".encode())

    vio.write_figure_atomic(Figure(), out / "fig.png", dpi=100)
    assert (out / "fig.png").read_bytes() == b"png figure"
    _untouched(victims, out)
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", out / "maps")
    with pytest.raises(OutputError, match="maps is a symlink"):
        vio.make_subdir(out, "maps")
    with pytest.raises(OutputError, match="maps is a symlink"):
        vio.out_path(out, "maps", "x.png")
    assert not list((tmp_path / "elsewhere").iterdir())


def _disk(tmp_path: Path, clip) -> tuple[Path, list[str]]:
    seq, _, common = write_clip_and_maps(tmp_path, *clip, seq="clip")
    return seq, common


def test_cli_stream_mp4_and_export_maps_never_write_through_links(clip, tmp_path, capsys):
    seq, common = _disk(tmp_path, clip)
    out = tmp_path / "s"
    names = [f"{i:05d}.png" for i in range(N)] + ["stream.json", "side_by_side.mp4"]
    victims = _plant(out, names, tmp_path / "outside")
    assert main(["stream", str(seq), "--out", str(out), "--mp4", "--overwrite", "--quiet", *common]) == 0
    _untouched(victims, out)
    cap = cv2.VideoCapture(str(out / "side_by_side.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == N
    cap.release()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary, no lock left
    # export --maps: <out>/maps planted as a link to a folder outside is refused, nothing written there
    e = tmp_path / "e"
    e.mkdir()
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", e / "maps")
    assert main(["export", str(seq), "--out", str(e), "--maps", *common]) == 1
    assert "maps is a symlink" in capsys.readouterr().err
    assert not list((tmp_path / "elsewhere").iterdir())


# ---------------------------------------------------------------------------------------------------------------
# per-map checksums: resume recomputes a map whose bytes are not what was written
def test_resume_recomputes_a_replaced_or_linked_map_and_restores_its_bytes(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    out = tmp_path / "out"
    run_to_dir(b, frames, out, name="demo")
    state = json.loads((out / "vsodboost.json").read_text())
    written = {p.name: p.read_bytes() for p in out.glob("*.png")}
    assert state["buffers_done"]["0:4"]["sha256"]["00001"] == vio.sha256_bytes(written["00001.png"])
    # a whole PNG of the right size but other bytes (a replaced file) in buffer 0:4; a link in buffer 4:8
    other = np.full((H, W), 0.5, np.float32)
    vio.write_map_atomic(out / "00001.png", other)
    (tmp_path / "outside.png").write_bytes(written["00006.png"])
    os.unlink(out / "00006.png")
    os.symlink(tmp_path / "outside.png", out / "00006.png")
    calls = []
    real = b.run_buffer
    monkeypatch.setattr(b, "run_buffer", lambda *a, **k: calls.append(a[1:3]) or real(*a, **k))
    again = run_to_dir(b, frames, out, name="demo")
    assert calls == [(0, 4), (4, 8)] and again["buffers_run"] == 2
    assert {p.name: p.read_bytes() for p in out.glob("*.png")} == written  # the same bytes as written first
    assert not (out / "00006.png").is_symlink()
    calls.clear()
    run_to_dir(b, frames, out, name="demo")  # intact now: nothing to do
    assert calls == []


def test_state_without_checksums_falls_back_to_the_whole_png_check(clip, tmp_path, monkeypatch):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    out = tmp_path / "out"
    run_to_dir(b, frames, out, name="demo")
    state = json.loads((out / "vsodboost.json").read_text())
    for entry in state["buffers_done"].values():
        del entry["sha256"]  # a folder written before checksums were recorded
    (out / "vsodboost.json").write_text(json.dumps(state))
    vio.write_map_atomic(out / "00001.png", np.full((H, W), 0.5, np.float32))
    calls = []
    real = b.run_buffer
    monkeypatch.setattr(b, "run_buffer", lambda *a, **k: calls.append(a[1:3]) or real(*a, **k))
    run_to_dir(b, frames, out, name="demo")
    assert calls == []  # documented: without checksums a whole PNG of the frame size is trusted


@pytest.mark.parametrize("edit,match", [
    (lambda s: s.update(buffers_done=[1]), r"'buffers_done' is not an object"),
    (lambda s: s["buffers_done"].update({"0:4": "done"}), r"buffers_done\['0:4'\] is a str"),
    (lambda s: s["buffers_done"]["0:4"].update(warnings="w"), r"buffers_done\['0:4'\].warnings has the wrong type"),
    (lambda s: s["buffers_done"]["0:4"].update(sha256=["x"]), r"buffers_done\['0:4'\].sha256 has the wrong type"),
    (lambda s: s["buffers_done"].update({"first": {}}), r"key 'first' is not START:STOP"),
    (lambda s: s.update(settings="x"), r"'settings' is not an object"),
], ids=["done-list", "entry-str", "warnings-str", "sha-list", "bad-tag", "settings-str"])
def test_hand_edited_state_with_wrong_types_is_refused_then_replaced_with_overwrite(clip, tmp_path, edit, match):
    frames, target = clip
    b = _booster(ArrayTarget(target))
    out = tmp_path / "out"
    run_to_dir(b, frames, out, name="demo")
    state = json.loads((out / "vsodboost.json").read_text())
    edit(state)
    (out / "vsodboost.json").write_text(json.dumps(state))
    with pytest.raises(InputError, match=match + r".*remove it or choose another --out"):
        run_to_dir(b, frames, out, name="demo")
    assert run_to_dir(b, frames, out, name="demo", overwrite=True)["complete"]
