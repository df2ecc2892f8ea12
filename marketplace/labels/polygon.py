"""Segmentation polygons: `{"type": "polygon", "classes": [...]}` on an image of known size.

Task data: `{"image": <url or path>, "width": W, "height": H}`. Answer:
`{"polygons": [{"points": [[x, y], ...], "label": <class>}, ...]}`, simple polygons inside the
image. Aggregation is a pixel vote at the image's resolution: per class, a pixel is in the result
when annotators holding at least `min_support` of the task's trust weight covered it; each
connected region of the vote becomes one polygon.
"""
import numpy as np

from marketplace.labels import exports, raster
from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        class_name, count_bounds, counted, gold_threshold, item_fields, number, option,
                                        per_task, weighted_agreement)
from marketplace.labels.bbox import image_size
from marketplace.labels.errors import LabelError

NAME = "polygon"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
MAX_POLYGONS = 200
MAX_POINTS = 1000
METHOD = "pixel_vote"
EXPORTS = {"coco": exports.coco, "yolo": exports.yolo}


def validate_schema(schema: dict) -> dict:
    """Classes; optional min_polygons / max_polygons, max_points (per polygon), min_support (default 0.5)."""
    check_fields(schema, {"classes", "min_polygons", "max_polygons", "max_points", "min_support"})
    return {
        "type": NAME, "classes": check_classes(schema, minimum=1), **count_bounds(schema, "polygons", MAX_POLYGONS),
        "max_points": int(option(schema, "max_points", MAX_POINTS, minimum=3, maximum=MAX_POINTS, integer=True)),
        "min_support": option(schema, "min_support", 0.5, above=0.0, maximum=1.0),
        **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD),
    }


def validate_task_data(schema: dict, data) -> None:
    """The image's width and height in pixels."""
    image_size(data)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Simple polygons (3+ distinct points, no edge crossing another, positive area) inside the image."""
    polygons = answer_object(answer, "polygons", '{"polygons": [{"points": [[x, y], ...], "label"}, ...]}')
    counted(polygons, schema, "polygons", MAX_POLYGONS)
    width, height = image_size(data)
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


def _masks(schema: dict, answers: list[dict], window) -> np.ndarray:
    """Per answer and class, the union of its polygons as a mask over the window."""
    top, left, height, width = window
    masks = np.zeros((len(answers), len(schema["classes"]), height, width), dtype=bool)
    index = {name: k for k, name in enumerate(schema["classes"])}
    for a, answer in enumerate(answers):
        for polygon in answer["polygons"]:
            masks[a, index[polygon["label"]]] |= raster.rasterise(np.array(polygon["points"], dtype=float), window)
    return masks


def _window(answers: list[dict], data) -> tuple:
    width, height = image_size(data)
    shapes = [np.array(p["points"], dtype=float) for answer in answers for p in answer["polygons"]]
    return raster.window_of(shapes, int(np.ceil(height)), int(np.ceil(width)))


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Pixel IoU, class by class, pooled: covered-by-both over covered-by-either (1 when both are empty)."""
    window = _window([a, b], data)
    masks = _masks(schema, [a, b], window)
    union = np.logical_or(masks[0], masks[1]).sum()
    if union == 0:
        return 1.0
    return round(float(np.logical_and(masks[0], masks[1]).sum() / union), 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """A trust-weighted pixel vote per class; each connected region of the winning pixels is a polygon."""
    answers = [vote.answer for vote in task.votes]
    weights = np.array([vote.weight for vote in task.votes], dtype=np.float64)
    window = _window(answers, task.data)
    polygons = []
    if weights.sum() > 0 and window[2] and window[3]:
        support = np.tensordot(weights / weights.sum(), _masks(schema, answers, window), axes=1)
        for k, name in enumerate(schema["classes"]):
            chosen = support[k] >= schema.get("min_support", 0.5) - 1e-9
            for points, pixels in raster.outlines(chosen & (support[k] > 0), window):
                score = float(support[k][_inside(points, window)].mean()) if pixels else 0.0
                polygons.append({"points": points, "label": name, "area": pixels, "score": round(score, 6)})
    label = {"polygons": polygons}
    return Aggregate(label, weighted_agreement(task.votes, label, lambda a, b: agreement(schema, a, b, task.data)), METHOD)


def _inside(points: list, window) -> np.ndarray:
    return raster.rasterise(np.array(points, dtype=float), window)


aggregate = per_task(_aggregate_one)
