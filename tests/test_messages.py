"""Messages that point the right way (issue 22): network vs disk in the weights downloader, the looked-up
sequence in a missing-maps error, and an unknown --target as a usage error (exit 2)."""

from __future__ import annotations

import io
import urllib.error

import cv2
import numpy as np
import pytest

from vsodboost.adapters.precomputed import PrecomputedTarget
from vsodboost.cli import main
from vsodboost.errors import MissingMapsError, MissingWeightsError
from vsodboost.video import load_video
from vsodboost.weights import WeightSpec, resolve_weights

SPEC = WeightSpec(name="net.default", filename="net.pth", url="https://example.org/net.pth")


def test_an_unreachable_url_says_network_not_disk():
    def refuse(url):
        raise urllib.error.URLError("no route to host")

    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(SPEC, subdir="t", download=True, opener=refuse)
    msg = str(info.value)
    assert "could not reach https://example.org/net.pth" in msg and "no route to host" in msg
    assert "VSODBOOST_OFFLINE" in msg and str(SPEC.cache_path("t")) in msg
    assert "free space" not in msg and "--out" not in msg  # was: "free space or choose a writable --out"


def test_a_transfer_broken_midway_is_a_network_error_too():
    class Broken(io.BytesIO):
        def read(self, n=-1):
            raise ConnectionResetError("connection reset by peer")

    with pytest.raises(MissingWeightsError, match="could not reach.*connection reset") as info:
        resolve_weights(SPEC, subdir="t", download=True, opener=lambda url: Broken())
    assert "free space" not in str(info.value)
    assert not SPEC.cache_path("t").exists()


def test_a_cache_that_cannot_be_written_says_disk_not_network(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.write_text("a file where the cache folder should be")
    monkeypatch.setenv("VSODBOOST_HOME", str(home))
    with pytest.raises(MissingWeightsError) as info:
        resolve_weights(SPEC, subdir="t", download=True, opener=lambda url: io.BytesIO(b"weights"))
    msg = str(info.value)
    assert "cannot save the download" in msg and "VSODBOOST_HOME" in msg
    assert "could not reach" not in msg


@pytest.mark.parametrize("given,looked_up", [(None, "video"), ("my_clip", "my_clip")])
def test_missing_maps_name_the_looked_up_sequence_and_how_to_change_it(tmp_path, given, looked_up):
    (tmp_path / "maps" / "blackswan").mkdir(parents=True)
    target = PrecomputedTarget(tmp_path / "maps")
    video = load_video(np.zeros((3, 16, 16, 3), np.uint8), name=given)  # arrays: named "video" by default
    with pytest.raises(MissingMapsError) as info:
        target.predict(video)
    msg = str(info.value)
    assert f"no maps for sequence {looked_up!r}" in msg and "--name NAME" in msg and "name=" in msg
    with pytest.raises(MissingMapsError, match="sequence='nope'.*--target-arg sequence=NAME"):
        PrecomputedTarget(tmp_path / "maps", sequence="nope").predict(video)


def test_an_unknown_target_is_a_usage_error(tmp_path, capsys):
    seq = tmp_path / "frames"
    seq.mkdir()
    for i in range(3):
        cv2.imwrite(str(seq / f"{i:05d}.png"), np.zeros((16, 16, 3), np.uint8))
    for cmd in ("boost", "export"):
        assert main([cmd, str(seq), "--target", "nope", "--out", str(tmp_path / cmd)]) == 2
        assert "unknown target 'nope'" in capsys.readouterr().err
    assert main(["boost", str(seq), "--target", "precomputed:", "--out", str(tmp_path / "b")]) == 2
