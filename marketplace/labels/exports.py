"""Export formats that ML tools read for images and audio: COCO, YOLO (zip), speech manifests.

Each writer takes the project's schema and `rows`, a function returning a fresh iterator over the
project's results (a row: task_id, external_id, label, confidence, method, answer_count,
guideline_version, gold, data), and yields the file in pieces, so a large project streams in
constant memory (COCO reads the rows twice: images, then annotations; a zip's side files are
spooled to a temporary file while its per-image members stream). Every record carries its
provenance: the task, confidence, method, number of answers, guideline version and gold flag.
The text formats (CoNLL, spaCy) live in `text_exports`.

Images keep the task's own reference. A task's `image` is a URL or a path the requester gave; COCO
keeps a path as its `file_name` and, for a URL, COCO's own convention: `coco_url` is the URL and
`file_name` its file name. YOLO trainers read local files, so the YOLO zip lists the local path
each image goes to (`images/<split>/<the URL's file name>`) and `provenance.jsonl` pairs it with
the task's URL to download it from. Widths and heights are the task's own.
"""
from __future__ import annotations

import hashlib
import json
import posixpath
import re
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import unquote, urlsplit

Rows = Callable[[], Iterable[dict]]
PROVENANCE = ("task_id", "external_id", "confidence", "method", "answer_count", "guideline_version", "gold")
# the image suffixes ultralytics lists from a split file (it skips any other line)
YOLO_IMAGE_SUFFIXES = {"bmp", "dng", "jpeg", "jpg", "mpo", "png", "tif", "tiff", "webp", "pfm", "heic"}
DEFAULT_VAL_FRACTION = 0.2
_UNSAFE = re.compile(r"[^\w.\-]")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def provenance(row: dict) -> dict:
    return {key: row.get(key) for key in PROVENANCE}


def dumps(value) -> str:
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


def _pixels(value):
    """A dimension as the task gave it, an int when whole (COCO's width and height are integers)."""
    return int(value) if float(value).is_integer() else value


def is_url(image) -> bool:
    return isinstance(image, str) and bool(_SCHEME.match(image))


class _Names:
    """A unique, file-system-safe file name per image, taken from the image's own URL or path.

    The name is the last part of the URL's path (percent-decoded, unsafe characters replaced by
    `_`); an image without one is named after its task. A second image of the same name (compared
    case-blind, as macOS and Windows do) gets its task id in front.
    """

    def __init__(self, suffixes: set[str] | None = None):
        self.seen: set[str] = set()
        self.suffixes = suffixes

    def name(self, row: dict) -> str:
        image = row["data"].get("image")
        path = urlsplit(image).path if is_url(image) else (image or "")
        name = _UNSAFE.sub("_", unquote(posixpath.basename(path.replace("\\", "/")))).lstrip(".") or str(row["task_id"])
        if self.suffixes is not None and posixpath.splitext(name)[1][1:].lower() not in self.suffixes:
            name += ".jpg"  # trainers pick images by suffix and read the bytes whatever the suffix says
        if name.lower() in self.seen:
            name = f"{row['task_id']}_{name}"
        while name.lower() in self.seen:
            name = "_" + name
        self.seen.add(name.lower())
        return name


def coco(schema: dict, rows: Rows) -> Iterator[str]:
    """One COCO detection/segmentation JSON document; category ids are the class positions from 1."""
    categories = [{"id": k + 1, "name": name, "supercategory": "none"} for k, name in enumerate(schema["classes"])]
    yield '{"info":' + dumps({"description": "marketplace export", "label_type": schema["type"]})
    yield ',"licenses":[],"categories":' + dumps(categories) + ',"images":['
    names = _Names()
    for i, row in enumerate(rows()):
        data = row["data"]
        image = {"id": row["task_id"], "file_name": names.name(row) if is_url(data.get("image")) else data.get("image", ""),
                 "width": _pixels(data["width"]), "height": _pixels(data["height"])}
        if is_url(data.get("image")):
            image["coco_url"] = data["image"]
        yield ("," if i else "") + dumps({**image, "provenance": provenance(row)})
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
            yield ("," if n else "") + dumps(annotation)
            n += 1
    yield "]}\n"


class ZipStream:
    """A zip written to memory and handed over piece by piece, so a response streams it.

    `zipfile` writes one member at a time: members built over the same pass as the per-item ones
    (split lists, provenance) are spooled with `spool()` and copied in by `add_spooled()`.
    """

    def __init__(self):
        self.parts: list[bytes] = []
        self.written = 0
        self.archive = zipfile.ZipFile(self, "w", compression=zipfile.ZIP_DEFLATED)

    # the file interface zipfile writes to
    def write(self, data) -> int:
        self.parts.append(bytes(data))
        self.written += len(data)
        return len(data)

    def tell(self) -> int:
        return self.written

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        """What was written since the last call."""
        data, self.parts = b"".join(self.parts), []
        return data

    @staticmethod
    def spool():
        return tempfile.SpooledTemporaryFile(max_size=1 << 20, mode="w+b")

    def add_spooled(self, name: str, spool) -> Iterator[bytes]:
        spool.seek(0)
        with spool, self.archive.open(name, "w", force_zip64=True) as member:
            while chunk := spool.read(1 << 16):
                member.write(chunk)
                yield self.take()

    def close(self) -> bytes:
        self.archive.close()
        return self.take()


