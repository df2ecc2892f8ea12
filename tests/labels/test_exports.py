"""Image and audio exports read back by the tools that consume them: pycocotools, the YOLO layout
ultralytics reads (PyYAML for data.yaml), a speech manifest through pandas."""
import io
import json
import zipfile

import pandas
import pytest
import yaml
from pycocotools.coco import COCO

from marketplace import labels
from marketplace.labels import exports

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane

BOXES = {"type": "bbox", "classes": ["car", "person"]}


def rows_of(*rows):
    base = {"external_id": "x", "confidence": 0.9, "method": "m", "answer_count": 3, "guideline_version": 2, "gold": False}
    return lambda: iter([{**base, **row} for row in rows])


def text(chunks) -> str:
    return "".join(chunks)


def test_coco_detection_reads_back_with_pycocotools(tmp_path):
    schema = labels.validate_schema(BOXES)
    rows = rows_of(
        {"task_id": 7, "data": {"image": "imgs/a.jpg", "width": 100, "height": 50},
         "label": {"boxes": [{"x": 10, "y": 5, "w": 20, "h": 10, "label": "person", "score": 0.75}]}},
        {"task_id": 9, "data": {"image": "imgs/b.jpg", "width": 80, "height": 60}, "label": {"boxes": []}, "gold": True},
    )
    path = tmp_path / "coco.json"
    path.write_text(text(exports.coco(schema, rows)))
    coco = COCO(str(path))
    assert [c["name"] for c in coco.loadCats(coco.getCatIds())] == ["car", "person"]
    assert coco.getImgIds() == [7, 9] and coco.loadImgs(9)[0]["provenance"]["gold"] is True
    (ann,) = coco.loadAnns(coco.getAnnIds(imgIds=[7]))
    assert ann["bbox"] == [10, 5, 20, 10] and ann["category_id"] == 2 and ann["area"] == 200 and ann["score"] == 0.75
    assert coco.loadImgs(7)[0]["provenance"] == {"task_id": 7, "external_id": "x", "confidence": 0.9, "method": "m",
                                                 "answer_count": 3, "guideline_version": 2, "gold": False}


def test_coco_keeps_the_tasks_own_image_reference_and_size(tmp_path):
    schema = labels.validate_schema(BOXES)
    rows = rows_of(
        {"task_id": 1, "data": {"image": "https://cdn.example/shots/a%20b.jpg?sig=1", "width": 640.0, "height": 480},
         "label": {"boxes": []}},
        {"task_id": 2, "data": {"image": "s3://bucket/other/a%20b.jpg", "width": 33, "height": 21}, "label": {"boxes": []}},
        {"task_id": 3, "data": {"image": "local/dir/c.png", "width": 10, "height": 10}, "label": {"boxes": []}},
    )
    path = tmp_path / "coco.json"
    path.write_text(text(exports.coco(schema, rows)))
    images = {image["id"]: image for image in COCO(str(path)).loadImgs([1, 2, 3])}
    assert images[1]["coco_url"] == "https://cdn.example/shots/a%20b.jpg?sig=1" and images[1]["file_name"] == "a_b.jpg"
    assert images[2]["coco_url"] == "s3://bucket/other/a%20b.jpg" and images[2]["file_name"] == "2_a_b.jpg"
    assert images[3]["file_name"] == "local/dir/c.png" and "coco_url" not in images[3]
    assert (images[1]["width"], images[1]["height"]) == (640, 480) and isinstance(images[1]["width"], int)
    assert (images[2]["width"], images[2]["height"]) == (33, 21)


def test_coco_segmentation_masks_match_the_polygons(tmp_path):
    schema = labels.validate_schema({"type": "polygon", "classes": ["cat"]})
    square = [[10.0, 10.0], [30.0, 10.0], [30.0, 20.0], [10.0, 20.0]]
    rows = rows_of({"task_id": 1, "data": {"image": "c.png", "width": 40, "height": 40},
                    "label": {"polygons": [{"points": square, "label": "cat", "area": 200}]}})
    path = tmp_path / "coco.json"
    path.write_text(text(exports.coco(schema, rows)))
    coco = COCO(str(path))
    (ann,) = coco.loadAnns(coco.getAnnIds())
    mask = coco.annToMask(ann)
    assert mask.shape == (40, 40) and abs(int(mask.sum()) - 200) <= 30  # COCO's rasteriser counts edges its own way
    assert ann["bbox"] == [10.0, 10.0, 20.0, 10.0] and ann["area"] == 200.0


