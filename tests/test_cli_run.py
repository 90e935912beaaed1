"""`trt-viewer run` end to end: outputs, summary, exit codes, nothing lost on failure."""

import csv
import json
import subprocess
import sys

import cv2
import pytest
from modelgen import moving_square_frames, write_video

from trt_viewer.cli import main


def run(*args):
    return main(["run", *map(str, args)])


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_video_to_jsonl_video_and_summary(models, square_video, tmp_path, capsys):
    out, dets = tmp_path / "out.mp4", tmp_path / "d.jsonl"
    code = run("--model", models["raw"], "--source", square_video, "--output", out,
               "--detections", dets, "--json-summary")
    assert code == 0
    records = read_jsonl(dets)
    assert [r["frame"] for r in records] == list(range(24))
    first = records[0]
    assert first["source"] == str(square_video) and (first["width"], first["height"]) == (96, 64)
    det = first["detections"][0]
    assert det["label"] == "class_0" and det["class_id"] == 0 and det["score"] > 0.9
    assert det["box"] == pytest.approx([0, 16, 8, 24], abs=1)
    cap = cv2.VideoCapture(str(out))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 24
    stdout, stderr = capsys.readouterr()
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["frames"] == 24 and summary["fps"] > 0 and summary["backend"] == "onnxruntime"
    assert {"read", "preprocess", "infer", "postprocess", "draw", "write"} <= set(summary["stages"])
    assert summary["stages"]["infer"]["p95_ms"] >= summary["stages"]["infer"]["p50_ms"] > 0
    assert "progress 100% (24/24 frames)" in stderr and "24 frames" in stderr


def test_csv_one_row_per_detection(models, tmp_path):
    src = tmp_path / "pics"
    src.mkdir()
    for i, img in enumerate(moving_square_frames(3)):
        cv2.imwrite(str(src / f"p{i}.png"), img)
    out = tmp_path / "d.csv"
    assert run("--model", models["raw"], "--source", src, "--detections", out) == 0
    rows = list(csv.DictReader(out.open()))
    assert [r["source"] for r in rows] == ["p0.png", "p1.png", "p2.png"]
    assert rows[1]["label"] == "class_0" and float(rows[1]["x1"]) == pytest.approx(8, abs=1)
    assert set(rows[0]) == {"frame", "source", "width", "height", "x1", "y1", "x2", "y2", "score", "class_id", "label",
                            "track_id"}


def test_thresholds_and_max_frames(models, square_video, tmp_path):
    dets = tmp_path / "d.jsonl"
    assert run("--model", models["raw"], "--source", square_video, "--detections", dets,
               "--max-frames", 5, "--conf", 0.99) == 0
    records = read_jsonl(dets)
    assert len(records) == 5
    assert all(d["score"] > 0.99 for r in records for d in r["detections"])


