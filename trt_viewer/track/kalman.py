"""A constant-velocity Kalman filter over many boxes at once, in numpy.

The state of a box is (cx, cy, a, h, vcx, vcy, va, vh): centre, aspect ratio w / h,
height and their velocities per frame, as in DeepSORT and ByteTrack; the noise of position
and velocity is proportional to the box's height (1/20 and 1/160 of it), the aspect
ratio's is fixed. Every function takes and returns arrays for all boxes, so a frame
costs a few batched matrix products whatever the number of tracks.
"""

from __future__ import annotations

import numpy as np

STD_POSITION = 1.0 / 20
STD_VELOCITY = 1.0 / 160
_EYE = np.eye(8)
_DIAG8 = np.arange(8)
_DIAG4 = np.arange(4)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    boxes = np.asarray(boxes, np.float64)
    w = boxes[:, 2] - boxes[:, 0]
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1e-3)
    return np.stack([(boxes[:, 0] + boxes[:, 2]) / 2, (boxes[:, 1] + boxes[:, 3]) / 2, w / h, h], 1)


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    h = np.maximum(xyah[:, 3], 1e-3)
    w = np.maximum(xyah[:, 2], 1e-3) * h
    cx, cy = xyah[:, 0], xyah[:, 1]
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 1)


def initiate(measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Means [n, 8] and covariances [n, 8, 8] of new tracks from xyah measurements."""
    n = len(measurements)
    mean = np.zeros((n, 8))
    mean[:, :4] = measurements
    h = measurements[:, 3]
    std = np.stack([2 * STD_POSITION * h, 2 * STD_POSITION * h, np.full(n, 1e-2), 2 * STD_POSITION * h,
                    10 * STD_VELOCITY * h, 10 * STD_VELOCITY * h, np.full(n, 1e-5), 10 * STD_VELOCITY * h], 1)
    cov = np.zeros((n, 8, 8))
    cov[:, _DIAG8, _DIAG8] = std**2
    return mean, cov


def predict(mean: np.ndarray, cov: np.ndarray, steps: float) -> tuple[np.ndarray, np.ndarray]:
    """Advance every box by `steps` frames (fractional where frames came irregularly)."""
    if len(mean) == 0:
        return mean, cov
    f = _EYE.copy()
    f[_DIAG4, _DIAG4 + 4] = steps
    h = mean[:, 3]
    n = len(mean)
    pos, vel = (STD_POSITION * h) ** 2, (STD_VELOCITY * h) ** 2
    q = np.stack([pos, pos, np.full(n, 1e-4), pos, vel, vel, np.full(n, 1e-10), vel], 1) * max(steps, 1e-3)
    mean = mean @ f.T
    cov = f @ cov @ f.T
    cov[:, _DIAG8, _DIAG8] += q
    return mean, cov


def update(mean: np.ndarray, cov: np.ndarray, measurements: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Correct each box with its measurement (xyah), one row each."""
    if len(mean) == 0:
        return mean, cov
    h = mean[:, 3]
    n = len(mean)
    pos = (STD_POSITION * h) ** 2
    s = cov[:, :4, :4].copy()
    s[:, _DIAG4, _DIAG4] += np.stack([pos, pos, np.full(n, 1e-2), pos], 1)
    gain = cov[:, :, :4] @ np.linalg.inv(s)  # [n, 8, 4]
    innovation = measurements - mean[:, :4]
    mean = mean + (gain @ innovation[:, :, None])[:, :, 0]
    cov = cov - gain @ s @ gain.transpose(0, 2, 1)
    return mean, cov


def boxes(mean: np.ndarray) -> np.ndarray:
    """The xyxy boxes of the states."""
    return xyah_to_xyxy(mean[:, :4])
