"""``vsodboost bench`` end to end on one short real sequence (PDB's published maps on DAVIS scooter-black, 43
frames) at low resolution; its numbers must equal ``vsodboost eval`` on the maps it wrote."""

from __future__ import annotations

import json

import pytest

from vsodboost.bench import REPORT_KEYS
from vsodboost.cli import main as cli_main

SEQ = "scooter-black"


@pytest.mark.realdata
def test_bench_one_real_sequence_matches_eval(shared_data, tmp_path, capsys):
    from vsodboost.spatial._plugin import DEFAULT_SPATIAL_WEIGHTS

    if not DEFAULT_SPATIAL_WEIGHTS.is_file():
        pytest.skip(f"shipped spatial weights {DEFAULT_SPATIAL_WEIGHTS} are absent in this checkout")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"buffer_size": 50, "flow_max_side": 160,
                               "finetune": {"input_size": 64, "iterations": 2, "batch_size": 2}}))
    out = tmp_path / "bench"
    args = ["bench", "--data", str(shared_data / "DAVIS2016"), "--layout", "davis", "--split", "val",
            "--sequences", SEQ, "--target", f"precomputed:{shared_data / 'results' / 'PDB' / 'DAVIS2016'}",
            "--target-label", "PDB", "--config", str(cfg), "--out", str(out), "--device", "cpu",
            "--protocol", "table1", "--protocol", "table8", "--vis-frames", "1"]
    assert cli_main(args) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["dataset"]["sequences"] == [SEQ] and report["protocols"] == ["table5", "table1", "table8"]
    for side in ("target", "boosted"):
        assert set(REPORT_KEYS) <= set(report[side]) and list(report[side]["per_sequence"]) == [SEQ]
        assert report[side]["frames"] == 43
    assert report["table1"]["hq"]["frames"] + report["table1"]["lq"]["frames"] == 43
    assert 0.0 <= report["table1"]["hq_fraction"] <= 1.0
    assert report["table8"]["frames"] == 43 and report["table8"]["fps"] > 0
    assert report["weights"]["mqpm"][0]["provenance"]["sha256"]
    md = (out / "report.md").read_text()
    assert "Table V" in md and "Table I " in md and "Table VIII" in md and "Frame-averaged" in md

    # the report's numbers are `vsodboost eval`'s on the written maps
    for side in ("target", "boosted"):
        js = tmp_path / f"{side}.json"
        assert cli_main(["eval", "--pred", str(out / side), "--gt", str(shared_data / "DAVIS2016"), "--layout",
                         "davis", "--json", str(js), "-q"]) == 0
        ref = json.loads(js.read_text())
        for k in REPORT_KEYS:
            assert report[side][k] == pytest.approx(ref[k], abs=1e-12), (side, k)
    # and the target block is PDB's published maps (mirrored byte for byte)
    js = tmp_path / "published.json"
    assert cli_main(["eval", "--pred", str(shared_data / "results" / "PDB" / "DAVIS2016"), "--gt",
                     str(shared_data / "DAVIS2016"), "--layout", "davis", "--json", str(js), "-q"]) == 0
    pub = next(s for s in json.loads(js.read_text())["sequences"] if s["sequence"] == SEQ)
    assert report["target"]["per_sequence"][SEQ]["maxF"] == pytest.approx(pub["maxF"], abs=1e-12)

    # a rerun skips the sequence
    capsys.readouterr()
    assert cli_main(args) == 0
    assert "done earlier, skipped" in capsys.readouterr().out


@pytest.mark.realdata
def test_shipped_weights_are_out_of_sample_on_the_shared_data_and_bear_is_caught(shared_data):
    """The default MQPM (DAVIS-TR) and the presets' spatial models saw none of DAVIS val or ViSal: bench prints no
    in-sample warning there. DAVIS-TR holds ``bear``, which ../shared/data also has (its ``train`` split): the
    check finds it by its GT, so the warning fires on a real in-sample sequence."""
    from vsodboost.bench import in_sample_check
    from vsodboost.bench._provenance import _Models
    from vsodboost.datasets import read_dataset

    val = read_dataset(shared_data / "DAVIS2016", "davis", split="val") + read_dataset(shared_data / "ViSal",
                                                                                       "davsod")
    models = _Models("cpu")
    for spatial in ("u2netp", "lite0", "u2netp_davis"):
        r = in_sample_check([s for s in val if s.gt], {"mqpm": "default", "spatial": spatial}, models)
        assert r["sequences"] == {} and r["unknown"] == [], (spatial, r)
    bear = read_dataset(shared_data / "DAVIS2016", "davis", split="train", sequences=["bear"])
    r = in_sample_check(bear, {"mqpm": "default", "spatial": "u2netp"}, models)
    assert r["sequences"] == {"bear": ["mqpm mqpm_lite0_dis.pt"]}
    r = in_sample_check(bear, {"mqpm": "default", "spatial": "u2netp_davis"}, models)  # the DAVIS-TR prior saw it too
    assert r["sequences"] == {"bear": ["mqpm mqpm_lite0_dis.pt", "spatial u2netp_davistr.pt"]}, r
