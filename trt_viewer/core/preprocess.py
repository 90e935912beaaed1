"""YOLOX letterbox preprocessing, written straight into the model's input buffer.

Current YOLOX (0.1.1 and later): resize by min(H/h, W/w), paste at the top-left of a
canvas filled with 114, BGR, float 0..255, CHW. Models exported before 0.1.1 ("legacy")
expect RGB scaled to 0..1 and normalised with the ImageNet mean and std, the padding
included.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 114
IMAGENET_MEAN = (0.485, 0.456, 0.406)  # RGB order
IMAGENET_STD = (0.229, 0.224, 0.225)
PRESETS = ("current", "legacy")


@dataclass(frozen=True)
class Preset:
    name: str
    rgb: bool
    # Per-channel affine map applied after channel reordering: x * scale + shift.
    scale: tuple[float, float, float]
    shift: tuple[float, float, float]


CURRENT = Preset("current", rgb=False, scale=(1.0, 1.0, 1.0), shift=(0.0, 0.0, 0.0))
LEGACY = Preset(
    "legacy",
    rgb=True,
    scale=tuple(1.0 / (255.0 * s) for s in IMAGENET_STD),  # type: ignore[arg-type]
    shift=tuple(-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)),  # type: ignore[arg-type]
)


def get_preset(name: str) -> Preset:
    if name == "current":
        return CURRENT
    if name == "legacy":
        return LEGACY
    raise ValueError(f"unknown preprocessing preset {name!r} (choose from current, legacy)")


def resolve_preset(name: str, metadata: dict[str, str] | None = None) -> Preset:
    """'auto' takes the preset a model's metadata names, else the current one."""
    if name != "auto":
        return get_preset(name)
    stated = (metadata or {}).get("preprocess", "").strip().lower()
    return get_preset(stated) if stated in PRESETS else CURRENT


def letterbox_ratio(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> float:
    return min(input_hw[0] / frame_hw[0], input_hw[1] / frame_hw[1])


def letterbox_size(frame_hw: tuple[int, int], input_hw: tuple[int, int]) -> tuple[float, int, int]:
    """The ratio r and the resized (h, w) of a frame in the model's input.

    YOLOX truncates frame size * r; a side that would shrink below one pixel (a 2x4000
    strip) is kept at one: it holds under a model pixel of the frame, and boxes mapped
    back by r are clipped to the frame. The GPU letterbox must size its resize the same way."""
    r = letterbox_ratio(frame_hw, input_hw)
    return r, max(1, int(frame_hw[0] * r)), max(1, int(frame_hw[1] * r))


def letterbox(
    image: np.ndarray,
    input_hw: tuple[int, int],
    out: np.ndarray | None = None,
    preset: Preset = CURRENT,
) -> tuple[np.ndarray, float]:
    """Letterbox a BGR uint8 HxWx3 image into `out` ([1,]3,H,W; float32, float16 or uint8).

    Returns the filled buffer and the scale ratio r (model pixels = frame pixels * r).
    """
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected a HxWx3 BGR image, got shape {image.shape}")
    in_h, in_w = input_hw
    if out is None:
        out = np.empty((1, 3, in_h, in_w), np.float32)
    chw = out.reshape(3, in_h, in_w)  # a view: `out` must be contiguous
    if not np.shares_memory(chw, out):
        raise ValueError("the input buffer must be C-contiguous")
    if preset is not CURRENT and chw.dtype.kind in "ui":
        raise ValueError(f"the {preset.name} preset needs a float input, the model takes {chw.dtype}")

    r, new_h, new_w = letterbox_size(image.shape[:2], input_hw)
    if (new_h, new_w) != image.shape[:2]:
        image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)

    order = (2, 1, 0) if preset.rgb else (0, 1, 2)
    for dst, src in enumerate(order):
        plane = chw[dst]
        plane[:new_h, :new_w] = image[:, :, src]
        plane[new_h:, :] = PAD_VALUE
        plane[:new_h, new_w:] = PAD_VALUE
        if preset is not CURRENT:
            plane *= preset.scale[dst]
            plane += preset.shift[dst]
    return out, r
