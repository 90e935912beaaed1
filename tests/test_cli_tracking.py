"""Tracking and counting in `trt-viewer run`: ids in JSONL, CSV and MOT, line counts in
the JSONL events and the summary, bad lines and zones refused in one line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.cli import main


def run(*args: object) -> int:
    return main(["run", *map(str, args)])


@pytest.fixture
def sweep(tmp_path: Path) -> Path:
    """One square moving right 8 px a frame across a 96x64 frame, twice (it jumps back)."""
    return write_video(tmp_path / "sweep.avi", moving_square_frames(24))


@pytest.fixture(scope="module")
def scene_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """120 frames of the demo's generated scenes (objects moving, entering and leaving;
    seed 304 has objects crossing both middle lines)."""
    from trt_viewer.demo import write_video as render

    path = tmp_path_factory.mktemp("clip") / "scene.mp4"
    render(path, 304, (640, 360), 30, 120)
    return path


def test_objects_keep_their_ids_and_crossings_are_counted(scene_clip: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]):
    from trt_viewer.demo import demo_model_path

    dets, mot = tmp_path / "d.jsonl", tmp_path / "t.txt"
    code = run("--model", demo_model_path(), "--source", scene_clip, "--track", "bytetrack",
               "--line", "320,0,320,360,middle", "--line", "0,180,640,180,across",
               "--detections", dets, "--mot", mot, "--json-summary", "-q")
    assert code == 0
    records = [json.loads(line) for line in dets.read_text().splitlines()]
    ids = [d["track_id"] for r in records for d in r["detections"] if d["track_id"] is not None]
    frames_per_id = {i: ids.count(i) for i in set(ids)}
    assert max(frames_per_id.values()) >= 80  # an object followed through most of the clip
    assert len(frames_per_id) < len(ids) / 10  # ids persist rather than flicker
    events = [e for r in records for e in r.get("events", [])]
    out, err = capsys.readouterr()
    counts = json.loads(out.strip().splitlines()[-1])["counts"]["lines"]
    assert sum(c["in_total"] + c["out_total"] for c in counts.values()) == len(events) > 0
    assert all(e["line"] in ("middle", "across") and e["event"] in ("in", "out") for e in events)
    assert "line middle:" in err and "line across:" in err
    rows = [line.split(",") for line in mot.read_text().splitlines()]
    assert len(rows) == len(ids) and rows[0][0] == "1" and all(r[7:] == ["-1", "-1", "-1"] for r in rows)


def test_a_seek_and_a_loop_start_the_tracks_afresh(models: dict[str, Path], sweep: Path,
                                                   monkeypatch: pytest.MonkeyPatch):
    """Tracks must not survive a jump in time: the player resets them on a seek and a loop
    (a pause keeps them)."""
    import threading
    import time
    from contextlib import nullcontext

    from trt_viewer.backends import open_backend
    from trt_viewer.core.sources import open_source
    from trt_viewer.run.detector import Detector
    from trt_viewer.run.player import Player, PlayOptions, State
    from trt_viewer.run.tracking import Tracking, TrackingOptions

    resets: list[int] = []
    real_reset = Tracking.reset
    monkeypatch.setattr(Tracking, "reset", lambda self: (resets.append(1), real_reset(self)))

    def wait(condition) -> None:  # type: ignore[no-untyped-def]
        deadline = time.monotonic() + 10
        while not condition():
            assert time.monotonic() < deadline
            time.sleep(0.01)

    with open_backend(models["raw"]) as backend:
        player = Player(None, PlayOptions(paused=True, tracking=TrackingOptions()))
        thread = threading.Thread(target=player.run, args=(lambda: nullcontext(Detector(backend)), str(sweep),
                                                           open_source))
        thread.start()
        try:
            wait(lambda: player.frames == 1 and player.state == State.PAUSED)
            player.step()
            wait(lambda: player.frames == 2)
            assert resets == []  # steps and pauses keep the tracks
            player.seek(10)
            wait(lambda: player.frames == 3)
            assert len(resets) == 1
            player.set_loop(True)
            player.play()
            wait(lambda: player.frames > 24)  # past the end, round again
            assert len(resets) >= 2  # at least one loop since the seek
        finally:
            player.stop()
            thread.join(5)


def test_csv_has_a_track_id_column(models: dict[str, Path], sweep: Path, tmp_path: Path):
    out = tmp_path / "d.csv"
    assert run("--model", models["raw"], "--source", sweep, "--track", "sort", "--detections", out, "-q") == 0
    rows = list(csv.DictReader(out.open()))
    assert "track_id" in rows[0] and any(r["track_id"] for r in rows)
    plain = tmp_path / "plain.csv"
    assert run("--model", models["raw"], "--source", sweep, "--detections", plain, "-q") == 0
    assert {r["track_id"] for r in csv.DictReader(plain.open())} == {""}  # no tracking: the column is empty


@pytest.mark.parametrize(("args", "says"), [
    (["--line", "1,2,3"], "line"),
    (["--line", "0,0,500,500"], "outside"),
    (["--zone", "{zones}"], "zone"),
    (["--zone", "[1, 2]"], "zones"),
    (["--zone", '{"zones": [{"name": "a", "points": [[0, 0], [5, 5]]}]}'], "3"),
    (["--track", "none", "--line", "0,0,10,10"], "need tracking"),
])
def test_bad_lines_and_zones_are_one_line_exit_2(models: dict[str, Path], sweep: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str], args: list[str], says: str):
    if args[0] == "--zone":
        zone = tmp_path / "zones.json"
        zone.write_text(args[1])
        args = ["--zone", str(zone)]
    code = run("--model", models["raw"], "--source", sweep, "--detections", tmp_path / "d.jsonl", *args, "-q")
    err = capsys.readouterr().err.strip()
    assert code == 2 and says in err and len(err.splitlines()) == 1 and "Traceback" not in err, err
