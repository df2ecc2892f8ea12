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
    near = (high > ys[0]) & (low <= ys[-1])  # only edges that reach these rows
    x1, y1, x2, y2, low, high = x1[near], y1[near], x2[near], y2[near], low[near], high[near]
    if not x1.size:
        return mask
    crosses = (ys[:, None] >= low[None, :]) & (ys[:, None] < high[None, :])
    with np.errstate(divide="ignore", invalid="ignore"):
        xs = x1[None, :] + (ys[:, None] - y1[None, :]) * ((x2 - x1) / (y2 - y1))[None, :]
    xs = np.sort(np.where(crosses, xs, np.inf), axis=1)
    diff = np.zeros((height, width + 1), dtype=np.int32)
    rows = np.arange(height)
    most = int(crosses.sum(axis=1).max())  # intersections per row: 2 for a convex shape
    for k in range(0, most - 1, 2):
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


def outlines(mask: np.ndarray, window: tuple[int, int, int, int]):
    """One outer outline per 4-connected region of the mask: (points in image pixels, pixel area, where).

    `where` is (slices, piece): the region is `mask[slices][piece]`. The outline follows pixel
    edges, so rasterising it gives back the region without its holes (COCO and YOLO polygons have
    none).
    """
    top, left = window[0], window[1]
    regions, _ = ndimage.label(mask)
    found = []
    for index, slices in enumerate(ndimage.find_objects(regions), start=1):
        piece = regions[slices] == index
        ring = outer_ring(np.pad(piece, 1))
        if ring is None:
            continue
        dy, dx = slices[0].start - 1 + top, slices[1].start - 1 + left
        found.append(([[float(x + dx), float(y + dy)] for x, y in ring], int(piece.sum()), (slices, piece)))
    return found


def _boundary_edges(inside: np.ndarray) -> dict[tuple[int, int], list[tuple[int, int]]]:
    """Directed pixel edges between inside and outside, the inside on the right (x right, y down)."""
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    sides = (
        (inside & ~np.roll(inside, 1, axis=0), lambda r, c: ((c, r), (c + 1, r))),              # top, going right
        (inside & ~np.roll(inside, -1, axis=1), lambda r, c: ((c + 1, r), (c + 1, r + 1))),     # right, going down
        (inside & ~np.roll(inside, -1, axis=0), lambda r, c: ((c + 1, r + 1), (c, r + 1))),     # bottom, going left
        (inside & ~np.roll(inside, 1, axis=1), lambda r, c: ((c, r + 1), (c, r))),              # left, going up
    )
    for side, edge in sides:
        rows, cols = np.nonzero(side)
        for r, c in zip(rows.tolist(), cols.tolist()):
            a, b = edge(r, c)
            edges.setdefault(a, []).append(b)
    return edges


def _next(point, came_from, choices):
    """At a vertex where two regions' corners touch, turn right: each loop then stays simple."""
    if len(choices) == 1:
        return choices.pop()
    dx, dy = point[0] - came_from[0], point[1] - came_from[1]
    for turn in ((-dy, dx), (dx, dy), (dy, -dx)):  # right, straight, left (y grows downwards)
        target = (point[0] + turn[0], point[1] + turn[1])
        if target in choices:
            choices.remove(target)
            return target
    return choices.pop()


def outer_ring(mask: np.ndarray) -> list[tuple[int, int]] | None:
    """The outline of a padded one-region mask: the boundary loop of largest positive area, collinear points dropped.

    Outer boundaries run with the inside on the right, which gives them positive shoelace area in
    these coordinates; the loops around holes run the other way and are never chosen.
    """
    edges = _boundary_edges(mask)
    best, best_area = None, 0.0
    while edges:
        start = next(iter(edges))
        loop, previous, point = [start], None, start
        while True:
            choices = edges[point]
            following = choices.pop() if previous is None else _next(point, previous, choices)
            if not choices:
                del edges[point]
            if following == start:
                break
            loop.append(following)
            previous, point = point, following
        xy = np.array(loop, dtype=float)
        signed = float(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1))) / 2
        if signed > best_area:
            best, best_area = loop, signed
    if best is None:
        return None
    keep = [p for k, p in enumerate(best)
            if (best[k - 1][0] - p[0]) * (best[(k + 1) % len(best)][1] - p[1])
            != (best[k - 1][1] - p[1]) * (best[(k + 1) % len(best)][0] - p[0])]
    return _unpinched(keep) if len(keep) >= 3 else None


PINCH_NUDGE = 0.01


def _unpinched(ring: list[tuple[int, int]]) -> list[tuple[float, float]]:
    """Where the outline passes one corner twice (two pixels touching diagonally), move each pass a
    hundredth of a pixel into its own pixel: the polygon becomes simple and covers the same pixel centres."""
    seen: dict[tuple[int, int], int] = {}
    for p in ring:
        seen[p] = seen.get(p, 0) + 1
    out = []
    for k, p in enumerate(ring):
        if seen[p] == 1:
            out.append(p)
            continue
        before, after = ring[k - 1], ring[(k + 1) % len(ring)]
        d_in = (p[0] - before[0], p[1] - before[1])
        d_out = (after[0] - p[0], after[1] - p[1])
        # the inside is on the right of travel: right of (dx, dy) is (-dy, dx) with y growing downwards
        inward = (-np.sign(d_in[1]) - np.sign(d_out[1]), np.sign(d_in[0]) + np.sign(d_out[0]))
        out.append((p[0] + PINCH_NUDGE * inward[0], p[1] + PINCH_NUDGE * inward[1]))
    return out
