#!/usr/bin/env python3
"""Score a YOLOX ONNX model on fresh generated scenes: COCO-style mAP, and recall /
precision on moving clips.

    python tools/eval_demo.py                          # assets/demo.onnx, 500 scenes
    python tools/eval_demo.py --model runs/demo/demo.onnx --json runs/demo/eval.json

Self-contained on purpose (numpy, OpenCV, ONNX Runtime and the scene generator only), so
the figures do not depend on the app's own pre/post-processing, which they help check.
mAP follows pycocotools' bbox evaluation (101 recall points, IoU 0.50:0.05:0.95, 100
detections per image, area 'all'); --pycocotools cross-checks against the real thing.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trt_viewer.demo.scenes import CLASS_NAMES, SceneVideo, generate_scene

EVAL_DOMAIN = 1  # scene seeds (EVAL_DOMAIN, seed, i); training draws (0, seed, worker)
EVAL_SIZES = ((1280, 720), (640, 480), (960, 540), (720, 720))
STRIDES = (8, 16, 32)
IOU_THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALL_POINTS = np.linspace(0.0, 1.0, 101)
MAX_DETS = 100

# --- inference ---------------------------------------------------------------------


class Model:
    def __init__(self, path: Path, threads: int = 0) -> None:
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inp = self.session.get_inputs()[0]
        self.input_name = inp.name
        self.input_hw = (int(inp.shape[2]), int(inp.shape[3]))
        self.grid, self.stride = make_grid(self.input_hw)

    def raw(self, image: np.ndarray) -> tuple[np.ndarray, float]:
        blob, ratio = letterbox(image, self.input_hw)
        return self.session.run(None, {self.input_name: blob})[0][0], ratio

    def detect(self, image: np.ndarray, conf: float, nms_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Boxes xyxy in image pixels, scores, class ids; best first."""
        pred, ratio = self.raw(image)
        return postprocess(pred, self.grid, self.stride, ratio, conf, nms_iou)


