"""The real YOLOX-Nano on real data (TRT_VIEWER_TEST_DATA): the reference detections."""

import json

from trt_viewer.backends import open_backend
from trt_viewer.cli import main
from trt_viewer.core.sources import read_image
from trt_viewer.run.detector import Detector

# ../shared/REFERENCE.md: yolox_nano.onnx on dog.jpg, class-aware NMS 0.45, score > 0.3
REFERENCE = [
    ("dog", 16, 0.855, [133, 207, 326, 543]),
    ("bicycle", 1, 0.803, [52, 137, 572, 424]),
    ("car", 2, 0.798, [466, 78, 692, 171]),
    ("truck", 7, 0.306, [464, 78, 683, 173]),
]


def detect_dog(data_dir, **config):
    with open_backend(data_dir / "models/yolox_nano.onnx") as backend:
        det = Detector(backend)
        det.update(**config)
        return det, det.detect(read_image(data_dir / "media/dog.jpg"))


def test_dog_matches_the_reference(data_dir):
    det, dets = detect_dog(data_dir)
    assert det.postprocessor.layout == "raw" and det.input_hw == (416, 416)
    assert len(dets) == len(REFERENCE)
    for (label, cid, score, box), b, s, c in zip(REFERENCE, dets.boxes, dets.scores, dets.class_ids):
        assert det.label(int(c)) == label and c == cid
        assert abs(float(s) - score) <= 0.002
        assert max(abs(float(v) - r) for v, r in zip(b, box)) <= 1.0


def test_agnostic_nms_lets_the_car_suppress_the_truck(data_dir):
    det, dets = detect_dog(data_dir, agnostic=True)
    assert [det.label(int(c)) for c in dets.class_ids] == ["dog", "bicycle", "car"]


def test_run_over_the_real_video(data_dir, tmp_path, capsys):
    out = tmp_path / "people.jsonl"
    code = main(["run", "--model", str(data_dir / "models/yolox_nano.onnx"), "--source",
                 str(data_dir / "media/people.mp4"), "--detections", str(out), "--json-summary", "-q",
                 "--max-frames", "300"])
    assert code == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(records) == 300 and (records[0]["width"], records[0]["height"]) == (768, 432)
    labels = {d["label"] for r in records for d in r["detections"]}
    assert "person" in labels
    summary = json.loads(capsys.readouterr().out.strip())
    assert summary["frames"] == 300 and summary["dropped"] == 0
