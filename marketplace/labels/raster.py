"""Polygons and pixel masks: simple-polygon checks, scanline rasterisation, outlines of a mask.

A pixel (row i, column j) belongs to a polygon when its centre (j + 0.5, i + 0.5) is inside (even-odd
rule), the convention COCO's tools follow closely enough for voting and IoU. Masks are computed on a
window (top, left, height, width) of the image so memory follows the objects, not the image.
"""
from __future__ import annotations

import numpy as np
from scipy import ndimage


def area(points: np.ndarray) -> float:
    """Unsigned area (shoelace)."""
    x, y = points[:, 0], points[:, 1]
    return abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))) / 2.0


def _cross(o, a, b):
    return (a[..., 0] - o[..., 0]) * (b[..., 1] - o[..., 1]) - (a[..., 1] - o[..., 1]) * (b[..., 0] - o[..., 0])


def self_intersection(points: np.ndarray) -> tuple[int, int] | None:
    """The first pair of non-adjacent edges that touch or cross, or None for a simple polygon."""
    n = len(points)
    start, end = points, np.roll(points, -1, axis=0)
    i, j = np.triu_indices(n, k=2)
    keep = ~((i == 0) & (j == n - 1))  # the first and last edges share a vertex
    i, j = i[keep], j[keep]
    p, q, r, s = start[i], end[i], start[j], end[j]
    d1, d2, d3, d4 = _cross(r, s, p), _cross(r, s, q), _cross(p, q, r), _cross(p, q, s)
    crossing = (d1 * d2 < 0) & (d3 * d4 < 0)

    def on_segment(a, b, c, d):  # c collinear with a-b and within its box
        return (d == 0) & (np.minimum(a[:, 0], b[:, 0]) <= c[:, 0]) & (c[:, 0] <= np.maximum(a[:, 0], b[:, 0])) \
            & (np.minimum(a[:, 1], b[:, 1]) <= c[:, 1]) & (c[:, 1] <= np.maximum(a[:, 1], b[:, 1]))

    touching = on_segment(r, s, p, d1) | on_segment(r, s, q, d2) | on_segment(p, q, r, d3) | on_segment(p, q, s, d4)
    bad = np.flatnonzero(crossing | touching)
    return (int(i[bad[0]]), int(j[bad[0]])) if bad.size else None


def rasterise(points: np.ndarray, window: tuple[int, int, int, int]) -> np.ndarray:
    """Boolean mask (window height x width) of the pixels whose centres lie inside the polygon."""
    top, left, height, width = window
    mask = np.zeros((height, width), dtype=bool)
    if height <= 0 or width <= 0:
        return mask
    ys = top + np.arange(height) + 0.5
    x1, y1 = points[:, 0], points[:, 1]
    x2, y2 = np.roll(x1, -1), np.roll(y1, -1)
    low, high = np.minimum(y1, y2), np.maximum(y1, y2)
    crosses = (ys[:, None] >= low[None, :]) & (ys[:, None] < high[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x1[None, :] + (ys[:, None] - y1[None, :]) * ((x2 - x1) / (y2 - y1))[None, :]
    xs = np.sort(np.where(crosses, xs, np.inf), axis=1)
    diff = np.zeros((height, width + 1), dtype=np.int32)
    rows = np.arange(height)
    for k in range(0, xs.shape[1] - 1, 2):
        a, b = xs[:, k], xs[:, k + 1]
        live = np.isfinite(a) & np.isfinite(b)
        start = np.clip(np.ceil(a[live] - 0.5 - left), 0, width).astype(np.int64)
        stop = np.clip(np.ceil(b[live] - 0.5 - left), 0, width).astype(np.int64)
        np.add.at(diff, (rows[live], start), 1)
        np.add.at(diff, (rows[live], stop), -1)
    mask[:] = np.cumsum(diff[:, :width], axis=1) > 0
    return mask


def window_of(polygons: list[np.ndarray], height: int, width: int) -> tuple[int, int, int, int]:
    """The smallest pixel window holding every polygon (clipped to the image)."""
    if not polygons:
        return 0, 0, 0, 0
    stacked = np.concatenate(polygons)
    left, top = (max(0, int(np.floor(v))) for v in stacked.min(axis=0))
    right, bottom = min(width, int(np.ceil(stacked[:, 0].max()))), min(height, int(np.ceil(stacked[:, 1].max())))
    return top, left, max(0, bottom - top), max(0, right - left)


def outlines(mask: np.ndarray, window: tuple[int, int, int, int]) -> list[tuple[list[list[float]], int]]:
    """One outer outline per 4-connected region of the mask, as (points in image pixels, pixel area).

    The outline follows pixel edges, so rasterising it gives back the region (holes are not kept:
    COCO and YOLO polygons have none).
    """
    top, left = window[0], window[1]
    regions, count = ndimage.label(mask)
    found = []
    for index, region in enumerate(ndimage.find_objects(regions), start=1):
        piece = regions[region] == index
        ring = _outer_ring(np.pad(piece, 1))
        if ring is None:
            continue
        dy, dx = region[0].start - 1 + top, region[1].start - 1 + left
        found.append(([[float(x + dx), float(y + dy)] for x, y in ring], int(piece.sum())))
    return found


def _outer_ring(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """The longest closed loop of directed boundary edges (clockwise on screen), collinear points dropped."""
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    inside = mask
    up = inside & ~np.roll(inside, 1, axis=0)
    down = inside & ~np.roll(inside, -1, axis=0)
    leftside = inside & ~np.roll(inside, 1, axis=1)
    rightside = inside & ~np.roll(inside, -1, axis=1)
    for (rows, cols), step in (
        (np.nonzero(up), lambda r, c: ((c, r), (c + 1, r))),
        (np.nonzero(rightside), lambda r, c: ((c + 1, r), (c + 1, r + 1))),
        (np.nonzero(down), lambda r, c: ((c + 1, r + 1), (c, r + 1))),
        (np.nonzero(leftside), lambda r, c: ((c, r + 1), (c, r))),
    ):
        for r, c in zip(rows.tolist(), cols.tolist()):
            a, b = step(r, c)
            edges.setdefault(a, []).append(b)
    best: list[tuple[int, int]] = []
    while edges:
        start = next(iter(edges))
        loop, point = [start], start
        while True:
            following = edges[point]
            nxt = following.pop()
            if not following:
                del edges[point]
            if nxt == start:
                break
            loop.append(nxt)
            point = nxt
            if point not in edges:  # a pinch point sent us around another loop first: stop here
                break
        if len(loop) > len(best):
            best = loop
    if len(best) < 4:
        return None
    keep = [p for k, p in enumerate(best)
            if (best[k - 1][0] - p[0]) * (best[(k + 1) % len(best)][1] - p[1])
            != (best[k - 1][1] - p[1]) * (best[(k + 1) % len(best)][0] - p[0])]
    return keep if len(keep) >= 3 else None
