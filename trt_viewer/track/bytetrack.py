"""ByteTrack (Zhang et al., 2022) and SORT as its one-stage special case, in numpy.

Per frame: every track's Kalman filter predicts its box; detections are split by score;
1. confirmed tracks (tracked or lost) are matched to high-score detections by IoU
   (cost 1 - IoU below 1 - match_iou);
2. confirmed tracks still unmatched that were tracked in the previous frame are matched to
   the low-score detections (IoU above low_match_iou): a partly hidden or blurred object
   whose score dropped keeps its track;
3. unconfirmed tracks (born in the previous frame) are matched to the high-score
   detections left (IoU above unconfirmed_match_iou); those left unmatched are dropped;
4. high-score detections still unmatched with a score of at least new_track_threshold
   start unconfirmed tracks; a track is confirmed, and gets its id, on its min_hits-th
   consecutive match (on the first frame after a reset, at once, as in ByteTrack);
5. a confirmed track unmatched for more than track_buffer frames at 30 fps (1 s) ends.

Matching is per class by default (a pair of different classes is never allowed), so a
ball never takes a box's id; class_agnostic=True matches across classes. Ids come from
one counter, so they are unique across classes. All tracks live in a few arrays, so a
frame costs a fixed number of numpy calls whatever the number of objects.

The defaults follow Roboflow trackers' ByteTrackTracker (2.6.1: high 0.6, activation 0.7,
2 frames to confirm, 30 frames of buffer) and the paper's association thresholds (low
0.1; cost limits 0.8, 0.5 and 0.7 for the three stages, i.e. IoU 0.2, 0.5 and 0.3).
"""

from __future__ import annotations

import numpy as np

from trt_viewer.core.detections import NO_TRACK, Detections
from trt_viewer.track import kalman
from trt_viewer.track.assignment import match
from trt_viewer.track.base import Tracker, iou_matrix

REFERENCE_FPS = 30.0  # track_buffer counts frames at this rate, as in ByteTrack


