"""Simulated work for every label type: tasks with a known truth, and annotators who get it roughly right.

Used by `make demo DEMO_ARGS=--all-types` and by the end-to-end tests. Each scenario makes a label
schema, a task's data with its true answer, and a noisy annotator's answer: a skill near 1 gives
nearly the truth, a low skill misses objects, shifts boundaries, drops words or mislabels. Task data
carries `ref` (the task's external id) so the simulated crowd can "look" at the truth.
"""
from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Scenario:
    schema: dict
    task: Callable[[random.Random, str], tuple[dict, dict]]  # (rng, ref) -> (data, true answer)
    answer: Callable[[random.Random, dict, dict, float], dict]  # (rng, data, truth, skill) -> answer


def _classification_task(rng, ref):
    return {"ref": ref, "image": f"https://example.test/{ref}.jpg"}, {"label": rng.choice(["cat", "dog", "bird"])}


def _classification_answer(rng, data, truth, skill):
    return truth if rng.random() < skill else {"label": rng.choice([c for c in ("cat", "dog", "bird") if c != truth["label"]])}


_TAGS = ["outdoor", "people", "animal", "vehicle"]


def _multi_task(rng, ref):
    return {"ref": ref, "image": f"https://example.test/{ref}.jpg"}, {"labels": [t for t in _TAGS if rng.random() < 0.4]}


def _multi_answer(rng, data, truth, skill):
    flip = (1 - skill) / 2
    return {"labels": [t for t in _TAGS if (t in truth["labels"]) != (rng.random() < flip)]}


W, H = 640, 480


