"""run/recording.Recorder's extra per-record fields (the CLI's `stream` with several sources)
and recorders sharing one text stream (several streams' JSONL on standard output)."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from trt_viewer.core.detections import Detections
from trt_viewer.core.outputs import frame_record
from trt_viewer.core.sources import Frame
from trt_viewer.run.flight import Result
from trt_viewer.run.recording import RECORD_FIELDS, Recorder

NAMES = ["person", "car"]


def result(i: int) -> Result:
    dets = Detections.from_arrays([[10, 20, 40, 60]], [0.9], [1])
    return Result(Frame(i, np.zeros((80, 100, 3), np.uint8), "clip.avi", i / 30), dets)


def test_extra_fields_come_first_in_every_jsonl_record_and_stay_out_of_csv(tmp_path: Path) -> None:
    jsonl, csv = tmp_path / "d.jsonl", tmp_path / "d.csv"
    for path in (jsonl, csv):
        recorder = Recorder(NAMES, detections=path, extra_fields={"stream": 3})
        for i in range(2):
            recorder.write(result(i))
        recorder.close()
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert [list(r)[:2] for r in records] == [["stream", "frame"]] * 2
    assert [(r["stream"], r["frame"], r["detections"][0]["label"]) for r in records] == [(3, 0, "car"), (3, 1, "car")]
    rows = csv.read_text().splitlines()
    assert len(rows) == 3 and "stream" not in rows[0] and rows[1].startswith("0,clip.avi,100,80,")


def test_without_extra_fields_a_record_is_frame_records_own(tmp_path: Path) -> None:
    recorder = Recorder(NAMES, detections=tmp_path / "d.jsonl")
    recorder.write(result(0))
    recorder.close()
    expected = frame_record(0, "clip.avi", (80, 100), result(0).detections, NAMES)
    assert json.loads((tmp_path / "d.jsonl").read_text()) == expected


def test_an_extra_field_may_not_replace_the_records_own() -> None:
    # RECORD_FIELDS must follow frame_record, or a clash would pass unseen.
    assert set(frame_record(0, "s", (1, 1), result(0).detections, NAMES, [{"event": "x"}])) == RECORD_FIELDS
    with pytest.raises(ValueError, match=r"^extra fields frame, source would replace the record's own$"):
        Recorder(NAMES, detections=io.StringIO(), extra_fields={"source": "b", "frame": 1, "stream": 0})


class SlowStream(io.StringIO):
    """Writes each text in two parts with a pause between: recorders that did not take
    turns would cut each other's lines."""

    def write(self, text: str) -> int:
        half = len(text) // 2
        super().write(text[:half])
        time.sleep(0.0005)
        return super().write(text[half:])


def test_recorders_on_one_stream_take_turns_a_frame_at_a_time() -> None:
    out = SlowStream()
    recorders = [Recorder(NAMES, detections=out, extra_fields={"stream": s}) for s in range(3)]

    def feed(recorder: Recorder) -> None:
        for i in range(30):
            recorder.write(result(i))
        recorder.close()

    threads = [threading.Thread(target=feed, args=(r,)) for r in recorders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    records = [json.loads(line) for line in out.getvalue().splitlines()]  # a cut line would not parse
    for s in range(3):
        assert [r["frame"] for r in records if r["stream"] == s] == list(range(30))
