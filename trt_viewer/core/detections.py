"""The detections of one frame, as a dataclass of parallel numpy arrays.

`track_ids` is optional: None (the default) for plain detections; after a tracker
(`trt_viewer.track`) an int64 array parallel to the others, each detection's track id
(>= 1), or NO_TRACK (-1) for a detection on no confirmed track.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

NO_TRACK = -1  # the track id of a detection that belongs to no (confirmed) track


@dataclass(frozen=True)
class Detections:
    boxes: np.ndarray  # [N, 4] float32, x1 y1 x2 y2 in pixels of the original frame
    scores: np.ndarray  # [N] float32
    class_ids: np.ndarray  # [N] int64
    track_ids: np.ndarray | None = None  # [N] int64 where a tracker gave ids, else None

    def __post_init__(self) -> None:
        n = len(self.scores)
        if self.boxes.shape != (n, 4) or self.class_ids.shape != (n,):
            raise ValueError(
                f"inconsistent detections: boxes {self.boxes.shape}, "
                f"scores {self.scores.shape}, class_ids {self.class_ids.shape}"
            )
        if self.track_ids is not None and self.track_ids.shape != (n,):
            raise ValueError(f"inconsistent detections: {n} boxes, track_ids {self.track_ids.shape}")

    @classmethod
    def empty(cls) -> Detections:
        return cls(
            np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64)
        )

    @classmethod
    def from_arrays(cls, boxes: Any, scores: Any, class_ids: Any, track_ids: Any = None) -> Detections:
        return cls(
            np.asarray(boxes, np.float32).reshape(-1, 4),
            np.asarray(scores, np.float32).reshape(-1),
            np.asarray(class_ids, np.int64).reshape(-1),
            None if track_ids is None else np.asarray(track_ids, np.int64).reshape(-1),
        )

    @property
    def tracked(self) -> bool:
        """True when a tracker gave these detections track ids."""
        return self.track_ids is not None

    def with_track_ids(self, track_ids: Any) -> Detections:
        """The same detections with these track ids (None: without any)."""
        ids = None if track_ids is None else np.asarray(track_ids, np.int64).reshape(-1)
        return Detections(self.boxes, self.scores, self.class_ids, ids)

    def __len__(self) -> int:
        return len(self.scores)

    def __getitem__(self, index: Any) -> Detections:
        """Mask, index array or slice; always returns Detections."""
        if isinstance(index, (int, np.integer)):
            index = slice(int(index), int(index) + 1 or None)
        ids = None if self.track_ids is None else self.track_ids[index]
        return Detections(self.boxes[index], self.scores[index], self.class_ids[index], ids)

    def to_records(self, names: list[str] | tuple[str, ...]) -> list[dict[str, Any]]:
        """JSON-ready records, with boxes rounded to 0.01 px and scores to 1e-4; with track
        ids, each record also has "track_id" (an int, or None for a detection on no track)."""
        records = [
            {
                "box": [round(float(v), 2) for v in box],
                "score": round(float(score), 4),
                "class_id": int(cid),
                "label": label_for(names, int(cid)),
            }
            for box, score, cid in zip(self.boxes, self.scores, self.class_ids)
        ]
        if self.track_ids is not None:
            for record, tid in zip(records, self.track_ids.tolist()):
                record["track_id"] = tid if tid != NO_TRACK else None
        return records


def label_for(names: list[str] | tuple[str, ...], class_id: int) -> str:
    return names[class_id] if 0 <= class_id < len(names) else f"class_{class_id}"
