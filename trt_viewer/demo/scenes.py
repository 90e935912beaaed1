"""Procedural scenes for the built-in demo: still frames and moving clips with exact boxes.

Pure numpy + OpenCV so that the app, the training script and the tests share one
generator. Every object is rendered as its own anti-aliased alpha patch; a box is the
extent of the pixels where that object is at least half visible (in the frame, not
hidden by objects in front), so boxes follow clipping, occlusion and motion blur.
The same seed always gives the same pixels and boxes.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

CLASS_NAMES: tuple[str, ...] = ("ball", "box", "ring", "star")
BALL, BOX, RING, STAR = range(4)

# An object less visible than this (cut by the frame edge or hidden) gets no box: what is
# left of it is too little to tell what it was.
MIN_VISIBLE = 0.25
SHIFT = 4  # OpenCV drawing at 1/16 pixel, so sub-pixel positions move smoothly
ONE = 1 << SHIFT

Seed = int | np.random.Generator | np.random.SeedSequence | tuple[int, ...]


@dataclass(frozen=True)
class Sprite:
    """One object as drawn in one frame."""

    cls: int
    cx: float
    cy: float
    size: float  # outer radius in pixels
    angle: float  # radians
    color: tuple[float, float, float]  # BGR 0..255
    shape: float  # class-specific: box aspect, ring hole ratio, star inner ratio
    light: float  # direction the light comes from, radians
    blur: tuple[float, float] = (0.0, 0.0)  # motion during exposure, pixels


@dataclass(frozen=True)
class Scene:
    image: np.ndarray  # HxWx3 uint8 BGR
    boxes: np.ndarray  # [N, 4] float32 x1, y1, x2, y2 in pixels
    class_ids: np.ndarray  # [N] int64

    def __iter__(self) -> Iterator[np.ndarray]:
        return iter((self.image, self.boxes, self.class_ids))


@dataclass(frozen=True)
class GroundTruth:
    """The objects of one clip frame: who, what and where (the boxes of Scene)."""

    object_ids: np.ndarray  # [N] int64, the object's identity in its clip, from 1
    boxes: np.ndarray  # [N, 4] float32 x1, y1, x2, y2 in pixels
    class_ids: np.ndarray  # [N] int64

    def __len__(self) -> int:
        return len(self.object_ids)


def make_rng(seed: Seed) -> np.random.Generator:
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


# --- colours -----------------------------------------------------------------------


def _hsv_to_bgr(h: float, s: float, v: float) -> tuple[float, float, float]:
    px = np.array([[[int(h * 180) % 180, int(s * 255), int(v * 255)]]], np.uint8)
    b, g, r = cv2.cvtColor(px, cv2.COLOR_HSV2BGR)[0, 0]
    return float(b), float(g), float(r)


def _luma(c: tuple[float, float, float] | np.ndarray) -> float:
    return 0.114 * float(c[0]) + 0.587 * float(c[1]) + 0.299 * float(c[2])


def object_color(rng: np.random.Generator, backdrop: np.ndarray) -> tuple[float, float, float]:
    """A saturated colour that stands out from the backdrop's mean colour."""
    for _ in range(8):
        c = _hsv_to_bgr(rng.random(), rng.uniform(0.45, 1.0), rng.uniform(0.35, 1.0))
        if abs(_luma(c) - _luma(backdrop)) > 45 or np.abs(np.subtract(c, backdrop)).max() > 110:
            return c
    # Nothing random stood out: take the luminance opposite to the backdrop.
    return (235.0, 235.0, 235.0) if _luma(backdrop) < 128 else (25.0, 25.0, 25.0)


# --- backgrounds -------------------------------------------------------------------


def _bg_color(rng: np.random.Generator) -> np.ndarray:
    # Backdrops are less saturated than objects, as real scenes mostly are.
    return np.array(_hsv_to_bgr(rng.random(), rng.uniform(0.0, 0.5), rng.uniform(0.1, 0.95)), np.float32)


