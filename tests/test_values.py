"""Issue 24: every stored or user-supplied value is checked where it enters — --target-arg against the target's
signature, stream and bench options, the export manifest, presets — with one typed error (exit 2 for usage)."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch

from vsodboost import adapters
from vsodboost.bench import read_weights_table
from vsodboost.booster import Booster
from vsodboost.cli import main
from vsodboost.commands.boost import check_target_args, parse_target
from vsodboost.errors import InputError, UsageError
from vsodboost.export import ExportedSpatial, export_spatial
from vsodboost.models import saliency_unet


@pytest.fixture
def maps_root(tmp_path):
    (tmp_path / "maps" / "seq").mkdir(parents=True)
    return tmp_path / "maps"


@pytest.mark.parametrize("text,want", [("true", True), ("false", False), ("no", False), ("yes", True),
                                       ("False", False), ("TRUE", True), ("0", False), ("1", True)])
def test_target_arg_bool_is_converted_never_left_a_truthy_string(maps_root, text, want):
    from vsodboost.commands.boost import parse_target_args

    t = parse_target(f"precomputed:{maps_root}", parse_target_args([f"normalize={text}"]))
    assert t.normalize is want


@pytest.mark.parametrize("item,match", [
    ("normalize=maybe", r"--target-arg normalize=maybe: normalize is true or false \(also yes/no, 1/0\)"),
    ("normalize=2", r"normalize is true or false"),
    ("prefix=5", r"--target-arg prefix=5: prefix takes a string, got a JSON int.*'prefix=\"5\"'"),
    ("sequence=5", r"sequence takes a string"),
    ("exts=[1]", r"exts takes a list of strings"),
    ("suffix=[\"a\"]", r"suffix takes a string, got a JSON list"),
], ids=["bool-maybe", "bool-2", "str-int", "sequence-int", "exts-ints", "str-list"])
def test_target_arg_of_the_wrong_type_is_a_usage_error(maps_root, item, match, capsys):
    from vsodboost.commands.boost import parse_target_args

    with pytest.raises(UsageError, match=match):
        parse_target(f"precomputed:{maps_root}", parse_target_args([item]))
    rc = main(["boost", str(maps_root), "--target", f"precomputed:{maps_root}", "--target-arg", item,
               "--out", str(maps_root.parent / "o"), "-q"])
    assert rc == 2 and "error: --target-arg" in capsys.readouterr().err


def test_target_arg_lists_and_method_targets(maps_root):
    t = parse_target(f"precomputed:{maps_root}", {"exts": ".png,.JPG"})
    assert t.exts == (".png", ".jpg")
    assert check_target_args(adapters.mga, {"normalize": "no", "sequence": "bear"}) == \
        {"normalize": False, "sequence": "bear"}
    assert check_target_args(adapters.u2netp, {"input_size": 320})["input_size"] == 320
    with pytest.raises(UsageError, match="input_size takes an integer"):
        check_target_args(adapters.u2netp, {"input_size": "big"})


def test_target_options_are_typed_in_the_python_api_too(maps_root):
    with pytest.raises(InputError, match=r"normalize must be true or false, got 'no'"):
        adapters.precomputed(maps_root, normalize="no")
    with pytest.raises(InputError, match=r"prefix must be a string, got 5"):
        adapters.precomputed(maps_root, prefix=5)
    with pytest.raises(InputError, match=r"exts must be a list of extensions"):
        adapters.precomputed(maps_root, exts=".png")


def test_preset_must_be_a_name():
    with pytest.raises(InputError, match=r"preset must be a preset name \(a string\).*\['fast'\] \(list\)"):
        Booster(adapters.precomputed, preset=["fast"])  # type: ignore[arg-type]


@pytest.mark.parametrize("fps", ["0", "-1", "nan", "inf", "x"])
def test_stream_fps_must_be_a_positive_number(tmp_path, fps, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["stream", str(tmp_path), "--target", "u2netp", "--out", str(tmp_path / "o"), "--mp4", "--fps", fps])
    assert exc.value.code == 2 and "--fps" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("content,match", [
    (b'{"bear": "a.pt",', "not a readable JSON file"),
    (b"\xff\xfe\x00{", "not a readable JSON file"),
    (b'["a.pt"]', "expected a non-empty JSON object"),
    (b"{}", "expected a non-empty JSON object"),
    (b'{"bear": 5}', r"the weights of 'bear' must be a file path or name"),
], ids=["truncated", "not-utf8", "list", "empty", "number"])
def test_bench_weights_map_is_checked_before_anything_runs(tmp_path, content, match, capsys):
    table = tmp_path / "folds.json"
    table.write_bytes(content)
    with pytest.raises(InputError, match=match):
        read_weights_table(table)
    rc = main(["bench", "--data", str(tmp_path), "--layout", "davis", "--target", "u2netp", "--out",
               str(tmp_path / "o"), "--mqpm", str(table), "-q"])
    err = capsys.readouterr().err
    assert rc == 2 and "--mqpm" in err and match.split("'")[0].split("\\")[0] in err


# ---------------------------------------------------------------------------------------------------------------
# the export manifest (preprocessing.json): types, ranges, required keys, file names inside the folder
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(2)
    model = saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)
    out = tmp_path_factory.mktemp("exp") / "e"
    export_spatial(model, out, input_size=64)
    return out


def _edited(exported, tmp_path, edit):
    d = tmp_path / "e"
    shutil.copytree(exported, d)
    spec = json.loads((d / "preprocessing.json").read_text())
    new = edit(spec)
    spec = new if isinstance(new, list) else spec  # an edit returns a list to replace the whole file
    (d / "preprocessing.json").write_text(json.dumps(spec))
    return d


SPEC_CASES = [
    ("size-str", lambda s: s.update(input_size="64"),
     r"input_size is '64' \(str\); expected an integer multiple of 32"),
    ("size-zero", lambda s: s.update(input_size=0), r"input_size is 0"),
    ("size-odd", lambda s: s.update(input_size=65), r"input_size is 65"),
    ("size-bool", lambda s: s.update(input_size=True), r"input_size is True"),
    ("size-mismatch", lambda s: s.update(input_size=96), r"takes input .*64, 64.* says \(N, 3, 96, 96\)"),
    ("no-files", lambda s: s.pop("files"), r"lacks files"),
    ("no-size", lambda s: s.pop("input_size"), r"lacks input_size"),
    ("files-list", lambda s: s.update(files=["spatial.onnx"]), r"files is \['spatial.onnx'\]"),
    ("files-escape", lambda s: s["files"].update(onnx="../outside.onnx"), r"not a plain file name.*inside itself"),
    ("files-abs", lambda s: s["files"].update(onnx="/etc/passwd"), r"not a plain file name"),
    ("files-int", lambda s: s["files"].update(onnx=5), r"files.onnx is 5"),
    ("files-format", lambda s: s["files"].update(tflite="x"), r"formats among"),
    ("range-str", lambda s: s.update(value_range="0-1"), r"value_range is '0-1'"),
    ("range-empty", lambda s: s.update(value_range=[1, 1]), r"value_range is \[1, 1\]"),
    ("layout", lambda s: s.update(layout="NHWC"), r"layout is 'NHWC'"),
    ("opset-str", lambda s: s.update(opset="17"), r"opset is '17'"),
    ("meta-list", lambda s: s.update(meta=[1]), r"meta is \[1\]"),
    ("model-int", lambda s: s.update(model=3), r"model is 3"),
    ("input-name", lambda s: s.update(input_name="x"), r"has inputs \['image'\].* says 'x'"),
    ("not-object", lambda s: [1], r"must be a JSON object"),
]


@pytest.mark.parametrize("edit,match", [c[1:] for c in SPEC_CASES], ids=[c[0] for c in SPEC_CASES])
def test_exported_spatial_checks_its_manifest(exported, tmp_path, edit, match):
    with pytest.raises(InputError, match=match):
        ExportedSpatial(_edited(exported, tmp_path, edit))


def test_exported_spatial_refuses_a_model_file_linked_from_outside_and_bad_options(exported, tmp_path):
    d = _edited(exported, tmp_path, lambda s: None)
    (tmp_path / "evil.onnx").write_bytes((d / "spatial.onnx").read_bytes())
    (d / "spatial.onnx").unlink()
    (d / "spatial.onnx").symlink_to(tmp_path / "evil.onnx")
    with pytest.raises(InputError, match="is a symlink to a file outside"):
        ExportedSpatial(d)
    for kw, match in (({"batch": 0}, r"batch must be an integer ≥ 1, got 0"),
                      ({"batch": True}, r"batch must be an integer ≥ 1"),
                      ({"threads": -1}, r"threads must be None or an integer ≥ 0"),
                      ({"backend": "tflite"}, r"backend 'tflite': choose one of")):
        with pytest.raises(InputError, match=match):
            ExportedSpatial(exported, **kw)
    (d / "spatial.onnx").unlink()
    (d / "spatial.onnx").write_bytes(b"not onnx")
    with pytest.raises(InputError, match="cannot load .*spatial.onnx with ONNX Runtime"):
        ExportedSpatial(d)
    (d / "spatial.pt").write_bytes(b"")
    with pytest.raises(InputError, match="cannot load .*spatial.pt as TorchScript"):
        ExportedSpatial(d, backend="torchscript")


def test_a_good_export_still_predicts(exported):
    got = ExportedSpatial(exported, batch=1).predict_frames(np.zeros((2, 40, 50, 3), np.uint8))
    assert got.shape == (2, 40, 50) and np.isfinite(got).all()
