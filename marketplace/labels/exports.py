"""Export formats that ML tools read: COCO, YOLO, CoNLL (BIO), spaCy-style JSONL, speech manifests.

Each writer takes the project's schema and `rows`, a function returning a fresh iterator over the
project's results (a row: task_id, external_id, label, confidence, method, answer_count,
guideline_version, gold, data), and yields the file in pieces, so a large project streams in
constant memory (COCO reads the rows twice: images, then annotations). Every record carries its
provenance: the task, confidence, method, number of answers, guideline version and gold flag.
"""
from __future__ import annotations

import bisect
import json
import posixpath
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator

Rows = Callable[[], Iterable[dict]]
PROVENANCE = ("task_id", "external_id", "confidence", "method", "answer_count", "guideline_version", "gold")
_TOKEN = re.compile(r"\S+")


def provenance(row: dict) -> dict:
    return {key: row.get(key) for key in PROVENANCE}


def _dumps(value) -> str:
    return json.dumps(value, separators=(",", ":"))


def _shapes(schema: dict, row: dict) -> list[dict]:
    return row["label"].get("boxes" if schema["type"] == "bbox" else "polygons", [])


def _bbox_of(shape: dict) -> list[float]:
    if "points" not in shape:
        return [shape["x"], shape["y"], shape["w"], shape["h"]]
    xs, ys = [p[0] for p in shape["points"]], [p[1] for p in shape["points"]]
    return [min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)]


def _polygon_area(points: list) -> float:
    return abs(sum(points[i - 1][0] * p[1] - p[0] * points[i - 1][1] for i, p in enumerate(points))) / 2.0


def coco(schema: dict, rows: Rows) -> Iterator[str]:
    """One COCO detection/segmentation JSON document; category ids are the class positions from 1."""
    categories = [{"id": k + 1, "name": name, "supercategory": "none"} for k, name in enumerate(schema["classes"])]
    yield '{"info":' + _dumps({"description": "marketplace export", "label_type": schema["type"]})
    yield ',"licenses":[],"categories":' + _dumps(categories) + ',"images":['
    for i, row in enumerate(rows()):
        image = {"id": row["task_id"], "file_name": row["data"].get("image", ""), "width": row["data"]["width"],
                 "height": row["data"]["height"], "provenance": provenance(row)}
        yield ("," if i else "") + _dumps(image)
    yield '],"annotations":['
    index = {name: k + 1 for k, name in enumerate(schema["classes"])}
    n = 0
    for row in rows():
        for shape in _shapes(schema, row):
            box = _bbox_of(shape)
            annotation = {"id": n + 1, "image_id": row["task_id"], "category_id": index[shape["label"]], "bbox": box,
                          "iscrowd": 0, "score": shape.get("score", 1.0)}
            if "points" in shape:
                annotation["segmentation"] = [[c for point in shape["points"] for c in point]]
                annotation["area"] = float(shape.get("area", _polygon_area(shape["points"])))
            else:
                annotation["segmentation"] = []
                annotation["area"] = box[2] * box[3]
            yield ("," if n else "") + _dumps(annotation)
            n += 1
    yield "]}\n"


class _Sink:
    """A write-only file for zipfile that hands over what was written so far (zipfile streams to it)."""

    def __init__(self):
        self.parts: list[bytes] = []
        self.written = 0

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


def yolo(schema: dict, rows: Rows) -> Iterator[bytes]:
    """A zip: `data.yaml` (class names), `labels/<image stem>.txt` per image, `provenance.jsonl`.

    Boxes are `class cx cy w h`, polygons `class x1 y1 x2 y2 ...`, all normalised to [0, 1] by the
    image size, as YOLO's detection and segmentation trainers read them. Two images with one file
    stem get the task id in front of the second's.
    """
    sink = _Sink()
    index = {name: k for k, name in enumerate(schema["classes"])}
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        names = "".join(f"  {k}: {json.dumps(name)}\n" for k, name in enumerate(schema["classes"]))
        archive.writestr("data.yaml", f"path: .\ntrain: images\nval: images\nnc: {len(index)}\nnames:\n{names}")
        for row, stem in _stems(rows()):
            width, height = float(row["data"]["width"]), float(row["data"]["height"])
            archive.writestr(f"labels/{stem}.txt",
                             "".join(_yolo_line(shape, index, width, height) + "\n" for shape in _shapes(schema, row)))
            yield sink.take()
        # zipfile writes one member at a time: the provenance sidecar is a second pass over the rows.
        with archive.open("provenance.jsonl", "w", force_zip64=True) as sidecar:
            for row, stem in _stems(rows()):
                image = row["data"].get("image")
                sidecar.write((_dumps({"label_file": f"labels/{stem}.txt", "image": image, **provenance(row)}) + "\n")
                              .encode())
                yield sink.take()
    yield sink.take()