def _ramp(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A linear 0..1 ramp across the frame at a random angle."""
    a = rng.uniform(0, 2 * math.pi)
    xs = np.linspace(-0.5, 0.5, w, dtype=np.float32) * math.cos(a) * (w / max(w, h))
    ys = np.linspace(-0.5, 0.5, h, dtype=np.float32) * math.sin(a) * (h / max(w, h))
    t = xs[None, :] + ys[:, None]
    ramp: np.ndarray = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return ramp


def _radial(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    cx, cy = rng.uniform(0, w), rng.uniform(0, h)
    xs = (np.arange(w, dtype=np.float32) - cx) ** 2
    ys = (np.arange(h, dtype=np.float32) - cy) ** 2
    d = np.sqrt(xs[None, :] + ys[:, None])
    return np.clip(d / (rng.uniform(0.4, 1.2) * max(w, h)), 0, 1)


def _value_noise(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Smooth multi-octave noise in 0..1 (cloudy, grainy or mottled textures)."""
    out = np.zeros((h, w), np.float32)
    cells = int(rng.integers(2, 6))
    amp, total = 1.0, 0.0
    for _ in range(int(rng.integers(2, 6))):
        small = rng.random((cells, max(2, cells * w // h)), dtype=np.float32)
        out += amp * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
        total += amp
        cells *= 2
        amp *= rng.uniform(0.4, 0.7)
    out /= total
    noise: np.ndarray = (out - out.min()) / max(float(out.max() - out.min()), 1e-6)
    return noise


def _stripes(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    period = rng.uniform(0.03, 0.2) * max(w, h)
    t = _ramp(rng, w, h) * max(w, h) / period
    return (0.5 + 0.5 * np.sin(2 * math.pi * t)).astype(np.float32)


def _gray3(field: np.ndarray) -> np.ndarray:
    return cv2.merge([field, field, field])


def _blend_field(field: np.ndarray, colors: list[np.ndarray]) -> np.ndarray:
    """Map a 0..1 field through 2 or 3 colours (piecewise linear). OpenCV's per-channel
    scalar arithmetic, as numpy broadcasting over whole frames is several times slower."""
    if len(colors) == 2:
        steps = [(field, colors[1] - colors[0])]
    else:
        steps = [(np.clip(2 * field, 0, 1), colors[1] - colors[0]),
                 (np.clip(2 * field - 1, 0, 1), colors[2] - colors[1])]
    out: np.ndarray = np.empty((*field.shape, 3), np.float32)
    out[:] = colors[0]
    for f, delta in steps:
        scalar = (*(float(d) for d in delta), 0.0)  # OpenCV takes a per-channel scalar; its stubs don't say so
        out = cv2.add(out, cv2.multiply(_gray3(f), scalar))  # type: ignore[call-overload]
    return out


def _horizon(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Sky over ground: two gradients split by a soft horizon."""
    y = int(rng.uniform(0.3, 0.7) * h)
    rows = np.linspace(0, 1, h, dtype=np.float32)
    sky = _blend_field(np.broadcast_to(rows[:, None], (h, w)), [_bg_color(rng), _bg_color(rng)])
    ground = _blend_field(_value_noise(rng, w, h), [_bg_color(rng), _bg_color(rng)])
    rows_mask = np.clip((np.arange(h, dtype=np.float32) - y) / max(2.0, 0.02 * h) + 0.5, 0, 1)
    mask = _gray3(np.ascontiguousarray(np.broadcast_to(rows_mask[:, None], (h, w))))
    return cv2.add(sky, cv2.multiply(cv2.subtract(ground, sky), mask))


def _base_background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    kind = int(rng.integers(0, 6))
    if kind == 5:
        return _horizon(rng, w, h)
    field = (_ramp, _radial, _value_noise, _value_noise, _stripes)[kind](rng, w, h)
    n_colors = 3 if rng.random() < 0.4 else 2
    return _blend_field(field, [_bg_color(rng) for _ in range(n_colors)])


# Clutter comes in two families, and which may touch the frame edge follows from the
# labels: an object at least MIN_VISIBLE in view gets a box even when the edge cuts it,
# so a solid shape cut by the edge would look like a labelled object's visible part (a
# smooth blob like a ball's cap, a triangle like a star's point or a box's corner).
#   texture: strokes, arcs, scribbles and irregular low-contrast patches; anywhere, edges
#     included: nothing labelled is thin or low-contrast (object colours stand out, see
#     object_color).
#   hard negatives: solid, high-contrast shapes that are none of the classes seen whole
#     (triangles, crosses, thin ellipses, lumpy elongated blobs), never cut by the frame
#     edge (at least EDGE_MARGIN inside it) nor by texture, and never overlapping one
#     another (a triangle cut by another is four-sided, like a box): each keeps a disc of
#     DECOY_GAP around it free of the others. Blobs are more elongated than any box
#     (outline aspect at most BLOB_MAX_ASPECT, where boxes are 0.55 to 1) and never
#     near-rectangular (area at most BLOB_MAX_FILL of their tightest rectangle).
TEXTURE_KINDS = ("stroke", "arc", "scribble", "patch")
DECOY_KINDS = ("triangle", "cross", "ellipse", "blob")
CLUTTER_KINDS = TEXTURE_KINDS + DECOY_KINDS
CLUTTER_P = (0.2, 0.1, 0.1, 0.25, 0.1, 0.07, 0.08, 0.1)
CLUTTER_LAYER = {"patch": 0, "stroke": 1, "arc": 1, "scribble": 1, "triangle": 2, "cross": 2, "ellipse": 2, "blob": 2}
PATCH_CONTRAST = (0.07, 0.17)  # brightness change of a low-contrast patch (at most about 40 in
# luma, where objects differ from their backdrop by more than 45 or by 110 in a channel)
EDGE_MARGIN = 3.0  # pixels between a hard negative and the frame edge
DECOY_GAP = 4.0  # pixels between the discs of two hard negatives
BLOB_MAX_ASPECT = 0.45  # short / long side of a blob's tightest rectangle (boxes: 0.55 to 1)
BLOB_MAX_FILL = 0.84  # blob area / its tightest rectangle's (an ellipse: 0.785, a box: 1)


def _local_color(img: np.ndarray, x: float, y: float) -> np.ndarray:
    h, w = img.shape[:2]
    colour: np.ndarray = img[int(np.clip(y, 0, h - 1)), int(np.clip(x, 0, w - 1))].astype(np.float32)
    return colour


def _shade_patch(rng: np.random.Generator, img: np.ndarray, pts: np.ndarray) -> None:
    """A shadow or light spot: the backdrop inside the outline a little darker or lighter
    (and tinted), its texture kept, so the outline shows at low contrast on any backdrop."""
    h, w = img.shape[:2]
    x0, y0 = (int(v) for v in np.maximum(pts.min(0) // ONE - 1, 0))
    x1, y1 = (int(v) for v in np.minimum(pts.max(0) // ONE + 2, (w, h)))
    if x0 >= x1 or y0 >= y1:
        return
    mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(mask, [pts - np.array([x0 * ONE, y0 * ONE], np.int32)], 255, cv2.LINE_AA, SHIFT)
    sign = 1 if rng.random() < 0.5 else -1
    gain = 1 + sign * rng.uniform(*PATCH_CONTRAST) + rng.uniform(-0.04, 0.04, 3)
    m = mask.astype(np.float32) * (1 / 255)
    region = img[y0:y1, x0:x1]
    region *= 1 + m[..., None] * (gain.astype(np.float32) - 1)


def _lumpy_points(rng: np.random.Generator, x: float, y: float, r: float, aspect: float) -> np.ndarray:
    """An irregular outline: radii at a few random control angles, smoothed, squashed to
    `aspect` and turned; bumps at irregular places, so neither round nor star-like."""
    n_ctrl = int(rng.integers(7, 13))
    ctrl = rng.uniform(0.6, 1.0, n_ctrl)
    ang = np.linspace(0, 2 * math.pi, 64, endpoint=False)
    rad = np.interp(ang, np.linspace(0, 2 * math.pi, n_ctrl + 1), np.append(ctrl, ctrl[0]))
    for _ in range(2):  # circular [1, 2, 1] smoothing
        rad = (np.roll(rad, 1) + 2 * rad + np.roll(rad, -1)) / 4
    px, py = rad * np.cos(ang) * r, rad * np.sin(ang) * r * aspect
    turn = rng.uniform(0, 2 * math.pi)
    ct, st = math.cos(turn), math.sin(turn)
    return _fixed(np.stack([(x + px * ct - py * st) * ONE, (y + px * st + py * ct) * ONE], 1))


def _draw_texture(rng: np.random.Generator, img: np.ndarray, kind: str, scale: float) -> None:
    h, w = img.shape[:2]
    x, y = rng.uniform(0, w), rng.uniform(0, h)
    r = rng.uniform(0.02, 0.2) * scale
    if kind == "patch":
        _shade_patch(rng, img, _lumpy_points(rng, x, y, r * rng.uniform(1.0, 2.0), rng.uniform(0.35, 1.0)))
        return
    c = tuple(float(v) for v in (_bg_color(rng) if rng.random() < 0.6 else object_color(rng, np.full(3, 128.0))))
    p = (int(x * ONE), int(y * ONE))
    if kind == "stroke":
        q = (int(p[0] + rng.normal(0, 2 * r) * ONE), int(p[1] + rng.normal(0, 2 * r) * ONE))
        cv2.line(img, p, q, c, int(rng.integers(1, 5)), cv2.LINE_AA, SHIFT)
    elif kind == "arc":
        start = rng.uniform(0, 360)
        cv2.ellipse(img, p, (int(r * ONE), int(r * rng.uniform(0.5, 1.0) * ONE)), rng.uniform(0, 180), start,
                    start + rng.uniform(40, 150), c, int(rng.integers(1, 4)), cv2.LINE_AA, SHIFT)
    else:  # scribble: a short random walk
        n = int(rng.integers(3, 8))
        steps = rng.normal(0, 0.6 * r, (n, 2)).cumsum(0) + (x, y)  # noqa: RUF005 - numpy adds the offset
        cv2.polylines(img, [_fixed(steps * ONE)], False, c, int(rng.integers(1, 4)), cv2.LINE_AA, SHIFT)


def blob_outline_ok(pts: np.ndarray) -> bool:
    """True when a blob outline (fixed-point, as drawn) can pass for no box: elongated
    beyond any box's aspect and far from rectangular."""
    (_, _), (rw, rh), _ = cv2.minAreaRect(pts.astype(np.float32))
    if min(rw, rh) <= 0:
        return False
    fill = cv2.contourArea(pts.astype(np.float32)) / (rw * rh)
    return min(rw, rh) / max(rw, rh) <= BLOB_MAX_ASPECT and fill <= BLOB_MAX_FILL


def _blob_points(rng: np.random.Generator, x: float, y: float, r: float) -> np.ndarray | None:
    for _ in range(8):
        pts = _lumpy_points(rng, x, y, r, rng.uniform(0.22, 0.4))
        if blob_outline_ok(pts):
            return pts
    return None


def _draw_decoy(rng: np.random.Generator, img: np.ndarray, kind: str, scale: float,
                taken: list[tuple[float, float, float]] | None = None) -> None:
    """One hard negative, whole inside the frame; `taken` holds the discs (x, y, r) of
    those already drawn, which it keeps clear of, and gets this one's disc added."""
    h, w = img.shape[:2]
    r = float(math.exp(rng.uniform(math.log(0.025), math.log(0.15))) * scale)
    r = min(r, (min(w, h) - 2 * EDGE_MARGIN - 2) / 2)
    if r < 3:
        return
    # The whole shape lies within r of its centre: keep that disc inside the frame and
    # clear of the other hard negatives' discs.
    taken = [] if taken is None else taken
    for _ in range(10):
        x = rng.uniform(r + EDGE_MARGIN, w - r - EDGE_MARGIN)
        y = rng.uniform(r + EDGE_MARGIN, h - r - EDGE_MARGIN)
        if all(math.hypot(x - tx, y - ty) > r + tr + DECOY_GAP for tx, ty, tr in taken):
            break
    else:
        return
    c = (object_color(rng, _local_color(img, x, y)) if rng.random() < 0.6
         else tuple(float(v) for v in _bg_color(rng)))
    a = rng.uniform(0, 2 * math.pi)
    blob = _blob_points(rng, x, y, r) if kind == "blob" else None
    if kind == "blob" and blob is None:
        return
    taken.append((x, y, r))
    if kind == "triangle":
        # Corners at irregular angles: from equilateral to lopsided.
        angles = a + np.array([0.0, rng.uniform(1.6, 2.6), rng.uniform(3.7, 4.7)])
        pts = np.stack([x + r * np.cos(angles), y + r * np.sin(angles)], 1) * ONE
        cv2.fillPoly(img, [_fixed(pts)], c, cv2.LINE_AA, SHIFT)
    elif kind == "cross":
        # A plus of two bars of even width: four square-ended arms, not tapering points.
        half = r * rng.uniform(0.18, 0.32)
        for k in range(2):
            t = a + k * math.pi / 2
            dx, dy = math.cos(t), math.sin(t)
            corners = ((-1, -1), (1, -1), (1, 1), (-1, 1))
            bar = [(x + s * r * dx - u * half * dy, y + s * r * dy + u * half * dx) for s, u in corners]
            cv2.fillPoly(img, [_fixed(np.multiply(bar, ONE))], c, cv2.LINE_AA, SHIFT)
    elif kind == "ellipse":  # too elongated to pass for a ball, ring or box
        axes = (int(r * ONE), int(r * rng.uniform(0.12, 0.35) * ONE))
        cv2.ellipse(img, (int(x * ONE), int(y * ONE)), axes, math.degrees(a), 0, 360, c, -1, cv2.LINE_AA, SHIFT)
    elif blob is not None:  # blob: lumpy and more elongated than any box, so neither a disc nor a box
        cv2.fillPoly(img, [blob], c, cv2.LINE_AA, SHIFT)


def _clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Distractors drawn into the backdrop (see CLUTTER_KINDS): patches, then strokes,
    then the hard negatives on top, so that no texture cuts a hard negative into parts."""
    scale = min(img.shape[:2])
    kinds = [CLUTTER_KINDS[k] for k in rng.choice(len(CLUTTER_KINDS), size=count, p=CLUTTER_P)]
    taken: list[tuple[float, float, float]] = []
    for kind in sorted(kinds, key=CLUTTER_LAYER.__getitem__):
        if kind in DECOY_KINDS:
            _draw_decoy(rng, img, kind, scale, taken)
        else:
            _draw_texture(rng, img, kind, scale)


def _fixed(points: object) -> np.ndarray:
    """Sub-pixel coordinates (already times ONE) as the int32 points OpenCV draws."""
    return np.asarray(points, np.float64).astype(np.int32)


SMOOTH_SIDE = 256  # smooth fields are computed at most this large, then upsampled


def _low_res(w: int, h: int) -> tuple[int, int]:
    scale = min(1.0, SMOOTH_SIDE / max(w, h))
    return max(2, round(w * scale)), max(2, round(h * scale))


def make_background(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """A float32 HxWx3 backdrop: gradient, texture or horizon, with clutter.

    The smooth part is drawn small and upsampled (it has no detail to lose); the clutter
    is drawn at full size so its edges are as sharp as the objects'.
    """
    lw, lh = _low_res(w, h)
    img = _base_background(rng, lw, lh)
    if rng.random() < 0.5:  # texture over a gradient
        img = cv2.multiply(img, _gray3(0.75 + 0.5 * _value_noise(rng, lw, lh)))
    img = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
    _clutter(rng, img, int(rng.integers(0, 14)))
    if rng.random() < 0.3:  # out-of-focus backdrop
        k = int(rng.integers(1, 4)) * 2 + 1
        img = cv2.GaussianBlur(img, (k, k), 0)
    return img


# --- objects -----------------------------------------------------------------------


def random_shape(rng: np.random.Generator, cls: int) -> float:
    if cls == BOX:
        return float(rng.uniform(0.55, 1.0))  # short side / long side
    if cls == RING:
        return float(rng.uniform(0.42, 0.7))  # hole radius / outer radius
    if cls == STAR:
        return float(rng.uniform(0.38, 0.52))  # inner radius / outer radius
    return 0.0


def _star_points(s: Sprite, ox: float, oy: float) -> np.ndarray:
    k = np.arange(10)
    rad = np.where(k % 2 == 0, s.size, s.size * s.shape)
    a = s.angle + k * math.pi / 5
    return _fixed(np.stack([(ox + rad * np.cos(a)) * ONE, (oy + rad * np.sin(a)) * ONE], 1))


def _box_points(s: Sprite, ox: float, oy: float) -> np.ndarray:
    # size is the half diagonal, so a box of any aspect fits the same radius as the others.
    half_w = s.size / math.sqrt(1 + s.shape**2)
    half_h = half_w * s.shape
    ca, sa = math.cos(s.angle), math.sin(s.angle)
    corners = [(-half_w, -half_h), (half_w, -half_h), (half_w, half_h), (-half_w, half_h)]
    return _fixed([((ox + x * ca - y * sa) * ONE, (oy + x * sa + y * ca) * ONE) for x, y in corners])


def _draw_mask(s: Sprite, mask: np.ndarray, ox: float, oy: float) -> None:
    centre = (round(ox * ONE), round(oy * ONE))
    if s.cls == BALL:
        cv2.circle(mask, centre, round(s.size * ONE), 255, -1, cv2.LINE_AA, SHIFT)
    elif s.cls == RING:
        cv2.circle(mask, centre, round(s.size * ONE), 255, -1, cv2.LINE_AA, SHIFT)
        cv2.circle(mask, centre, round(s.size * s.shape * ONE), 0, -1, cv2.LINE_AA, SHIFT)
    elif s.cls == BOX:
        cv2.fillPoly(mask, [_box_points(s, ox, oy)], 255, cv2.LINE_AA, SHIFT)
    else:
        cv2.fillPoly(mask, [_star_points(s, ox, oy)], 255, cv2.LINE_AA, SHIFT)


def _shading(s: Sprite, n: int, ox: float, oy: float) -> np.ndarray:
    """Brightness over the patch: a lit sphere for balls, a soft light gradient otherwise."""
    coords = np.arange(n, dtype=np.float32)
    dx = (coords[None, :] - ox) / s.size
    dy = (coords[:, None] - oy) / s.size
    lx, ly = math.cos(s.light), math.sin(s.light)
    if s.cls != BALL:
        return 0.85 + 0.25 * (dx * lx + dy * ly)
    z = np.sqrt(np.clip(1 - dx * dx - dy * dy, 0, 1))
    lambert = np.clip(0.45 * dx * lx + 0.45 * dy * ly + 0.77 * z, 0, 1)
    spec = np.clip(lambert, 0, 1) ** 24
    shade: np.ndarray = 0.35 + 0.85 * lambert + 0.6 * spec
    return shade


def _motion_kernel(blur: tuple[float, float]) -> np.ndarray | None:
    length = math.hypot(*blur)
    if length < 1.0:
        return None
    n = math.ceil(length) | 1
    k = np.zeros((n, n), np.float32)
    c = (n - 1) / 2
    ux, uy = blur[0] / length, blur[1] / length
    p = (round((c - ux * length / 2) * ONE), round((c - uy * length / 2) * ONE))
    q = (round((c + ux * length / 2) * ONE), round((c + uy * length / 2) * ONE))
    cv2.line(k, p, q, 1.0, 1, cv2.LINE_AA, SHIFT)
    kernel: np.ndarray = k / k.sum()
    return kernel


def render_sprite(s: Sprite) -> tuple[np.ndarray, np.ndarray, int, int]:
    """Premultiplied colour [n, n, 3] and alpha [n, n] of one object, and the patch's
    top-left corner in frame pixels."""
    margin = math.ceil(math.hypot(*s.blur) / 2) + 2
    x0 = math.floor(s.cx - s.size) - margin
    y0 = math.floor(s.cy - s.size) - margin
    n = math.ceil(2 * s.size) + 2 * margin + 2
    ox, oy = s.cx - x0, s.cy - y0
    mask = np.zeros((n, n), np.uint8)
    _draw_mask(s, mask, ox, oy)
    alpha: np.ndarray = mask.astype(np.float32) * (1 / 255)
    color: np.ndarray = _shading(s, n, ox, oy)[..., None] * np.array(s.color, np.float32)
    if s.cls in (BOX, STAR):  # a darker rim gives flat shapes an edge like a real object's
        rim = np.zeros((n, n), np.uint8)
        _draw_mask(s, rim, ox, oy)
        thick = max(1, int(s.size * 0.12))
        inner = cv2.erode(rim, np.ones((thick, thick), np.uint8))
        color *= (1 - 0.35 * ((rim.astype(np.float32) - inner) / 255))[..., None]
    premult: np.ndarray = color * alpha[..., None]
    k = _motion_kernel(s.blur)
    if k is not None:
        premult = cv2.filter2D(premult, -1, k, borderType=cv2.BORDER_CONSTANT)
        alpha = cv2.filter2D(alpha, -1, k, borderType=cv2.BORDER_CONSTANT)
    return premult, alpha, x0, y0


# --- composition -------------------------------------------------------------------


def _clip_patch(x0: int, y0: int, n: int, w: int, h: int) -> tuple[slice, slice, slice, slice] | None:
    """Frame and patch slices of the part of an n x n patch at (x0, y0) inside the frame."""
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + n, w), min(y0 + n, h)
    if fx0 >= fx1 or fy0 >= fy1:
        return None
    return (slice(fy0, fy1), slice(fx0, fx1), slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))


def _visible_box(vis: np.ndarray, fx: int, fy: int) -> tuple[float, float, float, float] | None:
    on = vis > 0.5
    cols, rows = np.flatnonzero(on.any(axis=0)), np.flatnonzero(on.any(axis=1))
    if cols.size == 0:
        return None
    return (fx + cols[0], fy + rows[0], fx + cols[-1] + 1.0, fy + rows[-1] + 1.0)


def compose(background: np.ndarray, sprites: list[Sprite]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Draw sprites (back to front) over a float backdrop; boxes of those visible enough.

    Returns the float image, boxes [N, 4] and class ids [N] in the sprites' order.
    """
    img, boxes, ids, _ = compose_indexed(background, sprites)
    return img, boxes, ids


def compose_indexed(background: np.ndarray,
                    sprites: list[Sprite]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """compose(), and which sprite each box belongs to: the image, boxes [N, 4], class ids
    [N] and the sprites' indices [N] (int64, increasing)."""
    h, w = background.shape[:2]
    img = background.copy()
    rendered = [render_sprite(s) for s in sprites]
    cover = np.zeros((h, w), np.float32)  # how much of each pixel the objects in front hide
    found: list[tuple[int, tuple[float, float, float, float]]] = []
    for i in range(len(sprites) - 1, -1, -1):
        premult, alpha, x0, y0 = rendered[i]
        sl = _clip_patch(x0, y0, alpha.shape[0], w, h)
        if sl is None:
            continue
        fy, fx, py, px = sl
        a = alpha[py, px]
        vis = a * (1 - cover[fy, fx])
        cover[fy, fx] += vis
        if vis.sum() >= MIN_VISIBLE * max(float(alpha.sum()), 1e-6):
            box = _visible_box(vis, fx.start, fy.start)
            if box is not None and min(box[2] - box[0], box[3] - box[1]) >= 3:
                found.append((i, box))
    for premult, alpha, x0, y0 in rendered:
        sl = _clip_patch(x0, y0, alpha.shape[0], w, h)
        if sl is not None:
            fy, fx, py, px = sl
            img[fy, fx] = img[fy, fx] * (1 - alpha[py, px, None]) + premult[py, px]
    found.sort()
    boxes = np.array([b for _, b in found], np.float32).reshape(-1, 4)
    ids = np.array([sprites[i].cls for i, _ in found], np.int64)
    return img, boxes, ids, np.array([i for i, _ in found], np.int64)


def _lighting(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Uneven light, colour cast and exposure over the whole frame."""
    h, w = img.shape[:2]
    lw, lh = _low_res(w, h)
    gain = 1 + rng.uniform(-0.35, 0.35) * (_ramp(rng, lw, lh) - 0.5) * 2
    cast = rng.uniform(0.85, 1.15, 3) * rng.uniform(0.7, 1.25)
    gain3 = cv2.merge([gain * np.float32(c) for c in cast])
    return cv2.multiply(img, cv2.resize(gain3, (w, h), interpolation=cv2.INTER_LINEAR))


NOISE_BANK_SIDE = 1344
_noise_bank: list[np.ndarray] = []


def _unit_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Unit Gaussian noise for an h x w x 3 frame: a random crop of one fixed field,
    several times cheaper than drawing fresh noise, and as random to a detector."""
    if not _noise_bank:
        field_rng = np.random.default_rng(20240601)
        _noise_bank.append(field_rng.standard_normal((NOISE_BANK_SIDE,) * 2 + (3,), dtype=np.float32))
    bank = _noise_bank[0]
    if h > NOISE_BANK_SIDE or w > NOISE_BANK_SIDE:  # larger than any frame we make; tile
        bank = np.tile(bank, (h // NOISE_BANK_SIDE + 1, w // NOISE_BANK_SIDE + 1, 1))
    oy = int(rng.integers(0, bank.shape[0] - h + 1))
    ox = int(rng.integers(0, bank.shape[1] - w + 1))
    return bank[oy:oy + h, ox:ox + w]


def to_uint8(img: np.ndarray) -> np.ndarray:
    return cv2.convertScaleAbs(cv2.max(img, 0.0))  # type: ignore[call-overload]  # scalar, as above


def _finish(rng: np.random.Generator, img: np.ndarray) -> np.ndarray:
    """Sensor look: optional defocus, noise, then 8 bits."""
    if rng.random() < 0.2:
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.5, 1.2))
    sigma = rng.choice([0.0, rng.uniform(1, 6), rng.uniform(4, 14)], p=[0.25, 0.5, 0.25])
    if sigma > 0:
        img = cv2.scaleAdd(_unit_noise(rng, *img.shape[:2]), float(sigma), img)
    return to_uint8(img)


# --- still scenes ------------------------------------------------------------------


def _overlaps_too_much(box: tuple[float, float, float, float], placed: list[tuple[float, ...]]) -> bool:
    for b in placed:
        iw = min(box[2], b[2]) - max(box[0], b[0])
        ih = min(box[3], b[3]) - max(box[1], b[1])
        if iw > 0 and ih > 0:
            smaller = min((box[2] - box[0]) * (box[3] - box[1]), (b[2] - b[0]) * (b[3] - b[1]))
            if iw * ih > 0.4 * smaller:
                return True
    return False


def _random_sprite(rng: np.random.Generator, w: int, h: int, backdrop: np.ndarray) -> Sprite:
    cls = int(rng.integers(0, len(CLASS_NAMES)))
    size = float(math.exp(rng.uniform(math.log(0.03), math.log(0.16))) * min(w, h))
    # A few objects sit across the frame edge, as they do when entering or leaving.
    spread = 0.0 if rng.random() < 0.8 else size * 0.8
    cx = float(rng.uniform(-spread, w + spread))
    cy = float(rng.uniform(-spread, h + spread))
    blur = (0.0, 0.0)
    if rng.random() < 0.35:
        length, a = rng.uniform(1, 0.5 * size), rng.uniform(0, 2 * math.pi)
        blur = (length * math.cos(a), length * math.sin(a))
    px, py = int(np.clip(cx, 0, w - 1)), int(np.clip(cy, 0, h - 1))
    return Sprite(cls, cx, cy, size, float(rng.uniform(0, 2 * math.pi)),
                  object_color(rng, backdrop[py, px]), random_shape(rng, cls),
                  float(rng.uniform(0, 2 * math.pi)), blur)


def random_sprites(rng: np.random.Generator, w: int, h: int, backdrop: np.ndarray) -> list[Sprite]:
    count = int(rng.choice([0, 1, 2, 3, 4, 5, 6, 8, 10, 14], p=[.02, .08, .1, .12, .14, .14, .14, .12, .08, .06]))
    sprites: list[Sprite] = []
    placed: list[tuple[float, ...]] = []
    for _ in range(count * 4):
        if len(sprites) == count:
            break
        s = _random_sprite(rng, w, h, backdrop)
        box = (s.cx - s.size, s.cy - s.size, s.cx + s.size, s.cy + s.size)
        if not _overlaps_too_much(box, placed):
            sprites.append(s)
            placed.append(box)
    return sprites


def generate_scene(seed: Seed, width: int = 640, height: int = 480) -> Scene:
    """One still frame with its ground truth: image (BGR uint8), boxes xyxy, class ids."""
    rng = make_rng(seed)
    bg = make_background(rng, width, height)
    sprites = random_sprites(rng, width, height, bg)
    img, boxes, ids = compose(bg, sprites)
    return Scene(_finish(rng, _lighting(rng, img)), boxes, ids)


# --- clips -------------------------------------------------------------------------


@dataclass(frozen=True)
class Track:
    """An object crossing the frame: enters at t0, leaves after duration (seconds)."""

    cls: int
    t0: float
    duration: float
    start: tuple[float, float]
    end: tuple[float, float]
    size: float
    grow: float  # size factor reached at the end, as if approaching or receding
    spin: float  # radians per second
    angle: float
    wiggle: float  # amplitude of a sideways sway, pixels
    sway_hz: float
    color: tuple[float, float, float]
    shape: float
    light: float
    depth: float  # draw order: larger is nearer

    def position(self, t: float) -> tuple[float, float]:
        u = (t - self.t0) / self.duration
        dx, dy = self.end[0] - self.start[0], self.end[1] - self.start[1]
        norm = math.hypot(dx, dy) or 1.0
        sway = self.wiggle * math.sin(2 * math.pi * self.sway_hz * (t - self.t0))
        return (self.start[0] + u * dx - sway * dy / norm, self.start[1] + u * dy + sway * dx / norm)

    def sprite(self, t: float, exposure: float, fps: float) -> Sprite:
        u = (t - self.t0) / self.duration
        x, y = self.position(t)
        # Blur is the path covered while the shutter is open, centred on the frame time.
        xb, yb = self.position(t + exposure / fps)
        size = self.size * (1 + (self.grow - 1) * u)
        return Sprite(self.cls, x, y, size, self.angle + self.spin * (t - self.t0), self.color,
                      self.shape, self.light, (xb - x, yb - y))


def _edge_point(rng: np.random.Generator, w: int, h: int, margin: float, side: int) -> tuple[float, float]:
    if side == 0:
        return (-margin, float(rng.uniform(0, h)))
    if side == 1:
        return (w + margin, float(rng.uniform(0, h)))
    if side == 2:
        return (float(rng.uniform(0, w)), -margin)
    return (float(rng.uniform(0, w)), h + margin)


def _random_track(rng: np.random.Generator, w: int, h: int, t0: float, backdrop_mean: np.ndarray) -> Track:
    cls = int(rng.integers(0, len(CLASS_NAMES)))
    size = float(math.exp(rng.uniform(math.log(0.04), math.log(0.13))) * min(w, h))
    grow = float(math.exp(rng.uniform(-0.4, 0.4)))
    margin = size * max(1.0, grow) + 4 + 0.1 * min(w, h)  # off screen, blur and sway included
    side = int(rng.integers(0, 4))
    other = int(rng.choice([s for s in range(4) if s != side]))
    start = _edge_point(rng, w, h, margin, side)
    end = _edge_point(rng, w, h, margin, other)
    speed = float(rng.uniform(0.08, 0.35)) * max(w, h)  # pixels per second
    duration = math.hypot(end[0] - start[0], end[1] - start[1]) / speed
    return Track(cls, t0, duration, start, end, size, grow, float(rng.uniform(-3, 3)),
                 float(rng.uniform(0, 2 * math.pi)), float(rng.uniform(0, 0.06) * min(w, h)),
                 float(rng.uniform(0.1, 0.6)), object_color(rng, backdrop_mean),
                 random_shape(rng, cls), float(rng.uniform(0, 2 * math.pi)), float(rng.random()))


class SceneVideo:
    """A deterministic clip of objects crossing a fixed backdrop; frame(i) in any order."""

    def __init__(self, seed: int, width: int = 1280, height: int = 720, n_frames: int = 720,
                 fps: float = 30.0, concurrent: float = 6.0) -> None:
        self.seed, self.width, self.height = seed, width, height
        self.n_frames, self.fps = n_frames, fps
        rng = np.random.default_rng((seed, 0))
        self.background = make_background(rng, width, height)
        self._light_phase = rng.uniform(0, 2 * math.pi, 2)
        self._noise_sigma = float(rng.uniform(2, 7))
        self.exposure = float(rng.uniform(0.3, 0.7))  # shutter open for this part of a frame
        self.tracks = self._schedule(rng, concurrent)
        self._noise = self._noise_bank(rng)

    def _schedule(self, rng: np.random.Generator, concurrent: float) -> list[Track]:
        """Tracks starting before the clip (so it opens busy) until its end, at a rate
        that keeps about `concurrent` objects in view."""
        length = self.n_frames / self.fps
        mean_bg = self.background.mean(axis=(0, 1))
        mean_duration = float(np.mean([_random_track(rng, self.width, self.height, 0.0,
                                                      mean_bg).duration for _ in range(32)]))
        rate = concurrent / mean_duration
        tracks, t = [], -mean_duration
        while t < length:
            tracks.append(_random_track(rng, self.width, self.height, t, mean_bg))
            t += float(rng.exponential(1 / rate))
        return tracks

    def _noise_bank(self, rng: np.random.Generator) -> list[tuple[np.ndarray, np.ndarray]]:
        """A few noise fields, slightly larger than the frame, to crop from per frame: far
        cheaper than fresh noise, and random crops keep it from looking frozen."""
        bank = []
        for _ in range(3):
            n = rng.standard_normal((self.height + 32, self.width + 32, 3), dtype=np.float32)
            n = np.clip(n * self._noise_sigma, -127, 127)
            bank.append((np.maximum(n, 0).astype(np.uint8), np.maximum(-n, 0).astype(np.uint8)))
        return bank

    def __len__(self) -> int:
        return self.n_frames

    def sprites(self, index: int) -> list[Sprite]:
        t = index / self.fps
        live = [tr for tr in self.tracks if tr.t0 <= t <= tr.t0 + tr.duration]
        live.sort(key=lambda tr: tr.depth)
        return [tr.sprite(t, self.exposure, self.fps) for tr in live]

    def live_objects(self, index: int) -> list[int]:
        """Object ids (index in `tracks` + 1) of the sprites(index), in the same order."""
        t = index / self.fps
        live = [k for k, tr in enumerate(self.tracks) if tr.t0 <= t <= tr.t0 + tr.duration]
        live.sort(key=lambda k: self.tracks[k].depth)  # stable, as in sprites()
        return [k + 1 for k in live]

    def frame_and_truth(self, index: int) -> tuple[Scene, GroundTruth]:
        """frame(index) and who each of its boxes is: an object keeps its id for the whole
        clip, through occlusion and while it is too little in view to have a box."""
        img, boxes, ids, which = compose_indexed(self.background, self.sprites(index))
        objects = np.array(self.live_objects(index), np.int64)[which] if len(which) else np.zeros(0, np.int64)
        return self._finish_frame(index, img, boxes, ids), GroundTruth(objects, boxes, ids)

    def ground_truth(self, index: int) -> GroundTruth:
        """The ground truth of frame(index) without finishing its image (a little cheaper)."""
        _, boxes, ids, which = compose_indexed(self.background, self.sprites(index))
        objects = np.array(self.live_objects(index), np.int64)[which] if len(which) else np.zeros(0, np.int64)
        return GroundTruth(objects, boxes, ids)

    def write_mot_ground_truth(self, path: str | os.PathLike[str], frames: int | None = None,
                               classes: bool = False) -> int:
        """MOTChallenge gt.txt of the first `frames` frames (all by default): lines
        `frame,id,x,y,w,h,1,class,1` with 1-based frame numbers. class is 1 for every
        object (MOTChallenge's evaluated class, so TrackEval scores all of them) unless
        `classes`, where it is the class id + 1. Returns the number of lines."""
        lines = mot_ground_truth_lines((self.ground_truth(i) for i in range(frames or self.n_frames)), classes)
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(lines)
        return len(lines)

    def frame(self, index: int) -> Scene:
        img, boxes, ids = compose(self.background, self.sprites(index))
        return self._finish_frame(index, img, boxes, ids)

    def _finish_frame(self, index: int, img: np.ndarray, boxes: np.ndarray, ids: np.ndarray) -> Scene:
        t = index / self.fps
        flicker = 1 + 0.08 * math.sin(0.7 * t + self._light_phase[0]) + 0.04 * math.sin(2.3 * t + self._light_phase[1])
        out = cv2.convertScaleAbs(img, alpha=flicker)
        rng = np.random.default_rng((self.seed, 1, index))
        pos, neg = self._noise[int(rng.integers(0, len(self._noise)))]
        oy, ox = int(rng.integers(0, 32)), int(rng.integers(0, 32))
        crop = (slice(oy, oy + self.height), slice(ox, ox + self.width))
        out = cv2.subtract(cv2.add(out, np.ascontiguousarray(pos[crop])), np.ascontiguousarray(neg[crop]))
        return Scene(out, boxes, ids)

    def __iter__(self) -> Iterator[Scene]:
        return (self.frame(i) for i in range(self.n_frames))


def mot_ground_truth_lines(truths: Iterable[GroundTruth], classes: bool = False) -> list[str]:
    """MOTChallenge ground truth lines, frame numbers from 1 (see write_mot_ground_truth)."""
    lines = []
    for frame, gt in enumerate(truths, 1):
        for oid, box, cls in zip(gt.object_ids.tolist(), gt.boxes.tolist(), gt.class_ids.tolist()):
            x1, y1, x2, y2 = box
            cls_column = cls + 1 if classes else 1
            lines.append(f"{frame},{oid},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},1,{cls_column},1\n")
    return lines


def generate_clip(seed: int, width: int = 1280, height: int = 720, n_frames: int = 720,
                  fps: float = 30.0) -> Iterator[Scene]:
    """Frames of a clip with their ground truth, in order."""
    return iter(SceneVideo(seed, width, height, n_frames, fps))
