"""End to end on a small generated clip: the shipped demo model's detections (through
open_backend and Detector, ONNX Runtime on the CPU), ByteTrack, the metrics against the
generator's ground truth. A loose bound: tools/eval_tracking.py gives the real figures."""

from __future__ import annotations

import numpy as np
import pytest

from trt_viewer import demo
from trt_viewer.core.detections import Detections
from trt_viewer.demo.scenes import SceneVideo
from trt_viewer.track import Counter, LineZone, make_tracker
from trt_viewer.track.metrics import Frame, evaluate

pytest.importorskip("onnxruntime")

SEED = 19  # not one of the evaluation's (300-309) nor its development's (200-204)
FRAMES = 90


def test_bytetrack_on_a_generated_clip():
    from trt_viewer.backends import open_backend
    from trt_viewer.run.detector import Detector

    clip = SceneVideo(SEED, 1280, 720, n_frames=FRAMES)
    tracker = make_tracker("bytetrack", frame_rate=clip.fps)
    assert tracker is not None
    ours = Counter([LineZone.parse("640,0,640,720,v"), LineZone.parse("0,360,1280,360,h")])
    truth = Counter([LineZone.parse("640,0,640,720,v"), LineZone.parse("0,360,1280,360,h")])
    frames = []
    with open_backend(demo.demo_model_path()) as backend:
        detector = Detector(backend)
        for i in range(FRAMES):
            scene, gt = clip.frame_and_truth(i)
            out = tracker.update(detector.detect(scene.image), i / clip.fps)
            assert out.track_ids is not None and (out.track_ids >= 1).all()
            ours.update(out, i, i / clip.fps)
            truth.update(Detections.from_arrays(gt.boxes, np.ones(len(gt)), gt.class_ids, gt.object_ids), i,
                         i / clip.fps)
            frames.append(Frame(gt.object_ids, gt.boxes, out.track_ids, out.boxes))
    s = evaluate(frames).summary()
    assert s["GT_IDs"] >= 5 and s["CLR_TP"] >= 200, s
    assert s["IDF1"] >= 0.75 and s["HOTA"] >= 0.65 and s["MOTA"] >= 0.6, s
    crossings = sum(line.total_in + line.total_out for line in truth.lines)
    assert crossings >= 3  # objects cross both lines in this clip
    error = sum(abs(a.total_in - b.total_in) + abs(a.total_out - b.total_out) for a, b in zip(ours.lines, truth.lines))
    assert error <= 1, (ours.summary(), truth.summary())
