"""Segmentation polygons: `{"type": "polygon", "classes": [...]}` on an image of known size.

Task data: `{"image": <url or path>, "width": W, "height": H}`. Answer:
`{"polygons": [{"points": [[x, y], ...], "label": <class>}, ...]}`, simple polygons inside the
image. Aggregation is a pixel vote at the image's resolution: per class, a pixel is in the result
when annotators holding more than `min_support` of the task's trust weight covered it; each
connected region of the vote becomes one polygon.
"""
import numpy as np

from marketplace.labels import exports, raster
from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        class_name, count_bounds, counted, gold_threshold, item_fields, number, option,
                                        min_support, per_task, supported)
from marketplace.labels.bbox import image_size
from marketplace.labels.errors import LabelError

NAME = "polygon"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
MAX_POLYGONS = 200
MAX_POINTS = 500
# Caps that keep validation (simple-polygon checks are quadratic per polygon) and the pixel vote
# bounded inside a request or job: points per answer, pixels per image.
MAX_POINTS_PER_ANSWER = 10_000
MAX_PIXELS = 50_000_000
BAND_ROWS = 512
METHOD = "pixel_vote"
EXPORTS = {"coco": exports.coco, "yolo": exports.yolo}


def validate_schema(schema: dict) -> dict:
    """Classes; optional min_polygons / max_polygons, max_points (per polygon), min_support (default 0.5)."""
    check_fields(schema, {"classes", "min_polygons", "max_polygons", "max_points", "min_support"})
    return {
        "type": NAME, "classes": check_classes(schema, minimum=1), **count_bounds(schema, "polygons", MAX_POLYGONS),
        "max_points": int(option(schema, "max_points", MAX_POINTS, minimum=3, maximum=MAX_POINTS, integer=True)),
        **min_support(schema),
        **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD),
    }


def validate_task_data(schema: dict, data) -> None:
    """The image's width and height in pixels, at most MAX_PIXELS in all (tile larger images)."""
    width, height = image_size(data)
    if width * height > MAX_PIXELS:
        raise LabelError(f"the image may have at most {MAX_PIXELS:,} pixels for polygons (tile it)", "data", "width")


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Simple polygons (3+ distinct points, no edge crossing another, positive area) inside the image."""
    polygons = answer_object(answer, "polygons", '{"polygons": [{"points": [[x, y], ...], "label"}, ...]}')
    counted(polygons, schema, "polygons", MAX_POLYGONS)
    width, height = image_size(data)
    if sum(len(p["points"]) for p in polygons if isinstance(p, dict) and isinstance(p.get("points"), list)) \
            > MAX_POINTS_PER_ANSWER:
        raise LabelError(f"an answer may have at most {MAX_POINTS_PER_ANSWER} points in all", "polygons")
    clean = []
    for i, polygon in enumerate(polygons):
        path = ("polygons", str(i))
        item_fields(polygon, {"points", "label"}, set(), *path)
        points = polygon["points"]
        if not isinstance(points, list) or not 3 <= len(points) <= schema.get("max_points", MAX_POINTS):
            raise LabelError(f"must be a list of 3 to {schema.get('max_points', MAX_POINTS)} [x, y] points", *path, "points")
        xy = []
        for k, point in enumerate(points):
            where = (*path, "points", str(k))
            if not isinstance(point, list) or len(point) != 2:
                raise LabelError("must be a point [x, y]", *where)
            xy.append([number(point[0], *where, minimum=0, maximum=width), number(point[1], *where, minimum=0, maximum=height)])
        array = np.array(xy)
        crossing = raster.self_intersection(array)
        if crossing is not None:
            raise LabelError(f"the polygon is not simple: edge {crossing[0]} touches edge {crossing[1]}", *path, "points")
        if raster.area(array) <= 0:
            raise LabelError("the polygon has no area", *path, "points")
        clean.append({"points": xy, "label": class_name(polygon["label"], schema["classes"], *path, "label")})
    return {"polygons": clean}


def result_label(answer: dict) -> dict:
    return {"polygons": [dict(polygon) for polygon in answer["polygons"]]}


def _class_mask(answer: dict, name: str, window) -> np.ndarray:
    """The union of an answer's polygons of one class, over the window."""
    mask = np.zeros(window[2:], dtype=bool)
    for polygon in answer["polygons"]:
        if polygon["label"] == name:
            mask |= raster.rasterise(np.array(polygon["points"], dtype=float), window)
    return mask


def _bands(window):
    """The window cut into bands of rows, so a large image never needs a full float plane per answer."""
    top, left, height, width = window
    for start in range(0, height, BAND_ROWS):
        yield start, (top + start, left, min(BAND_ROWS, height - start), width)


def _window(answers: list[dict], data) -> tuple:
    width, height = image_size(data)
    shapes = [np.array(p["points"], dtype=float) for answer in answers for p in answer["polygons"]]
    return raster.window_of(shapes, int(np.ceil(height)), int(np.ceil(width)))


def _classes_in(answers: list[dict]) -> list[str]:
    return sorted({polygon["label"] for answer in answers for polygon in answer["polygons"]})


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Pixel IoU, class by class, pooled: covered-by-both over covered-by-either (1 when both are empty)."""
    window = _window([a, b], data)
    both = either = 0
    for name in _classes_in([a, b]):
        for _, band in _bands(window):
            left, right = _class_mask(a, name, band), _class_mask(b, name, band)
            both += int(np.count_nonzero(left & right))
            either += int(np.count_nonzero(left | right))
    return 1.0 if either == 0 else round(both / either, 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """A trust-weighted pixel vote per class; each connected region of the winning pixels is a polygon.

    Support is accumulated band by band and kept as a byte per pixel (for the polygons' scores), so
    memory is about two bytes per pixel of the window the answers span, whatever their number.
    """
    answers = [vote.answer for vote in task.votes]
    weights = np.array([vote.weight for vote in task.votes], dtype=np.float64)
    window = _window(answers, task.data)
    polygons = []
    both, either = np.zeros(len(answers)), np.zeros(len(answers))  # each answer's pixel IoU with the vote
    if weights.sum() > 0 and window[2] and window[3]:
        shares = weights / weights.sum()
        for name in _classes_in(answers):
            chosen = np.zeros(window[2:], dtype=bool)
            level = np.zeros(window[2:], dtype=np.uint8)  # support x 255
            for start, band in _bands(window):
                drawn = [_class_mask(answer, name, band) for answer in answers]
                support = np.zeros(band[2:], dtype=np.float32)
                for share, mask in zip(shares, drawn):
                    support += np.float32(share) * mask
                kept = supported(support, schema)
                chosen[start:start + band[2]] = kept
                level[start:start + band[2]] = np.rint(support * 255).astype(np.uint8)
                for a, mask in enumerate(drawn):
                    both[a] += np.count_nonzero(mask & kept)
                    either[a] += np.count_nonzero(mask | kept)
            for points, pixels, (slices, piece) in raster.outlines(chosen, window):
                score = float(level[slices][piece].mean()) / 255
                polygons.append({"points": points, "label": name, "area": pixels, "score": round(score, 6)})
    # Confidence: the answers' trust-weighted mean pixel IoU with the voted pixels (1 for an answer
    # and a vote both empty), computed in the same pass rather than by rasterising the outlines again.
    iou = np.where(either > 0, both / np.maximum(either, 1), 1.0)
    confidence = float(weights @ iou / weights.sum()) if weights.sum() > 0 else 0.0
    return Aggregate({"polygons": polygons}, round(confidence, 6), METHOD)


aggregate = per_task(_aggregate_one)
