"""``vsodboost bench`` on a tiny synthetic dataset (DAVSOD layout, every other frame annotated), with a stand-in
MQPM and a random tiny spatial model; the real-data run is in test_bench_realdata.py."""

from __future__ import annotations

import json
import re
import shutil
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote

import cv2
import numpy as np
import pytest
import torch

from vsodboost.adapters import PrecomputedTarget
from vsodboost.bench import PROTOCOLS, REPORT_KEYS, TABLE3_ROWS, run_bench
from vsodboost.cli import main as cli_main
from vsodboost.testing import synthetic_clip
from vsodboost.errors import InputError, OutputError
from vsodboost.metrics.evaluate import evaluate_folders
from vsodboost.models import saliency_unet

from headless import needs_browser, video_states


class StubMQPM:
    """HQ on every third frame of a buffer; motion map = colour saturation of the flow image."""

    provenance = {"file": "stub", "sha256": "0" * 64}

    def predict(self, flow_images):
        x = flow_images.float() / 255.0
        sat = x.max(1).values - x.min(1).values
        prob = torch.tensor([0.9 if i % 3 == 0 else 0.1 for i in range(x.shape[0])])
        return prob, sat


CONFIG = {"buffer_size": 8, "period": 2, "flow_max_side": 0,
          "finetune": {"iterations": 1, "batch_size": 2, "input_size": 64, "predict_batch": 16}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    for k, seq in enumerate(("alpha", "beta")):
        frames, masks, target = synthetic_clip(10, h=48, w=64, seed=k)
        for d in ("Imgs", "ground-truth"):
            (root / "data" / seq / d).mkdir(parents=True)
        (root / "maps" / seq).mkdir(parents=True)
        for i, (f, m) in enumerate(zip(frames, masks)):
            stem = f"{seq}_{i:03d}"
            cv2.imwrite(str(root / "data" / seq / "Imgs" / f"{stem}.jpg"), f[:, :, ::-1])
            if i % 2 == 0:
                cv2.imwrite(str(root / "data" / seq / "ground-truth" / f"{stem}.png"), (m * 255).astype(np.uint8))
            cv2.imwrite(str(root / "maps" / seq / f"{stem}.png"),
                        np.clip(target[f"{i:05d}"] * 255 + 0.5, 0, 255).astype(np.uint8))
    return root


@pytest.fixture(scope="module")
def spatial():
    torch.manual_seed(0)
    return saliency_unet("tf_efficientnet_lite0", pretrained=False, cls_head=False)


def _bench(dataset, out, spatial, **kw):
    logs: list[str] = []
    kw.setdefault("protocols", PROTOCOLS)
    kw.setdefault("draws", 2)
    report = run_bench(dataset / "data", layout="davsod", target=PrecomputedTarget(dataset / "maps", name="synth"),
                       out=out, mqpm=StubMQPM(), spatial=spatial, config=CONFIG, periods=(1, 2), flows=("dis",
                       "farneback"), device="cpu", log=logs.append, **kw)
    return report, logs


@pytest.fixture(scope="module")
def bench(dataset, spatial, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    report, logs = _bench(dataset, out, spatial)
    return out, report, logs


def test_report_structure(bench):
    out, report, _ = bench
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["format"] == "vsodboost.bench/1"
    for side in ("target", "boosted"):
        blk = on_disk[side]
        assert set(REPORT_KEYS) <= set(blk) and blk["average"] == "frame"
        assert set(blk["per_sequence"]) == {"alpha", "beta"}
        assert blk["frames"] == 10 and blk["video_average"]["frames"] == 10
        assert all(set(REPORT_KEYS) <= set(v) for v in blk["per_sequence"].values())
    t1 = on_disk["table1"]
    assert set(t1) >= {"hq", "lq", "hq_fraction"}
    assert set(t1["hq"]) == {"frames", "maxF", "meanF", "adpF", "S", "MAE"}  # the paper's five metrics
    # buffers 0:8 and 8:10 → HQ frames 0, 3, 6, 8 of each sequence; annotated: 0, 2, 4, 6, 8
    assert (t1["hq"]["frames"], t1["lq"]["frames"]) == (6, 4)
    assert t1["hq_fraction"] == pytest.approx(8 / 20) and t1["hq_fraction_annotated"] == pytest.approx(6 / 10)
    assert t1["gap"]["maxF"] == pytest.approx(t1["hq"]["maxF"] - t1["lq"]["maxF"])
    assert t1["gap"]["interval"]["unit"] == "sequence" and t1["gap"]["interval"]["used"] > 0  # 2 sequences
    assert set(on_disk["table2"]["rows"]) == {"1", "2"}
    assert list(on_disk["table3"]["rows"]) == list(TABLE3_ROWS)
    assert on_disk["table3"]["rows"]["mqpm_map_hq"]["frames"] == 6
    assert set(on_disk["table6"]["rows"]) == {"dis", "farneback"}
    assert set(on_disk["table8"]["per_stage"]) >= {"flow", "mqpm+filter", "finetune", "predict"}
    t8 = on_disk["table8"]  # inference-only FPS (the paper's) from the prediction timer alone
    assert t8["inference_fps"] == pytest.approx(t8["frames"] / t8["per_stage"]["predict"]["seconds"], rel=1e-2)
    assert t8["inference_fps"] > t8["fps"]
    assert on_disk["versions"]["vsodboost"] and on_disk["device"]["device"] == "cpu"
    assert on_disk["weights"]["mqpm"][0]["sequences"] == ["alpha", "beta"]
    md = (out / "report.md").read_text()
    for head in ("Table V", "Table I ", "Table II ", "Table III", "Table VI ", "Table VII ", "Table VIII", "Fig. 10",
                 "What mining adds", "Frame-averaged",
                 "Video-averaged", "### Per sequence", "HQ − LQ: maxF", "interval from"):
        assert head in md, head
    assert all(Path(p).is_file() for p in on_disk["plots"] if p.endswith(".png"))
    assert on_disk["visualisations"] and all(Path(p).is_file() for p in on_disk["visualisations"])


def _settings(run: Path, seq: str) -> dict:
    return json.loads((run / seq / "vsodboost.json").read_text())["settings"]


def _motion_weight(out: Path, seq: str, stem: str) -> float:
    """The motion fusion's weight of one frame, as the main run recorded it in its state file."""
    state = json.loads((out / "boosted" / seq / "vsodboost.json").read_text())
    names = sorted(p.stem for p in (out / "spatial" / seq).glob("*.png"))
    for tag, b in state["buffers_done"].items():
        start, stop = (int(x) for x in tag.split(":"))
        if stem in names[start:stop]:
            return b["motion_weight"][names[start:stop].index(stem)]
    raise KeyError(stem)


def test_table5_reports_the_papers_replace_beside_the_fused_output(bench, dataset, spatial):
    """One run scores both outputs: the fine-tuned spatial model's own maps (fusion "replace", the paper's) and the
    configured fusion of those maps with the target's, frame by frame."""
    from vsodboost.io import read_unit_map as read_target_map
    from vsodboost.fusion import fuse_maps

    out, report, _ = bench
    rep = report["replace"]
    assert rep["frames"] == report["boosted"]["frames"] == 10 and report["config"]["fusion"] == "motion"
    assert rep["maxF"] == evaluate_folders(out / "spatial", dataset / "data", layout="davsod", progress=False)["maxF"]
    stem = "alpha_002"
    own = cv2.imread(str(out / "spatial" / "alpha" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    tgt = read_target_map(dataset / "maps" / "alpha" / f"{stem}.png", own.shape)
    fused = cv2.imread(str(out / "boosted" / "alpha" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    w = _motion_weight(out, "alpha", stem)  # the default fusion's weight, as the run recorded it
    assert np.abs(fused - fuse_maps(own, tgt, "motion", w)).max() <= 2 / 255  # both 8-bit: within rounding
    assert rep["gain"]["maxF"] == pytest.approx(rep["maxF"] - report["target"]["maxF"])
    assert "the paper's output" in (out / "report.md").read_text()


def test_fusions_protocol_scores_every_rule_from_the_recorded_maps(bench, dataset):
    """Protocol ``fusions``: motion, mean, geometric and replace recomputed from spatial/ and target/ (motion with
    the run's recorded weights), no boosting again; replace is exactly the recorded spatial maps, and the run's own
    rule recomputed scores as its real output."""
    out, report, _ = bench
    fu = report["fusions"]
    assert list(fu["rows"]) == ["motion", "mean", "geometric", "replace"] and fu["run_fusion"] == "motion"
    assert fu["rows"]["replace"]["maxF"] == report["replace"]["maxF"]
    assert fu["rows"]["replace"]["S"] == report["replace"]["S"]
    assert all(abs(v) <= 0.003 for v in fu["own_check"].values())
    assert fu["rows"]["geometric"]["maxF"] != fu["rows"]["mean"]["maxF"]
    assert fu["best"] == max(fu["rows"], key=lambda r: (fu["rows"][r]["maxF"], fu["rows"][r]["S"]))
    own = cv2.imread(str(out / "spatial" / "alpha" / "alpha_002.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    tgt = cv2.imread(str(out / "target" / "alpha" / "alpha_002.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    tgt = (tgt - tgt.min()) / (tgt.max() - tgt.min())  # a maps-mode target's maps, min-max normalised
    geo = cv2.imread(str(out / "fused" / "geometric" / "alpha" / "alpha_002.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    assert np.abs(geo - np.sqrt(own * tgt)).max() <= 1 / 255
    w = _motion_weight(out, "alpha", "alpha_002")
    mot = cv2.imread(str(out / "fused" / "motion" / "alpha" / "alpha_002.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    assert np.abs(mot - (w * own + (1 - w) * tgt)).max() <= 1 / 255
    assert "Fusion rules, from the recorded maps" in (out / "report.md").read_text()


def test_table3_rows_are_the_papers_definitions(bench, dataset):
    """MS = Θ(OF) is scored as recorded; MS−MQPM and MS+MQPM train on MS (the recorded Θ maps) with no fusion, the
    random row on as many frames as the MQPM row; the control trains on the target's maps with the Booster's fusion."""
    out, report, _ = bench
    t3 = report["table3"]
    assert t3["rows"]["ms"] == {k: evaluate_folders(out / "theta", dataset / "data", layout="davsod",
                                                    progress=False)[k] for k in REPORT_KEYS}
    assert t3["rows"]["ms_mqpm_target"]["maxF"] == report["boosted"]["maxF"]
    runs = {k: Path(v) for k, v in t3["runs"].items()}
    for seq in ("alpha", "beta"):
        ms_random, ms_mqpm, control = (_settings(runs[k], seq) for k in ("ms_random", "ms_mqpm", "control"))
        main = _settings(out / "boosted", seq)
        for s in (ms_random, ms_mqpm):
            assert Path(s["target"]["root"]) == out / "theta" and s["config"]["fusion"] == "replace"
        assert Path(control["target"]["root"]) == dataset / "maps" == Path(main["target"]["root"])
        assert control["config"]["fusion"] == main["config"]["fusion"] == "motion"
        done = {k: json.loads((runs[k] / seq / "vsodboost.json").read_text())["buffers_done"]
                for k in ("ms_random", "ms_mqpm")}
        assert [len(b["mined"]) for b in done["ms_random"].values()] == [len(b["mined"]) for b in
                                                                          done["ms_mqpm"].values()]
    assert t3["mining_gain"]["maxF"] == pytest.approx(t3["rows"]["ms_mqpm_target"]["maxF"]
                                                      - t3["rows"]["control"]["maxF"])


def test_table7_and_fig10_score_the_mined_frames(bench, dataset):
    """Table VII's training row is the boosted maps on exactly the mined annotated frames; Fig. 10 ranks each
    sequence's annotated frames by the target's S-measure and marks the mined ones."""
    from vsodboost.bench import evaluate_subset
    from vsodboost.bench._tables import _resample
    from vsodboost.datasets import read_dataset

    out, report, _ = bench
    seqs = read_dataset(dataset / "data", "davsod")
    mined = {s.name: {n for b in _settings_done(out, s.name).values() for n in b["mined"]} for s in seqs}
    ref = evaluate_subset(out / "boosted", seqs, lambda s, n: n in mined[s])
    t7 = report["table7"]
    assert t7["rows"]["training"]["maxF"] == pytest.approx(ref["maxF"], abs=1e-12)
    assert t7["rows"]["training"]["frames"] == sum(len(mined[s.name] & set(s.annotated)) for s in seqs) > 0
    assert t7["rows"]["overall"]["maxF"] == pytest.approx(report["boosted"]["maxF"], abs=1e-12)
    f10 = report["fig10"]
    assert set(f10["per_sequence"]) == {"alpha", "beta"} and max(f10["normalized"]) == 1.0
    n_mined_annotated = f10["mined_in_better_half"] + f10["mined_in_worse_half"]
    assert n_mined_annotated <= t7["rows"]["training"]["frames"]
    assert _resample(np.array([1, 0, 0, 1]), 2).tolist() == [0.5, 0.5]
    assert _resample(np.array([1, 0]), 4).tolist() == [1, 1, 0, 0]


def _settings_done(out: Path, seq: str) -> dict:
    return json.loads((out / "boosted" / seq / "vsodboost.json").read_text())["buffers_done"]


class _Videos(HTMLParser):
    """The ``<video>`` elements of a page, each with its ``<source>`` attributes; and every ``<img>`` src."""

    def __init__(self) -> None:
        super().__init__()
        self.videos: list[list[dict]] = []
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "video":
            self.videos.append([])
        elif tag == "source":
            self.videos[-1].append(dict(attrs))
        elif tag == "img":
            self.images.append(dict(attrs)["src"])


def _shown(dataset: Path, out: Path, seq: str) -> tuple[list[str], set[str], set[str]]:
    """The frames a sequence's video shows (annotated or mined, in order); the mined; the annotated."""
    mined = {n for b in _settings_done(out, seq).values() for n in b["mined"]}
    annotated = {p.stem for p in (dataset / "data" / seq / "ground-truth").iterdir()}
    stems = sorted(p.stem for p in (dataset / "data" / seq / "Imgs").iterdir())
    return [s for s in stems if s in annotated or s in mined], mined, annotated


def test_report_html_holds_the_tables_plots_and_one_video_per_sequence(bench):
    """report.html: report.md's tables (Table V, per sequence, I, III, control, VII…), the PR curves (or the
    note saying why there are none) and one labelled, browser-playable video per sequence, its files there."""
    out, report, logs = bench
    text = (out / "report.html").read_text(encoding="utf-8")
    heads = re.findall(r"<h2>(.*?)</h2>", text)
    for want in ("Table V ", "PR curves", "Every sequence", "Table I ", "Table III ", "Control ",
                 "Table VII ", "Table VIII "):
        assert any(h.startswith(want) for h in heads), (want, heads)
    assert heads.index(next(h for h in heads if h.startswith("Table V "))) < heads.index(
        next(h for h in heads if h.startswith("Every sequence")))  # the headline table first, then the videos
    assert "<h3>Per sequence</h3>" in text and "<td>alpha</td>" in text and "<td>beta</td>" in text
    assert f"<td>{report['target']['maxF']:.3f}</td>" in text  # the numbers are report.json's
    assert "random frames, mean of 2 draw(s)" in text and "mining gain" in text
    page = _Videos()
    page.feed(text)
    pngs = [p for p in report["plots"] if p.endswith(".png")]
    if pngs:  # the [plot] extra is installed: the curves are on the page
        assert {Path(p).name for p in pngs} <= {Path(unquote(s)).name for s in page.images}
    else:
        assert "matplotlib is not installed" in text
    assert len(page.videos) == 2
    for seq, sources in zip(("alpha", "beta"), page.videos):
        srcs = [unquote(a["src"]) for a in sources]
        assert srcs == [f"videos/{seq}.webm"] and sources[0]["type"] == "video/webm"
        assert all((out / s).is_file() for s in srcs)
        assert [str(out / s) for s in srcs] == report["videos"][seq]["files"]
    assert all((out / unquote(s)).is_file() for s in page.images)
    assert "videos/alpha.webm" in (out / "report.md").read_text()
    assert any("report.html" in line for line in logs)


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, img = cap.read()
        if not ok:
            break
        frames.append(img)
    cap.release()
    return frames


def _green(strip: np.ndarray) -> bool:
    b, g, r = strip.reshape(-1, 3).mean(0)
    return g - max(b, r) > 60


def test_report_videos_show_annotated_and_mined_frames_with_the_mined_ones_marked(bench, dataset):
    """Each video shows the annotated frames and the mined ones, in order, 144 px high under a white header;
    a mined frame is framed in green (all four edges), a mined frame without GT has a grey GT tile."""
    out, report, _ = bench
    for seq in ("alpha", "beta"):
        shown, mined, annotated = _shown(dataset, out, seq)
        assert mined and mined - annotated  # the fixture mines annotated and unannotated frames
        v = report["videos"][seq]
        assert (v["frames"], v["mined"]) == (len(shown), len(mined))
        frames = _frames(Path(v["files"][0]))
        assert len(frames) == len(shown)
        h, w = 144, frames[0].shape[1] // 4
        assert frames[0].shape == (28 + h, 4 * w, 3) and w == 192  # 64×48 frames at 144 px: 4 columns
        for img, stem in zip(frames, shown):
            assert img[:28].mean() > 200  # the labelled header
            tile = img[28:, :w]
            edges = [tile[:3, w // 2: w - 8], tile[-3:, 70: w - 8],  # top, bottom (right of the tag)
                     tile[20: h - 30, :3], tile[10: h - 10, -3:]]  # left, right
            assert all(_green(e) for e in edges) == (stem in mined), stem
            assert any(_green(e) for e in edges) == (stem in mined), stem
            if stem not in annotated:
                assert abs(img[28 + 10: 28 + h - 10, w + 10: 2 * w - 10].mean() - 128) < 12, stem


def test_report_videos_replace_a_planted_symlink_and_refuse_a_linked_folder(bench, dataset, tmp_path):
    """The videos go through the safe writers: a symlink at a video's name is replaced (what it points at is
    untouched), and a symlinked videos/ folder is refused rather than written through."""
    from vsodboost.bench._figures import draw_videos
    from vsodboost.datasets import read_dataset

    out, _, _ = bench
    copy = tmp_path / "out"
    for d in ("target", "boosted"):
        shutil.copytree(out / d, copy / d)
    seqs = read_dataset(dataset / "data", "davsod")
    mined = {s.name: _shown(dataset, out, s.name)[1] for s in seqs}
    outside = tmp_path / "outside.webm"
    outside.write_bytes(b"keep")
    (copy / "videos").mkdir()
    (copy / "videos" / "alpha.webm").symlink_to(outside)
    got = draw_videos(copy, seqs, mined, target_label="synth", fusion="mean")
    assert outside.read_bytes() == b"keep"
    video = copy / "videos" / "alpha.webm"
    assert not video.is_symlink() and len(_frames(video)) > 0
    assert got["alpha"]["files"] == [str(copy / "videos" / "alpha.webm")]
    assert not [p for p in (copy / "videos").iterdir() if "tmp" in p.name]  # no temporary left behind
    shutil.rmtree(copy / "videos")
    (tmp_path / "elsewhere").mkdir()
    (copy / "videos").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OutputError, match="symlink"):
        draw_videos(copy, seqs, mined, target_label="synth", fusion="mean")
    assert not list((tmp_path / "elsewhere").iterdir())


def test_report_html_shows_the_plots_when_drawn_and_says_why_when_not(bench, tmp_path):
    """With the [plot] extra the PR curves are <img>s by relative path; report.html is re-rendered from
    report.json here with a drawn plot (matplotlib may be absent), and with no videos drawn."""
    from vsodboost.bench._report import render_html

    out, _, _ = bench
    report = json.loads((out / "report.json").read_text())
    (tmp_path / "plots").mkdir()
    (tmp_path / "plots" / "pr curve #1.png").write_bytes(b"png")
    report.update(plots=[str(tmp_path / "plots" / "pr curve #1.png")], visualisations=[], videos={})
    text = render_html(report, tmp_path).read_text(encoding="utf-8")
    page = _Videos()
    page.feed(text)
    assert page.images == ["plots/pr%20curve%20%231.png"] and not page.videos  # quoted: '#' is no fragment
    assert (tmp_path / unquote(page.images[0])).is_file() and "matplotlib is not installed" not in text
    assert "No videos" in text


@needs_browser
def test_bench_report_html_plays_its_videos_in_a_headless_browser(bench, tmp_path):
    """Chromium loads report.html and plays each sequence's WebM: readyState ≥ 1 (metadata), the duration of
    the frames shown at 8 frames per second, the frame size, and playback under way."""
    out, report, _ = bench
    states = video_states(out / "report.html", tmp_path)
    assert len(states) == 2, states
    for seq, v in zip(("alpha", "beta"), states):
        assert v["src"].endswith(f"/videos/{seq}.webm") and v["error"] == 0, v
        assert v["readyState"] >= 1 and v["duration"] == pytest.approx(report["videos"][seq]["frames"] / 8,
                                                                       abs=0.07), v
        assert (v["width"], v["height"]) == (4 * 192, 28 + 144), v
        assert not v["paused"] and v["played"] > 0, v  # autoplaying (muted), as a person opening it sees


def test_zero_shot_baselines_are_the_untuned_model_and_its_fusion(bench, dataset, spatial):
    """Table V's honest baselines: the spatial model with no fine-tuning at its native input size, alone and fused
    with the target's maps by the rule without fine-tuning (motion, with the run's motion saliency; mean; geometric)
    that scores best, scored like every other row."""
    from vsodboost.io import read_unit_map as read_map
    from vsodboost.bench import BASELINE_FUSIONS, native_input_size
    from vsodboost.fusion import fuse_maps, motion_weights
    from vsodboost.spatial import predict_maps

    out, report, _ = bench
    base = report["baselines"]
    size = native_input_size(spatial, 0)
    assert size == base["zero_shot"]["input_size"] == 256 != CONFIG["finetune"]["input_size"]  # its config
    assert set(base["zero_shot_fusions"]) == set(BASELINE_FUSIONS) and base["zero_shot"]["frames"] == 10
    best = max(base["zero_shot_fusions"].values(), key=lambda b: (b["maxF"], b["S"]))
    assert base["zero_shot_fusion"] == best
    zs = Path(base["zero_shot"]["maps"])
    stem = "beta_004"
    frame = cv2.imread(str(dataset / "data" / "beta" / "Imgs" / f"{stem}.jpg"))[:, :, ::-1].copy()
    want = predict_maps(spatial, torch.from_numpy(frame).permute(2, 0, 1)[None], input_size=size)[0].numpy()
    got = cv2.imread(str(zs / "beta" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
    assert np.abs(got - want).max() <= 1 / 255 + 1e-6  # untuned, at its native size: the pretrained model's map
    tgt = read_map(dataset / "maps" / "beta" / f"{stem}.png", want.shape)
    mot = torch.from_numpy(read_map(out / "motion" / "beta" / f"{stem}.png", normalize=False))[None]
    cfg = report["config"]
    w = float(motion_weights(mot, torch.from_numpy(want)[None].float(), torch.from_numpy(tgt)[None], np.array([True]),
                             gain=cfg["fusion_gain"], size=cfg["consistency_size"])[0])
    assert w != 0.5  # a frame where the motion rule differs from the mean
    for how, b in base["zero_shot_fusions"].items():
        f = cv2.imread(str(Path(b["maps"]) / "beta" / f"{stem}.png"), cv2.IMREAD_GRAYSCALE) / 255.0
        assert np.abs(f - fuse_maps(want, tgt, how, w)).max() <= 2 / 255
        assert evaluate_folders(Path(b["maps"]), dataset / "data", layout="davsod", progress=False)["maxF"] == \
            pytest.approx(b["maxF"], abs=1e-12)
    gain = report["gain_over_zero_shot_fusion"]["overall"]
    assert gain["maxF"] == pytest.approx(report["boosted"]["maxF"] - base["zero_shot_fusion"]["maxF"])
    assert "zero-shot fusion" in (out / "report.md").read_text()


def test_native_input_size_reads_the_models_config():
    from vsodboost.bench import native_input_size
    from vsodboost.nets.u2net import U2Net, U2NetConfig

    assert native_input_size(U2Net(U2NetConfig(variant="u2netp")), 64) == 320
    assert native_input_size(torch.nn.Linear(1, 1), 64) == 64


def test_numbers_equal_evaluate_folders(bench, dataset):
    out, report, _ = bench
    for side in ("target", "boosted"):
        ref = evaluate_folders(out / side, dataset / "data", layout="davsod", progress=False)
        for k in REPORT_KEYS:
            assert report[side][k] == pytest.approx(ref[k], abs=1e-12), (side, k)
        for s in ref["sequences"]:
            assert report[side]["per_sequence"][s["sequence"]]["S"] == pytest.approx(s["S"], abs=1e-12)
    # the target's maps are the published files, byte for byte
    pub = evaluate_folders(dataset / "maps", dataset / "data", layout="davsod", progress=False)
    assert report["target"]["maxF"] == pytest.approx(pub["maxF"], abs=1e-12)
    # gains are signed boosted − target, per sequence too
    for s, g in report["gain"]["per_sequence"].items():
        assert g["MAE"] == pytest.approx(report["boosted"]["per_sequence"][s]["MAE"]
                                         - report["target"]["per_sequence"][s]["MAE"])
    # T = 1/period of the config reuses the main run
    assert report["table2"]["rows"]["2"]["maxF"] == report["boosted"]["maxF"]


def test_rerun_skips_done_sequences(bench, dataset, spatial):
    out, report, _ = bench
    before = {p: p.stat().st_mtime_ns for p in (out / "boosted").rglob("*.png")}
    again, logs = _bench(dataset, out, spatial)
    assert logs and all("skipped" in line for line in logs if line.startswith("["))
    assert {p: p.stat().st_mtime_ns for p in (out / "boosted").rglob("*.png")} == before
    assert again["boosted"]["maxF"] == report["boosted"]["maxF"]


def test_other_settings_are_refused_without_overwrite(bench, dataset, spatial):
    out, _, _ = bench
    with pytest.raises(InputError, match="other settings"):
        run_bench(dataset / "data", layout="davsod", target=PrecomputedTarget(dataset / "maps", name="synth"),
                  out=out, mqpm=StubMQPM(), spatial=spatial, config={**CONFIG, "period": 3}, device="cpu",
                  log=lambda s: None)


def test_weights_mapping_per_sequence(tmp_path):
    from vsodboost.bench._provenance import _weights_for

    m = tmp_path / "w.json"
    m.write_text(json.dumps({"alpha": "a.pt", "*": "rest.pt"}))
    assert _weights_for(str(m), "alpha") == "a.pt" and _weights_for(str(m), "beta") == "rest.pt"
    m.write_text(json.dumps({"alpha": "a.pt"}))
    with pytest.raises(InputError, match="beta"):
        _weights_for(str(m), "beta")


def test_cli_rejects_unknown_protocol(dataset, tmp_path, capsys):
    rc = cli_main(["bench", "--data", str(dataset / "data"), "--layout", "davsod", "--target",
                   f"precomputed:{dataset / 'maps'}", "--out", str(tmp_path / "o"), "--protocol", "table4",
                   "--device", "cpu"])
    assert rc == 1 and "table4" in capsys.readouterr().err


class TrainedOnMQPM(StubMQPM):
    """The stub MQPM with a checkpoint record saying it was trained on ``alpha`` (by GT fingerprint)."""

    def __init__(self, entries):
        self.provenance = {"file": "/x/mqpm_alpha.pt", "sha256": "0" * 64, "meta": {"data": {"trained_on": entries}}}


@pytest.fixture
def distinct_gt(dataset, tmp_path):
    """The bench dataset with beta's masks mirrored: the synthetic clips share their masks, real sequences do not."""
    import shutil

    shutil.copytree(dataset, tmp_path / "d")
    for p in (tmp_path / "d" / "data" / "beta" / "ground-truth").iterdir():
        cv2.imwrite(str(p), cv2.imread(str(p), cv2.IMREAD_GRAYSCALE)[:, ::-1])
    return tmp_path / "d"


def test_bench_warns_and_marks_rows_of_sequences_a_model_was_trained_on(distinct_gt, spatial, tmp_path):
    from vsodboost.datasets import read_dataset, trained_on_entry

    dataset = distinct_gt
    alpha = next(s for s in read_dataset(dataset / "data", "davsod") if s.name == "alpha")
    mq = TrainedOnMQPM([trained_on_entry("synthetic", alpha.name, len(alpha.annotated), alpha.fingerprint())])
    logs: list[str] = []
    report = run_bench(dataset / "data", layout="davsod", target=PrecomputedTarget(dataset / "maps", name="synth"),
                       out=tmp_path / "o", mqpm=mq, spatial=spatial, config=CONFIG, protocols=("table5",),
                       baselines=False, vis_frames=0, device="cpu", log=logs.append)
    warned = [line for line in logs if line.startswith("WARNING")]
    assert len(warned) == 1 and "alpha is in-sample" in warned[0] and "mqpm mqpm_alpha.pt" in warned[0]
    assert report["in_sample"]["sequences"] == {"alpha": ["mqpm mqpm_alpha.pt"]}
    md = (tmp_path / "o" / "report.md").read_text()
    assert "alpha (in-sample)" in md and "beta (in-sample)" not in md and "**In-sample:** alpha" in md
    # the spatial model records nothing: named as unknown, never silently taken as out-of-sample
    assert any("does not record its training sequences" in line and "spatial SaliencyUNet" in line for line in logs)


def test_bench_prints_no_in_sample_warning_for_a_namesake_with_other_gt(dataset, spatial, tmp_path):
    """DAVIS-TR's ``boat`` is not ViSal's ``boat``: the same name with another GT is not in-sample."""
    mq = TrainedOnMQPM([{"dataset": "other", "sequence": "alpha", "frames": 5, "gt_fingerprint": "f" * 64}])
    spatial.provenance = {"trained_on": "DUTS-TR images"}
    try:
        logs: list[str] = []
        report = run_bench(dataset / "data", layout="davsod",
                           target=PrecomputedTarget(dataset / "maps", name="synth"), out=tmp_path / "o", mqpm=mq,
                           spatial=spatial, config=CONFIG, protocols=("table5",), baselines=False, vis_frames=0,
                           device="cpu", log=logs.append)
    finally:
        del spatial.provenance
    assert not [line for line in logs if "WARNING" in line or "does not record" in line]
    assert report["in_sample"]["sequences"] == {} and report["in_sample"]["unknown"] == []


def test_control_protocol_compares_mqpm_frames_with_several_random_draws(dataset, spatial, tmp_path):
    report, logs = _bench(dataset, tmp_path / "c", spatial, protocols=("control",), draws=3, baselines=False,
                          vis_frames=0)
    c = report["control"]
    assert [d["seed"] for d in c["draws"]] == [0, 1, 2]
    assert len({d["run"] for d in c["draws"]}) == 3
    maxf = [d["maxF"] for d in c["draws"]]
    assert c["random_mean"]["maxF"] == pytest.approx(np.mean(maxf))
    assert c["random_sd"]["maxF"] == pytest.approx(np.std(maxf, ddof=1))
    assert c["mining_gain"]["maxF"] == pytest.approx(report["boosted"]["maxF"] - np.mean(maxf))
    assert ("more than twice" in c["verdict"]) and any(line.startswith("control: mining gain") for line in logs)
    assert "## Control — MQPM-mined frames vs random frames" in (tmp_path / "c" / "report.md").read_text()
    # vis_frames=0: no pictures and no videos; report.html says so
    assert report["videos"] is None and not (tmp_path / "c" / "videos").exists()
    assert "Videos skipped" in (tmp_path / "c" / "report.html").read_text(encoding="utf-8")
    # the draws differ in their frames: the first draw's mined frames are not all the second's
    states = [json.loads((Path(d["run"]) / "alpha" / "vsodboost.json").read_text()) for d in c["draws"][:2]]
    mined = [[tuple(b["mined"]) for b in st["buffers_done"].values()] for st in states]
    assert mined[0] != mined[1]


def test_cli_takes_boosts_target_and_config_options(dataset, tmp_path, monkeypatch):
    import vsodboost.bench as bench_pkg

    seen = {}
    monkeypatch.setattr(bench_pkg, "run_bench", lambda data, **kw: seen.update(kw))
    rc = cli_main(["bench", "--data", str(dataset / "data"), "--layout", "davsod", "--target",
                   f"precomputed:{dataset / 'maps'}", "--target-arg", "normalize=no", "--buffer-size", "7",
                   "--preset", "fast", "--out", str(tmp_path / "o"), "--device", "cpu", "-q"])
    assert rc == 0 and seen["target"].normalize is False  # --target-arg reaches the target, as in `boost`
    assert seen["config"].buffer_size == 7 and seen["config"].fusion == "geometric"  # over the preset's
    assert seen["spatial"] == "lite0"
    with pytest.raises(SystemExit) as exc:  # checked as `boost` checks it: a usage error
        cli_main(["bench", "--data", str(dataset / "data"), "--layout", "davsod", "--target",
                  f"precomputed:{dataset / 'maps'}", "--buffer-size", "0", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2


def test_cli_target_cache_wraps_the_target_as_boost_does(dataset, tmp_path, monkeypatch):
    import vsodboost.bench as bench_pkg
    from vsodboost.target_cache import CachedTarget

    seen = {}
    monkeypatch.setattr(bench_pkg, "run_bench", lambda data, **kw: seen.update(kw))
    rc = cli_main(["bench", "--data", str(dataset / "data"), "--layout", "davsod", "--target",
                   f"precomputed:{dataset / 'maps'}", "--target-cache", str(tmp_path / "cache"),
                   "--out", str(tmp_path / "o"), "--device", "cpu", "-q"])
    assert rc == 0 and isinstance(seen["target"], CachedTarget)
    assert seen["target"].root == tmp_path / "cache" and seen["target"].target.name == seen["target"].name


def test_a_preset_is_applied_as_the_booster_applies_it(dataset, spatial, tmp_path):
    """run_bench(preset=...) lays the caller's config over the preset's (it was only a label in the report before,
    so preset="paper" benched the default fusion under the paper's name); a BoostConfig still wins whole."""
    from vsodboost.config import BoostConfig

    kw = dict(layout="davsod", target=PrecomputedTarget(dataset / "maps", name="synth"), mqpm=StubMQPM(),
              spatial=spatial, device="cpu", log=lambda _: None, vis_frames=0, baselines=False)
    report = run_bench(dataset / "data", out=tmp_path / "p", preset="paper", config=CONFIG, **kw)
    cfg = json.loads((tmp_path / "p" / "report.json").read_text())["config"]
    assert report["config"] == cfg
    assert (cfg["fusion"], cfg["finetune"]["loss"]) == ("replace", "bce")  # the paper's, not BoostConfig's
    assert (cfg["buffer_size"], cfg["period"], cfg["finetune"]["iterations"]) == (8, 2, 1)  # the caller's fields win
    whole = BoostConfig.from_dict(CONFIG)
    cfg2 = run_bench(dataset / "data", out=tmp_path / "w", preset="paper", config=whole, **kw)["config"]
    assert cfg2["fusion"] == whole.fusion == "motion"  # a whole BoostConfig is used as given