def _bbox_task(rng, ref):
    boxes = []
    for slot in rng.sample(range(4), rng.randint(1, 3)):  # one object per quadrant: they never overlap
        x0, y0 = (slot % 2) * W / 2, (slot // 2) * H / 2
        w, h = rng.uniform(60, 200), rng.uniform(60, 150)
        boxes.append({"x": round(x0 + rng.uniform(10, W / 2 - w - 10), 1), "y": round(y0 + rng.uniform(10, H / 2 - h - 10), 1),
                      "w": round(w, 1), "h": round(h, 1), "label": rng.choice(["car", "person"])})
    return {"ref": ref, "image": f"images/{ref}.jpg", "width": W, "height": H}, {"boxes": boxes}


def _bbox_answer(rng, data, truth, skill):
    boxes = []
    for box in truth["boxes"]:
        if rng.random() > skill:
            continue  # missed
        x = round(max(0.0, box["x"] + rng.uniform(-0.04, 0.04) * box["w"]), 1)
        y = round(max(0.0, box["y"] + rng.uniform(-0.04, 0.04) * box["h"]), 1)
        boxes.append({"x": x, "y": y, "w": round(min(box["w"], W - x), 1), "h": round(min(box["h"], H - y), 1),
                      "label": box["label"]})
    if rng.random() < (1 - skill) / 2:  # a stray box
        boxes.append({"x": rng.uniform(0, W - 40), "y": rng.uniform(0, H - 40), "w": 30, "h": 30, "label": "car"})
    return {"boxes": boxes}


def _polygon_task(rng, ref):
    polygons = []
    for slot in rng.sample(range(4), rng.randint(1, 2)):
        cx, cy = (slot % 2) * W / 2 + W / 4, (slot // 2) * H / 2 + H / 4
        r = rng.uniform(40, 90)
        polygons.append({"points": [[round(cx + r * dx, 1), round(cy + r * dy, 1)]
                                    for dx, dy in ((1, 0), (0.5, 0.87), (-0.5, 0.87), (-1, 0), (-0.5, -0.87), (0.5, -0.87))],
                         "label": rng.choice(["road", "building"])})
    return {"ref": ref, "image": f"images/{ref}.png", "width": W, "height": H}, {"polygons": polygons}


def _polygon_answer(rng, data, truth, skill):
    return {"polygons": [{"points": [[round(x + rng.uniform(-3, 3), 1), round(y + rng.uniform(-3, 3), 1)] for x, y in p["points"]],
                          "label": p["label"]} for p in truth["polygons"] if rng.random() < skill]}


_NAMES, _CITIES = ["Alice", "Bob", "Chidi", "Dana", "Élodie", "Farid"], ["Paris", "Lagos", "Kyoto", "Lima", "Oslo"]


def _spans_task(rng, ref):
    name, other, city = *rng.sample(_NAMES, 2), rng.choice(_CITIES)
    text = f"{name} met {other} in {city} on Monday."
    spans = [{"start": text.index(name), "end": text.index(name) + len(name), "label": "PER"},
             {"start": text.index(other), "end": text.index(other) + len(other), "label": "PER"},
             {"start": text.index(city), "end": text.index(city) + len(city), "label": "LOC"}]
    return {"ref": ref, "text": text}, {"spans": spans}


def _spans_answer(rng, data, truth, skill):
    spans = []
    for span in truth["spans"]:
        if rng.random() < skill:
            spans.append(dict(span))
        elif rng.random() < 0.5:  # a boundary off by one character
            spans.append({**span, "end": span["end"] - 1})
    return {"spans": spans}


_WORDS = "the quick brown fox jumps over a lazy dog near our old river bank today".split()


def _transcription_task(rng, ref):
    return ({"ref": ref, "audio": f"audio/{ref}.wav", "duration": round(rng.uniform(2, 8), 2)},
            {"text": " ".join(rng.choice(_WORDS) for _ in range(rng.randint(6, 12)))})


def _transcription_answer(rng, data, truth, skill):
    words = [w if rng.random() < skill else rng.choice(_WORDS) for w in truth["text"].split()]
    return {"text": " ".join(words).capitalize() + ("." if rng.random() < 0.5 else "")}


def _segments_task(rng, ref):
    cuts = sorted(rng.sample(range(1, 30), 4))
    return ({"ref": ref, "audio": f"audio/{ref}.wav", "duration": 30.0},
            {"segments": [{"start": float(cuts[0]), "end": float(cuts[1]), "label": "speech"},
                          {"start": float(cuts[2]), "end": float(cuts[3]), "label": rng.choice(["speech", "music"])}]})


def _segments_answer(rng, data, truth, skill):
    out = []
    for s in truth["segments"]:
        start = max(0.0, s["start"] + rng.uniform(-0.3, 0.3))
        end = min(30.0, max(start + 0.2, s["end"] + rng.uniform(-0.3, 0.3)))
        label = s["label"] if rng.random() < skill else ("music" if s["label"] == "speech" else "speech")
        if not out or start >= out[-1]["end"]:
            out.append({"start": round(start, 2), "end": round(end, 2), "label": label})
    return {"segments": out}


def _numeric_task(rng, ref):
    return {"ref": ref, "image": f"https://example.test/{ref}.jpg"}, {"value": round(rng.uniform(10, 90), 1)}


def _numeric_answer(rng, data, truth, skill):
    value = truth["value"] + rng.gauss(0, 2) if rng.random() < skill else rng.uniform(0, 100)
    return {"value": round(min(100.0, max(0.0, value)), 1)}


def _rating_task(rng, ref):
    return {"ref": ref, "text": f"Review {ref}"}, {"value": rng.randint(1, 5)}


def _rating_answer(rng, data, truth, skill):
    value = truth["value"] if rng.random() < skill else truth["value"] + rng.choice((-1, 1))
    return {"value": min(5, max(1, value))}


SCENARIOS = {
    "classification": Scenario({"type": "classification", "classes": ["cat", "dog", "bird"]},
                               _classification_task, _classification_answer),
    "multi_label": Scenario({"type": "multi_label", "classes": _TAGS}, _multi_task, _multi_answer),
    "bbox": Scenario({"type": "bbox", "classes": ["car", "person"], "max_boxes": 20}, _bbox_task, _bbox_answer),
    "polygon": Scenario({"type": "polygon", "classes": ["road", "building"]}, _polygon_task, _polygon_answer),
    "spans": Scenario({"type": "spans", "classes": ["PER", "LOC"]}, _spans_task, _spans_answer),
    "transcription": Scenario({"type": "transcription"}, _transcription_task, _transcription_answer),
    "audio_segments": Scenario({"type": "audio_segments", "classes": ["speech", "music"]}, _segments_task, _segments_answer),
    "numeric": Scenario({"type": "numeric", "min": 0, "max": 100}, _numeric_task, _numeric_answer),
    "rating": Scenario({"type": "rating", "min": 1, "max": 5}, _rating_task, _rating_answer),
}