def label_path_of(image: str) -> str:
    """ultralytics' rule (data/utils.py img2label_paths): the last /images/ becomes /labels/, the suffix .txt."""
    return "/labels/".join(image.rsplit("/images/", 1)).rsplit(".", 1)[0] + ".txt"


def read_yolo(body: bytes) -> dict:
    """A YOLO export read the way ultralytics reads a dataset: data.yaml, each split's image list,
    then the label file of each image, every label line checked against the format."""
    archive = zipfile.ZipFile(io.BytesIO(body))
    assert archive.testzip() is None
    config = yaml.safe_load(archive.read("data.yaml"))
    assert {"train", "val", "nc", "names"} <= set(config) and config["nc"] == len(config["names"])
    splits = {}
    for split in ("train", "val"):
        images = []
        for line in archive.read(config[split]).decode().splitlines():
            assert line.startswith("./images/") and line.rsplit(".", 1)[-1].lower() in exports.YOLO_IMAGE_SUFFIXES
            shapes = []
            for label_line in archive.read(label_path_of(line)[2:]).decode().splitlines():
                cls, *coords = label_line.split()
                assert 0 <= int(cls) < config["nc"] and all(0 <= float(c) <= 1 for c in coords)
                assert len(coords) == 4 or (len(coords) >= 6 and len(coords) % 2 == 0)
                shapes.append((int(cls), [float(c) for c in coords]))
            images.append((line[2:], shapes))
        splits[split] = images
    sidecar = [json.loads(line) for line in archive.read("provenance.jsonl").decode().splitlines()]
    return {"config": config, "splits": splits, "provenance": sidecar}


def test_yolo_reads_back_the_ultralytics_way_with_each_images_url_kept():
    schema = labels.validate_schema(BOXES)
    rows = rows_of(
        {"task_id": 1, "data": {"image": "https://cdn.example/shots/a.jpg?sig=x%2Fy", "width": 100, "height": 50},
         "label": {"boxes": [{"x": 10, "y": 5, "w": 20, "h": 10, "label": "person"}]}},
        {"task_id": 2, "data": {"image": "other/A.JPG", "width": 100, "height": 50}, "label": {"boxes": []}},
    )
    found = read_yolo(b"".join(exports.yolo(schema, rows, val_fraction=0)))
    assert found["config"]["names"] == {0: "car", 1: "person"} and found["config"]["val"] == "train.txt"
    assert found["splits"]["train"] == [("images/train/a.jpg", [(1, [0.2, 0.2, 0.2, 0.2])]),
                                        ("images/train/2_A.JPG", [])]
    by_image = {p["image"]: p for p in found["provenance"]}
    assert by_image["images/train/a.jpg"]["url"] == "https://cdn.example/shots/a.jpg?sig=x%2Fy"
    assert by_image["images/train/2_A.JPG"]["url"] == "other/A.JPG"
    assert by_image["images/train/a.jpg"]["width"] == 100 and by_image["images/train/a.jpg"]["answer_count"] == 3


def test_yolo_names_an_image_without_a_suffix_so_trainers_list_it():
    schema = labels.validate_schema(BOXES)
    rows = rows_of({"task_id": 5, "data": {"image": "https://img.example/render?id=5", "width": 10, "height": 10},
                    "label": {"boxes": []}},
                   {"task_id": 6, "data": {"width": 10, "height": 10}, "label": {"boxes": []}})
    found = read_yolo(b"".join(exports.yolo(schema, rows, val_fraction=0)))
    assert [path for path, _ in found["splits"]["train"]] == ["images/train/render.jpg", "images/train/6.jpg"]


def many_images(n):
    return rows_of(*({"task_id": i, "data": {"image": f"https://cdn.example/{i}.png", "width": 8, "height": 8},
                      "label": {"boxes": []}} for i in range(n)))


def split_of(body: bytes) -> dict:
    return {p["task_id"]: p["split"] for p in read_yolo(body)["provenance"]}


