"""Type exports read back by the tools (or readers) that consume them."""
import io
import json
import zipfile

import pytest
from pycocotools.coco import COCO

from marketplace import labels
from marketplace.labels import exports

pytestmark = pytest.mark.embedded  # also run on the embedded SQLite lane


def rows_of(*rows):
    base = {"external_id": "x", "confidence": 0.9, "method": "m", "answer_count": 3, "guideline_version": 2, "gold": False}
    return lambda: iter([{**base, **row} for row in rows])


def text(chunks) -> str:
    return "".join(chunks)


def test_coco_detection_reads_back_with_pycocotools(tmp_path):
    schema = labels.validate_schema({"type": "bbox", "classes": ["car", "person"]})
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


def test_yolo_zip_holds_normalised_labels_class_names_and_provenance():
    schema = labels.validate_schema({"type": "bbox", "classes": ["car", "person"]})
    rows = rows_of(
        {"task_id": 1, "data": {"image": "imgs/a.jpg", "width": 100, "height": 50},
         "label": {"boxes": [{"x": 10, "y": 5, "w": 20, "h": 10, "label": "person"}]}},
        {"task_id": 2, "data": {"image": "other/a.jpg", "width": 100, "height": 50}, "label": {"boxes": []}},
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.yolo(schema, rows))))
    assert archive.testzip() is None
    assert sorted(archive.namelist()) == ["data.yaml", "labels/2_a.txt", "labels/a.txt", "provenance.jsonl"]
    assert archive.read("labels/a.txt").decode() == "1 0.200000 0.200000 0.200000 0.200000\n"
    assert archive.read("labels/2_a.txt").decode() == ""
    assert 'nc: 2' in archive.read("data.yaml").decode() and '1: "person"' in archive.read("data.yaml").decode()
    sidecar = [json.loads(line) for line in archive.read("provenance.jsonl").decode().splitlines()]
    assert [s["label_file"] for s in sidecar] == ["labels/a.txt", "labels/2_a.txt"] and sidecar[0]["answer_count"] == 3


def test_yolo_segmentation_lines_list_normalised_points():
    schema = labels.validate_schema({"type": "polygon", "classes": ["cat"]})
    rows = rows_of({"task_id": 1, "data": {"image": "c.png", "width": 40, "height": 20},
                    "label": {"polygons": [{"points": [[0, 0], [40, 0], [20, 20]], "label": "cat"}]}})
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.yolo(schema, rows))))
    assert archive.read("labels/c.txt").decode() == "0 0.000000 0.000000 1.000000 0.000000 0.500000 1.000000\n"


def read_conll(body: str) -> list[dict]:
    """A strict CoNLL BIO reader: comments, token<TAB>tag lines, blank lines between documents."""
    documents, current = [], None
    for line in body.splitlines():
        if line.startswith("# task_id = "):
            current = {"task_id": int(line.split(" = ")[1]), "tokens": [], "tags": []}
            documents.append(current)
        elif line.startswith("# provenance = "):
            current["provenance"] = json.loads(line.split(" = ", 1)[1])
        elif line:
            token, tag = line.split("\t")
            assert tag == "O" or tag[:2] in ("B-", "I-")
            if tag.startswith("I-"):
                assert current["tags"][-1][2:] == tag[2:], "I- must continue a span of its class"
            current["tokens"].append(token)
            current["tags"].append(tag)
    return documents


def entities(tokens, tags):
    found, open_span = [], None
    for token, tag in zip(tokens, tags):
        if tag.startswith("B-"):
            open_span = [tag[2:], [token]]
            found.append(open_span)
        elif tag.startswith("I-"):
            open_span[1].append(token)
    return [(label, " ".join(words)) for label, words in found]


def test_conll_bio_reads_back_to_the_spans():
    schema = labels.validate_schema({"type": "spans", "classes": ["PER", "LOC"]})
    sentence = "Ada Lovelace lived in London."
    rows = rows_of({"task_id": 4, "data": {"text": sentence},
                    "label": {"spans": [{"start": 0, "end": 12, "label": "PER"}, {"start": 22, "end": 28, "label": "LOC"}]}})
    (document,) = read_conll(text(exports.conll(schema, rows)))
    assert document["task_id"] == 4 and document["provenance"]["confidence"] == 0.9
    assert document["tokens"] == ["Ada", "Lovelace", "lived", "in", "London."]
    assert entities(document["tokens"], document["tags"]) == [("PER", "Ada Lovelace"), ("LOC", "London.")]


def test_spacy_jsonl_offsets_slice_the_text():
    schema = labels.validate_schema({"type": "spans", "classes": ["PER"]})
    rows = rows_of({"task_id": 4, "data": {"text": "Zoë met Bob"}, "label": {"spans": [{"start": 8, "end": 11, "label": "PER"}]}})
    (record,) = [json.loads(line) for line in text(exports.spacy(schema, rows)).splitlines()]
    (start, end, label), = record["entities"]
    assert record["text"][start:end] == "Bob" and label == "PER" and record["meta"]["task_id"] == 4


def test_spacy_entities_never_overlap_but_spans_keep_every_one():
    schema = labels.validate_schema({"type": "spans", "classes": ["LOC"], "allow_overlap": True})
    both = [{"start": 0, "end": 13, "label": "LOC"}, {"start": 0, "end": 8, "label": "LOC"}]
    rows = rows_of({"task_id": 1, "data": {"text": "New York City"}, "label": {"spans": both}})
    (record,) = [json.loads(line) for line in text(exports.spacy(schema, rows)).splitlines()]
    assert record["entities"] == [[0, 13, "LOC"]] and len(record["spans"]) == 2


def test_the_manifest_pairs_audio_with_its_text():
    schema = labels.validate_schema({"type": "transcription"})
    rows = rows_of({"task_id": 3, "data": {"audio": "clips/3.wav", "duration": 2.5}, "label": {"text": "hello there"}})
    (record,) = [json.loads(line) for line in text(exports.manifest(schema, rows)).splitlines()]
    assert record == {"audio_filepath": "clips/3.wav", "text": "hello there", "duration": 2.5, "task_id": 3,
                      "external_id": "x", "confidence": 0.9, "method": "m", "answer_count": 3, "guideline_version": 2,
                      "gold": False}


@pytest.mark.parametrize("kind, formats", [
    ("classification", ("jsonl", "csv")), ("bbox", ("jsonl", "csv", "coco", "yolo")),
    ("polygon", ("jsonl", "csv", "coco", "yolo")), ("spans", ("jsonl", "csv", "conll", "spacy")),
    ("transcription", ("jsonl", "csv", "manifest")), ("numeric", ("jsonl", "csv")),
])
def test_each_type_names_its_formats(kind, formats):
    from marketplace.demo.scenarios import SCENARIOS

    assert labels.export_formats(SCENARIOS[kind].schema) == formats
