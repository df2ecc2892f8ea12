"""Object detection boxes: `{"type": "bbox", "classes": [...]}` on an image of known size.

Task data: `{"image": <url or path>, "width": W, "height": H}` in pixels. Answer:
`{"boxes": [{"x": left, "y": top, "w": width, "h": height, "label": <class>}, ...]}` (COCO's xywh,
origin at the top-left corner). Aggregation clusters boxes across annotators by IoU (one box per
annotator per cluster), averages each cluster weighted by trust, and keeps a cluster when the
annotators behind it hold more than `min_support` of the task's total weight.
"""
import numpy as np
from scipy.optimize import linear_sum_assignment

from marketplace.labels import exports
from marketplace.labels._common import (Aggregate, TaskAnswers, answer_object, check_classes, check_fields,
                                        class_name, count_bounds, counted, data_field, gold_threshold, item_fields,
                                        number, option, min_support, per_task, supported, weighted_agreement)
from marketplace.labels.errors import LabelError

NAME = "bbox"
CATEGORICAL = False
DEFAULT_GOLD_THRESHOLD = 0.5
MAX_BOXES = 1000
METHOD = "iou_cluster"
EXPORTS = {"coco": exports.coco, "yolo": exports.yolo}


def validate_schema(schema: dict) -> dict:
    """Classes; optional min_boxes / max_boxes, iou_threshold (default 0.5), min_support (default 0.5)."""
    check_fields(schema, {"classes", "min_boxes", "max_boxes", "iou_threshold", "min_support"})
    return {
        "type": NAME, "classes": check_classes(schema, minimum=1), **count_bounds(schema, "boxes", MAX_BOXES),
        "iou_threshold": option(schema, "iou_threshold", 0.5, above=0.0, maximum=1.0),
        **min_support(schema),
        **gold_threshold(schema, DEFAULT_GOLD_THRESHOLD),
    }


def validate_task_data(schema: dict, data) -> None:
    """The image's width and height in pixels (boxes are checked against them)."""
    image_size(data)


def image_size(data) -> tuple[float, float]:
    return data_field(data, "width", above=0), data_field(data, "height", above=0)


def validate_answer(schema: dict, answer, data=None) -> dict:
    """Boxes with positive area, inside the image, of the schema's classes, within the count limits."""
    boxes = answer_object(answer, "boxes", '{"boxes": [{"x", "y", "w", "h", "label"}, ...]}')
    counted(boxes, schema, "boxes", MAX_BOXES)
    width, height = image_size(data)
    clean = []
    for i, box in enumerate(boxes):
        path = ("boxes", str(i))
        item_fields(box, {"x", "y", "w", "h", "label"}, set(), *path)
        x = number(box["x"], *path, "x", minimum=0)
        y = number(box["y"], *path, "y", minimum=0)
        w = number(box["w"], *path, "w", above=0)
        h = number(box["h"], *path, "h", above=0)
        if x + w > width + 1e-9:
            raise LabelError(f"the box ends at x={x + w:g}, outside the image (width {width:g})", *path, "w")
        if y + h > height + 1e-9:
            raise LabelError(f"the box ends at y={y + h:g}, outside the image (height {height:g})", *path, "h")
        clean.append({"x": x, "y": y, "w": w, "h": h, "label": class_name(box["label"], schema["classes"], *path, "label")})
    return {"boxes": clean}


def result_label(answer: dict) -> dict:
    return {"boxes": [dict(box) for box in answer["boxes"]]}


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of `a` with every box of `b` (rows x, y, w, h)."""
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return inter / union


def _coords(boxes: list[dict]) -> np.ndarray:
    return np.array([[b["x"], b["y"], b["w"], b["h"]] for b in boxes], dtype=np.float64).reshape(-1, 4)


def _matches(iou: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs (row, column) of the best one-to-one matching with IoU at least the threshold."""
    if not iou.size:
        return []
    rows, cols = linear_sum_assignment(-iou)
    return [(int(r), int(c)) for r, c in zip(rows, cols) if iou[r, c] >= threshold]


def agreement(schema: dict, a: dict, b: dict, data=None) -> float:
    """Soft F1 of a one-to-one IoU matching per class: 2 * sum of matched IoUs / (boxes in a + boxes in b).

    Two answers with no boxes agree fully; matches below the schema's iou_threshold count nothing.
    """
    if not a["boxes"] and not b["boxes"]:
        return 1.0
    matched = 0.0
    for name in schema["classes"]:
        left = _coords([box for box in a["boxes"] if box["label"] == name])
        right = _coords([box for box in b["boxes"] if box["label"] == name])
        iou = iou_matrix(left, right)
        matched += sum(iou[r, c] for r, c in _matches(iou, schema.get("iou_threshold", 0.5)))
    return round(float(2.0 * matched / (len(a["boxes"]) + len(b["boxes"]))), 6)


def _aggregate_one(schema: dict, task: TaskAnswers) -> Aggregate:
    """IoU clustering across annotators, then a trust-weighted average box per supported cluster."""
    total = sum(vote.weight for vote in task.votes)
    threshold = schema.get("iou_threshold", 0.5)
    width, height = image_size(task.data)
    boxes = []
    for name in schema["classes"]:
        clusters: list[dict] = []  # {"members": [(weight, coords)], "centre": coords}
        for vote in sorted(task.votes, key=lambda v: (-v.weight, v.annotator_id)):
            own = _coords([box for box in vote.answer["boxes"] if box["label"] == name])
            if not len(own):
                continue
            centres = _coords([dict(zip("xywh", c["centre"])) for c in clusters])
            taken = set()
            for r, c in _matches(iou_matrix(own, centres), threshold):
                clusters[c]["members"].append((vote.weight, own[r]))
                taken.add(r)
            for r in range(len(own)):
                if r not in taken:
                    clusters.append({"members": [(vote.weight, own[r])]})
            for cluster in clusters:
                weights = np.array([w for w, _ in cluster["members"]])
                cluster["centre"] = (weights[:, None] * np.array([c for _, c in cluster["members"]])).sum(0) / weights.sum()
        for cluster in clusters:
            support = sum(w for w, _ in cluster["members"]) / total if total > 0 else 0.0
            if supported(support, schema):
                x, y, w, h = (round(float(v), 2) for v in cluster["centre"])
                w, h = min(w, round(width - x, 2)), min(h, round(height - y, 2))  # rounding never leaves the image
                boxes.append({"x": x, "y": y, "w": w, "h": h, "label": name, "score": round(support, 6)})
    label = {"boxes": boxes}
    return Aggregate(label, weighted_agreement(task.votes, label, lambda a, b: agreement(schema, a, b)), METHOD)


aggregate = per_task(_aggregate_one)