def letterbox(image: np.ndarray, input_hw: tuple[int, int]) -> tuple[np.ndarray, float]:
    """YOLOX's preproc: top-left, pad 114, BGR float 0..255, NCHW."""
    h, w = image.shape[:2]
    r = min(input_hw[0] / h, input_hw[1] / w)
    canvas = np.full((*input_hw, 3), 114, np.uint8)
    canvas[: int(h * r), : int(w * r)] = cv2.resize(image, (int(w * r), int(h * r)), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(canvas.transpose(2, 0, 1)[None], dtype=np.float32), r


def make_grid(input_hw: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    grids, strides = [], []
    for s in STRIDES:
        h, w = input_hw[0] // s, input_hw[1] // s
        ys, xs = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
        grids.append(np.stack((xs, ys), -1).reshape(-1, 2))
        strides.append(np.full((h * w, 1), s))
    return np.concatenate(grids).astype(np.float32), np.concatenate(strides).astype(np.float32)


def postprocess(pred: np.ndarray, grid: np.ndarray, stride: np.ndarray, ratio: float, conf: float,
                nms_iou: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Raw rows to detections: grid decode, score = obj x cls, per-class NMS."""
    cls = pred[:, 5:].argmax(1)
    scores = pred[:, 4] * pred[np.arange(len(pred)), 5 + cls]
    keep = scores > conf
    pred, cls, scores = pred[keep], cls[keep], scores[keep]
    xy = (pred[:, :2] + grid[keep]) * stride[keep]
    wh = np.exp(pred[:, 2:4]) * stride[keep]
    boxes = np.concatenate((xy - wh / 2, xy + wh / 2), 1) / ratio
    kept = per_class_nms(boxes, scores, cls, nms_iou)[:MAX_DETS]
    return boxes[kept], scores[kept], cls[kept]


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of xyxy boxes, [len(a), len(b)], areas without +1 as in pycocotools."""
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(-1)
    area_a = (a[:, 2:] - a[:, :2]).prod(-1)
    area_b = (b[:, 2:] - b[:, :2]).prod(-1)
    return inter / np.maximum(area_a[:, None] + area_b[None] - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        rest = order[1:]
        order = rest[iou_matrix(boxes[i : i + 1], boxes[rest])[0] <= iou]
    return np.asarray(keep, np.int64)


def per_class_nms(boxes: np.ndarray, scores: np.ndarray, cls: np.ndarray, iou: float) -> np.ndarray:
    keep = np.concatenate([np.flatnonzero(cls == c)[nms(boxes[cls == c], scores[cls == c], iou)]
                           for c in np.unique(cls)] or [np.zeros(0, np.int64)])
    return keep[np.argsort(-scores[keep], kind="stable")]


# --- COCO-style mAP ----------------------------------------------------------------


def match_image(det: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """[T, D] bool: whether each detection (sorted by score) is a true positive at each
    IoU threshold, greedily taking the best-overlapping free ground truth (pycocotools)."""
    tp = np.zeros((len(IOU_THRESHOLDS), len(det)), bool)
    if len(det) == 0 or len(gt) == 0:
        return tp
    ious = iou_matrix(det, gt)
    for t, thr in enumerate(IOU_THRESHOLDS):
        taken = np.zeros(len(gt), bool)
        for d in range(len(det)):
            cand = np.where(taken, -1.0, ious[d])
            g = int(cand.argmax())
            if cand[g] >= min(thr, 1 - 1e-10):
                taken[g] = True
                tp[t, d] = True
    return tp


def average_precision(scores: np.ndarray, tp: np.ndarray, n_gt: int) -> np.ndarray:
    """AP at each IoU threshold from all detections of one class, 101-point interpolated."""
    if n_gt == 0:
        return np.full(len(IOU_THRESHOLDS), np.nan)
    order = np.argsort(-scores, kind="mergesort")
    aps = []
    for row in tp[:, order]:
        tps, fps = np.cumsum(row), np.cumsum(~row)
        recall = tps / n_gt
        precision = tps / np.maximum(tps + fps, np.spacing(1))
        precision = np.maximum.accumulate(precision[::-1])[::-1]  # the envelope
        idx = np.searchsorted(recall, RECALL_POINTS, side="left")
        sampled = np.where(idx < len(precision), precision[np.minimum(idx, len(precision) - 1)], 0.0)
        aps.append(sampled.mean())
    return np.asarray(aps)


class CocoAccumulator:
    def __init__(self, num_classes: int) -> None:
        self.scores: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
        self.tps: list[list[np.ndarray]] = [[] for _ in range(num_classes)]
        self.n_gt = np.zeros(num_classes, np.int64)

    def add(self, boxes: np.ndarray, scores: np.ndarray, cls: np.ndarray,
            gt_boxes: np.ndarray, gt_cls: np.ndarray) -> None:
        for c in range(len(self.n_gt)):
            d = np.flatnonzero(cls == c)
            d = d[np.argsort(-scores[d], kind="mergesort")][:MAX_DETS]
            g = gt_boxes[gt_cls == c]
            self.n_gt[c] += len(g)
            self.scores[c].append(scores[d])
            self.tps[c].append(match_image(boxes[d], g))

    def per_class(self) -> np.ndarray:
        """[C, T] AP per class and IoU threshold (NaN where a class has no ground truth)."""
        return np.stack([
            average_precision(np.concatenate(self.scores[c]), np.concatenate(self.tps[c], axis=1), int(self.n_gt[c]))
            for c in range(len(self.n_gt))
        ])


def pycocotools_map(records: list[tuple], num_classes: int) -> tuple[float, float]:
    """The same figures from pycocotools itself, for a cross-check."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    images, anns, dets = [], [], []
    for img_id, (hw, boxes, scores, cls, gt_boxes, gt_cls) in enumerate(records):
        images.append({"id": img_id, "height": hw[0], "width": hw[1]})
        for b, c in zip(gt_boxes, gt_cls):
            w, h = float(b[2] - b[0]), float(b[3] - b[1])
            anns.append({"id": len(anns) + 1, "image_id": img_id, "category_id": int(c), "iscrowd": 0,
                         "bbox": [float(b[0]), float(b[1]), w, h], "area": w * h})
        for b, s, c in zip(boxes, scores, cls):
            dets.append({"image_id": img_id, "category_id": int(c), "score": float(s),
                         "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
    gt = COCO()
    gt.dataset = {"images": images, "annotations": anns,
                  "categories": [{"id": c, "name": CLASS_NAMES[c]} for c in range(num_classes)]}
    gt.createIndex()
    ev = COCOeval(gt, gt.loadRes(dets) if dets else COCO(), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    return float(ev.stats[1]), float(ev.stats[0])


# --- clips: recall and precision at a working threshold ---------------------------


def match_counts(boxes: np.ndarray, cls: np.ndarray, gt_boxes: np.ndarray, gt_cls: np.ndarray,
                 iou: float = 0.5) -> int:
    """True positives: detections (best first) matched one-to-one to same-class ground truth."""
    if len(boxes) == 0 or len(gt_boxes) == 0:
        return 0
    ious = iou_matrix(boxes, gt_boxes)
    ious[cls[:, None] != gt_cls[None, :]] = 0
    taken = np.zeros(len(gt_boxes), bool)
    tp = 0
    for d in range(len(boxes)):
        cand = np.where(taken, -1.0, ious[d])
        g = int(cand.argmax())
        if cand[g] >= iou:
            taken[g] = True
            tp += 1
    return tp


def clip_scores(model: Model, frames, conf: float, nms_iou: float) -> dict[str, float]:
    n_gt = n_det = tp = 0
    for image, gt_boxes, gt_cls in frames:
        boxes, _scores, cls = model.detect(image, conf, nms_iou)
        n_gt += len(gt_boxes)
        n_det += len(boxes)
        tp += match_counts(boxes, cls, gt_boxes, gt_cls)
    return {"objects": n_gt, "detections": n_det, "true_positives": tp,
            "recall": tp / max(n_gt, 1), "precision": tp / max(n_det, 1)}


def pooled(scores: list[dict]) -> dict[str, float]:
    tp, n_gt, n_det = (sum(s[k] for s in scores) for k in ("true_positives", "objects", "detections"))
    return {"objects": n_gt, "detections": n_det, "true_positives": tp,
            "recall": tp / max(n_gt, 1), "precision": tp / max(n_det, 1)}


def video_frames(path: Path, clip: SceneVideo):
    """Decoded frames of a written clip, with the generator's ground truth."""
    cap = cv2.VideoCapture(str(path))
    for i in range(len(clip)):
        ok, image = cap.read()
        if not ok:
            break
        scene = clip.frame(i)
        yield image, scene.boxes, scene.class_ids
    cap.release()


# --- main --------------------------------------------------------------------------


def evaluate_scenes(model: Model, args: argparse.Namespace) -> tuple[dict, list[tuple]]:
    acc = CocoAccumulator(len(CLASS_NAMES))
    records = []
    for i in range(args.scenes):
        w, h = EVAL_SIZES[i % len(EVAL_SIZES)]
        image, gt_boxes, gt_cls = generate_scene((EVAL_DOMAIN, args.seed, i), w, h)
        boxes, scores, cls = model.detect(image, args.conf, args.nms)
        acc.add(boxes, scores, cls, gt_boxes, gt_cls)
        if args.pycocotools:
            records.append(((h, w), boxes, scores, cls, gt_boxes, gt_cls))
    ap = acc.per_class()
    result = {
        "scenes": args.scenes, "objects": int(acc.n_gt.sum()),
        "mAP50": float(np.nanmean(ap[:, 0])), "mAP50_95": float(np.nanmean(ap)),
        "per_class": {CLASS_NAMES[c]: {"AP50": float(ap[c, 0]), "AP50_95": float(np.mean(ap[c])),
                                       "objects": int(acc.n_gt[c])} for c in range(len(CLASS_NAMES))},
    }
    return result, records


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    root = Path(__file__).resolve().parent.parent
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=root / "assets" / "demo.onnx")
    p.add_argument("--scenes", type=int, default=500)
    p.add_argument("--seed", type=int, default=2024, help="evaluation scenes' seed (never used in training)")
    p.add_argument("--conf", type=float, default=0.001, help="score threshold for mAP")
    p.add_argument("--nms", type=float, default=0.45)
    p.add_argument("--clip-conf", type=float, default=0.3, help="score threshold for clip recall / precision")
    p.add_argument("--clip-seeds", default=",".join(str(s) for s in range(100, 110)),
                   help="comma-separated; one 1280x720 clip each (training never uses clip seeds below 2**20)")
    p.add_argument("--clip-frames", type=int, default=150)
    p.add_argument("--demo-video", action="store_true",
                   help="also score the demo video as written to the cache (mp4 compression included)")
    p.add_argument("--pycocotools", action="store_true", help="cross-check mAP with pycocotools")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--json", type=Path, help="write the figures here too")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model = Model(args.model, args.threads)
    t0 = time.time()
    result, records = evaluate_scenes(model, args)
    result["model"] = str(args.model)
    if args.pycocotools:
        result["pycocotools_mAP50"], result["pycocotools_mAP50_95"] = pycocotools_map(records, len(CLASS_NAMES))
    result["clips"] = clips = {}
    for seed in (int(v) for v in args.clip_seeds.split(",") if v):
        clip = SceneVideo(seed, 1280, 720, args.clip_frames)
        clips[f"clip {seed}"] = {"frames": args.clip_frames, "conf": args.clip_conf,
                                 **clip_scores(model, clip, args.clip_conf, args.nms)}
    if args.demo_video:
        from trt_viewer.demo import (
            VIDEO_FPS,
            VIDEO_SECONDS,
            VIDEO_SEED,
            VIDEO_SIZE,
            ensure_demo_video,
        )

        demo = SceneVideo(VIDEO_SEED, *VIDEO_SIZE, VIDEO_SECONDS * VIDEO_FPS, float(VIDEO_FPS))
        clips["demo video"] = {"path": str(ensure_demo_video()), "frames": len(demo), "conf": args.clip_conf,
                               **clip_scores(model, video_frames(ensure_demo_video(), demo), args.clip_conf, args.nms)}
    result["clips_total"] = pooled(list(clips.values()))
    result["seconds"] = round(time.time() - t0, 1)
    print(f"{args.scenes} scenes, {result['objects']} objects: "
          f"mAP@0.5 {result['mAP50']:.4f}  mAP@[.5:.95] {result['mAP50_95']:.4f}")
    for name, r in result["per_class"].items():
        print(f"  {name:6s} AP50 {r['AP50']:.4f}  AP50-95 {r['AP50_95']:.4f}  ({r['objects']} objects)")
    for name, r in {**clips, "all clips": result["clips_total"]}.items():
        print(f"{name} at conf {args.clip_conf}: recall {r['recall']:.4f} precision {r['precision']:.4f} "
              f"({r['true_positives']}/{r['objects']} objects, {r['detections']} detections)")
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