def test_image_output(models, tmp_path):
    img = tmp_path / "one.png"
    cv2.imwrite(str(img), moving_square_frames(4)[3])
    out = tmp_path / "annotated.jpg"
    assert run("--model", models["raw"], "--source", img, "--output", out) == 0
    annotated = cv2.imread(str(out))
    assert annotated.shape == (64, 96, 3)
    assert (annotated != cv2.imread(str(img))).any()  # a box was drawn


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "{tmp}/nope.onnx", "--source", "{video}"], "does not exist"),
        (["--model", "{tmp}/text.onnx", "--source", "{video}"], "not an ONNX model"),
        (["--model", "{plugin}", "--source", "{video}"], "needs the TensorRT backend"),
        (["--model", "{raw}", "--source", "{tmp}/none.mp4"], "does not exist"),
        (["--model", "{raw}", "--source", "{video}", "--detections", "{tmp}/no/dir/d.jsonl"], "does not exist"),
        (["--model", "{raw}", "--source", "{video}", "--output", "{tmp}/no/dir/o.mp4"], "does not exist"),
        (["--model", "{raw}", "--source", "{video}", "--output", "{tmp}/o.xyz"], "unknown file type"),
        (["--model", "{raw}", "--source", "9"], "camera"),
        (["--model", "{tmp}/m.weird", "--source", "{video}"], "unknown model type"),
        (["--source", "{video}"], "--model"),
        (["--model", "{raw}", "--source", "{video}", "--layout", "end2end"], "end2end"),
        (["--model", "{raw}", "--source", "{video}", "--names", "{tmp}/missing.names"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(models, square_video, tmp_path, capsys, args, message):
    (tmp_path / "text.onnx").write_text("hello, not protobuf")
    (tmp_path / "m.weird").write_text("x")
    subst = {"tmp": tmp_path, "video": square_video, "plugin": models["plugin"], "raw": models["raw"]}
    code = main(["run", *(a.format(**subst) for a in args)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) == 1 and err[0].startswith("trt-viewer: error: ") and message in err[0], err


def test_bad_flag_values_exit_2(models, square_video):
    with pytest.raises(SystemExit) as e:
        main(["run", "--model", str(models["raw"]), "--source", str(square_video), "--conf", "3"])
    assert e.value.code == 2


def test_truncated_video_stops_at_last_good_frame(models, tmp_path, capsys):
    full = write_video(tmp_path / "full.avi", moving_square_frames(40))
    cut = tmp_path / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    dets = tmp_path / "d.jsonl"
    assert run("--model", models["raw"], "--source", cut, "--detections", dets) == 0
    n = len(read_jsonl(dets))
    assert 0 < n < 40
    assert f"claims 40 frames but only {n} decoded" in capsys.readouterr().err


def test_an_unreadable_image_in_a_folder_is_skipped_and_counted(models, tmp_path, capsys):
    src = tmp_path / "pics"
    src.mkdir()
    for i, img in enumerate(moving_square_frames(6)):
        cv2.imwrite(str(src / f"p{i}.png"), img)
    (src / "p3.png").write_bytes(b"corrupt")
    dets = tmp_path / "d.jsonl"
    code = run("--model", models["raw"], "--source", src, "--detections", dets, "--json-summary")
    assert code == 0  # the rest of the folder was processed
    records = read_jsonl(dets)  # every line parses
    assert [r["source"] for r in records] == ["p0.png", "p1.png", "p2.png", "p4.png", "p5.png"]
    out, err = capsys.readouterr()
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["frames"] == 5 and summary["skipped"] == 1
    warnings = [line for line in err.splitlines() if line.startswith("trt-viewer: warning:")]
    assert len(warnings) == 1 and "p3.png" in warnings[0] and "Traceback" not in err
    assert "1 unreadable image skipped" in err


def test_a_failure_midway_keeps_a_valid_jsonl(models, tmp_path, capsys, monkeypatch):
    from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
    from trt_viewer.errors import RunError

    real = OnnxRuntimeBackend._run
    calls = []

    def failing(self, session, image):
        calls.append(1)
        if len(calls) > 4:
            raise RunError("ONNX Runtime failed: out of memory")
        return real(self, session, image)

    monkeypatch.setattr(OnnxRuntimeBackend, "_run", failing)
    dets = tmp_path / "d.jsonl"
    src = write_video(tmp_path / "v.avi", moving_square_frames(12))
    code = run("--model", models["raw"], "--source", src, "--detections", dets, "--ort-lanes", "1")
    assert code == 1  # a failure while running, not bad usage
    records = read_jsonl(dets)  # every line parses, the frames before the failure are there
    assert [r["frame"] for r in records] == [0, 1, 2, 3]
    err = capsys.readouterr().err
    assert "out of memory" in err and "4 frames were written before the failure" in err and "Traceback" not in err


def test_console_script_runs_as_a_process(models, square_video, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "trt_viewer", "run", "--model", str(models["raw"]), "--source",
         str(square_video), "--json-summary", "-q"],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["frames"] == 24
    assert "Traceback" not in proc.stderr