def in_val_split(task_id: int, val_fraction: float, seed: int) -> bool:
    """Whether a task's image is in the validation split: a hash of the seed and the task id, so a
    task lands in the same split on every export (new tasks never move old ones) and a seed reshuffles."""
    digest = hashlib.sha256(f"{seed}:{task_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2 ** 64 < val_fraction


def yolo(schema: dict, rows: Rows, *, val_fraction: float = DEFAULT_VAL_FRACTION, split_seed: int = 0) -> Iterator[bytes]:
    """A zip in the ultralytics layout: `data.yaml`, `train.txt`/`val.txt`, `labels/<split>/<name>.txt`,
    `provenance.jsonl`.

    `train.txt` and `val.txt` list `./images/<split>/<name>` per image, the local path the image goes
    to; its label file is that path with `images` replaced by `labels` and a `.txt` suffix, as YOLO
    trainers look it up. `provenance.jsonl` has a line per image: that path, `url` (the task's image
    as given, to download it from), width, height, split, label file and the task's provenance.
    `val_fraction` of the images (by a hash of `split_seed` and the task id, see `in_val_split`) form
    the validation split; when none does (val_fraction 0, or a small project), data.yaml validates on
    the training list and says so. data.yaml comes last: it names the split's sizes.
    Boxes are `class cx cy w h`, polygons `class x1 y1 x2 y2 ...`, all normalised to [0, 1] by the
    image size, as YOLO's detection and segmentation trainers read them.
    """
    out = ZipStream()
    index = {name: k for k, name in enumerate(schema["classes"])}
    lists, sidecar, names = {"train": out.spool(), "val": out.spool()}, out.spool(), _Names(YOLO_IMAGE_SUFFIXES)
    counts = {"train": 0, "val": 0}
    for row in rows():
        split = "val" if val_fraction and in_val_split(row["task_id"], val_fraction, split_seed) else "train"
        counts[split] += 1
        name = names.name(row)
        image, label_file = f"images/{split}/{name}", f"labels/{split}/{posixpath.splitext(name)[0]}.txt"
        width, height = float(row["data"]["width"]), float(row["data"]["height"])
        out.archive.writestr(label_file,
                             "".join(_yolo_line(shape, index, width, height) + "\n" for shape in _shapes(schema, row)))
        lists[split].write(f"./{image}\n".encode())
        sidecar.write((dumps({"image": image, "url": row["data"].get("image"), "width": _pixels(row["data"]["width"]),
                              "height": _pixels(row["data"]["height"]), "split": split, "label_file": label_file,
                              **provenance(row)}) + "\n").encode())
        yield out.take()
    yield from out.add_spooled("train.txt", lists["train"])
    if counts["val"]:
        yield from out.add_spooled("val.txt", lists["val"])
    else:
        lists["val"].close()
    out.archive.writestr("data.yaml", _data_yaml(schema["classes"], val_fraction, split_seed, counts))
    yield from out.add_spooled("provenance.jsonl", sidecar)
    yield out.close()


def _data_yaml(classes: list[str], val_fraction: float, seed: int, counts: dict) -> str:
    names = "".join(f"  {k}: {json.dumps(name, ensure_ascii=False)}\n" for k, name in enumerate(classes))
    if counts["val"]:
        val = "val: val.txt\n"
    else:  # a trainer needs a validation list: with none held out, it validates on the training images
        why = "val_fraction=0" if not val_fraction else f"no image of {counts['train']} fell in the validation split"
        val = f"val: train.txt  # {why}: no held-out images\n"
    return ("# YOLO dataset (ultralytics layout); paths are relative to this file. Fetch each image of\n"
            "# provenance.jsonl from its `url` to its `image` path before training.\n"
            f"# split: val_fraction={val_fraction:g}, split_seed={seed}: {counts['train']} train, {counts['val']} val\n"
            f"train: train.txt\n{val}nc: {len(classes)}\nnames:\n{names}")


def _yolo_line(shape: dict, index: dict, width: float, height: float) -> str:
    if "points" in shape:
        coords = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in shape["points"])
        return f"{index[shape['label']]} {coords}"
    cx, cy = (shape["x"] + shape["w"] / 2) / width, (shape["y"] + shape["h"] / 2) / height
    return f"{index[shape['label']]} {cx:.6f} {cy:.6f} {shape['w'] / width:.6f} {shape['h'] / height:.6f}"


def manifest(schema: dict, rows: Rows) -> Iterator[str]:
    """A speech/OCR manifest (NeMo style): one JSON line per task of its audio (or image) as the task gives it
    (URL or path, unchanged), the text, the duration when the task has one, and the provenance."""
    for row in rows():
        data = row["data"]
        record = {"audio_filepath": data["audio"]} if data.get("audio") else {"image_filepath": data.get("image")}
        record["text"] = row["label"]["text"]
        if "duration" in data:
            record["duration"] = data["duration"]
        yield dumps({**record, **provenance(row)}) + "\n"
