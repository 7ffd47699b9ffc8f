"""Iterated boosting (issue 25): round k + 1 boosts round k's maps, read back as written — the same maps from
``Booster.run(rounds=)``, ``run_to_dir(rounds=)`` and ``vsodboost boost --rounds``; resumable; a changed round k
redoes round k + 1; bad values refused."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import tiny_booster
from vsodboost import adapters
from vsodboost.errors import InputError, ResumeError
from vsodboost.io import ROUNDS_DIR, encode_map, read_unit_map, write_map_atomic
from vsodboost.runner import run_to_dir
from vsodboost.target import RoundTarget
from vsodboost.video import load_video


def _pngs(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


@pytest.fixture(scope="module")
def two_rounds_on_disk(tmp_path_factory, disk12):
    out = tmp_path_factory.mktemp("rounds") / "out"
    summary = run_to_dir(tiny_booster(adapters.precomputed(disk12 / "maps_a")), disk12 / "frames" / "seq", out,
                         rounds=2)
    return out, summary


def test_round_two_boosts_round_one_and_python_gives_the_same_bytes(disk12, two_rounds_on_disk, tmp_path):
    out, summary = two_rounds_on_disk
    round1 = out / ROUNDS_DIR / "1"
    assert len(_pngs(round1)) == 12 and len(_pngs(out)) == 12
    assert summary["rounds"]["rounds"] == 2 and summary["rounds"]["first_target"] == "precomputed"
    state = json.loads((out / "vsodboost.json").read_text())
    assert state["settings"]["target"]["name"] == "round 1" and state["complete"]
    # round 1 alone is exactly a one-round run, and round 2 differs from it (it boosted other maps)
    once = run_to_dir(tiny_booster(adapters.precomputed(disk12 / "maps_a")), disk12 / "frames" / "seq",
                      tmp_path / "once")
    assert once["complete"] and _pngs(tmp_path / "once") == _pngs(round1)
    assert _pngs(out) != _pngs(round1)
    result = tiny_booster(adapters.precomputed(disk12 / "maps_a")).run(disk12 / "frames" / "seq", rounds=2)
    assert result.provenance["rounds"] == {"rounds": 2, "first_target": "precomputed"}
    result.save(tmp_path / "py")
    assert _pngs(tmp_path / "py") == _pngs(out)


def test_a_rerun_resumes_every_round_and_a_changed_round_one_redoes_round_two(disk12, two_rounds_on_disk,
                                                                               tmp_path):
    out, _ = two_rounds_on_disk
    before = _pngs(out)
    again = run_to_dir(tiny_booster(adapters.precomputed(disk12 / "maps_a")), disk12 / "frames" / "seq", out,
                       rounds=2)
    assert again["buffers_run"] == 0 and _pngs(out) == before
    round1 = out / ROUNDS_DIR / "1"
    write_map_atomic(sorted(round1.glob("*.png"))[0], np.zeros((48, 64), np.float32))  # replaced behind our back
    redo = run_to_dir(tiny_booster(adapters.precomputed(disk12 / "maps_a")), disk12 / "frames" / "seq", out,
                      rounds=2)
    assert redo["buffers_run"] == 0 and _pngs(out) == before  # round 1 redid that buffer: same maps, round 2 kept
    # round 1 from other target maps (one frame inverted): round 2's target changed, so it is refused, then redone
    other = tmp_path / "maps" / "seq"
    other.mkdir(parents=True)
    for k, f in enumerate(sorted((disk12 / "maps_a" / "seq").glob("*.png"))):
        m = read_unit_map(f)
        write_map_atomic(other / f.name, 1 - m if k == 0 else m)
    with pytest.raises(ResumeError, match="target"):
        run_to_dir(tiny_booster(adapters.precomputed(tmp_path / "maps")), disk12 / "frames" / "seq", out, rounds=2)
    key = json.loads((out / "vsodboost.json").read_text())["settings"]["target"]
    redone = run_to_dir(tiny_booster(adapters.precomputed(tmp_path / "maps")), disk12 / "frames" / "seq", out,
                        rounds=2, overwrite=True)
    assert redone["buffers_run"] >= 1
    assert json.loads((out / "vsodboost.json").read_text())["settings"]["target"] != key


def test_round_target_reads_maps_as_a_maps_mode_target_reads_the_written_files(tmp_path):
    rng = np.random.default_rng(0)
    maps = [rng.random((20, 30)).astype(np.float32) for _ in range(3)]
    names = ["a", "b", "c"]
    mem = RoundTarget.of_maps(1, names, maps)
    shas = {n: write_map_atomic(tmp_path / f"{n}.png", m) for n, m in zip(names, maps)}
    disk = RoundTarget.of_folder(1, tmp_path, shas)
    assert mem.identity() == disk.identity() and mem.name == "round 1"
    video = load_video([np.zeros((20, 30, 3), np.uint8)] * 3, name="clip")
    video.names = ["a", "b", "zz"]  # a frame round k has no map for gets None
    got_mem, got_disk = mem.predict(video), disk.predict(video)
    assert got_mem[2] is None and got_disk[2] is None
    for m, d, n in zip(got_mem[:2], got_disk[:2], names):
        np.testing.assert_array_equal(m, d)
        np.testing.assert_array_equal(m, read_unit_map(tmp_path / f"{n}.png"))
    other = RoundTarget.of_maps(1, names, [maps[0], maps[1], 1 - maps[2]])
    assert other.identity() != mem.identity()  # the digest follows the maps' bytes
    assert encode_map(maps[0])  # the bytes hashed are the PNG a writer saves


@pytest.mark.parametrize("rounds", [0, -1, 1.5, True, "2"])
def test_bad_rounds_are_refused(disk12, rounds, tmp_path):
    booster = tiny_booster(adapters.precomputed(disk12 / "maps_a"))
    with pytest.raises(InputError, match="rounds"):
        booster.run(disk12 / "frames" / "seq", rounds=rounds)
    with pytest.raises(InputError, match="rounds"):
        run_to_dir(booster, disk12 / "frames" / "seq", tmp_path / "x", rounds=rounds)
    assert not (tmp_path / "x").exists()


def test_cli_refuses_bad_rounds_and_ray(disk12, tmp_path, capsys):
    from vsodboost.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["boost", str(disk12 / "frames" / "seq"), "--out", str(tmp_path / "r"), "--rounds", "0"])
    assert exc.value.code == 2
    rc = main(["boost", str(disk12 / "frames" / "seq"), "--out", str(tmp_path / "r"), "--rounds", "2",
               "--engine", "ray", "--target", f"precomputed:{disk12 / 'maps_a'}"])
    assert rc == 2 and "--engine local only" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()  # refused before anything was made
