"""Linear assignment without SciPy: a minimum-cost matching of rows to columns.

`match(cost, limit)` is what the tracker needs each frame (lapjv's `cost_limit`): pairs
cheaper than `limit` only, and the matching of least total cost where leaving a row or a
column unmatched costs limit / 2 each, i.e. the matching that maximises the sum of
(limit - cost) over its pairs. A frame's cost matrix is sparse (each detection overlaps
one or two predicted boxes), so the pairs that are each other's only candidate are taken
at once (exactly what the optimum does with them) and the rest, usually nothing or a few
objects crossing one another, goes to `hungarian`, the O(n^3) shortest augmenting path
method with potentials (Kuhn-Munkres as in Jonker-Volgenant's formulation) whose inner
loop over columns runs in numpy. `hungarian` also serves the metrics, on larger matrices.
"""

from __future__ import annotations

import numpy as np

_EMPTY = np.zeros(0, np.int64)
SMALL = 32  # up to this many columns the pure-Python loop beats numpy's per-call overhead


def hungarian(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A complete assignment of least total cost: (rows, cols), one pair for each row of a
    matrix with no more rows than columns, or for each column of one with fewer columns
    (the transpose is solved). Costs must be finite."""
    cost = np.asarray(cost, np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be 2-D, not {cost.shape}")
    n, m = cost.shape
    if n == 0 or m == 0:
        return _EMPTY, _EMPTY
    if n > m:
        cols, rows = hungarian(cost.T)
        order = np.argsort(rows, kind="stable")
        return rows[order], cols[order]
    if n == 1:
        j = int(cost[0].argmin())
        return np.zeros(1, np.int64), np.array([j], np.int64)
    if m <= SMALL:
        return _hungarian_lists(cost.tolist(), n, m)
    u = np.zeros(n + 1)
    v = np.zeros(m + 1)
    owner = np.zeros(m + 1, np.int64)  # owner[j]: the row (1-based) holding column j; 0: free
    way = np.zeros(m + 1, np.int64)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = np.full(m + 1, np.inf)
        used = np.zeros(m + 1, bool)
        while True:
            used[j0] = True
            i0 = owner[j0]
            free = ~used
            free[0] = False
            cur = cost[i0 - 1] - u[i0] - v[1:]
            better = free[1:] & (cur < minv[1:])
            minv[1:][better] = cur[better]
            way[1:][better] = j0
            candidates = np.where(free, minv, np.inf)
            j1 = int(candidates.argmin())
            delta = candidates[j1]
            u[owner[used]] += delta
            v[used] -= delta
            minv[free] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:  # flip the augmenting path
            j1 = int(way[j0])
            owner[j0] = owner[j1]
            j0 = j1
    cols = np.flatnonzero(owner[1:]).astype(np.int64)
    rows = owner[1:][cols] - 1
    order = np.argsort(rows, kind="stable")
    return rows[order].astype(np.int64), cols[order]


def _hungarian_lists(cost: list[list[float]], n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    """The same algorithm on Python lists: far less overhead than numpy for a few columns."""
    inf = float("inf")
    u = [0.0] * (n + 1)
    v = [0.0] * (m + 1)
    owner = [0] * (m + 1)
    way = [0] * (m + 1)
    for i in range(1, n + 1):
        owner[0] = i
        j0 = 0
        minv = [inf] * (m + 1)
        used = [False] * (m + 1)
        while True:
            used[j0] = True
            i0 = owner[j0]
            row = cost[i0 - 1]
            delta = inf
            j1 = 0
            for j in range(1, m + 1):
                if not used[j]:
                    cur = row[j - 1] - u[i0] - v[j]
                    if cur < minv[j]:
                        minv[j] = cur
                        way[j] = j0
                    if minv[j] < delta:
                        delta = minv[j]
                        j1 = j
            for j in range(m + 1):
                if used[j]:
                    u[owner[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if owner[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            owner[j0] = owner[j1]
            j0 = j1
    pairs = sorted((owner[j] - 1, j - 1) for j in range(1, m + 1) if owner[j])
    return np.array([p[0] for p in pairs], np.int64), np.array([p[1] for p in pairs], np.int64)


def match(cost: np.ndarray, limit: float) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the least-cost matching using only pairs cheaper than `limit`
    (as lapjv with extend_cost and cost_limit=limit); sorted by row."""
    n, m = cost.shape
    if n == 0 or m == 0:
        return _EMPTY, _EMPTY
    ok = cost < limit
    row_deg = ok.sum(1)
    col_deg = ok.sum(0)
    single = np.flatnonzero(row_deg == 1)
    partner = ok[single].argmax(1)
    alone = col_deg[partner] == 1
    rows, cols = single[alone], partner[alone]
    rest_rows = np.flatnonzero(row_deg > 0)
    if len(rest_rows) == len(rows):
        return rows.astype(np.int64), cols.astype(np.int64)
    taken_rows = np.zeros(n, bool)
    taken_rows[rows] = True
    taken_cols = np.zeros(m, bool)
    taken_cols[cols] = True
    rest_rows = rest_rows[~taken_rows[rest_rows]]
    rest_cols = np.flatnonzero((col_deg > 0) & ~taken_cols)
    gain = np.minimum(cost[np.ix_(rest_rows, rest_cols)] - limit, 0.0)  # < 0 where a pair is allowed
    r, c = hungarian(gain)
    keep = gain[r, c] < 0
    all_rows = np.concatenate([rows, rest_rows[r[keep]]]).astype(np.int64)
    all_cols = np.concatenate([cols, rest_cols[c[keep]]]).astype(np.int64)
    order = np.argsort(all_rows, kind="stable")
    return all_rows[order], all_cols[order]
