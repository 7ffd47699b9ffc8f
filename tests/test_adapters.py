"""Maps-mode adapters: precomputed(root) and ssav/mga/cos/lsti/pcsa, on a fixture made here and on the published
maps in ../shared/data/results (realdata)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from vsodboost import adapters
from vsodboost.adapters import METHODS, MethodTarget, PrecomputedTarget
from vsodboost.io import read_unit_map as read_map
from vsodboost.errors import InputError, MissingMapsError
from vsodboost.target import TargetModel, check_target_output
from vsodboost.video import load_video

H, W = 24, 32
METHOD_NAMES = ["ssav", "mga", "cos", "lsti", "pcsa"]


def _ramp(lo: int, hi: int, h: int = H, w: int = W, seed: int = 0) -> np.ndarray:
    """A uint8 map with values exactly spanning [lo, hi], shuffled so that position matters."""
    vals = np.linspace(lo, hi, h * w).round().astype(np.uint8)
    return np.random.default_rng(seed).permutation(vals).reshape(h, w)


def _video(names, name="seq"):
    rng = np.random.default_rng(1)
    return load_video([rng.integers(0, 256, (H, W, 3), dtype=np.uint8) for _ in names], names=names, name=name)


def _write_maps(folder: Path, maps: dict[str, np.ndarray], ext: str = ".png") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stem, m in maps.items():
        assert cv2.imwrite(str(folder / f"{stem}{ext}"), m)


@pytest.fixture
def maps_root(tmp_path):
    """``<root>/seq/<stem>.png`` for frames a, c, d (not b), plus a map for a frame the video does not have."""
    root = tmp_path / "results"
    _write_maps(root / "seq", {"a": _ramp(0, 255, seed=1), "c": _ramp(40, 200, seed=2),
                               "d": np.full((H, W), 128, np.uint8), "zz_extra": _ramp(0, 255, seed=4)})
    return root


# -- read_map ------------------------------------------------------------------------------------------------------
def test_read_map_minmax_resize_and_constant(tmp_path):
    m = _ramp(40, 200)
    cv2.imwrite(str(tmp_path / "m.png"), m)
    out = read_map(tmp_path / "m.png")
    assert out.dtype == np.float32 and out.min() == 0.0 and out.max() == 1.0
    np.testing.assert_allclose(out, (m.astype(np.float32) - 40) / 160, atol=1e-6)  # per-image min-max
    raw = read_map(tmp_path / "m.png", normalize=False)
    np.testing.assert_allclose(raw, m / 255.0, atol=1e-6)
    big = read_map(tmp_path / "m.png", (H * 2, W * 3))
    assert big.shape == (H * 2, W * 3) and big.min() >= 0 and big.max() <= 1
    cv2.imwrite(str(tmp_path / "c.png"), np.full((H, W), 77, np.uint8))
    np.testing.assert_allclose(read_map(tmp_path / "c.png"), 77 / 255.0, atol=1e-6)  # constant: left as is


def test_read_map_colour_and_16bit(tmp_path):
    gray = _ramp(0, 255)
    cv2.imwrite(str(tmp_path / "rgb.png"), np.dstack([gray] * 3))
    np.testing.assert_allclose(read_map(tmp_path / "rgb.png"), gray / 255.0, atol=1e-6)
    cv2.imwrite(str(tmp_path / "deep.png"), gray.astype(np.uint16) * 257)
    np.testing.assert_allclose(read_map(tmp_path / "deep.png"), gray / 255.0, atol=1e-6)
    (tmp_path / "bad.png").write_bytes(b"not a png")
    with pytest.raises(InputError, match=r"cannot read saliency map .*bad\.png"):
        read_map(tmp_path / "bad.png")


# -- precomputed ---------------------------------------------------------------------------------------------------
def test_precomputed_matches_by_stem_and_gives_none_for_missing(maps_root):
    target = adapters.precomputed(maps_root)
    assert isinstance(target, PrecomputedTarget) and isinstance(target, TargetModel)
    video = _video(["d", "c", "b", "a"])  # not the order of the files on disk
    out = check_target_output(target.predict(video), video, target)
    assert out[2] is None  # frame b has no map: None, never a zero map
    np.testing.assert_allclose(out[3], _ramp(0, 255, seed=1) / 255.0, atol=1e-6)
    np.testing.assert_allclose(out[1], (_ramp(40, 200, seed=2).astype(np.float32) - 40) / 160, atol=1e-6)
    np.testing.assert_allclose(out[0], 128 / 255.0, atol=1e-6)
    assert target.coverage(video) == [True, True, False, True]


def test_precomputed_resizes_to_frame_size(tmp_path):
    small = _ramp(0, 255, h=H // 2, w=W // 2)
    _write_maps(tmp_path / "r" / "seq", {"a": small})
    video = _video(["a", "b"])
    out = adapters.precomputed(tmp_path / "r").predict(video)
    assert out[0].shape == (H, W) and out[1] is None
    expected = cv2.resize(small, (W, H), interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255.0
    np.testing.assert_allclose(out[0], (expected - expected.min()) / (expected.max() - expected.min()), atol=1e-6)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp"])
def test_precomputed_extensions(tmp_path, ext):
    m = np.zeros((H, W), np.uint8)
    m[5:15, 8:20] = 255
    _write_maps(tmp_path / "r" / "seq", {"a": m}, ext=ext)
    out = adapters.precomputed(tmp_path / "r").predict(_video(["a", "b"]))
    assert out[0] is not None and out[1] is None
    assert out[0][10, 14] > 0.9 and out[0][0, 0] < 0.1


def test_precomputed_prefers_the_first_extension(tmp_path):
    _write_maps(tmp_path / "r" / "seq", {"a": np.full((H, W), 200, np.uint8)}, ext=".jpg")
    _write_maps(tmp_path / "r" / "seq", {"a": np.full((H, W), 50, np.uint8)}, ext=".png")
    video = _video(["a", "b"])
    assert adapters.precomputed(tmp_path / "r").predict(video)[0].mean() == pytest.approx(50 / 255, abs=1e-6)
    jpg_first = adapters.precomputed(tmp_path / "r", exts=("jpg", "png")).predict(video)[0]
    assert jpg_first.mean() == pytest.approx(200 / 255, abs=2e-2)


def test_precomputed_prefix_and_suffix(tmp_path):
    folder = tmp_path / "r" / "seq"
    _write_maps(folder, {"sal_a_pred": np.full((H, W), 10, np.uint8), "sal_b_pred": np.full((H, W), 20, np.uint8),
                         "a": np.full((H, W), 250, np.uint8), "sal_c": np.full((H, W), 30, np.uint8)})
    video = _video(["a", "b", "c"])
    out = adapters.precomputed(tmp_path / "r", prefix="sal_", suffix="_pred").predict(video)
    assert out[0].mean() == pytest.approx(10 / 255, abs=1e-6)
    assert out[1].mean() == pytest.approx(20 / 255, abs=1e-6)
    assert out[2] is None  # "sal_c" lacks the suffix
    only_prefix = adapters.precomputed(tmp_path / "r", prefix="sal_").predict(video)
    assert only_prefix[0] is None and only_prefix[2].mean() == pytest.approx(30 / 255, abs=1e-6)
    only_suffix = adapters.precomputed(tmp_path / "r", suffix="_pred").predict(_video(["sal_a", "a"]))
    assert only_suffix[0].mean() == pytest.approx(10 / 255, abs=1e-6) and only_suffix[1] is None


def test_precomputed_folder_resolution(tmp_path):
    m = np.full((H, W), 99, np.uint8)
    _write_maps(tmp_path / "nested" / "DAVIS" / "seq", {"a": m})  # <root>/<dataset>/<seq>
    _write_maps(tmp_path / "nested" / "FBMS" / "other", {"a": m})
    video = _video(["a"])
    assert adapters.precomputed(tmp_path / "nested").predict(video)[0] is not None
    _write_maps(tmp_path / "nested" / "ViSal" / "seq", {"a": m})
    with pytest.raises(InputError, match=r"'seq' exists under several dataset folders"):
        adapters.precomputed(tmp_path / "nested").predict(video)
    _write_maps(tmp_path / "flat", {"a": m})  # the root holds the maps itself
    assert adapters.precomputed(tmp_path / "flat").predict(video)[0] is not None
    # sequence= overrides the video's name
    assert adapters.precomputed(tmp_path / "nested" / "FBMS", sequence="other").predict(video)[0] is not None


def test_precomputed_missing_folders(tmp_path, maps_root):
    with pytest.raises(MissingMapsError, match="does not exist"):
        adapters.precomputed(tmp_path / "nowhere")
    with pytest.raises(MissingMapsError, match=r"no maps for sequence 'other'"):
        adapters.precomputed(maps_root).predict(_video(["a"], name="other"))
    with pytest.raises(FileNotFoundError):  # MissingMapsError is also a FileNotFoundError
        adapters.precomputed(tmp_path / "nowhere")


def test_precomputed_corrupt_map(tmp_path):
    folder = tmp_path / "r" / "seq"
    _write_maps(folder, {"a": np.zeros((H, W), np.uint8)})
    (folder / "b.png").write_bytes(b"broken")
    with pytest.raises(InputError, match=r"b\.png"):
        adapters.precomputed(tmp_path / "r").predict(_video(["a", "b"]))


def test_precomputed_registered_as_target(maps_root):
    target = adapters.create("precomputed", root=maps_root)
    assert target.predict(_video(["a"]))[0] is not None


# -- the five named methods, maps mode -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_method_maps_mode(method, maps_root):
    target = getattr(adapters, method)(maps=maps_root)
    assert isinstance(target, MethodTarget) and isinstance(target, TargetModel)
    assert target.name == method and target.mode == "maps" and target.spec is METHODS[method]
    video = _video(["a", "b", "c"])
    out = check_target_output(target.predict(video), video, target)
    assert out[1] is None
    np.testing.assert_allclose(out[0], _ramp(0, 255, seed=1) / 255.0, atol=1e-6)
    # the same adapter through the registry
    via_registry = adapters.create(method, maps=maps_root).predict(video)
    np.testing.assert_array_equal(via_registry[2], out[2])


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_method_default_folder_in_home(method, monkeypatch, tmp_path):
    home = tmp_path / "home"
    monkeypatch.setenv("VSODBOOST_HOME", str(home))
    with pytest.raises(MissingMapsError) as info:
        getattr(adapters, method)()
    msg = str(info.value)
    spec = METHODS[method]
    assert str(home / method) in msg  # where to put them
    assert spec.title in msg and spec.published_maps in msg  # what to download
    assert "maps=ROOT" in msg
    _write_maps(home / method / "DAVIS" / "seq", {"a": _ramp(0, 255, seed=1)})
    out = getattr(adapters, method)().predict(_video(["a", "b"]))
    assert out[0] is not None and out[1] is None


@pytest.mark.parametrize("method", METHOD_NAMES)
def test_method_missing_sequence_says_what_to_download(method, tmp_path):
    (tmp_path / "maps" / "seq").mkdir(parents=True)
    target = getattr(adapters, method)(maps=tmp_path / "maps")
    with pytest.raises(MissingMapsError, match=r"no maps for sequence 'elsewhere'.*download"):
        target.predict(_video(["a"], name="elsewhere"))


def test_method_prefix_suffix_and_sequence(tmp_path):
    _write_maps(tmp_path / "m" / "blackswan", {"a_ssav": np.full((H, W), 60, np.uint8)})
    target = adapters.ssav(maps=tmp_path / "m", sequence="blackswan", suffix="_ssav")
    assert target.predict(_video(["a"], name="clip"))[0].mean() == pytest.approx(60 / 255, abs=1e-6)


def test_method_argument_errors(tmp_path):
    with pytest.raises(InputError, match="not both"):
        adapters.mga(maps=tmp_path, weights=tmp_path / "w.pth")
    for method in ("ssav", "lsti"):
        with pytest.raises(InputError, match="no live PyTorch port.*maps=ROOT"):
            getattr(adapters, method)(weights=tmp_path / "w.pth")


def test_method_specs_describe_each_method():
    for name in METHOD_NAMES:
        spec = METHODS[name]
        assert spec.name == name and spec.published_maps and spec.clip_length >= 1
        assert spec.colour_order in ("RGB", "BGR")
    assert METHODS["ssav"].clip_length == 3 and METHODS["pcsa"].clip_length == 5  # REFERENCE.md
    assert METHODS["mga"].needs_flow and not METHODS["cos"].needs_flow


def test_unknown_adapter_attribute():
    with pytest.raises(AttributeError, match="no target 'nosuch'.*mga.*precomputed"):
        adapters.nosuch  # noqa: B018
    with pytest.raises(AttributeError):
        adapters._private  # noqa: B018


# -- real published maps -------------------------------------------------------------------------------------------
def _mae_over(seqs, target) -> tuple[float, int]:
    """pysodmetrics' MAE convention: gt > 128, map min-max normalised; frame-averaged."""
    errs = []
    for seq in seqs:
        video = seq.video()
        maps = check_target_output(target.predict(video), video, target)
        for stem, m in zip(seq.stems, maps):
            if stem in seq.gt:
                assert m is not None, f"{seq.name}/{stem}: annotated frame without a published map"
                gt = cv2.imread(str(seq.gt[stem]), cv2.IMREAD_GRAYSCALE) > 128
                errs.append(float(np.abs(m.astype(np.float64) - gt).mean()))
    return float(np.mean(errs)), len(errs)


