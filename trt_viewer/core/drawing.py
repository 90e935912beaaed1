"""Boxes and labels drawn on a frame, a colour per class."""

from __future__ import annotations

import colorsys
from functools import lru_cache

import cv2
import numpy as np

from trt_viewer.core.detections import Detections, label_for

FONT = cv2.FONT_HERSHEY_SIMPLEX


@lru_cache(maxsize=1024)
def class_colour(class_id: int) -> tuple[int, int, int]:
    """A stable, well-separated BGR colour: hues stepped by the golden ratio."""
    hue = (class_id * 0.618033988749895 + 0.12) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.85, 0.95)
    return int(b * 255), int(g * 255), int(r * 255)


def _text_colour(bg: tuple[int, ...]) -> tuple[int, int, int]:
    luma = 0.114 * bg[0] + 0.587 * bg[1] + 0.299 * bg[2]
    return (0, 0, 0) if luma > 150 else (255, 255, 255)


def draw_detections(
    image: np.ndarray, detections: Detections, names: list[str] | tuple[str, ...]
) -> np.ndarray:
    """Draw in place on a BGR (or BGRA, alpha kept opaque) uint8 image and return it."""
    if len(detections) == 0:
        return image
    opaque = (255,) if image.ndim == 3 and image.shape[2] == 4 else ()
    h, w = image.shape[:2]
    thickness = max(1, round(min(h, w) / 360))
    font_scale = max(0.4, min(h, w) / 1100)
    for box, score, cid in zip(
        detections.boxes.round().astype(np.int32), detections.scores, detections.class_ids
    ):
        colour = class_colour(int(cid)) + opaque
        x1, y1, x2, y2 = (int(v) for v in box)
        cv2.rectangle(image, (x1, y1), (x2, y2), colour, thickness, cv2.LINE_AA)
        text = f"{label_for(names, int(cid))} {score:.2f}"
        (tw, th), base = cv2.getTextSize(text, FONT, font_scale, 1)
        # Label above the box, or inside it when the box touches the top edge.
        top = y1 - th - base - 2 if y1 - th - base - 2 >= 0 else y1
        cv2.rectangle(image, (x1, top), (x1 + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(
            image, text, (x1 + 2, top + th + 1), FONT, font_scale, _text_colour(colour) + opaque, 1, cv2.LINE_AA
        )
        if opaque:  # OpenCV's anti-aliased text blends the alpha byte too: make it opaque again
            image[max(0, top): max(0, top + th + base + 3), max(0, x1): max(0, x1 + tw + 5), 3] = 255
    return image


def draw_overlay(image: np.ndarray, lines: list[str]) -> np.ndarray:
    """Status text (FPS, counts) in the top-left corner, readable on any background."""
    scale = max(0.5, min(image.shape[:2]) / 900)
    y = 8
    for line in lines:
        (tw, th), base = cv2.getTextSize(line, FONT, scale, 1)
        cv2.rectangle(image, (6, y - 2), (14 + tw, y + th + base + 2), (0, 0, 0), -1)
        cv2.putText(image, line, (10, y + th), FONT, scale, (255, 255, 255), 1, cv2.LINE_AA)
        y += th + base + 8
    return image
