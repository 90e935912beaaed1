"""The demo's scene generator: determinism, exact boxes, classes, clips, the cached video."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest

from trt_viewer import demo
from trt_viewer.demo import scenes
from trt_viewer.demo.scenes import (
    BALL,
    BOX,
    CLASS_NAMES,
    RING,
    SceneVideo,
    Sprite,
    compose,
    generate_clip,
    generate_scene,
)


def sprite(cls: int, cx: float, cy: float, size: float, **kw) -> Sprite:
    return Sprite(cls, cx, cy, size, kw.get("angle", 0.0), (200.0, 50.0, 50.0), kw.get("shape", 0.6),
                  0.0, kw.get("blur", (0.0, 0.0)))


def test_same_seed_same_scene_other_seed_other_scene():
    a, b, c = (generate_scene(s, 320, 240) for s in (5, 5, 6))
    assert np.array_equal(a.image, b.image)
    assert np.array_equal(a.boxes, b.boxes) and np.array_equal(a.class_ids, b.class_ids)
    assert not np.array_equal(a.image, c.image)


def test_scene_types_and_shapes():
    image, boxes, ids = generate_scene(1, 300, 200)
    assert image.shape == (200, 300, 3) and image.dtype == np.uint8
    assert boxes.dtype == np.float32 and boxes.shape == (len(ids), 4)
    assert ids.dtype == np.int64


@pytest.mark.parametrize("size", [(320, 240), (240, 320), (416, 234)])
def test_boxes_lie_inside_the_frame_and_are_not_degenerate(size):
    w, h = size
    for seed in range(15):
        _, boxes, ids = generate_scene(seed, w, h)
        assert (boxes[:, 0] >= 0).all() and (boxes[:, 1] >= 0).all()
        assert (boxes[:, 2] <= w).all() and (boxes[:, 3] <= h).all()
        assert (boxes[:, 2] - boxes[:, 0] >= 3).all() and (boxes[:, 3] - boxes[:, 1] >= 3).all()
        assert ((ids >= 0) & (ids < len(CLASS_NAMES))).all()


def test_every_class_turns_up():
    seen = set()
    for seed in range(20):
        seen.update(generate_scene(seed, 256, 192).class_ids.tolist())
    assert len(CLASS_NAMES) >= 4 and seen == set(range(len(CLASS_NAMES)))


def test_box_is_the_drawn_extent():
    bg = np.zeros((120, 160, 3), np.float32)
    img, boxes, ids = compose(bg, [sprite(BALL, 60.0, 50.0, 20.0)])
    assert ids.tolist() == [BALL]
    np.testing.assert_allclose(boxes[0], [40, 30, 80, 70], atol=1.0)
    lit = np.argwhere(img.max(axis=2) > 0)  # anti-aliasing may tint one pixel more
    assert lit[:, 1].min() >= 39 and lit[:, 1].max() <= 81


def test_box_is_clipped_to_the_frame():
    bg = np.zeros((100, 100, 3), np.float32)
    _, boxes, _ = compose(bg, [sprite(BOX, 5.0, 50.0, 20.0, shape=1.0)])
    assert boxes[0, 0] == 0 and boxes[0, 2] == pytest.approx(5 + 20 / np.sqrt(2), abs=1.0)


def test_objects_mostly_outside_or_hidden_get_no_box():
    bg = np.zeros((100, 100, 3), np.float32)
    _, boxes, _ = compose(bg, [sprite(BALL, -15.0, 50.0, 20.0)])
    assert len(boxes) == 0
    _, boxes, ids = compose(bg, [sprite(RING, 50.0, 50.0, 10.0), sprite(BALL, 50.0, 50.0, 25.0)])
    assert ids.tolist() == [BALL]


def test_partly_hidden_object_keeps_its_visible_part():
    bg = np.zeros((100, 200, 3), np.float32)
    back, front = sprite(BALL, 60.0, 50.0, 20.0), sprite(BOX, 85.0, 50.0, 28.0, shape=1.0)
    _, boxes, ids = compose(bg, [back, front])
    assert ids.tolist() == [BALL, BOX]
    assert boxes[0, 0] == pytest.approx(40, abs=1.0)
    assert boxes[0, 2] == pytest.approx(85 - 28 / np.sqrt(2), abs=1.5)  # cut by the box's left side


def test_motion_blurred_box_is_where_the_object_is_half_opaque():
    bg = np.zeros((100, 200, 3), np.float32)
    img, boxes, _ = compose(bg, [sprite(BALL, 100.0, 50.0, 15.0, blur=(20.0, 0.0))])
    # The streak reaches 10 px beyond the ball either way, fading out; the box stops
    # where the ball covers half of the exposure, at its mid-exposure outline.
    assert (img[50, 76:85].max(axis=1) > 0).all() and (img[50, 116:125].max(axis=1) > 0).all()
    np.testing.assert_allclose(boxes[0], [85, 36, 115, 64], atol=1.5)


def test_clip_is_deterministic_in_any_order():
    a = SceneVideo(3, 320, 180, n_frames=40)
    b = SceneVideo(3, 320, 180, n_frames=40)
    late, early = b.frame(30), b.frame(2)
    assert np.array_equal(a.frame(2).image, early.image)
    assert np.array_equal(a.frame(30).boxes, late.boxes)


def test_clip_objects_move_smoothly_and_come_and_go():
    clip = SceneVideo(11, 320, 180, n_frames=300, fps=30.0)
    live = [{id(t) for t in clip.tracks if t.t0 <= i / clip.fps <= t.t0 + t.duration} for i in range(300)]
    assert any(live[i] - live[i - 1] for i in range(1, 300)), "nothing enters"
    assert any(live[i - 1] - live[i] for i in range(1, 300)), "nothing leaves"
    track = max(clip.tracks, key=lambda t: min(t.t0 + t.duration, 10) - max(t.t0, 0))
    t = max(track.t0, 0) + 0.5
    steps = [np.hypot(*np.subtract(track.position(t + (k + 1) / 30), track.position(t + k / 30))) for k in range(10)]
    assert min(steps) > 0 and max(steps) < 0.05 * 320  # moves every frame, never jumps


def test_clip_frames_carry_ground_truth_and_objects_enter_at_the_edge():
    frames = list(generate_clip(5, 320, 180, n_frames=150))
    assert len(frames) == 150 and all(f.image.shape == (180, 320, 3) for f in frames)
    counts = [len(f.boxes) for f in frames]
    assert max(counts) >= 2
    touching = [f for f in frames if len(f.boxes) and
                ((f.boxes[:, 0] == 0) | (f.boxes[:, 1] == 0) | (f.boxes[:, 2] == 320) | (f.boxes[:, 3] == 180)).any()]
    assert touching, "no object ever crosses the frame edge"


def test_generator_imports_neither_torch_nor_qt():
    code = ("import sys, trt_viewer.demo, trt_viewer.demo.scenes; "
            "bad = [m for m in sys.modules if m.split('.')[0] in ('torch', 'PySide6')]; "
            "assert not bad, bad")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_demo_video_is_written_once_atomically_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    monkeypatch.setattr(demo, "VIDEO_SIZE", (320, 180))
    monkeypatch.setattr(demo, "VIDEO_SECONDS", 1)
    path = demo.ensure_demo_video()
    assert path.parent == tmp_path / "trt_viewer" and path.suffix == ".mp4"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp file left behind
    cap = cv2.VideoCapture(str(path))
    assert cap.get(cv2.CAP_PROP_FRAME_WIDTH) == 320 and cap.get(cv2.CAP_PROP_FPS) == demo.VIDEO_FPS
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == demo.VIDEO_FPS
    cap.release()
    stamp = path.stat().st_mtime_ns
    assert demo.ensure_demo_video() == path and path.stat().st_mtime_ns == stamp


def test_demo_video_falls_back_to_the_temp_folder(tmp_path, monkeypatch):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    monkeypatch.setattr(demo.tempfile, "gettempdir", lambda: str(tmp_path / "tmp"))
    monkeypatch.setattr(demo, "VIDEO_SIZE", (160, 96))
    monkeypatch.setattr(demo, "VIDEO_SECONDS", 1)
    path = demo.ensure_demo_video()
    assert path.parent == tmp_path / "tmp" / "trt_viewer" and path.stat().st_size > 0


def test_demo_defaults_meet_the_brief():
    assert demo.VIDEO_SIZE == (1280, 720) and demo.VIDEO_FPS == 30 and demo.VIDEO_SECONDS >= 20
    assert demo.demo_model_path().name == "demo.onnx" and demo.demo_names_path().name == "demo.names"


def test_shipped_model_is_shaped_like_an_official_yolox_export():
    onnx = pytest.importorskip("onnx")
    path = demo.demo_model_path()
    assert path.is_file() and path.stat().st_size <= 4 * 1024 * 1024
    graph = onnx.load(str(path)).graph

    def dims(v):
        return [d.dim_value for d in v.type.tensor_type.shape.dim]

    assert [i.name for i in graph.input] == ["images"] and dims(graph.input[0]) == [1, 3, 416, 416]
    assert [o.name for o in graph.output] == ["output"]
    assert dims(graph.output[0]) == [1, 3549, 5 + len(CLASS_NAMES)]
    assert demo.demo_names() == list(CLASS_NAMES)


@pytest.mark.parametrize("kind", scenes.DECOY_KINDS)
def test_hard_negatives_are_drawn_whole_inside_the_frame(kind):
    # A solid shape cut by the frame edge would look like the labelled part of a partly
    # visible object (a blob like a ball's cap, a triangle like a star's point).
    rng = np.random.default_rng(1)
    for w, h in ((320, 240), (240, 320), (96, 64)):
        img = np.zeros((h, w, 3), np.float32)
        for _ in range(60):
            scenes._draw_decoy(rng, img, kind, min(w, h))
        inner = int(scenes.EDGE_MARGIN) - 1
        border = np.ones((h, w), bool)
        border[inner:h - inner, inner:w - inner] = False
        assert img.max() > 0 and img[border].max() == 0


def test_hard_negatives_never_overlap_and_blobs_are_never_box_like():
    # A triangle partly covered by another is four-sided, like a box; a chunky blob looks
    # like a rounded box. Hard negatives keep clear of one another, blobs stay elongated.
    rng = np.random.default_rng(4)
    for _ in range(40):
        img = np.zeros((240, 320, 3), np.float32)
        taken: list[tuple[float, float, float]] = []
        for kind in rng.choice(scenes.DECOY_KINDS, 12):
            scenes._draw_decoy(rng, img, str(kind), 240, taken)
        assert taken
        for i, (x, y, r) in enumerate(taken):
            for x2, y2, r2 in taken[i + 1:]:
                assert np.hypot(x - x2, y - y2) > r + r2 + scenes.DECOY_GAP
    for _ in range(200):
        pts = scenes._blob_points(rng, 200.0, 200.0, float(rng.uniform(5, 60)))
        if pts is None:
            continue
        (_, _), (w, h), _ = cv2.minAreaRect(pts.astype(np.float32))
        assert min(w, h) / max(w, h) <= scenes.BLOB_MAX_ASPECT < 0.55  # boxes: 0.55 to 1
        assert cv2.contourArea(pts.astype(np.float32)) / (w * h) <= scenes.BLOB_MAX_FILL
    square = (np.array([[0, 0], [40, 0], [40, 15], [0, 15]]) * scenes.ONE).astype(np.int32)
    assert not scenes.blob_outline_ok(square)


def test_low_contrast_patches_keep_the_backdrop_and_change_it_a_little():
    rng = np.random.default_rng(2)
    base = np.full((200, 300, 3), 150.0, np.float32)
    base[:, ::7] = 60.0  # a texture the patch must keep
    hi = scenes.PATCH_CONTRAST[1] + 0.04 + 1e-3
    for _ in range(20):  # each patch's outline is a step of at most `hi` over what lies under it
        img = base.copy()
        scenes._draw_texture(rng, img, "patch", 200)
        ratio = img / base
        assert (ratio != 1).any() and np.abs(ratio - 1).max() <= hi
    # Objects stand out from their backdrop by more than a patch ever does.
    assert scenes._luma((150 * (1 + hi),) * 3) - scenes._luma((150.0,) * 3) < 45


def test_clutter_draws_every_kind_and_only_texture_reaches_the_edge():
    rng = np.random.default_rng(3)
    kinds = [scenes.CLUTTER_KINDS[k] for k in rng.choice(len(scenes.CLUTTER_KINDS), 2000, p=scenes.CLUTTER_P)]
    assert set(kinds) == set(scenes.CLUTTER_KINDS)
    assert set(scenes.TEXTURE_KINDS) | set(scenes.DECOY_KINDS) == set(scenes.CLUTTER_KINDS)
    assert all(scenes.CLUTTER_LAYER[d] > scenes.CLUTTER_LAYER[t]
               for d in scenes.DECOY_KINDS for t in scenes.TEXTURE_KINDS)