@pytest.mark.realdata
def test_real_mga_visal_by_stem(shared_data):
    """MGA's ViSal maps cover annotated frames only, with irregular stems; MAE matches the data README."""
    from vsodboost.datasets import read_dataset

    seqs = read_dataset(shared_data / "ViSal")
    target = adapters.mga(maps=shared_data / "results" / "MGA")  # <root>/ViSal/<seq>/<stem>.png
    cow = next(s for s in seqs if s.name == "cow")
    maps = target.predict(cow.video())
    assert [m is not None for m in maps] == [s in cow.gt for s in cow.stems]
    mae, n = _mae_over(seqs, target)
    assert n == 193
    assert mae == pytest.approx(0.0153, abs=5e-4)  # data/README.md, pysodmetrics 1.6.2


@pytest.mark.realdata
@pytest.mark.parametrize("method", METHOD_NAMES)
def test_real_maps_layout_for_every_method(shared_data, method):
    """Every maps-mode adapter resolves the published layout <root>/<dataset>/<seq>/<stem>.png."""
    from vsodboost.datasets import read_dataset

    seq = read_dataset(shared_data / "ViSal", sequences=["gokart"])[0]
    target = getattr(adapters, method)(maps=shared_data / "results" / "MGA")
    video = seq.video()
    out = check_target_output(target.predict(video), video, target)
    assert sum(m is not None for m in out) == len(seq.gt) > 0
    for stem, m in zip(seq.stems, out):
        if m is not None:
            gt = cv2.imread(str(seq.gt[stem]), cv2.IMREAD_GRAYSCALE) > 128
            assert m[gt].mean() > m[~gt].mean() + 0.3  # the map is of this frame: salient where the GT is


@pytest.mark.realdata
def test_real_pdb_davis(shared_data):
    from vsodboost.datasets import read_davis

    seqs = read_davis(shared_data / "DAVIS2016", split="val")
    target = adapters.precomputed(shared_data / "results" / "PDB")
    mae, n = _mae_over(seqs, target)
    assert n == 645
    assert mae == pytest.approx(0.0193, abs=5e-4)  # data/README.md, pysodmetrics 1.6.2
