"""The detections of one frame, as a dataclass of parallel numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # [N, 4] float32, x1 y1 x2 y2 in pixels of the original frame
    scores: np.ndarray  # [N] float32
    class_ids: np.ndarray  # [N] int64

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.class_ids.shape != (n,):
            raise ValueError(
                f"inconsistent detections: boxes {self.boxes.shape}, "
                f"scores {self.scores.shape}, class_ids {self.class_ids.shape}"
            )

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        )

    @classmethod
    def from_arrays(cls, boxes: Any, scores: Any, class_ids: Any) -> Detections:
        return cls(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32).reshape(-1),
            np.asarray(class_ids, np.int64).reshape(-1),
        )

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: Any) -> Detections:
        """Mask, index array or slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 or None)
        return Detections(self.boxes[index], self.scores[index], self.class_ids[index])

    def to_records(self, names: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
        """JSON-ready records, with boxes rounded to 0.01 px and scores to 1e-4."""
        return [
            {
                "box": [round(float(v), 2) for v in box],
                "score": round(float(score), 4),
                "class_id": int(cid),
                "label": label_for(names, int(cid)),
            }
            for box, score, cid in zip(self.boxes, self.scores, self.class_ids)
        ]


def label_for(names: list[str] | tuple[str, ...], class_id: int) -> str:
    return names[class_id] if 0 <= class_id < len(names) else f"class_{class_id}"