def _stems(rows: Iterable[dict]) -> Iterator[tuple[dict, str]]:
    seen: set[str] = set()
    for row in rows:
        image = row["data"].get("image") or ""
        stem = posixpath.splitext(posixpath.basename(image))[0] or str(row["task_id"])
        if stem in seen:
            stem = f"{row['task_id']}_{stem}"
        seen.add(stem)
        yield row, stem


def _yolo_line(shape: dict, index: dict, width: float, height: float) -> str:
    if "points" in shape:
        coords = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in shape["points"])
        return f"{index[shape['label']]} {coords}"
    cx, cy = (shape["x"] + shape["w"] / 2) / width, (shape["y"] + shape["h"] / 2) / height
    return f"{index[shape['label']]} {cx:.6f} {cy:.6f} {shape['w'] / width:.6f} {shape['h'] / height:.6f}"


def bio_tags(text: str, spans: list[dict]) -> list[tuple[str, str]]:
    """(token, tag) for each whitespace token: B-/I- for tokens a span covers, O otherwise.

    BIO cannot say that two spans overlap: where they do, the one starting first (then the longer) wins.
    """
    tokens = [(m.start(), m.end(), m.group()) for m in _TOKEN.finditer(text)]
    ends = [end for _, end, _ in tokens]
    tags = ["O"] * len(tokens)
    for span in sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"]))):
        first = bisect.bisect_right(ends, span["start"])  # the first token ending after the span starts
        covered = []
        for i in range(first, len(tokens)):
            if tokens[i][0] >= span["end"]:
                break
            covered.append(i)
        if covered and all(tags[i] == "O" for i in covered):
            tags[covered[0]] = "B-" + span["label"]
            for i in covered[1:]:
                tags[i] = "I-" + span["label"]
    return [(token, tag) for (_, _, token), tag in zip(tokens, tags)]


def conll(schema: dict, rows: Rows) -> Iterator[str]:
    """CoNLL-2003-style BIO: `token<TAB>tag` lines, a blank line between tasks, provenance as `# ` comments.

    Comment lines start with "# " (hash, space), CoNLL-U's convention that flair and conllu readers
    skip; a token line never does, since tokens hold no whitespace.
    """
    for row in rows():
        yield f"# task_id = {row['task_id']}\n# provenance = {_dumps(provenance(row))}\n"
        yield "".join(f"{token}\t{tag}\n" for token, tag in bio_tags(row["data"]["text"], row["label"]["spans"])) + "\n"


def spacy(schema: dict, rows: Rows) -> Iterator[str]:
    """spaCy-style JSONL: `text`, `entities` as [start, end, label] (v2 training tuples, never overlapping),
    `spans` as objects (all of them, overlaps too: spaCy's span groups), `meta` with the provenance."""
    for row in rows():
        spans = row["label"]["spans"]
        yield _dumps({"text": row["data"]["text"], "entities": [[s["start"], s["end"], s["label"]] for s in _disjoint(spans)],
                      "spans": [{"start": s["start"], "end": s["end"], "label": s["label"]} for s in spans],
                      "meta": provenance(row)}) + "\n"


def _disjoint(spans: list[dict]) -> list[dict]:
    """spaCy's entities may not overlap: where spans do (schemas that allow it), the first (then longer) wins."""
    kept: list[dict] = []
    for span in sorted(spans, key=lambda s: (s["start"], -(s["end"] - s["start"]))):
        if not kept or span["start"] >= kept[-1]["end"]:
            kept.append(span)
    return kept


def manifest(schema: dict, rows: Rows) -> Iterator[str]:
    """A speech/OCR manifest (NeMo style): one JSON line of audio (or image) path, text, duration and provenance."""
    for row in rows():
        data = row["data"]
        record = {"audio_filepath": data["audio"]} if data.get("audio") else {"image_filepath": data.get("image")}
        record["text"] = row["label"]["text"]
        if "duration" in data:
            record["duration"] = data["duration"]
        yield _dumps({**record, **provenance(row)}) + "\n"

