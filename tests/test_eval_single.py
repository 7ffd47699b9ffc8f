"""`boost` and `eval` fit together (issue 22): eval reads a single-sequence folder as boost writes it, picks
sequences with --sequences, and labels comparisons over different frame sets; --plot is checked first."""

from __future__ import annotations

import json
import shutil
import sys

import pytest
from test_eval_cli import make_davsod

from vsodboost.cli import main
from vsodboost.errors import InputError
from vsodboost.metrics import evaluate_folders

pytest.importorskip("py_sod_metrics")


def _scores(path):
    return {k: v for k, v in json.loads(path.read_text()).items() if k in ("frames", "maxF", "S", "MAE")}


def test_a_single_sequence_folder_scores_like_the_same_maps_in_a_root(tmp_path):
    gt, pred, _ = make_davsod(tmp_path)
    ref = evaluate_folders(pred, gt, sequences=["cat"], weighted_f=False, progress=False)
    single = tmp_path / "boosted_cat"  # `boost clip --out boosted_cat`: the PNGs directly inside
    shutil.copytree(pred / "cat", single)
    with pytest.raises(InputError, match=r"looked up as 'boosted_cat'.*--sequence NAME"):
        evaluate_folders(single, gt, weighted_f=False, progress=False)
    by_flag = evaluate_folders(single, gt, sequence="cat", weighted_f=False, progress=False)
    assert by_flag["frames"] == ref["frames"] == 6 and by_flag["maxF"] == pytest.approx(ref["maxF"])
    # boost's vsodboost.json names the sequence: no flag needed
    (single / "vsodboost.json").write_text(json.dumps({"settings": {"sequence": "cat"}}))
    by_json = evaluate_folders(single, gt, weighted_f=False, progress=False)
    assert by_json["sequences"][0]["sequence"] == "cat" and by_json["S"] == pytest.approx(ref["S"])
    # or the folder is named as the sequence
    assert evaluate_folders(pred / "dog", gt, weighted_f=False, progress=False)["frames"] == 4


@pytest.mark.parametrize("file", ["summary.json", "vsodboost.json"])  # BoostResult.save's, now and before 0.2
def test_a_saved_result_names_its_sequence_through_its_summary_old_folders_too(tmp_path, file):
    gt, pred, _ = make_davsod(tmp_path)
    single = tmp_path / "saved"
    shutil.copytree(pred / "cat", single)
    (single / file).write_text(json.dumps({"sequence": "cat", "frames": 6, "mined": []}))
    res = evaluate_folders(single, gt, weighted_f=False, progress=False)
    assert res["sequences"][0]["sequence"] == "cat" and res["frames"] == 6


def test_cli_eval_single_folder_and_sequences(tmp_path, capsys):
    gt, pred, _ = make_davsod(tmp_path)
    single = tmp_path / "out"
    shutil.copytree(pred / "cat", single)
    assert main(["eval", "--pred", str(single), "--gt", str(gt), "--sequence", "cat", "--no-wf", "-q",
                 "--json", str(tmp_path / "a.json")]) == 0
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--sequences", "cat", "--no-wf", "-q",
                 "--json", str(tmp_path / "b.json")]) == 0
    assert _scores(tmp_path / "a.json") == _scores(tmp_path / "b.json")
    assert _scores(tmp_path / "a.json")["frames"] == 6
    assert main(["eval", "--pred", str(pred), "--gt", str(gt), "--sequences", "cat", "--sequences", "dog",
                 "--no-wf", "-q", "--json", str(tmp_path / "c.json")]) == 0
    assert _scores(tmp_path / "c.json")["frames"] == 10
    capsys.readouterr()
    argv = ["eval", "--pred", str(pred), "--gt", str(gt), "--sequences", "cat,cow", "--no-wf", "-q"]
    assert main(argv) == 1
    assert "['cow'] are not in" in capsys.readouterr().err


def test_comparing_methods_over_different_frames_is_labelled(tmp_path, capsys):
    gt, pred, _ = make_davsod(tmp_path)
    single = tmp_path / "boosted" / "cat"  # one sequence's folder, named as the sequence
    shutil.copytree(pred / "cat", single)
    argv = ["eval", "--pred", f"all={pred}", f"one={single}", "--gt", str(gt), "--summary", "--no-wf", "-q",
            "--json", str(tmp_path / "m.json")]
    assert main(argv) == 0
    cap = capsys.readouterr()
    assert "scored on different frames" in cap.err and "all: 10 frames in 2 sequence(s)" in cap.err
    assert "one: 6 frames in 1 sequence(s)" in cap.err
    assert "method" in cap.out and "sequences" in cap.out  # the comparison table with frame counts
    assert json.loads((tmp_path / "m.json").read_text())["same_frames"] is False
    # the same frames: no warning
    assert main(["eval", "--pred", f"all={pred}", f"one={single}", "--gt", str(gt), "--sequences", "cat",
                 "--summary", "--no-wf", "-q"]) == 0
    assert "different frames" not in capsys.readouterr().err


def test_plot_without_matplotlib_fails_before_scoring(tmp_path, monkeypatch, capsys):
    import vsodboost.metrics.evaluate as ev

    gt, pred, _ = make_davsod(tmp_path)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setattr(ev, "evaluate_folders", lambda *a, **k: pytest.fail("scored before checking --plot"))
    argv = ["eval", "--pred", str(pred), "--gt", str(gt), "--plot", str(tmp_path / "plots"), "-q"]
    assert main(argv) == 1
    assert 'pip install "vsodboost[plot]"' in capsys.readouterr().err