def test_the_yolo_split_is_reproducible_and_holds_out_the_fraction_asked():
    schema = labels.validate_schema(BOXES)
    body = b"".join(exports.yolo(schema, many_images(400), val_fraction=0.25, split_seed=3))
    split = split_of(body)
    assert split == split_of(b"".join(exports.yolo(schema, many_images(400), val_fraction=0.25, split_seed=3)))
    assert 70 <= list(split.values()).count("val") <= 130  # 100 expected; the hash is uniform
    reseeded = split_of(b"".join(exports.yolo(schema, many_images(400), val_fraction=0.25, split_seed=4)))
    assert reseeded != split
    found = read_yolo(body)
    train, val = ({path for path, _ in found["splits"][name]} for name in ("train", "val"))
    assert not train & val and len(train) + len(val) == 400
    assert all(path.startswith(f"images/{split[p['task_id']]}/") for p in found["provenance"] for path in [p["image"]])


def test_new_tasks_never_move_old_ones_between_splits():
    schema = labels.validate_schema(BOXES)
    before = split_of(b"".join(exports.yolo(schema, many_images(100), val_fraction=0.3)))
    after = split_of(b"".join(exports.yolo(schema, many_images(150), val_fraction=0.3)))
    assert {task: after[task] for task in before} == before and "val" in before.values()


def test_yolo_segmentation_lines_list_normalised_points():
    schema = labels.validate_schema({"type": "polygon", "classes": ["cat"]})
    rows = rows_of({"task_id": 1, "data": {"image": "c.png", "width": 40, "height": 20},
                    "label": {"polygons": [{"points": [[0, 0], [40, 0], [20, 20]], "label": "cat"}]}})
    found = read_yolo(b"".join(exports.yolo(schema, rows, val_fraction=0)))
    assert found["splits"]["train"] == [("images/train/c.png", [(0, [0.0, 0.0, 1.0, 0.0, 0.5, 1.0])])]


def test_yolo_class_names_with_quotes_and_accents_parse_as_yaml():
    schema = labels.validate_schema({"type": "bbox", "classes": ['say "hi"', "café: au lait", "#1"]})
    found = read_yolo(b"".join(exports.yolo(schema, many_images(2), val_fraction=0.5)))
    assert found["config"]["names"] == {0: 'say "hi"', 1: "café: au lait", 2: "#1"}


def test_the_manifest_keeps_each_clips_own_url_and_reads_in_pandas():
    schema = labels.validate_schema({"type": "transcription"})
    rows = rows_of({"task_id": 3, "data": {"audio": "https://cdn.example/clips/3.wav?sig=a%2Fb", "duration": 2.5},
                    "label": {"text": "hello there"}},
                   {"task_id": 4, "data": {"audio": "clips/4.flac"}, "label": {"text": "bye"}})
    body = text(exports.manifest(schema, rows))
    (record, _) = [json.loads(line) for line in body.splitlines()]
    assert record == {"audio_filepath": "https://cdn.example/clips/3.wav?sig=a%2Fb", "text": "hello there",
                      "duration": 2.5, "task_id": 3, "external_id": "x", "confidence": 0.9, "method": "m",
                      "answer_count": 3, "guideline_version": 2, "gold": False}
    frame = pandas.read_json(io.StringIO(body), lines=True)
    assert list(frame["audio_filepath"]) == ["https://cdn.example/clips/3.wav?sig=a%2Fb", "clips/4.flac"]
    assert list(frame["text"]) == ["hello there", "bye"] and frame["gold"].dtype == bool


@pytest.mark.parametrize("kind, formats", [
    ("classification", ("jsonl", "csv")), ("bbox", ("jsonl", "csv", "coco", "yolo")),
    ("polygon", ("jsonl", "csv", "coco", "yolo")), ("spans", ("jsonl", "csv", "conll", "spacy", "spacy-jsonl")),
    ("transcription", ("jsonl", "csv", "manifest")), ("numeric", ("jsonl", "csv")),
])
def test_each_type_names_its_formats(kind, formats):
    from marketplace.demo.scenarios import SCENARIOS

    assert labels.export_formats(SCENARIOS[kind].schema) == formats


def test_when_no_image_falls_in_the_validation_split_data_yaml_validates_on_training():
    schema = labels.validate_schema(BOXES)
    # a hash split of one image holds it out one time in five at val_fraction 0.2: find a seed that does not
    seed = next(s for s in range(50) if not exports.in_val_split(0, 0.2, s))
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.yolo(schema, many_images(1), val_fraction=0.2, split_seed=seed))))
    config = yaml.safe_load(archive.read("data.yaml"))
    assert config["val"] == "train.txt" and "val.txt" not in archive.namelist()
    assert "no image of 1 fell in the validation split" in archive.read("data.yaml").decode()
