"""Multi-object tracking metrics: CLEAR MOT (MOTA, MOTP, ID switches), identity (IDF1)
and HOTA, for one sequence and pooled over several, in numpy.

They follow TrackEval's definitions (the MOTChallenge 2D box evaluation) step by step:
IoU of boxes as similarity; CLEAR matches at IoU >= 0.5 per frame by an optimal
assignment that first keeps the previous frame's pairs; IDF1 finds the one-to-one map of
ground truth ids to track ids that maximises the frames they agree on (IoU >= 0.5);
HOTA matches per frame by IoU weighted with the pair's whole-sequence alignment, at 19
IoU thresholds (0.05 to 0.95), and averages sqrt(DetA * AssA) over them. Pooling sums the
counts of all sequences (association and localisation figures weighted by their true
positives), as TrackEval's combined sequence does. Ground truth has no preprocessing
(no distractor classes or ignore regions: generated ground truth has none).

Input: per frame, ground truth ids and xyxy boxes, and track ids and xyxy boxes (`Frame`).
`tools/eval_tracking.py` cross-checked these figures against TrackEval 1.3.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from trt_viewer.track.assignment import hungarian
from trt_viewer.track.base import iou_matrix

ALPHAS = np.arange(0.05, 0.99, 0.05)  # HOTA's IoU thresholds, as TrackEval computes them
EPS = np.finfo(float).eps


@dataclass(frozen=True)
class Frame:
    """One frame: ground truth and tracker output (ids unique within each)."""

    gt_ids: np.ndarray  # [G] int
    gt_boxes: np.ndarray  # [G, 4] xyxy
    track_ids: np.ndarray  # [T] int
    track_boxes: np.ndarray  # [T, 4] xyxy


@dataclass
class Counts:
    """The additive counts of one or more sequences, from which every figure follows."""

    frames: int = 0
    # CLEAR
    tp: int = 0
    fn: int = 0
    fp: int = 0
    idsw: int = 0
    motp_sum: float = 0.0
    mt: int = 0
    pt: int = 0
    ml: int = 0
    frag: int = 0
    gt_tracks: int = 0
    tracks: int = 0
    # identity
    idtp: int = 0
    idfn: int = 0
    idfp: int = 0
    # HOTA, one value per alpha; ass_* and loc are sums weighted by hota_tp
    hota_tp: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    hota_fn: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    hota_fp: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_a: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_re: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    ass_pr: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))
    loc: np.ndarray = field(default_factory=lambda: np.zeros(len(ALPHAS)))

    def __add__(self, other: Counts) -> Counts:
        out = Counts()
        for name in self.__dataclass_fields__:
            setattr(out, name, getattr(self, name) + getattr(other, name))
        return out

    def summary(self) -> dict[str, float]:
        """The figures, named as TrackEval names them."""
        tp = self.hota_tp
        det_a = tp / np.maximum(1, tp + self.hota_fn + self.hota_fp)
        ass_a = self.ass_a / np.maximum(1e-10, tp)
        hota = np.sqrt(det_a * ass_a)
        loc_a = np.maximum(1e-10, self.loc) / np.maximum(1e-10, tp)
        return {
            "HOTA": float(hota.mean()),
            "DetA": float(det_a.mean()),
            "AssA": float(ass_a.mean()),
            "DetRe": float((tp / np.maximum(1, tp + self.hota_fn)).mean()),
            "DetPr": float((tp / np.maximum(1, tp + self.hota_fp)).mean()),
            "AssRe": float((self.ass_re / np.maximum(1e-10, tp)).mean()),
            "AssPr": float((self.ass_pr / np.maximum(1e-10, tp)).mean()),
            "LocA": float(loc_a.mean()),
            "HOTA(0)": float(hota[0]),
            "MOTA": (self.tp - self.fp - self.idsw) / max(1, self.tp + self.fn),
            "MOTP": self.motp_sum / max(1, self.tp),
            "CLR_TP": self.tp,
            "CLR_FN": self.fn,
            "CLR_FP": self.fp,
            "IDSW": self.idsw,
            "MT": self.mt,
            "PT": self.pt,
            "ML": self.ml,
            "Frag": self.frag,
            "IDF1": self.idtp / max(1, self.idtp + 0.5 * self.idfp + 0.5 * self.idfn),
            "IDR": self.idtp / max(1, self.idtp + self.idfn),
            "IDP": self.idtp / max(1, self.idtp + self.idfp),
            "IDTP": self.idtp,
            "IDFN": self.idfn,
            "IDFP": self.idfp,
            "GT_IDs": self.gt_tracks,
            "IDs": self.tracks,
            "Frames": self.frames,
        }


def pooled(counts: Iterable[Counts]) -> Counts:
    total = Counts()
    for c in counts:
        total = total + c
    return total


def _dense(ids: Sequence[np.ndarray]) -> tuple[list[np.ndarray], int]:
    """Ids renumbered 0..n-1 over the whole sequence."""
    every = np.unique(np.concatenate([np.asarray(i, np.int64) for i in ids] or [np.zeros(0, np.int64)]))
    return [np.searchsorted(every, np.asarray(i, np.int64)) for i in ids], len(every)


def evaluate(frames: Sequence[Frame]) -> Counts:
    """The counts of one sequence."""
    gt_ids, n_gt = _dense([f.gt_ids for f in frames])
    tr_ids, n_tr = _dense([f.track_ids for f in frames])
    sims = [iou_matrix(np.asarray(f.gt_boxes, np.float64).reshape(-1, 4),
                       np.asarray(f.track_boxes, np.float64).reshape(-1, 4)) for f in frames]
    for g, t in zip(gt_ids, tr_ids):
        if len(np.unique(g)) != len(g) or len(np.unique(t)) != len(t):
            raise ValueError("an id appears twice in one frame")
    counts = Counts(frames=len(frames), gt_tracks=n_gt, tracks=n_tr)
    _clear(counts, gt_ids, tr_ids, sims, n_gt, n_tr)
    _identity(counts, gt_ids, tr_ids, sims, n_gt, n_tr)
    _hota(counts, gt_ids, tr_ids, sims, n_gt, n_tr)
    return counts


def _clear(c: Counts, gt_ids: list[np.ndarray], tr_ids: list[np.ndarray], sims: list[np.ndarray],
           n_gt: int, n_tr: int, threshold: float = 0.5) -> None:
    gt_count = np.zeros(n_gt)
    gt_matched = np.zeros(n_gt)
    gt_frag = np.zeros(n_gt)
    prev_tracker = np.full(n_gt, np.nan)  # the last track each object was matched to
    prev_step = np.full(n_gt, np.nan)  # the track it was matched to in the previous frame
    for g, t, sim in zip(gt_ids, tr_ids, sims):
        if len(g) == 0:  # as in TrackEval, an empty frame does not break continuity
            c.fp += len(t)
            continue
        if len(t) == 0:
            c.fn += len(g)
            gt_count[g] += 1
            continue
        score = 1000.0 * (t[None, :] == prev_step[g][:, None]) + sim
        score[sim < threshold - EPS] = 0
        rows, cols = hungarian(-score)
        ok = score[rows, cols] > EPS
        rows, cols = rows[ok], cols[ok]
        mg, mt = g[rows], t[cols]
        prev = prev_tracker[mg]
        c.idsw += int(np.sum(~np.isnan(prev) & (mt != prev)))
        gt_count[g] += 1
        gt_matched[mg] += 1
        not_before = np.isnan(prev_step)
        prev_tracker[mg] = mt
        prev_step[:] = np.nan
        prev_step[mg] = mt
        gt_frag += not_before & ~np.isnan(prev_step)
        c.tp += len(mg)
        c.fn += len(g) - len(mg)
        c.fp += len(t) - len(mg)
        c.motp_sum += float(sim[rows, cols].sum())
    seen = gt_count > 0
    ratio = gt_matched[seen] / gt_count[seen]
    c.mt += int(np.sum(ratio > 0.8))
    c.pt += int(np.sum((ratio >= 0.2) & (ratio <= 0.8)))
    c.ml += n_gt - int(np.sum(ratio > 0.8)) - int(np.sum((ratio >= 0.2) & (ratio <= 0.8)))
    c.frag += int(np.sum(gt_frag[gt_frag > 0] - 1))


def _identity(c: Counts, gt_ids: list[np.ndarray], tr_ids: list[np.ndarray], sims: list[np.ndarray],
              n_gt: int, n_tr: int, threshold: float = 0.5) -> None:
    potential = np.zeros((n_gt, n_tr))
    gt_count = np.zeros(n_gt)
    tr_count = np.zeros(n_tr)
    for g, t, sim in zip(gt_ids, tr_ids, sims):
        r, k = np.nonzero(sim >= threshold)
        np.add.at(potential, (g[r], t[k]), 1)
        gt_count[g] += 1
        tr_count[t] += 1
    if n_gt == 0 or n_tr == 0:
        c.idfn += int(gt_count.sum())
        c.idfp += int(tr_count.sum())
        return
    size = n_gt + n_tr
    fp = np.zeros((size, size))
    fn = np.zeros((size, size))
    fp[n_gt:, :n_tr] = 1e10
    fn[:n_gt, n_tr:] = 1e10
    fn[:n_gt, :n_tr] = gt_count[:, None]
    fn[np.arange(n_gt), n_tr + np.arange(n_gt)] = gt_count
    fp[:n_gt, :n_tr] = tr_count[None, :]
    fp[n_gt + np.arange(n_tr), np.arange(n_tr)] = tr_count
    fn[:n_gt, :n_tr] -= potential
    fp[:n_gt, :n_tr] -= potential
    rows, cols = hungarian(fn + fp)
    idfn = round(float(fn[rows, cols].sum()))
    c.idfn += idfn
    c.idfp += round(float(fp[rows, cols].sum()))
    c.idtp += round(float(gt_count.sum())) - idfn


def _hota(c: Counts, gt_ids: list[np.ndarray], tr_ids: list[np.ndarray], sims: list[np.ndarray],
          n_gt: int, n_tr: int) -> None:
    potential = np.zeros((n_gt, n_tr))
    gt_count = np.zeros((n_gt, 1))
    tr_count = np.zeros((1, n_tr))
    for g, t, sim in zip(gt_ids, tr_ids, sims):
        denom = sim.sum(0)[None, :] + sim.sum(1)[:, None] - sim
        sim_iou = np.zeros_like(sim)
        ok = denom > EPS
        sim_iou[ok] = sim[ok] / denom[ok]
        potential[g[:, None], t[None, :]] += sim_iou
        gt_count[g] += 1
        tr_count[0, t] += 1
    alignment = potential / np.maximum(gt_count + tr_count - potential, EPS)
    matches = np.zeros((len(ALPHAS), n_gt, n_tr))
    tp, fn, fp, loc = (np.zeros(len(ALPHAS)) for _ in range(4))
    for g, t, sim in zip(gt_ids, tr_ids, sims):
        if len(g) == 0 or len(t) == 0:
            fp += len(t)
            fn += len(g)
            continue
        score = alignment[g[:, None], t[None, :]] * sim
        rows, cols = hungarian(-score)
        matched_sim = sim[rows, cols]
        for a, alpha in enumerate(ALPHAS):
            ok = matched_sim >= alpha - EPS
            k = int(ok.sum())
            tp[a] += k
            fn[a] += len(g) - k
            fp[a] += len(t) - k
            if k:
                loc[a] += matched_sim[ok].sum()
                matches[a, g[rows[ok]], t[cols[ok]]] += 1
    c.hota_tp = c.hota_tp + tp
    c.hota_fn = c.hota_fn + fn
    c.hota_fp = c.hota_fp + fp
    c.loc = c.loc + loc
    for a in range(len(ALPHAS)):
        m = matches[a]
        ass_a = m / np.maximum(1, gt_count + tr_count - m)
        c.ass_a[a] += np.sum(m * ass_a)
        c.ass_re[a] += np.sum(m * (m / np.maximum(1, gt_count)))
        c.ass_pr[a] += np.sum(m * (m / np.maximum(1, tr_count)))