class ByteTrack(Tracker):
    name = "bytetrack"

    def __init__(
        self,
        *,
        high_threshold: float = 0.6,
        low_threshold: float = 0.1,
        new_track_threshold: float = 0.7,
        match_iou: float = 0.2,
        low_match_iou: float = 0.5,
        unconfirmed_match_iou: float = 0.3,
        track_buffer: int = 30,
        min_hits: int = 2,
        frame_rate: float = 30.0,
        class_agnostic: bool = False,
        fuse_score: bool = False,
        keep_untracked: bool = False,
    ) -> None:
        if frame_rate <= 0 or not np.isfinite(frame_rate):
            raise ValueError(f"frame_rate must be positive, not {frame_rate}")
        if track_buffer < 0 or min_hits < 1:
            raise ValueError("track_buffer must be >= 0 and min_hits >= 1")
        self.high_threshold = high_threshold
        self.low_threshold = low_threshold
        self.new_track_threshold = new_track_threshold
        self.match_iou = match_iou
        self.low_match_iou = low_match_iou
        self.unconfirmed_match_iou = unconfirmed_match_iou
        self.track_buffer = track_buffer
        self.min_hits = min_hits
        self.frame_rate = float(frame_rate)
        self.class_agnostic = class_agnostic
        self.fuse_score = fuse_score
        self.keep_untracked = keep_untracked
        self.reset()

    @property
    def lost_seconds(self) -> float:
        """How long a confirmed track is kept without a match."""
        return self.track_buffer / REFERENCE_FPS

    def reset(self) -> None:
        self._next_id = 1
        self._last_timestamp: float | None = None
        self._clock = 0.0  # seconds; advances one frame when timestamps do not
        self._mean = np.zeros((0, 8))
        self._cov = np.zeros((0, 8, 8))
        self._ids = np.zeros(0, np.int64)  # 0 until confirmed
        self._cls = np.zeros(0, np.int64)
        self._hits = np.zeros(0, np.int64)  # consecutive matches
        self._seen = np.zeros(0)  # clock at the last match
        self._tracked = np.zeros(0, bool)  # matched in the last frame
        self._confirmed = np.zeros(0, bool)

    def __len__(self) -> int:
        """Tracks alive (confirmed or not, tracked or lost)."""
        return len(self._ids)

    def predicted_boxes(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids, class ids, xyxy boxes) of the confirmed tracks as last estimated, lost
        ones included (their boxes drift with the motion model)."""
        keep = self._confirmed
        return self._ids[keep], self._cls[keep], kalman.boxes(self._mean[keep]).astype(np.float32)

    def _advance(self, timestamp: float) -> float:
        """Frames since the last update (1 where timestamps do not move forward)."""
        last = self._last_timestamp
        self._last_timestamp = timestamp
        if last is None or not timestamp > last:
            steps = 1.0
        else:
            steps = (timestamp - last) * self.frame_rate
        self._clock += steps / self.frame_rate
        return steps

    def _match(self, tracks: np.ndarray, dets: np.ndarray, pred: np.ndarray, boxes: np.ndarray,
               scores: np.ndarray, cls: np.ndarray, min_iou: float, fuse: bool) -> tuple[np.ndarray, np.ndarray]:
        if len(tracks) == 0 or len(dets) == 0:
            empty = np.zeros(0, np.int64)
            return empty, empty
        similarity = iou_matrix(pred[tracks], boxes[dets])
        if fuse:
            similarity *= scores[dets][None, :]
        cost = 1.0 - similarity
        if not self.class_agnostic:
            cost[self._cls[tracks][:, None] != cls[dets][None, :]] = np.inf
        rows, cols = match(cost, 1.0 - min_iou)
        return tracks[rows], dets[cols]

    def update(self, detections: Detections, timestamp: float) -> Detections:
        first = self._last_timestamp is None
        steps = self._advance(float(timestamp))
        n_tracks = len(self._ids)
        if n_tracks:
            self._mean[~self._tracked, 7] = 0.0  # a lost box keeps its size
            self._mean, self._cov = kalman.predict(self._mean, self._cov, steps)
        pred = kalman.boxes(self._mean)
        boxes = detections.boxes.astype(np.float64)
        scores, cls = detections.scores, detections.class_ids
        n = len(scores)
        high = scores >= self.high_threshold
        high_idx = np.flatnonzero(high)
        track_det = np.full(n_tracks, -1, np.int64)
        taken = np.zeros(n, bool)

        pool = np.flatnonzero(self._confirmed)
        t, d = self._match(pool, high_idx, pred, boxes, scores, cls, self.match_iou, self.fuse_score)
        track_det[t], taken[d] = d, True
        pool = pool[(track_det[pool] < 0) & self._tracked[pool]]
        low_idx = np.flatnonzero(~high & (scores >= self.low_threshold))
        t, d = self._match(pool, low_idx, pred, boxes, scores, cls, self.low_match_iou, False)
        track_det[t], taken[d] = d, True
        rest = high_idx[~taken[high_idx]]
        t, d = self._match(np.flatnonzero(~self._confirmed), rest, pred, boxes, scores, cls,
                           self.unconfirmed_match_iou, self.fuse_score)
        track_det[t], taken[d] = d, True

        matched = np.flatnonzero(track_det >= 0)
        if len(matched):
            found = track_det[matched]
            self._mean[matched], self._cov[matched] = kalman.update(
                self._mean[matched], self._cov[matched], kalman.xyxy_to_xyah(boxes[found]))
            self._hits[matched] += 1
            self._seen[matched] = self._clock
            if self.class_agnostic:
                self._cls[matched] = cls[found]
        self._hits[track_det < 0] = 0
        self._tracked = track_det >= 0
        ready = self._tracked & ~self._confirmed & (self._hits >= self.min_hits)
        self._confirm(ready)

        keep = self._tracked | (self._confirmed & (self._clock - self._seen <= self.lost_seconds + 1e-9))
        if not keep.all():
            self._drop(keep)
            track_det = track_det[keep]

        born = high_idx[~taken[high_idx]]
        born = born[scores[born] >= self.new_track_threshold]
        if len(born):
            self._birth(born, boxes, cls, confirmed=first or self.min_hits <= 1)

        det_ids = np.full(n, NO_TRACK, np.int64)
        on = (track_det >= 0) & self._confirmed[: len(track_det)]
        det_ids[track_det[on]] = self._ids[: len(track_det)][on]
        if len(born):
            new_ids = self._ids[len(track_det):]
            det_ids[born] = np.where(new_ids > 0, new_ids, NO_TRACK)
        if self.keep_untracked:
            return detections.with_track_ids(det_ids)
        out = detections[det_ids != NO_TRACK]
        return out.with_track_ids(det_ids[det_ids != NO_TRACK])

    def _confirm(self, which: np.ndarray) -> None:
        count = int(which.sum())
        if count:
            self._ids[which] = np.arange(self._next_id, self._next_id + count)
            self._next_id += count
            self._confirmed |= which

    def _drop(self, keep: np.ndarray) -> None:
        self._mean, self._cov = self._mean[keep], self._cov[keep]
        self._ids, self._cls, self._hits = self._ids[keep], self._cls[keep], self._hits[keep]
        self._seen, self._tracked, self._confirmed = self._seen[keep], self._tracked[keep], self._confirmed[keep]

    def _birth(self, dets: np.ndarray, boxes: np.ndarray, cls: np.ndarray, confirmed: bool) -> None:
        k = len(dets)
        mean, cov = kalman.initiate(kalman.xyxy_to_xyah(boxes[dets]))
        self._mean = np.concatenate([self._mean, mean])
        self._cov = np.concatenate([self._cov, cov])
        self._ids = np.concatenate([self._ids, np.zeros(k, np.int64)])
        self._cls = np.concatenate([self._cls, cls[dets].astype(np.int64)])
        self._hits = np.concatenate([self._hits, np.ones(k, np.int64)])
        self._seen = np.concatenate([self._seen, np.full(k, self._clock)])
        self._tracked = np.concatenate([self._tracked, np.ones(k, bool)])
        self._confirmed = np.concatenate([self._confirmed, np.zeros(k, bool)])
        if confirmed:
            which = np.zeros(len(self._ids), bool)
            which[-k:] = True
            self._confirm(which)


class Sort(ByteTrack):
    """SORT (Bewley et al., 2016) as ByteTrack's one-stage case: detections scoring at
    least score_threshold (the Detector's default conf) are matched in one stage by IoU
    (above 0.3), none is held back as low-score, any may start a track, confirmed on its
    third consecutive match (Roboflow trackers' SORT defaults); lower-scoring ones are
    left out, as SORT never sees them."""

    name = "sort"

    def __init__(
        self,
        *,
        score_threshold: float = 0.3,
        match_iou: float = 0.3,
        track_buffer: int = 30,
        min_hits: int = 3,
        frame_rate: float = 30.0,
        class_agnostic: bool = False,
        keep_untracked: bool = False,
    ) -> None:
        super().__init__(high_threshold=score_threshold, low_threshold=np.inf, new_track_threshold=score_threshold,
                         match_iou=match_iou,
                         low_match_iou=match_iou, unconfirmed_match_iou=match_iou, track_buffer=track_buffer,
                         min_hits=min_hits, frame_rate=frame_rate, class_agnostic=class_agnostic,
                         keep_untracked=keep_untracked)
